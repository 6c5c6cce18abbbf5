"""Termination policies (pure), and the engine's scheduled actions, health checks, zone balance
and group metrics against a real store."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from sqlalchemy import select, update

from mallee.controller.autoscaling import GroupEngine
from mallee.controller.autoscaling_terminate import Candidate, GroupLaunchSource, choose
from mallee.metrics import store as metric_store
from mallee.registry.components import register_self
from mallee.store import Store
from mallee.store.tables.autoscaling import AsScheduledAction
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import ElbInstanceHealth, ElbLoadBalancer
from mallee.store.tables.registry import ServiceRow
from tests.unit.controller.autoscaling_fakes import (
    FakeCalls,
    account,
    activities,
    add_config,
    add_group,
    ec2_state,
    group,
    instances,
    set_group,
)

NOW = 1_800_000_000.0
CURRENT = GroupLaunchSource("")


def cand(
    iid: str, zone: str = "a", age: float = 100.0, lc: str = "lc", lc_at: float = 1.0
) -> Candidate:
    return Candidate(iid, zone, NOW - age, lc, "", lc_at)


def ids(picked: list[Candidate]) -> list[str]:
    return [c.instance_id for c in picked]


def test_default_takes_the_busiest_zone_then_the_oldest_config_then_the_hour() -> None:
    cands = [
        cand("i-1", "a", lc_at=5.0),
        cand("i-2", "b", lc_at=1.0),
        cand("i-3", "b", lc_at=5.0),
        # 55 minutes into its hour: closest to the next one.
        cand("i-4", "b", age=3300.0, lc_at=1.0),
    ]
    assert ids(choose(cands, 1, ["Default"], CURRENT, NOW)) == ["i-4"]
    # After i-4, zone b still has more; its oldest configuration is i-2's.
    assert ids(choose(cands, 2, ["Default"], CURRENT, NOW)) == ["i-4", "i-2"]


@pytest.mark.parametrize(
    ("policy", "victim"),
    [
        ("OldestInstance", "i-old"),
        ("NewestInstance", "i-new"),
        ("OldestLaunchConfiguration", "i-mid"),
    ],
)
def test_named_policies(policy: str, victim: str) -> None:
    cands = [
        cand("i-old", age=900.0, lc_at=3.0),
        cand("i-new", age=10.0, lc_at=3.0),
        cand("i-mid", age=500.0, lc_at=1.0),
    ]
    assert ids(choose(cands, 1, [policy], CURRENT, NOW)) == [victim]


def test_oldest_launch_template_takes_instances_off_the_current_one() -> None:
    current = GroupLaunchSource('{"LaunchTemplateId": "lt-1", "Version": "2"}')
    cands = [
        Candidate("i-1", "a", NOW - 10, "", '{"LaunchTemplateId": "lt-1", "Version": "2"}'),
        Candidate("i-2", "a", NOW - 5, "", '{"LaunchTemplateId": "lt-1", "Version": "1"}'),
    ]
    assert ids(choose(cands, 1, ["OldestLaunchTemplate"], current, NOW)) == ["i-2"]


def engine(store: Store) -> tuple[GroupEngine, FakeCalls]:
    calls = FakeCalls(store)
    return GroupEngine(store, calls), calls


def add_action(store: Store, gid: str, next_run_at: float, **values: object) -> str:
    aid = str(uuid.uuid4())
    with store.session() as s:
        s.add(
            AsScheduledAction(
                id=aid,
                account_id=account(store),
                group_id=gid,
                name=f"a-{aid[:4]}",
                next_run_at=next_run_at,
                **values,
            )
        )
    return aid


def action(store: Store, aid: str) -> AsScheduledAction | None:
    with store.read() as s:
        return s.get(AsScheduledAction, aid)


def test_a_one_time_scheduled_action_sets_the_sizes_then_goes(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1, min_size=1, max_size=2)
    eng, calls = engine(store)
    aid = add_action(store, gid, NOW - 1, min_size=1, max_size=4, desired_capacity=3)
    eng.tick(NOW)
    g = group(store, gid)
    assert g is not None and (g.min_size, g.max_size, g.desired_capacity) == (1, 4, 3)
    assert g.capacity_cause == (
        "At 2027-01-15T08:00:00Z a scheduled action update of AutoScalingGroup constraints to "
        "min: 1, max: 4, desired: 3 changing the desired capacity from 1 to 3."
    ).replace("2027-01-15T08:00:00Z", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 1)))
    assert action(store, aid) is None
    assert len(calls.operations("RunInstances")) == 3
    assert all(a.cause.startswith(g.capacity_cause) for a in activities(store, gid))


def test_a_recurring_action_moves_to_its_next_run_and_keeps_desired_in_bounds(
    store: Store,
) -> None:
    add_config(store)
    gid = add_group(store, desired=5, min_size=0, max_size=10)
    eng, _ = engine(store)
    aid = add_action(store, gid, NOW - 30, recurrence="0 * * * *", max_size=2)
    eng.tick(NOW)
    g = group(store, gid)
    assert g is not None and (g.max_size, g.desired_capacity) == (2, 2)
    a = action(store, aid)
    assert a is not None and a.next_run_at is not None
    assert a.next_run_at > NOW and a.next_run_at % 3600 == 0


def test_a_suspended_schedule_skips_the_run(store: Store) -> None:
    add_config(store)
    gid = add_group(
        store, desired=0, suspended_processes='[["ScheduledActions", "User suspended"]]'
    )
    eng, _ = engine(store)
    aid = add_action(store, gid, NOW - 1, recurrence="*/5 * * * *", desired_capacity=2)
    eng.tick(NOW)
    g = group(store, gid)
    assert g is not None and g.desired_capacity == 0
    a = action(store, aid)
    assert a is not None and a.next_run_at is not None and a.next_run_at > NOW


def _in_service(store: Store, eng: GroupEngine, gid: str, now: float) -> list[str]:
    eng.tick(now)
    got = [m.instance_id for m in instances(store, gid)]
    ec2_state(store, got, "running")
    eng.tick(now)
    return got


def test_elb_health_check_after_the_grace_period(store: Store) -> None:
    add_config(store)
    gid = add_group(
        store,
        desired=1,
        load_balancer_names='["lb1"]',
        health_check_type="ELB",
        health_check_grace_period=300,
    )
    eng, calls = engine(store)
    now = time.time()
    (iid,) = _in_service(store, eng, gid, now)
    with store.session() as s:
        s.add(
            ElbLoadBalancer(
                id="lb0001",
                account_id=account(store),
                name="lb1",
                dns_name="lb1.example",
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        s.flush()
        for worker in ("w1", "w2"):
            s.add(
                ElbInstanceHealth(
                    lb_id="lb0001",
                    instance_id=iid,
                    worker_id=worker,
                    state="OutOfService",
                    updated_at=now,
                )
            )
    eng.tick(now + 10)
    assert calls.operations("TerminateInstances") == []
    eng.tick(now + 301)
    assert [p["InstanceIds"] for p in calls.operations("TerminateInstances")] == [[iid]]
    term = next(a for a in activities(store, gid) if a.kind == "terminate")
    assert term.cause.endswith(
        "an instance was taken out of service in response to an ELB system health check failure."
    )


def test_a_silent_node_fails_the_status_check(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1)
    eng, calls = engine(store)
    now = time.time()
    register_self(store, type="node", name="n1", host="h", port=8775, partition="zone-a")
    (iid,) = _in_service(store, eng, gid, now)
    with store.session() as s:
        s.execute(update(Ec2Instance).where(Ec2Instance.id == iid).values(node="n1"))
        s.execute(update(ServiceRow).where(ServiceRow.name == "n1").values(last_heartbeat=0.0))
    eng.tick(now + 1)
    term = next(a for a in activities(store, gid) if a.kind == "terminate")
    assert term.cause.endswith("in response to an EC2 instance status check failure.")
    assert calls.operations("TerminateInstances") == [{"InstanceIds": [iid]}]


def test_launches_balance_zones_and_avoid_a_failing_zone(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=3, zones=("zone-a", "zone-b"))
    eng, calls = engine(store)
    now = time.time()
    eng.tick(now)
    assert sorted(m.zone for m in instances(store, gid)) == ["zone-a", "zone-a", "zone-b"]
    # zone-b's launch fails: the retry goes to zone-a although zone-b has fewer.
    set_group(store, gid, desired_capacity=4, availability_zones='["zone-b", "zone-a"]')
    calls.failing["RunInstances"] = ("InsufficientInstanceCapacity", "No room.")
    eng.tick(now + 1)
    del calls.failing["RunInstances"]
    # After the backoff (5 s), while the zone is still avoided (twice that).
    eng.tick(now + 7)
    assert calls.operations("RunInstances")[-2]["Placement"]["AvailabilityZone"] == "zone-b"
    assert calls.operations("RunInstances")[-1]["Placement"]["AvailabilityZone"] == "zone-a"


def test_group_metrics_once_a_minute_when_enabled(store: Store) -> None:
    add_config(store)
    gid = add_group(
        store, desired=2, enabled_metrics='["GroupDesiredCapacity", "GroupPendingInstances"]'
    )
    eng, _ = engine(store)
    minute = time.time() // 60 * 60
    eng.tick(minute + 1)
    eng.tick(minute + 2)
    # A restarted controller (a new engine) in the same minute stores no second sample.
    engine(store)[0].tick(minute + 3)
    with store.read() as s:
        buckets = metric_store.statistics(
            s,
            account(store),
            "AWS/AutoScaling",
            "GroupDesiredCapacity",
            [("AutoScalingGroupName", "web")],
            minute - 60,
            minute + 60,
            60,
        )
    assert [(b.timestamp, b.count, b.sum) for b in buckets] == [(minute, 1.0, 2.0)]
    assert group(store, gid) is not None


def test_the_group_tag_names_the_instances_for_ec2_metrics(store: Store) -> None:
    from mallee.store.tables.ec2 import Ec2Tag

    add_config(store)
    gid = add_group(store, name="blue", desired=1)
    eng, _ = engine(store)
    eng.tick(time.time())
    (member,) = instances(store, gid)
    with store.read() as s:
        tag = s.scalars(select(Ec2Tag).where(Ec2Tag.resource_id == member.instance_id)).one()
    assert (tag.key, tag.value) == ("aws:autoscaling:groupName", "blue")
    assert json.loads(activities(store, gid)[0].details)["Availability Zone"] == "zone-a"


def test_run_params_for_a_launch_template_and_for_a_subnet() -> None:
    from mallee.controller.autoscaling_launch import Spot, run_params
    from mallee.controller.autoscaling_rows import GroupView
    from mallee.store.tables.autoscaling import AsGroup, AsLaunchConfiguration

    templated = GroupView(
        AsGroup(
            name="t",
            launch_template='{"LaunchTemplateId": "lt-0123", "Version": "$Latest"}',
        )
    )
    assert run_params(templated, Spot("zone-a"), "tok") == {
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": "tok",
        "LaunchTemplate": {"LaunchTemplateId": "lt-0123", "Version": "$Latest"},
        "Placement": {"AvailabilityZone": "zone-a"},
    }
    config = AsLaunchConfiguration(
        image_id="emi-1",
        instance_type="m1.small",
        security_groups='["sg-1"]',
        associate_public_ip=True,
        instance_monitoring=False,
        block_device_mappings='[{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}}]',
        iam_instance_profile="arn:aws:iam::123456789012:instance-profile/p",
    )
    in_vpc = GroupView(AsGroup(name="v", launch_template=""), config=config)
    params = run_params(in_vpc, Spot("zone-a", "subnet-1"), "tok")
    assert "Placement" not in params and "SubnetId" not in params
    assert params["NetworkInterfaces"] == [
        {
            "DeviceIndex": 0,
            "SubnetId": "subnet-1",
            "AssociatePublicIpAddress": True,
            "Groups": ["sg-1"],
        }
    ]
    assert params["BlockDeviceMappings"] == [{"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}}]
    assert params["Monitoring"] == {"Enabled": False}
    assert params["IamInstanceProfile"] == {"Arn": "arn:aws:iam::123456789012:instance-profile/p"}


def test_az_rebalance_launches_in_the_empty_zone_then_takes_one_from_the_full(
    store: Store,
) -> None:
    add_config(store)
    gid = add_group(store, desired=4, zones=("zone-a",))
    eng, _ = engine(store)
    now = time.time()

    def settle(at: float) -> None:
        eng.tick(at)
        members = instances(store, gid)
        ec2_state(
            store, [m.instance_id for m in members if m.lifecycle_state == "Pending"], "running"
        )
        ec2_state(
            store,
            [m.instance_id for m in members if m.lifecycle_state == "Terminating"],
            "terminated",
        )
        eng.tick(at + 0.5)

    settle(now)
    assert sorted(m.zone for m in instances(store, gid)) == ["zone-a"] * 4
    # A second zone: the group launches there before it terminates in the first (AWS).
    set_group(store, gid, availability_zones='["zone-a", "zone-b"]')
    zones: list[list[str]] = []
    for step in range(1, 8):
        settle(now + step)
        zones.append(
            sorted(m.zone for m in instances(store, gid) if m.lifecycle_state == "InService")
        )
    assert ["zone-a"] * 4 + ["zone-b"] in zones  # one over, never under, the desired four
    assert zones[-1] == ["zone-a", "zone-a", "zone-b", "zone-b"]
    causes = [a.cause for a in activities(store, gid) if a.kind == "launch"]
    assert sum("to aid in balancing the group's zones" in c for c in causes) == 2
    # Suspended, nothing moves.
    set_group(store, gid, availability_zones='["zone-a", "zone-b", "zone-c"]',
              suspended_processes='[["AZRebalance", "test"]]')  # fmt: skip
    settle(now + 20)
    assert "zone-c" not in {m.zone for m in instances(store, gid)}
