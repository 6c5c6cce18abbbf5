"""The group engine against a real store, with a recording stand-in for the internal call:
launches, lifecycles, restarts, failures, scale-in and deletion."""

from __future__ import annotations

import json
import time
import uuid

from sqlalchemy import select

from mallee.controller.autoscaling import GroupEngine
from mallee.store import Store
from mallee.store.tables.autoscaling import AsActivity
from mallee.store.tables.ec2 import Ec2Tag
from tests.unit.controller.autoscaling_fakes import (
    FakeCalls,
    account,
    activities,
    add_config,
    add_group,
    ec2_state,
    ec2_states,
    group,
    instances,
    set_group,
)

CAUSE = (
    "At 2026-12-07T20:00:00Z a user request explicitly set group desired capacity changing "
    "the desired capacity from 0 to 2."
)


def engine(store: Store) -> tuple[GroupEngine, FakeCalls]:
    calls = FakeCalls(store)
    return GroupEngine(store, calls), calls


def test_launches_to_desired_spread_over_zones_with_tags(store: Store) -> None:
    add_config(store, key_name="mykey", security_groups='["default", "sg-12345678"]')
    gid = add_group(
        store,
        desired=2,
        zones=("zone-a", "zone-b"),
        capacity_cause=CAUSE,
        tags={"team": ("blue", True), "secret": ("x", False)},
    )
    eng, calls = engine(store)
    eng.tick(time.time())
    runs = calls.operations("RunInstances")
    assert [r["Placement"]["AvailabilityZone"] for r in runs] == ["zone-a", "zone-b"]
    assert runs[0]["ImageId"] == "emi-12345678" and runs[0]["KeyName"] == "mykey"
    assert runs[0]["SecurityGroups"] == ["default"]
    assert runs[0]["SecurityGroupIds"] == ["sg-12345678"]
    assert runs[0]["TagSpecifications"] == [
        {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "blue"}]}
    ]
    acts = activities(store, gid)
    # Each launch's ClientToken is its activity's id.
    assert sorted(r["ClientToken"] for r in runs) == sorted(a.id for a in acts)
    members = instances(store, gid)
    assert [m.lifecycle_state for m in members] == ["Pending", "Pending"]
    assert sorted(m.zone for m in members) == ["zone-a", "zone-b"]
    for act in acts:
        assert act.status_code == "InProgress"
        assert act.description == f"Launching a new EC2 instance: {act.instance_id}"
        assert act.cause.startswith(CAUSE + "  At ")
        assert act.cause.endswith(
            "an instance was started in response to a difference between desired and actual "
            "capacity, increasing the capacity from 0 to 2."
        )
        assert json.loads(act.details)["Availability Zone"] == act.zone
    with store.read() as s:
        tags = {t.resource_id: t.value for t in s.scalars(select(Ec2Tag))}
    assert tags == {m.instance_id: "web" for m in members}
    # Nothing more to do: the next pass launches nothing.
    eng.tick(time.time())
    assert len(calls.operations("RunInstances")) == 2


def test_running_instances_go_in_service_and_start_the_cooldown(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1, default_cooldown=120)
    eng, _ = engine(store)
    eng.tick(time.time())
    (member,) = instances(store, gid)
    ec2_state(store, [member.instance_id], "running")
    done_at = time.time()
    eng.tick(done_at)
    (member,) = instances(store, gid)
    assert member.lifecycle_state == "InService"
    (act,) = activities(store, gid)
    assert (act.status_code, act.progress, act.end_time) == ("Successful", 100, done_at)
    g = group(store, gid)
    assert g is not None and g.cooldown_until == done_at


def test_a_restarted_controller_repeats_a_launch_without_a_second_instance(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1)
    calls = FakeCalls(store)
    # The last controller wrote the activity and called RunInstances, then died before it
    # recorded the instance.
    act_id = str(uuid.uuid4())
    with store.session() as s:
        s.add(
            AsActivity(
                id=act_id,
                account_id=account(store),
                group_id=gid,
                group_name="web",
                kind="launch",
                zone="zone-a",
                description="Launching a new EC2 instance",
                cause="c",
                start_time=time.time(),
            )
        )
    first = calls(account(store), "ec2", "RunInstances", {"ClientToken": act_id})
    made = first["Instances"][0]["InstanceId"]
    GroupEngine(store, calls).tick(time.time())
    GroupEngine(store, calls).tick(time.time())
    assert [m.instance_id for m in instances(store, gid)] == [made]
    (act,) = activities(store, gid)
    assert act.instance_id == made
    assert [r["ClientToken"] for r in calls.operations("RunInstances")] == [act_id] * 2


