"""Whether an instance of a group is unhealthy, and AWS's cause text for taking it out of
service: EC2's state (terminated or stopped behind the group's back), EC2's status checks (its
node stopped reporting), the load balancers' health checks (HealthCheckType ELB) and
SetInstanceHealth. The status and ELB checks wait out the group's HealthCheckGracePeriod."""

from __future__ import annotations

from collections.abc import Mapping

from mallee.controller.autoscaling_rows import Ec2State, loads, stamp
from mallee.store.tables.autoscaling import AsGroup, AsInstance

STOPPED_OR_GONE = frozenset({"stopping", "stopped", "shutting-down", "terminated"})
_OUT = "an instance was taken out of service in response to"


def ec2_gone_cause(now: float) -> str:
    return (
        f"At {stamp(now)} {_OUT} an EC2 health check indicating it has been terminated or stopped."
    )


def unhealthy_cause(
    group: AsGroup,
    inst: AsInstance,
    ec2: Ec2State | None,
    silent_nodes: set[str],
    lb_health: Mapping[tuple[str, str], Mapping[str, list[str]]],
    now: float,
) -> str | None:
    """Why `inst` (InService) must be replaced, or None while it is healthy."""
    if ec2 is None or ec2.state in STOPPED_OR_GONE:
        return ec2_gone_cause(now)
    if inst.health_status == "Unhealthy":
        return f"At {stamp(now)} {_OUT} a user health-check."
    if now < inst.launched_at + group.health_check_grace_period:
        return None
    if ec2.state == "running" and ec2.node in silent_nodes:
        return f"At {stamp(now)} {_OUT} an EC2 instance status check failure."
    if group.health_check_type == "ELB":
        for name in loads(group.load_balancer_names, []):
            states = lb_health.get((group.account_id, str(name)), {}).get(inst.instance_id)
            # Every worker of the load balancer finds it down (one that still reaches it, or
            # a worker that has not checked it yet, keeps it in).
            if states and all(st == "OutOfService" for st in states):
                return f"At {stamp(now)} {_OUT} an ELB system health check failure."
    return None
