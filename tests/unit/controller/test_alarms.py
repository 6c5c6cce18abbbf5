"""The alarm engine against a real store, a fake clock and an injected metric reader."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.controller import alarm_actions
from mallee.controller.alarm_actions import ActionFailed, ActionRunner
from mallee.controller.alarm_eval import Rule, Slot, decide, java_double
from mallee.controller.alarms import AlarmEngine, TickOutcome, next_evaluation
from mallee.metrics import alarm_state
from mallee.metrics.points import Bucket
from mallee.store import Store
from mallee.store.tables.alarms import CwAlarm, CwAlarmAction, CwAlarmChild, CwAlarmHistory
from mallee.store.tables.iam import IamAccount

ACCOUNT = "123456789012"
REGION = "eucalyptus"
# 2026-12-07 10:00:00 UTC
T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC).timestamp()


class FakeMetrics:
    """Datapoints by (namespace, name): what mallee.metrics.store.statistics would sum."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.reads = 0

    def put(self, namespace: str, name: str, timestamp: float, value: float) -> None:
        self.points.setdefault((namespace, name), []).append((timestamp, value))

    def __call__(
        self,
        s: Session,
        account_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        start: float,
        end: float,
        period: int,
        unit: str | None = None,
        *,
        with_bins: bool = True,
    ) -> list[Bucket]:
        self.reads += 1
        buckets: dict[float, list[float]] = {}
        for t, v in self.points.get((namespace, name), []):
            if start <= t < end:
                buckets.setdefault(start + (t - start) // period * period, []).append(v)
        return [
            Bucket(t, len(vs), sum(vs), min(vs), max(vs), "Percent")
            for t, vs in sorted(buckets.items())
        ]


class FakeCalls:
    def __init__(self, fail: dict[str, ActionFailed] | None = None) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.fail = fail or {}

    def __call__(
        self, account_id: str, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        self.calls.append((account_id, service, operation, params))
        if service in self.fail:
            raise self.fail[service]
        return {}


@pytest.fixture
def account(store: Store) -> str:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
    return ACCOUNT


def add_alarm(store: Store, name: str, **fields: Any) -> None:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "name": name,
        "arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "alarm_type": "MetricAlarm",
        "actions_enabled": True,
        "ok_actions": "[]",
        "alarm_actions": "[]",
        "insufficient_data_actions": "[]",
        "namespace": "Test",
        "metric_name": "Load",
        "dimensions": json.dumps([["InstanceId", "i-12345678"]]),
        "statistic": "Average",
        "extended_statistic": "",
        "period": 60,
        "unit": "",
        "evaluation_periods": 1,
        "datapoints_to_alarm": None,
        "threshold": 80.0,
        "comparison_operator": "GreaterThanThreshold",
        "treat_missing_data": "",
        "evaluate_low_sample_count_percentile": "",
        "metrics": "",
        "threshold_metric_id": "",
        "alarm_rule": "",
        "state_value": "INSUFFICIENT_DATA",
        "state_reason": "Unchecked: Initial alarm creation",
        "state_reason_data": None,
        "state_updated_at": T0 - 3600,
        "state_transitioned_at": T0 - 3600,
        "config_updated_at": T0 - 3600,
        "state_version": 0,
        "next_eval_at": 0.0,
        "evaluated_at": 0.0,
    }
    values.update(fields)
    with store.session() as s:
        s.add(CwAlarm(**values))


def alarm(store: Store, name: str) -> CwAlarm:
    with store.read() as s:
        found = s.scalars(select(CwAlarm).where(CwAlarm.name == name)).one()
    return found


def history(store: Store, name: str, kind: str) -> list[CwAlarmHistory]:
    with store.read() as s:
        return list(
            s.scalars(
                select(CwAlarmHistory)
                .where(CwAlarmHistory.alarm_name == name, CwAlarmHistory.item_type == kind)
                .order_by(CwAlarmHistory.id)
            )
        )


def actions(store: Store) -> list[CwAlarmAction]:
    with store.read() as s:
        return list(s.scalars(select(CwAlarmAction).order_by(CwAlarmAction.id)))


def test_a_crossing_goes_to_alarm_with_aws_reason_and_stops_the_instance_once(
    store: Store, account: str
) -> None:
    metrics, calls = FakeMetrics(), FakeCalls()
    stop = f"arn:aws:automate:{REGION}:ec2:stop"
    add_alarm(store, "cpu", alarm_actions=json.dumps([stop]))
    engine = AlarmEngine(store, metrics, calls, region=REGION)
    metrics.put("Test", "Load", T0 + 5, 85.0)

    out = engine.tick(T0 + 61)

    found = alarm(store, "cpu")
    assert (out.changed, found.state_value) == (1, "ALARM")
    assert found.state_reason == (
        "Threshold Crossed: 1 datapoint [85.0 (07/12/26 10:00:00)] was greater than the"
        " threshold (80.0)."
    )
    data = json.loads(found.state_reason_data or "")
    assert data["recentDatapoints"] == [85.0]
    assert data["evaluatedDatapoints"] == [
        {"timestamp": "2026-12-07T10:00:00.000+0000", "sampleCount": 1.0, "value": 85.0}
    ]
    assert data["threshold"] == 80.0 and data["statistic"] == "Average"
    (update_item,) = history(store, "cpu", "StateUpdate")
    assert update_item.summary == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert json.loads(update_item.data)["newState"]["stateValue"] == "ALARM"
    assert calls.calls == [(ACCOUNT, "ec2", "StopInstances", {"InstanceIds": ["i-12345678"]})]
    (action_item,) = history(store, "cpu", "Action")
    assert action_item.summary == f"Successfully executed action {stop}"
    assert [a.state for a in actions(store)] == ["done"]

    # Evaluated again, still breaching: no new transition, no new action.
    engine.tick(T0 + 65)
    metrics.put("Test", "Load", T0 + 70, 90.0)
    engine.tick(T0 + 121)
    assert len(calls.calls) == 1
    assert len(history(store, "cpu", "StateUpdate")) == 1


def test_back_under_the_threshold_is_ok_with_the_negated_reason(store: Store, account: str) -> None:
    metrics = FakeMetrics()
    add_alarm(store, "cpu", comparison_operator="GreaterThanOrEqualToThreshold")
    engine = AlarmEngine(store, metrics, region=REGION)
    metrics.put("Test", "Load", T0 + 5, 10.0)
    engine.tick(T0 + 61)
    assert alarm(store, "cpu").state_reason == (
        "Threshold Crossed: 1 datapoint [10.0 (07/12/26 10:00:00)] was not greater than or"
        " equal to the threshold (80.0)."
    )
    assert alarm(store, "cpu").state_value == "OK"


def test_no_data_is_insufficient_data_and_the_period_schedule_follows(
    store: Store, account: str
) -> None:
    metrics = FakeMetrics()
    add_alarm(store, "quiet", state_value="OK", evaluation_periods=3)
    engine = AlarmEngine(store, metrics, region=REGION)
    engine.tick(T0 + 61)
    found = alarm(store, "quiet")
    assert found.state_value == "INSUFFICIENT_DATA"
    assert found.state_reason == "Insufficient Data: 3 datapoints were unknown."
    # Just after a period closes, then again 4 and 8 seconds after it.
    assert found.next_eval_at == T0 + 64
    assert next_evaluation(T0 + 64, 60) == T0 + 68
    assert next_evaluation(T0 + 68, 60) == T0 + 121
    assert next_evaluation(T0 + 68, 300) == T0 + 128


def rule(**kw: Any) -> Rule:
    base: dict[str, Any] = {
        "comparison": "GreaterThanThreshold",
        "threshold": 50.0,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "treat_missing": "missing",
        "period": 60,
        "statistic": "Maximum",
    }
    base.update(kw)
    return Rule(**base)


def slots(*values: float | None) -> list[Slot]:
    return [Slot(T0 + 60 * i, v, 1.0 if v is not None else 0.0) for i, v in enumerate(values)]


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("treat", "values", "expected"),
    [
        ("missing", (60.0, None, 70.0), "ALARM"),
        ("missing", (60.0, None, None), "OK"),
        ("missing", (None, None, None), "INSUFFICIENT_DATA"),
        ("ignore", (None, None, None), None),
        ("breaching", (60.0, None, None), "ALARM"),
        ("breaching", (None, None, None), "ALARM"),
        ("notBreaching", (60.0, None, None), "OK"),
        ("notBreaching", (None, None, None), "OK"),
        ("missing", (10.0, 60.0, 70.0), "ALARM"),
        ("missing", (60.0, 10.0, 20.0), "OK"),
    ],
)
def test_m_out_of_n_and_missing_data(
    treat: str, values: tuple[float | None, ...], expected: str | None
) -> None:
    decision = decide(rule(treat_missing=treat), slots(*values), T0 + 300)
    assert (decision.state if decision else None) == expected


