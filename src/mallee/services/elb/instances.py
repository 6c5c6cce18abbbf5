"""RegisterInstancesWithLoadBalancer, DeregisterInstancesFromLoadBalancer and
DescribeInstanceHealth.

Health comes from `elb_instance_health`, which each worker's node writes from what its HAProxy
sees: an instance is InService when any worker has it in service (each zone's worker checks
every back end it may send to). What the rows cannot know, AWS's words for it: an instance
that is not running, or in a zone the load balancer does not serve, or with no check yet."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity.clock import now
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import errors, network, rows
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import (
    ElbInstance,
    ElbInstanceHealth,
    ElbLoadBalancer,
    bump_elb,
)

_GONE = frozenset({"terminated", "shutting-down"})
REGISTERING = "Instance registration is still in progress."
NOT_REGISTERED = "Instance is not currently registered with the LoadBalancer."
DEREGISTERING = "Instance deregistration currently in progress."
OTHER_ZONE = (
    "Instance is in the EC2 Availability Zone for which LoadBalancer is not configured to "
    "route traffic to."
)


def _ids(params: Params) -> list[str]:
    return list(
        dict.fromkeys(str(i.get("InstanceId") or "") for i in params.get("Instances") or [])
    )


def _instances(s: Session, account_id: str, ids: Sequence[str]) -> dict[str, Ec2Instance]:
    return {
        i.id: i
        for i in s.scalars(
            select(Ec2Instance).where(Ec2Instance.account_id == account_id, Ec2Instance.id.in_(ids))
        )
    }


def _registered(s: Session, lb_id: str) -> list[dict[str, str]]:
    found = s.scalars(
        select(ElbInstance.instance_id)
        .where(ElbInstance.lb_id == lb_id, ElbInstance.drain_until.is_(None))
        .order_by(ElbInstance.registered_at, ElbInstance.instance_id)
    ).all()
    return [{"InstanceId": i} for i in found]


def _same_network(s: Session, lb: ElbLoadBalancer, instances: Sequence[Ec2Instance]) -> None:
    """A worker reaches only the instances of its own network: a load balancer in a user VPC
    those of its VPC, any other those of EDGE (the default VPC's)."""
    own = network.group_vpc_key(s, lb.vpc_id) if lb.vpc_id else ""
    keys: dict[str, str] = {}
    for inst in instances:
        vpc = inst.vpc_id or ""
        if vpc not in keys:
            keys[vpc] = network.group_vpc_key(s, vpc) if vpc else ""
        if keys[vpc] != own:
            raise errors.invalid_instance(
                f"EC2 instance {inst.id} is not in the same VPC as ELB."
                if own
                else f"EC2 instance {inst.id} is in a VPC; this load balancer is not."
            )


def register_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = _ids(params)
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        found = _instances(s, ctx.principal.account_id, ids)
        bad = [i for i in ids if i not in found or found[i].state in _GONE]
        if bad:
            raise errors.invalid_instance(
                f"The requested instance(s) are not valid: {', '.join(bad)}"
            )
        _same_network(s, lb, [found[i] for i in ids])
        for instance_id in ids:
            row = s.get(ElbInstance, (lb.id, instance_id))
            if row is None:
                s.add(ElbInstance(lb_id=lb.id, instance_id=instance_id, registered_at=now()))
            elif row.drain_until is not None:
                # Registered again while draining: back in rotation.
                row.drain_until = None
        s.flush()
        bump_elb(s)
        return {"Instances": _registered(s, lb.id)}


def deregister_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = _ids(params)
    with rt.store.session() as s:
        lb = rows.named(s, ctx, params)
        present = {
            r.instance_id: r
            for r in s.scalars(
                select(ElbInstance).where(
                    ElbInstance.lb_id == lb.id,
                    ElbInstance.instance_id.in_(ids),
                    ElbInstance.drain_until.is_(None),
                )
            )
        }
        missing = [i for i in ids if i not in present]
        if missing:
            raise errors.invalid_instance(
                f"The requested instance(s) are not registered with {lb.name}: {', '.join(missing)}"
            )
        for row in present.values():
            if lb.draining_enabled:
                # The node keeps the back end for established connections until then.
                row.drain_until = time.time() + lb.draining_timeout
            else:
                s.delete(row)
        if not lb.draining_enabled:
            s.execute(
                delete(ElbInstanceHealth).where(
                    ElbInstanceHealth.lb_id == lb.id, ElbInstanceHealth.instance_id.in_(ids)
                )
            )
        s.flush()
        bump_elb(s)
        return {"Instances": _registered(s, lb.id)}


def _state(
    lb: ElbLoadBalancer,
    instance: Ec2Instance,
    row: ElbInstance | None,
    health: Sequence[ElbInstanceHealth],
) -> tuple[str, str, str]:
    """(State, ReasonCode, Description) of one instance."""
    if row is None:
        return "OutOfService", "N/A", NOT_REGISTERED
    if row.drain_until is not None:
        return "OutOfService", "ELB", DEREGISTERING
    if instance.state != "running":
        state = {"stopping": "stopped", "shutting-down": "terminated"}.get(
            instance.state, instance.state
        )
        return "OutOfService", "Instance", f"Instance is in {state} state."
    if instance.availability_zone not in rows.names(lb.zones):
        return "OutOfService", "ELB", OTHER_ZONE
    if any(h.state == "InService" for h in health):
        return "InService", "N/A", "N/A"
    if not health:
        return "OutOfService", "ELB", REGISTERING
    latest = max(health, key=lambda h: h.updated_at)
    return latest.state, latest.reason_code, latest.description


def describe_instance_health(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = _ids(params)
    with rt.store.read() as s:
        lb = rows.named(s, ctx, params)
        registered = {
            r.instance_id: r
            for r in s.scalars(select(ElbInstance).where(ElbInstance.lb_id == lb.id))
        }
        if not ids:
            ids = [
                r.instance_id
                for r in sorted(registered.values(), key=lambda r: (r.registered_at, r.instance_id))
                if r.drain_until is None
            ]
        found = _instances(s, ctx.principal.account_id, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise errors.invalid_instance(f"Could not find EC2 instance {missing[0]}.")
        health: dict[str, list[ElbInstanceHealth]] = {}
        for h in s.scalars(select(ElbInstanceHealth).where(ElbInstanceHealth.lb_id == lb.id)):
            health.setdefault(h.instance_id, []).append(h)
        out: list[dict[str, Any]] = []
        for instance_id in ids:
            state, reason, text = _state(
                lb, found[instance_id], registered.get(instance_id), health.get(instance_id, [])
            )
            out.append(
                {
                    "InstanceId": instance_id,
                    "State": state,
                    "ReasonCode": reason,
                    "Description": text,
                }
            )
    return {"InstanceStates": out}


OPERATIONS: Operations = {
    "RegisterInstancesWithLoadBalancer": register_instances,
    "DeregisterInstancesFromLoadBalancer": deregister_instances,
    "DescribeInstanceHealth": describe_instance_health,
}