def test_a_failed_launch_is_recorded_and_retried_later(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1)
    eng, calls = engine(store)
    message = "There is not enough capacity to fulfill your request."
    calls.failing["RunInstances"] = ("InsufficientInstanceCapacity", message)
    now = time.time()
    eng.tick(now)
    (act,) = activities(store, gid)
    assert act.status_code == "Failed"
    assert act.status_message == f"{message.rstrip('.')}. Launching EC2 instance failed."
    assert act.description.startswith("Launching a new EC2 instance.  Status Reason: ")
    assert instances(store, gid) == []
    # Backing off: the next tick does not call at once.
    eng.tick(now + 1)
    assert len(calls.operations("RunInstances")) == 1
    del calls.failing["RunInstances"]
    eng.tick(now + 60)
    assert len(calls.operations("RunInstances")) == 2
    assert [m.lifecycle_state for m in instances(store, gid)] == ["Pending"]


def test_an_instance_ec2_ends_while_pending_fails_its_launch(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1)
    eng, _ = engine(store)
    now = time.time()
    eng.tick(now)
    (member,) = instances(store, gid)
    ec2_state(store, [member.instance_id], "terminated")
    eng.tick(now + 1)
    (act,) = activities(store, gid)
    assert act.status_code == "Failed"
    assert instances(store, gid)[0].lifecycle_state == "Terminated"


def _in_service(store: Store, eng: GroupEngine, gid: str, now: float) -> list[str]:
    eng.tick(now)
    ids = [m.instance_id for m in instances(store, gid)]
    ec2_state(store, ids, "running")
    eng.tick(now)
    return ids


def test_scale_in_terminates_by_policy_and_skips_protected(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=3, termination_policies='["NewestInstance"]')
    eng, calls = engine(store)
    now = time.time()
    for n in range(3):
        set_group(store, gid, desired_capacity=n + 1)
        _in_service(store, eng, gid, now + n)
    first, second, newest = [m.instance_id for m in instances(store, gid)]
    with store.session() as s:
        from mallee.store.tables.autoscaling import AsInstance

        s.get(AsInstance, second).protected_from_scale_in = True  # type: ignore[union-attr]
    cause = "At 2026-12-07T20:00:00Z a user request explicitly set group desired capacity."
    set_group(store, gid, desired_capacity=1, capacity_cause=cause)
    eng.tick(now + 10)
    assert [p["InstanceIds"] for p in calls.operations("TerminateInstances")] == [
        [newest],
        [first],
    ]
    states = {m.instance_id: m.lifecycle_state for m in instances(store, gid)}
    assert states == {first: "Terminating", second: "InService", newest: "Terminating"}
    term = [a for a in activities(store, gid) if a.kind == "terminate"]
    assert {a.description for a in term} == {
        f"Terminating EC2 instance: {newest}",
        f"Terminating EC2 instance: {first}",
    }
    assert all(a.cause.startswith(cause + "  At ") for a in term)
    assert all("shrinking the capacity from 3 to 1." in a.cause for a in term)
    ec2_state(store, [first, newest], "terminated")
    eng.tick(now + 11)
    states = {m.instance_id: m.lifecycle_state for m in instances(store, gid)}
    assert states == {first: "Terminated", second: "InService", newest: "Terminated"}
    assert {a.status_code for a in activities(store, gid) if a.kind == "terminate"} == {
        "Successful"
    }


def test_an_instance_terminated_behind_the_groups_back_is_replaced(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1, capacity_cause=CAUSE)
    eng, calls = engine(store)
    now = time.time()
    (old,) = _in_service(store, eng, gid, now)
    ec2_state(store, [old], "terminated")
    eng.tick(now + 5)
    states = {m.instance_id: m.lifecycle_state for m in instances(store, gid)}
    assert states.pop(old) == "Terminated"
    assert list(states.values()) == ["Pending"]
    acts = activities(store, gid)
    term = next(a for a in acts if a.kind == "terminate")
    assert term.status_code == "Successful"
    assert term.cause.endswith(
        "an instance was taken out of service in response to an EC2 health check indicating "
        "it has been terminated or stopped."
    )
    # A terminated instance needs no TerminateInstances.
    assert calls.operations("TerminateInstances") == []
    replacement = [a for a in acts if a.kind == "launch"][-1]
    # The replacement is not the last capacity change's doing.
    assert replacement.cause.startswith("At ") and CAUSE not in replacement.cause