@pytest.mark.nodb
def test_m_out_of_n_reason_names_the_minimum() -> None:
    decision = decide(rule(), slots(10.0, 60.0, 70.0), T0 + 300)
    assert decision is not None
    assert decision.reason == (
        "Threshold Crossed: 2 out of the last 3 datapoints [70.0 (07/12/26 10:02:00), 60.0"
        " (07/12/26 10:01:00)] were greater than the threshold (50.0) (minimum 2 datapoints"
        " for OK -> ALARM transition)."
    )


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("op", "value", "breaches"),
    [
        ("GreaterThanOrEqualToThreshold", 50.0, True),
        ("GreaterThanThreshold", 50.0, False),
        ("LessThanThreshold", 49.0, True),
        ("LessThanOrEqualToThreshold", 50.0, True),
        ("LessThanThreshold", 50.0, False),
    ],
)
def test_comparison_operators(op: str, value: float, breaches: bool) -> None:
    r = rule(comparison=op, evaluation_periods=1, datapoints_to_alarm=1)
    decision = decide(r, slots(value), T0 + 60)
    assert decision is not None
    assert decision.state == ("ALARM" if breaches else "OK")


@pytest.mark.nodb
def test_doubles_print_as_aws_prints_them() -> None:
    assert [java_double(v) for v in (85.0, 0.5, 1e7, 12345.678, 0.0001)] == [
        "85.0",
        "0.5",
        "1.0E7",
        "12345.678",
        "1.0E-4",
    ]


