"""CloudWatch alarms: how soon an alarm changes state after its period closes, and the
controller CPU one evaluation of 1000 alarms costs.

    .venv/bin/python bench/cloudwatch_alarms.py [--alarms 1000] [--rounds 6] [--skip-minute]

- Latency, end to end: `mallee api` and `mallee controller` (CPU 0) on a fresh database; a
  high-resolution alarm (Period 10, one evaluation period, threshold 50) gets a datapoint
  alternately above and below its threshold in each of `rounds` periods (PutMetricData,
  StorageResolution 1), and the figure is the alarm's StateTransitionedTimestamp (the
  server's clock) minus the end of the period holding the datapoint. Then once more with a
  one-minute alarm (Period 60) unless --skip-minute.
- CPU, in this process: the alarm engine (controller/alarms.py) with the real metric store on
  SQLite, `alarms` alarms on as many metrics with data; process CPU time of one tick that
  evaluates them all, first when every alarm changes state (INSUFFICIENT_DATA -> OK/ALARM:
  transitions, history items) and then in the steady state (no change).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from mallee.controller.alarms import AlarmEngine
from mallee.metrics import store as metrics
from mallee.metrics.points import Datum
from mallee.store import Store
from mallee.store.tables.alarms import CwAlarm
from mallee.store.tables.iam import IamAccount
from servers import Server, start_mallee_api, stop

ACCOUNT = "000000000001"


def start_controller(server: Server, tmp: Path) -> subprocess.Popen[bytes]:
    data = tmp / "mallee"
    env = dict(
        os.environ,
        MALLEE_DATA_DIR=str(data),
        MALLEE_DB_URL=f"sqlite:///{data / 'mallee.db'}",
        MALLEE_CONSOLE_PORT="0",
    )
    return subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "mallee", "controller"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def client(server: Server) -> Any:
    return boto3.session.Session().client(
        "cloudwatch",
        endpoint_url=server.url,
        region_name="eucalyptus",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def latency(cw: Any, name: str, period: int, rounds: int) -> list[float]:
    ns = f"Bench/{name}"
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace=ns,
        MetricName="Load",
        Statistic="Maximum",
        Period=period,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="ignore",
    )
    out: list[float] = []
    for i in range(rounds):
        value, expected = (100.0, "ALARM") if i % 2 == 0 else (0.0, "OK")
        # A datapoint early in a period, so the period is whole when it closes.
        now = time.time()
        start = math.ceil(now / period) * period
        time.sleep(max(0.0, start + 0.5 - now))
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[{"MetricName": "Load", "Value": value, "StorageResolution": 1}],
        )
        closes = start + period
        deadline = closes + 60
        while time.time() < deadline:
            alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            if alarm["StateValue"] == expected:
                moved: dt.datetime = alarm["StateTransitionedTimestamp"]
                out.append(moved.timestamp() - closes)
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"{name} did not reach {expected}")
    return out


def cpu(alarms: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        now = time.time()
        with store.session() as s:
            s.add(IamAccount(id=ACCOUNT, name="bench", created_at=dt.datetime.now(dt.UTC)))
        data = [
            Datum(
                ACCOUNT,
                "Bench",
                f"m{i}",
                (("InstanceId", f"i-{i:08x}"),),
                now - 60 - k * 60,
                "Percent",
                1.0,
                float(i % 100),
                float(i % 100),
                float(i % 100),
                ((float(i % 100), 1.0),),
            )
            for i in range(alarms)
            for k in range(3)
        ]
        with store.session() as s:
            metrics.put(s, data, now=now)
        rows = [
            CwAlarm(
                account_id=ACCOUNT,
                name=f"alarm-{i}",
                arn=f"arn:aws:cloudwatch:eucalyptus:{ACCOUNT}:alarm:alarm-{i}",
                alarm_type="MetricAlarm",
                actions_enabled=True,
                namespace="Bench",
                metric_name=f"m{i}",
                dimensions=json.dumps([["InstanceId", f"i-{i:08x}"]]),
                statistic="Average",
                period=60,
                evaluation_periods=3,
                threshold=50.0,
                comparison_operator="GreaterThanThreshold",
                state_value="INSUFFICIENT_DATA",
                state_reason="Unchecked: Initial alarm creation",
                state_updated_at=now,
                state_transitioned_at=now,
                config_updated_at=now,
                next_eval_at=0.0,
            )
            for i in range(alarms)
        ]
        with store.session() as s:
            s.add_all(rows)
        engine = AlarmEngine(store, metrics.statistics, region="eucalyptus", batch_reads=True)
        figures = []
        for _ in range(2):
            with store.session() as s:
                s.query(CwAlarm).update({CwAlarm.next_eval_at: 0.0})
            before = time.process_time()
            outcome = engine.tick(now)
            figures.append(time.process_time() - before)
            assert outcome.evaluated == alarms, outcome
        store.dispose()
    return figures[0], figures[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--skip-minute", action="store_true")
    args = parser.parse_args()

    first, steady = cpu(args.alarms)
    print(f"CPU of one tick evaluating {args.alarms} alarms:")
    print(f"  every alarm changing state: {first * 1000:.0f} ms")
    print(f"  steady state (no change):   {steady * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        server = start_mallee_api(Path(tmp))
        controller = start_controller(server, Path(tmp))
        try:
            cw = client(server)
            seconds = latency(cw, "hires", 10, args.rounds)
            print(
                f"Period 10: state changed {statistics.median(seconds):.2f} s (median), "
                f"{max(seconds):.2f} s (max) after the period closed; all: "
                + ", ".join(f"{s:.2f}" for s in seconds)
            )
            if not args.skip_minute:
                minute = latency(cw, "minute", 60, 2)
                print(
                    "Period 60: state changed "
                    + ", ".join(f"{s:.2f}" for s in minute)
                    + " s after the period closed"
                )
        finally:
            controller.terminate()
            controller.wait(timeout=30)
            stop(server)


if __name__ == "__main__":
    main()
