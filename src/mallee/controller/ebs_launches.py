"""Launches whose volumes never get made: an EBS instance waits `pending` for the storage
agent of its zone to make its volumes, and gives up after VOLUMES_TIMEOUT.

RunInstances refuses a launch with volumes while no storage service of the zone is alive, but
the agent may die after it was accepted. The instance then ends `terminated` with AWS's
Server.InternalError, and its DeleteOnTermination volumes go: those no agent claimed have no
data anywhere and are deleted here; a claimed one is the storage agent's, which releases the
volumes of terminated instances when it runs again.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from mallee.store import Store
from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import bump_network

log = logging.getLogger(__name__)

# How long a launch waits for its volumes to be made (a volume from a big snapshot takes its
# time, but an agent alive makes progress on it long before this).
VOLUMES_TIMEOUT = 300.0
REASON = "Server.InternalError"


def fail_stuck(store: Store, *, now: float, timeout: float = VOLUMES_TIMEOUT) -> list[str]:
    """Terminate the pending instances whose volumes are still not made after `timeout`
    seconds; returns their ids."""
    i, a, v = Ec2Instance, Ec2VolumeAttachment, Ec2Volume
    waiting = exists().where(a.instance_id == i.id, v.id == a.volume_id, v.state == "creating")
    with store.session() as s:
        stuck = list(
            s.scalars(
                select(i.id).where(
                    i.state == "pending", i.state_changed_at < now - timeout, waiting
                )
            ).all()
        )
        failed: list[str] = []
        for instance_id in stuck:
            moved = s.execute(
                update(i)
                .where(i.id == instance_id, i.state == "pending")
                .values(
                    state="terminated",
                    state_changed_at=now,
                    terminated_at=now,
                    state_reason_code=REASON,
                    state_reason_message=f"{REASON}: its volumes were not made in "
                    f"{timeout:.0f}s (no storage service of its zone made them)",
                    transition_reason=f"{REASON}: the instance failed to start",
                )
            )
            if getattr(moved, "rowcount", 0):
                failed.append(instance_id)
                _release_unclaimed(s, instance_id, now)
        if failed:
            bump_network(s)
    for instance_id in failed:
        log.warning("%s: its volumes were not made in %.0fs: terminated", instance_id, timeout)
    return failed


def _release_unclaimed(s: Session, instance_id: str, now: float) -> None:
    """The instance's volumes no storage agent claimed: their attachments end, and those to
    be deleted on termination are (nothing of them exists but the row). One an agent claims
    meanwhile is left to that agent, which releases it as any volume of a terminated one."""
    a, v = Ec2VolumeAttachment, Ec2Volume
    unclaimed = s.execute(
        select(a.volume_id, a.delete_on_termination)
        .join(v, v.id == a.volume_id)
        .where(a.instance_id == instance_id, v.state == "creating", v.storage_host == "")
    ).all()
    for volume_id, delete_it in unclaimed:
        if delete_it:
            gone = s.execute(
                update(v)
                .where(v.id == volume_id, v.state == "creating", v.storage_host == "")
                .values(state="deleted", deleted_at=now)
            )
            if not getattr(gone, "rowcount", 0):
                continue
        s.execute(delete(a).where(a.volume_id == volume_id))