def test_a_composite_follows_its_children_in_the_same_tick(store: Store, account: str) -> None:
    metrics = FakeMetrics()
    add_alarm(store, "cpu")
    add_alarm(store, "disk", metric_name="Disk", state_value="OK")
    add_alarm(
        store,
        "both",
        alarm_type="CompositeAlarm",
        namespace="",
        metric_name="",
        dimensions="[]",
        alarm_rule='ALARM(cpu) AND NOT ALARM("disk")',
    )
    add_alarm(
        store,
        "outer",
        alarm_type="CompositeAlarm",
        namespace="",
        metric_name="",
        dimensions="[]",
        alarm_rule=f"ALARM(arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:both) OR FALSE",
    )
    with store.session() as s:
        for parent, child in (("both", "cpu"), ("both", "disk"), ("outer", "both")):
            parent_id = s.scalars(select(CwAlarm.id).where(CwAlarm.name == parent)).one()
            s.add(CwAlarmChild(parent_id=parent_id, child_name=child))
    engine = AlarmEngine(store, metrics, region=REGION)
    metrics.put("Test", "Load", T0 + 5, 99.0)
    metrics.put("Test", "Disk", T0 + 5, 1.0)
    engine.tick(T0 + 61)
    assert alarm(store, "both").state_value == "ALARM"
    assert alarm(store, "outer").state_value == "ALARM"
    assert alarm(store, "both").state_reason.startswith(
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cpu transitioned to ALARM at Monday 07"
        " December, 2026"
    )

    # A SetAlarmState on a composite holds until a child changes.
    both = alarm(store, "both")
    with store.session() as s:
        assert alarm_state.transition(s, both, "OK", "testing", None, T0 + 70)
    engine.tick(T0 + 71)
    assert alarm(store, "both").state_value == "OK"
    metrics.put("Test", "Load", T0 + 65, 1.0)
    engine.tick(T0 + 121)
    assert alarm(store, "cpu").state_value == "OK"
    assert alarm(store, "both").state_value == "OK"
    assert alarm(store, "outer").state_value == "OK"


