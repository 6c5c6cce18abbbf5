"""The controller's cost of publishing the built-in metrics (AWS/EC2, AWS/EBS).

    .venv/bin/python bench/cloudwatch_publisher.py [instances] [--postgres URL]

A store holds `instances` running instances (half with detailed monitoring, a quarter in an
Auto Scaling group) whose counters the nodes have just reported. Timed, in controller CPU
seconds and wall seconds:
- a quiet pass (every 5 s: no period closed, nothing to store), the common case;
- the pass after a minute boundary (every detailed instance's 1-minute datapoints, each under
  its id, image, type, group and the all-instances aggregate, plus the status checks);
- the pass after a 5-minute boundary (every instance's);
- a minute-boundary pass on a thread (as the controller runs it) while the main thread commits
  one-row writes back to back, as placement does: the longest such write, which is what the
  pass makes placement wait (the write lock its transactions hold, and the GIL).
No peer: moto publishes no metrics of its own. The burn-to-visible latency of a real guest is
measured by tests/vm/test_cloudwatch_instance.py (it prints it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import threading
import time

from sqlalchemy import update

from mallee.cloud_identity import system_account_id
from mallee.controller.metrics_publisher import MetricsPublisher
from mallee.ids import new_id
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.compute import InstanceCounters
from mallee.store.tables.ec2 import Ec2Instance, Ec2Tag
from mallee.store.upsert import upsert


def fill(store: Store, count: int, t0: float) -> list[str]:
    ensure_system_account(store)
    account = system_account_id(store)
    ids = [new_id("i") for _ in range(count)]
    with store.session() as s:
        for n, iid in enumerate(ids):
            s.add(
                Ec2Instance(
                    id=iid,
                    account_id=account,
                    reservation_id="r-1",
                    launch_index=n,
                    image_id=f"emi-{n % 5:08d}",
                    instance_type=("m1.small", "c1.medium")[n % 2],
                    cores=1 + n % 2,
                    memory_mb=256,
                    disk_gb=5,
                    availability_zone="one",
                    launch_time=dt.datetime.now(dt.UTC),
                    state="running",
                    node=f"n{n % 10}",
                    monitoring=n % 2 == 0,
                    state_changed_at=t0 - 600,
                )
            )
            if n % 4 == 0:
                s.add(
                    Ec2Tag(
                        resource_id=iid,
                        key="aws:autoscaling:groupName",
                        value=f"group-{n % 3}",
                        account_id=account,
                        resource_type="instance",
                    )
                )
    return ids


def report(store: Store, ids: list[str], at: float, t0: float) -> None:
    rows = [
        {"instance_id": iid, "sampled_at": at, "booted_at": t0 - 600,
         "cpu_seconds": 0.3 * (at - t0 + 600), "net_in_bytes": int(1000 * (at - t0 + 600)),
         "disk_read_ops": int(at - t0 + 600)}
        for iid in ids
    ]  # fmt: skip
    with store.session() as s:
        upsert(s, InstanceCounters, rows)


def timed(label: str, pub: MetricsPublisher, store: Store, now: float) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    stored = pub.run(store, now=now, silent_nodes=set())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<34} {stored:>7} datapoints  {cpu * 1000:8.1f} ms CPU  {wall * 1000:8.1f} ms")


def beside(pub: MetricsPublisher, store: Store, iid: str, now: float) -> None:
    done = threading.Event()
    stored = [0]

    def work() -> None:
        stored[0] = pub.run(store, now=now, silent_nodes=set())
        done.set()

    worker = threading.Thread(target=work)
    wall = time.perf_counter()
    worker.start()
    longest, writes = 0.0, 0
    while not done.is_set():
        start = time.perf_counter()
        with store.session() as s:
            s.execute(update(Ec2Instance).where(Ec2Instance.id == iid).values(cores=1))
        longest = max(longest, time.perf_counter() - start)
        writes += 1
    worker.join()
    wall = time.perf_counter() - wall
    print(
        f"{'minute pass on a thread':<34} {stored[0]:>7} datapoints  {wall * 1000:8.1f} ms wall;"
        f" {writes} writes beside it, the longest {longest * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("instances", type=int, nargs="?", default=1000)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.postgres or f"sqlite:///{tmp}/bench.db")
        store.migrate()
        # A 5-minute boundary in the past, so every period here has closed.
        t0 = float(math.floor(time.time() / 300) * 300 - 900)
        ids = fill(store, args.instances, t0)
        pub = MetricsPublisher()
        report(store, ids, t0 + 2, t0)
        pub.run(store, now=t0 + 3, silent_nodes=set())  # anchors every instance
        print(f"{args.instances} running instances, {'postgres' if args.postgres else 'sqlite'}")
        report(store, ids, t0 + 7, t0)
        timed("quiet pass (no period closed)", pub, store, t0 + 8)
        report(store, ids, t0 + 62, t0)
        timed("after a minute boundary", pub, store, t0 + 63)
        report(store, ids, t0 + 67, t0)
        timed("quiet pass", pub, store, t0 + 68)
        report(store, ids, t0 + 122, t0)
        beside(pub, store, ids[0], t0 + 123)
        for minute in range(3, 5):
            report(store, ids, t0 + 60 * minute + 2, t0)
            pub.run(store, now=t0 + 60 * minute + 3, silent_nodes=set())
        report(store, ids, t0 + 302, t0)
        timed("after a 5-minute boundary", pub, store, t0 + 303)
        store.dispose()


if __name__ == "__main__":
    main()
