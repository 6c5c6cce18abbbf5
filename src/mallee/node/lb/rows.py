"""The ELB rows a node's workers run from, read into plain values (desired.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.node.lb.desired import (
    Balancer,
    Listener,
    Policy,
    Registered,
    Worker,
    json_names,
    json_pairs,
)
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import (
    ElbBackendPolicies,
    ElbInstance,
    ElbInstanceHealth,
    ElbListener,
    ElbLoadBalancer,
    ElbPolicy,
    ElbWorker,
)


def workers(s: Session, node: str) -> list[Worker]:
    w = ElbWorker
    rows = s.execute(
        select(w.id, w.lb_id, w.zone, w.state, w.public_ip, w.applied_generation)
        .where(w.node == node)
        .order_by(w.id)
    ).all()
    return [Worker(*row) for row in rows]


def balancers(s: Session, lb_ids: Collection[str]) -> dict[str, Balancer]:
    """The load balancers `lb_ids` that exist, each with everything a worker applies."""
    ids = sorted(set(lb_ids))
    if not ids:
        return {}
    listeners: dict[str, list[Listener]] = defaultdict(list)
    for row in s.scalars(select(ElbListener).where(ElbListener.lb_id.in_(ids))):
        listeners[row.lb_id].append(
            Listener(
                row.lb_port,
                row.protocol,
                row.instance_port,
                row.instance_protocol,
                row.ssl_certificate_id,
                json_names(row.policy_names),
            )
        )
    policies: dict[str, dict[str, Policy]] = defaultdict(dict)
    for p in s.scalars(select(ElbPolicy).where(ElbPolicy.lb_id.in_(ids))):
        policies[p.lb_id][p.name] = Policy(p.name, p.type_name, json_pairs(p.attributes))
    backend: dict[str, dict[int, tuple[str, ...]]] = defaultdict(dict)
    for b in s.scalars(select(ElbBackendPolicies).where(ElbBackendPolicies.lb_id.in_(ids))):
        backend[b.lb_id][b.instance_port] = json_names(b.policy_names)
    registered: dict[str, list[Registered]] = defaultdict(list)
    for lb_id, iid, drain, state, ip, zone in s.execute(
        select(
            ElbInstance.lb_id,
            ElbInstance.instance_id,
            ElbInstance.drain_until,
            Ec2Instance.state,
            Ec2Instance.private_ip,
            Ec2Instance.availability_zone,
        )
        .join(Ec2Instance, Ec2Instance.id == ElbInstance.instance_id)
        .where(ElbInstance.lb_id.in_(ids))
    ):
        registered[lb_id].append(Registered(iid, state, ip, zone, drain))
    found = {}
    for lb in s.scalars(select(ElbLoadBalancer).where(ElbLoadBalancer.id.in_(ids))):
        found[lb.id] = Balancer(
            id=lb.id,
            hc_target=lb.hc_target,
            hc_interval=lb.hc_interval,
            hc_timeout=lb.hc_timeout,
            hc_unhealthy=lb.hc_unhealthy,
            hc_healthy=lb.hc_healthy,
            cross_zone=lb.cross_zone,
            draining_enabled=lb.draining_enabled,
            draining_timeout=lb.draining_timeout,
            idle_timeout=lb.idle_timeout,
            access_log=lb.access_log_enabled,
            listeners=tuple(sorted(listeners[lb.id], key=lambda x: x.lb_port)),
            policies=policies[lb.id],
            backend_policies=backend[lb.id],
            registered=tuple(sorted(registered[lb.id], key=lambda r: r.instance_id)),
        )
    return found


def placed_elsewhere(s: Session, worker_ids: Collection[str], node: str) -> set[str]:
    """Those of `worker_ids` that another node runs now."""
    w = ElbWorker
    found = s.scalars(
        select(w.id).where(
            w.id.in_(sorted(worker_ids)), w.node.is_not(None), w.node != node,
            w.state.in_(("pending", "running")),
        )
    )  # fmt: skip
    return set(found)


def node_routes(s: Session) -> dict[str, str]:
    """Every node's private subnet -> its public address."""
    rows = s.execute(
        select(NodeRow.subnet, NodeRow.public_ip).where(
            NodeRow.subnet != "", NodeRow.public_ip != ""
        )
    )
    return {str(subnet): str(via) for subnet, via in rows}


def health_rows(s: Session, worker_id: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(lb id, instance id) -> (state, reason code, description) this worker last wrote."""
    h = ElbInstanceHealth
    rows = s.execute(
        select(h.lb_id, h.instance_id, h.state, h.reason_code, h.description).where(
            h.worker_id == worker_id
        )
    )
    return {(lb, iid): (state, code, text) for lb, iid, state, code, text in rows}