def test_a_state_change_that_lost_a_race_writes_nothing(store: Store, account: str) -> None:
    add_alarm(store, "cpu", alarm_actions=json.dumps([f"arn:aws:automate:{REGION}:ec2:stop"]))
    stale = alarm(store, "cpu")
    with store.session() as s:
        assert alarm_state.transition(s, stale, "OK", "first", None, T0)
    with store.session() as s:
        assert not alarm_state.transition(s, stale, "ALARM", "second", None, T0)
    assert alarm(store, "cpu").state_value == "OK"
    assert actions(store) == []


def test_actions_left_running_by_a_crash_never_run_twice(store: Store, account: str) -> None:
    add_alarm(
        store,
        "cpu",
        alarm_actions=json.dumps(
            [f"arn:aws:automate:{REGION}:ec2:stop", f"arn:aws:automate:{REGION}:ec2:reboot"]
        ),
    )
    with store.session() as s:
        assert alarm_state.transition(s, alarm(store, "cpu"), "ALARM", "test", None, T0)
    # A runner claimed both and died before recording them.
    with store.session() as s:
        s.execute(update(CwAlarmAction).values(state="running", runner="dead", claimed_at=T0))
    calls = FakeCalls()
    assert ActionRunner(store, calls, region=REGION).run(T0 + 1) == 2
    # Stopping again is harmless; a reboot might have happened, so it is not repeated.
    assert [c[2] for c in calls.calls] == ["StopInstances"]
    assert [(a.state, a.result) for a in actions(store)] == [
        ("done", ""),
        ("failed", "The controller stopped while running the action"),
    ]
    assert ActionRunner(store, calls, region=REGION).run(T0 + 2) == 0


def test_an_auto_scaling_policy_is_executed_naming_its_alarm_and_a_refusal_fails_it(
    store: Store, account: str
) -> None:
    policy = (
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:c2a8f9dc-1c75-49d5-b54d-"
        "8ef87fe29e9a:autoScalingGroupName/MyASGroup:policyName/MyScaleoutPolicy"
    )
    add_alarm(store, "scale", alarm_actions=json.dumps([policy]))
    with store.session() as s:
        assert alarm_state.transition(s, alarm(store, "scale"), "ALARM", "test", None, T0)
    calls = FakeCalls({"autoscaling": ActionFailed("ValidationError", "Policy name not found")})
    ActionRunner(store, calls, region=REGION).run(T0 + 1)
    assert calls.calls == [
        (
            ACCOUNT,
            "autoscaling",
            "ExecutePolicyForAlarm",
            {
                "AutoScalingGroupName": "MyASGroup",
                "PolicyName": policy,
                "HonorCooldown": True,
                "AlarmName": "scale",
            },
        )
    ]
    (item,) = history(store, "scale", "Action")
    assert item.summary == f"Failed to execute action {policy}"[:255]
    assert json.loads(item.data)["error"] == "ValidationError: Policy name not found"


def test_disabled_actions_owe_nothing(store: Store, account: str) -> None:
    add_alarm(
        store,
        "cpu",
        actions_enabled=False,
        alarm_actions=json.dumps([f"arn:aws:automate:{REGION}:ec2:stop"]),
    )
    with store.session() as s:
        assert alarm_state.transition(s, alarm(store, "cpu"), "ALARM", "test", None, T0)
    assert actions(store) == []


