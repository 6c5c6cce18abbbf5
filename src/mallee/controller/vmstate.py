"""Instance housekeeping the controller owns: nodes that stop reporting, and old records.

A node that misses heartbeats may only be restarting, so its instances are not given up at
once: transitions that need nothing from the node (shutting-down, stopping) complete, pending
ones go back to the scheduler, and running ones are impaired until `cloud.vmstate.
instance_timeout` passes. When the node returns, its agent kills any VM whose row moved on.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mallee.registry import components, properties
from mallee.store import Store
from mallee.store.tables.compute import InstanceConsole, InstanceCounters
from mallee.store.tables.ebs import unready_volumes
from mallee.store.tables.ec2 import Ec2Instance, Ec2Tag
from mallee.store.tables.interfaces import Ec2NetworkInterface
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import in_user_vpc

log = logging.getLogger(__name__)

NODE_LOST = "Server.InternalError"


def silent_nodes(store: Store, *, now: float) -> set[str]:
    """Nodes registered but not heartbeating (NOTREADY), by name."""
    return {
        r.name
        for r in components.list_services(store, now=now)
        if r.type == "node" and r.state == "NOTREADY"
    }


def handle_silent_nodes(store: Store, *, now: float) -> int:
    silent = silent_nodes(store, now=now)
    if not silent:
        return 0
    lost_after = properties.get_duration(store, "cloud.vmstate.instance_timeout").total_seconds()
    changed = 0
    with store.session() as s:
        rows = s.scalars(
            select(Ec2Instance).where(
                Ec2Instance.node.in_(silent),
                Ec2Instance.state.in_(("pending", "running", "stopping", "shutting-down")),
            )
        ).all()
        for row in rows:
            changed += _settle(s, row, now, lost_after)
        if changed:
            bump_network(s)
    return changed


def _settle(s: Session, row: Ec2Instance, now: float, lost_after: float) -> int:
    if row.state == "shutting-down":
        _terminate(row, now)
    elif row.state == "stopping":
        row.state, row.state_changed_at = "stopped", now
        unready_volumes(s, row.id)
    elif row.state == "pending":
        log.warning("node %s is silent: %s goes back to the scheduler", row.node, row.id)
        row.node = None
        if not in_user_vpc(s, row.vpc_id):
            # EDGE's address is its node's: it goes, and its primary interface's with it. A
            # user VPC's instance keeps its subnet's address wherever it is placed next.
            row.mac = row.private_ip = None
            s.execute(
                update(Ec2NetworkInterface)
                .where(
                    Ec2NetworkInterface.instance_id == row.id,
                    Ec2NetworkInterface.device_index == 0,
                )
                .values(mac=None, private_ip=None)
            )
    elif now - row.state_changed_at > lost_after:
        _terminate(row, now)
        row.state_reason_code = NODE_LOST
        row.state_reason_message = f"{NODE_LOST}: node {row.node} stopped reporting"
    else:
        return 0
    return 1


def _terminate(row: Ec2Instance, now: float) -> None:
    row.state = "terminated"
    row.state_changed_at = row.terminated_at = now


def purge_terminated(store: Store, *, now: float) -> int:
    """Forget instances terminated longer ago than `cloud.vmstate.terminated_time`."""
    keep = properties.get_duration(store, "cloud.vmstate.terminated_time").total_seconds()
    with store.session() as s:
        old = list(
            s.scalars(
                select(Ec2Instance.id).where(
                    Ec2Instance.state == "terminated", Ec2Instance.terminated_at < now - keep
                )
            ).all()
        )
        if old:
            _forget(s, old)
    return len(old)


def _forget(s: Session, ids: list[str]) -> None:
    s.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(ids)))
    s.execute(delete(InstanceConsole).where(InstanceConsole.instance_id.in_(ids)))
    s.execute(delete(InstanceCounters).where(InstanceCounters.instance_id.in_(ids)))
    # Their interfaces went with them (DeleteOnTermination); the rows go now.
    enis = select(Ec2NetworkInterface.id).where(Ec2NetworkInterface.instance_id.in_(ids))
    s.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(enis)))
    s.execute(delete(Ec2NetworkInterface).where(Ec2NetworkInterface.instance_id.in_(ids)))
    s.execute(delete(Ec2Instance).where(Ec2Instance.id.in_(ids)))