def test_set_instance_health_unhealthy_is_replaced(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1)
    eng, calls = engine(store)
    now = time.time()
    (old,) = _in_service(store, eng, gid, now)
    with store.session() as s:
        from mallee.store.tables.autoscaling import AsInstance

        s.get(AsInstance, old).health_status = "Unhealthy"  # type: ignore[union-attr]
    eng.tick(now + 1)
    assert [p["InstanceIds"] for p in calls.operations("TerminateInstances")] == [[old]]
    assert ec2_states(store, [old]) == ["shutting-down"]
    assert len(instances(store, gid)) == 2


def test_suspended_processes_are_left_alone(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1, suspended_processes='[["Launch", "User suspended"]]')
    eng, calls = engine(store)
    eng.tick(time.time())
    assert calls.calls == [] and instances(store, gid) == []
    set_group(store, gid, suspended_processes="[]")
    eng.tick(time.time())
    assert len(calls.operations("RunInstances")) == 1


def test_load_balancers_register_in_service_and_deregister_before_terminating(
    store: Store,
) -> None:
    add_config(store)
    gid = add_group(store, desired=1, load_balancer_names='["lb1"]')
    eng, calls = engine(store)
    now = time.time()
    (iid,) = _in_service(store, eng, gid, now)
    assert calls.operations("RegisterInstancesWithLoadBalancer") == [
        {"LoadBalancerName": "lb1", "Instances": [{"InstanceId": iid}]}
    ]
    assert json.loads(instances(store, gid)[0].registered_lbs) == ["lb1"]
    set_group(store, gid, desired_capacity=0)
    eng.tick(now + 1)
    ops = [op for _, op, _ in calls.calls]
    assert ops[-2:] == ["DeregisterInstancesFromLoadBalancer", "TerminateInstances"]
    assert json.loads(instances(store, gid)[0].registered_lbs) == []


def test_a_detached_load_balancer_is_deregistered(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1, load_balancer_names='["lb1"]')
    eng, calls = engine(store)
    now = time.time()
    (iid,) = _in_service(store, eng, gid, now)
    set_group(store, gid, load_balancer_names="[]")
    eng.tick(now + 1)
    assert calls.operations("DeregisterInstancesFromLoadBalancer") == [
        {"LoadBalancerName": "lb1", "Instances": [{"InstanceId": iid}]}
    ]
    assert instances(store, gid)[0].lifecycle_state == "InService"


def test_a_deleting_group_terminates_everything_then_goes(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=2)
    eng, calls = engine(store)
    now = time.time()
    ids = _in_service(store, eng, gid, now)
    with store.session() as s:
        from mallee.store.tables.autoscaling import AsInstance

        for iid in ids:
            s.get(AsInstance, iid).protected_from_scale_in = True  # type: ignore[union-attr]
    set_group(store, gid, status="Delete in progress")
    eng.tick(now + 1)
    assert sorted(p["InstanceIds"][0] for p in calls.operations("TerminateInstances")) == sorted(
        ids
    )
    assert group(store, gid) is not None
    ec2_state(store, ids, "terminated")
    eng.tick(now + 2)
    eng.tick(now + 3)
    assert group(store, gid) is None
    assert instances(store, gid) == [] and activities(store, gid) == []


def test_a_detaching_instance_leaves_its_load_balancers_then_the_group(store: Store) -> None:
    add_config(store)
    gid = add_group(store, desired=1, load_balancer_names='["lb1"]')
    eng, calls = engine(store)
    now = time.time()
    (iid,) = _in_service(store, eng, gid, now)
    # DetachInstances (ShouldDecrementDesiredCapacity) of a registered instance.
    set_group(store, gid, desired_capacity=0)
    owner = account(store)
    with store.session() as s:
        from mallee.store.tables.autoscaling import AsInstance

        s.get(AsInstance, iid).lifecycle_state = "Detaching"  # type: ignore[union-attr]
        s.add(
            AsActivity(
                id=str(uuid.uuid4()),
                account_id=owner,
                group_id=gid,
                group_name="web",
                kind="detach",
                instance_id=iid,
                description=f"Detaching EC2 instance: {iid}",
                cause="c",
                start_time=now,
            )
        )
    eng.tick(now + 1)
    assert calls.operations("DeregisterInstancesFromLoadBalancer") == [
        {"LoadBalancerName": "lb1", "Instances": [{"InstanceId": iid}]}
    ]
    assert instances(store, gid) == []
    assert calls.operations("TerminateInstances") == []
    detach = next(a for a in activities(store, gid) if a.kind == "detach")
    assert detach.status_code == "Successful"
