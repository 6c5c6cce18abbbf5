"""DescribeInstanceHealth's merge of what the workers see with what the rows say."""

from __future__ import annotations

import datetime as dt

from mallee.services.elb.instances import REGISTERING, _state
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import ElbInstance, ElbInstanceHealth, ElbLoadBalancer

NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def lb() -> ElbLoadBalancer:
    return ElbLoadBalancer(id="abcd1234", name="web", zones='["one"]')


def instance(state: str = "running", zone: str = "one") -> Ec2Instance:
    return Ec2Instance(id="i-1", state=state, availability_zone=zone)


def registered(drain_until: float | None = None) -> ElbInstance:
    return ElbInstance(
        lb_id="abcd1234", instance_id="i-1", registered_at=NOW, drain_until=drain_until
    )


def seen(
    worker: str, state: str, at: float, reason: str = "N/A", text: str = "N/A"
) -> ElbInstanceHealth:
    return ElbInstanceHealth(
        lb_id="abcd1234",
        instance_id="i-1",
        worker_id=worker,
        state=state,
        reason_code=reason,
        description=text,
        updated_at=at,
    )


def test_in_service_when_any_worker_sees_it_so() -> None:
    failing = seen(
        "w1",
        "OutOfService",
        9,
        "Instance",
        "Instance has failed at least the UnhealthyThreshold number of health checks.",
    )
    assert _state(lb(), instance(), registered(), [failing, seen("w2", "InService", 1)]) == (
        "InService",
        "N/A",
        "N/A",
    )


def test_out_of_service_takes_the_latest_report() -> None:
    old = seen("w1", "OutOfService", 1, "ELB", "old")
    new = seen("w2", "OutOfService", 5, "Instance", "new")
    assert _state(lb(), instance(), registered(), [old, new]) == ("OutOfService", "Instance", "new")


def test_no_report_yet_is_registration_in_progress() -> None:
    assert _state(lb(), instance(), registered(), []) == ("OutOfService", "ELB", REGISTERING)


def test_what_the_rows_know_comes_first() -> None:
    in_service = [seen("w1", "InService", 1)]
    assert _state(lb(), instance("stopped"), registered(), in_service) == (
        "OutOfService",
        "Instance",
        "Instance is in stopped state.",
    )
    assert _state(lb(), instance("pending"), registered(), in_service)[2] == (
        "Instance is in pending state."
    )
    assert _state(lb(), instance(zone="two"), registered(), in_service)[1] == "ELB"
    assert _state(lb(), instance(), registered(drain_until=5.0), in_service)[2] == (
        "Instance deregistration currently in progress."
    )
    assert _state(lb(), instance(), None, in_service) == (
        "OutOfService",
        "N/A",
        "Instance is not currently registered with the LoadBalancer.",
    )