@pytest.mark.nodb
def test_action_plans() -> None:
    plan = alarm_actions.plan
    assert plan(f"arn:aws:automate:{REGION}:ec2:terminate", "i-1", REGION).operation == (
        "TerminateInstances"
    )
    assert plan(f"arn:aws:automate:{REGION}:ec2:recover", "i-1", REGION).operation == (
        "RebootInstances"
    )
    old = f"arn:aws:swf:{REGION}:{ACCOUNT}:action/actions/AWS_EC2.InstanceId.Stop/1.0"
    assert plan(old, "i-1", REGION).operation == "StopInstances"
    with pytest.raises(ActionFailed):
        plan(f"arn:aws:sns:{REGION}:{ACCOUNT}:topic", "i-1", REGION)
    with pytest.raises(ActionFailed):
        plan(f"arn:aws:automate:{REGION}:ec2:stop", "", REGION)


def test_batched_reads_answer_as_the_metric_store_does(store: Store, account: str) -> None:
    from mallee.controller import alarm_reads
    from mallee.metrics import store as metrics
    from mallee.metrics.points import Datum

    now = T0 + 600
    dims = (("InstanceId", "i-12345678"),)
    data = [
        Datum(ACCOUNT, "Test", name, dims, T0 + t, unit, 1.0, v, v, v, ((v, 1.0),))
        for name, t, v, unit in (
            ("Load", 10, 85.0, "Percent"),
            ("Load", 70, 20.0, "Percent"),
            ("Load", 75, 30.0, "Count"),
            ("Disk", 130, 5.0, "Bytes"),
        )
    ]
    with store.session() as s:
        metrics.put(s, data, now=now)
    keys = [
        (ACCOUNT, "Test", "Load", dims),
        (ACCOUNT, "Test", "Disk", dims),
        (ACCOUNT, "X", "Y", ()),
    ]
    with store.read() as s:
        many = alarm_reads.read_many(s, keys, T0, T0 + 180, 60)
        for key in keys:
            one = metrics.statistics(s, *key, T0, T0 + 180, 60, with_bins=False, now=now)
            assert sorted(many[key], key=lambda b: (b.timestamp, b.unit)) == sorted(
                one, key=lambda b: (b.timestamp, b.unit)
            )
    assert len(many[keys[0]]) == 3 and many[keys[2]] == []

    # The engine reading that way decides as with the reader.
    add_alarm(store, "cpu")
    engine = AlarmEngine(store, metrics.statistics, region=REGION, batch_reads=True)
    engine.tick(T0 + 61)
    assert alarm(store, "cpu").state_value == "ALARM"


def test_a_child_set_during_a_tick_waits_for_its_composite(store: Store, account: str) -> None:
    add_alarm(store, "cpu")
    add_alarm(
        store,
        "parent",
        alarm_type="CompositeAlarm",
        namespace="",
        metric_name="",
        dimensions="[]",
        alarm_rule="ALARM(cpu)",
    )
    with store.session() as s:
        parent_id = s.scalars(select(CwAlarm.id).where(CwAlarm.name == "parent")).one()
        s.add(CwAlarmChild(parent_id=parent_id, child_name="cpu"))
    engine = AlarmEngine(store, FakeMetrics(), region=REGION)
    engine.tick(T0 + 61)
    assert alarm(store, "parent").state_value == "OK"
    # A SetAlarmState lands after this tick's composite pass, before its metric pass: the
    # child (no data) is not evaluated back until its parent has seen it.
    with store.session() as s:
        assert alarm_state.transition(s, alarm(store, "cpu"), "ALARM", "test", None, T0 + 121.5)
    engine.evaluate_metric_alarms(T0 + 122, TickOutcome())
    assert alarm(store, "cpu").state_value == "ALARM"
    engine.tick(T0 + 123)
    # The parent followed the child to ALARM, then back when the child's evaluation undid it.
    moves = [h.summary for h in history(store, "parent", "StateUpdate")]
    assert moves == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    assert alarm(store, "cpu").state_value == "INSUFFICIENT_DATA"
