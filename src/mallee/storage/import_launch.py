"""The rows an ImportInstance or ImportImage task ends with: the EBS-backed image and (for an
instance) the stopped instance whose root is the imported volume.

The EC2 service checked and built them when the task was asked for (the task's `details`:
columns with their ids chosen then), so the agent only writes them, in the transaction that
completes the task: a restart before it repeats none, one after it finds the task completed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.store.tables.ebs import Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance
from mallee.store.tables.network import Ec2InstanceGroup, Ec2SecurityGroup


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def write_image(s: Session, columns: dict[str, Any], snapshot_id: str, gib: int | None) -> str:
    """The image's row; `gib`, once the image's virtual size is known, is its root mapping's
    VolumeSize (the mappings are AWS's BlockDeviceMapping shape)."""
    values = dict(columns)
    if gib is not None:
        mappings = json.loads(values.get("block_device_mappings") or "[]")
        for m in mappings:
            ebs = m.get("Ebs") or {}
            if ebs.get("SnapshotId") == snapshot_id:
                ebs["VolumeSize"] = gib
        values["block_device_mappings"] = json.dumps(mappings)
    if s.get(Ec2Image, values["id"]) is None:
        s.add(Ec2Image(**values, created_at=_now()))
        s.flush()
    return str(values["id"])


def write_instance(s: Session, details: dict[str, Any], volume_id: str) -> str:
    """The stopped instance, its groups (those not deleted since) and its root attachment
    (made in-use by the caller's transaction). Not placed: StartInstances makes it pending,
    and the scheduler places it like any launch."""
    columns = dict(details["instance"])
    instance_id = str(columns["id"])
    if s.get(Ec2Instance, instance_id) is not None:
        return instance_id
    wanted = [str(g) for g in details.get("group_ids") or []]
    alive = set(s.scalars(select(Ec2SecurityGroup.id).where(Ec2SecurityGroup.id.in_(wanted))))
    kept = [g for g in wanted if g in alive]
    refs = json.loads(columns.get("security_groups") or "[]")
    columns["security_groups"] = json.dumps([g for g in refs if g.get("GroupId") in alive])
    at = _now()
    s.add(Ec2Instance(**columns, launch_time=at, state_changed_at=time.time()))
    s.flush()
    s.add_all(
        Ec2InstanceGroup(instance_id=instance_id, group_id=gid, position=pos)
        for pos, gid in enumerate(kept)
    )
    s.add(
        Ec2VolumeAttachment(
            volume_id=volume_id,
            instance_id=instance_id,
            device=str(details["device"]),
            state="attached",
            delete_on_termination=bool(details.get("delete_on_termination")),
            attached_at=at,
            force=False,
            exported=False,
        )
    )
    s.flush()
    return instance_id
