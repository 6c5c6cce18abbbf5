"""EBS-backed images that CreateImage left `pending` (mallee.services.ec2.create_image):

- an image made of a running instance without NoReboot waits for that instance to be stopped,
  then gets its snapshots: a `pending` snapshot row for each mapping of a volume the instance
  has attached at that device (the storage agent holding the volume takes it);
- once every snapshot its mappings name is `completed`, the image is `available` (`failed`
  when one failed or is gone), and an instance stopped for it is started again.

Each step is one transaction that reads the image first and acts only while it is still
pending, so a controller killed at any moment repeats nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.ids import new_id
from mallee.store import Store
from mallee.store.tables.ebs import Ec2Snapshot, Ec2Volume, Ec2VolumeAttachment
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance

log = logging.getLogger(__name__)


def settle(store: Store) -> int:
    """One pass over the pending EBS-backed images; how many changed."""
    with store.read() as s:
        pending = list(
            s.scalars(
                select(Ec2Image.id).where(
                    Ec2Image.state == "pending", Ec2Image.root_device_type == "ebs"
                )
            ).all()
        )
    changed = 0
    for image_id in pending:
        with store.session() as s:
            changed += _settle(s, image_id)
    return changed


def _settle(s: Session, image_id: str) -> int:
    image = s.get(Ec2Image, image_id, with_for_update=True)
    if image is None or image.state != "pending":
        return 0
    mappings: list[dict[str, Any]] = json.loads(image.block_device_mappings or "[]")
    untaken = [m for m in mappings if "Ebs" in m and not m["Ebs"].get("SnapshotId")]
    source = s.get(Ec2Instance, image.source_instance_id) if image.source_instance_id else None
    if untaken:
        if source is None or source.state in ("shutting-down", "terminated"):
            return _end(s, image, source, "failed")
        if source.state == "stopping":
            return 0  # its guest is still shutting down
        if not _take(s, image, source, untaken):
            return _end(s, image, source, "failed")
        image.block_device_mappings = json.dumps(mappings)
        return 1
    wanted = [str(m["Ebs"]["SnapshotId"]) for m in mappings if "Ebs" in m]
    found = s.execute(
        select(Ec2Snapshot.id, Ec2Snapshot.state).where(Ec2Snapshot.id.in_(wanted))
    ).all()
    states = {snapshot_id: state for snapshot_id, state in found}
    if any(states.get(i) in (None, "error") for i in wanted):
        return _end(s, image, source, "failed")
    if all(states[i] == "completed" for i in wanted):
        return _end(s, image, source, "available")
    return 0


def _take(s: Session, image: Ec2Image, source: Ec2Instance, untaken: list[dict[str, Any]]) -> bool:
    """Snapshot rows for the mappings of the source's volumes; False when a device has none."""
    a, v = Ec2VolumeAttachment, Ec2Volume
    found = s.execute(
        select(a.device, v).join(v, v.id == a.volume_id).where(a.instance_id == source.id)
    ).all()
    attached = {device: volume for device, volume in found}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for m in untaken:
        volume = attached.get(str(m["DeviceName"]))
        if volume is None:
            log.warning("%s: %s has no volume at %s any more", image.id, source.id, m["DeviceName"])
            return False
        snapshot_id = new_id("snap")
        s.add(
            Ec2Snapshot(
                id=snapshot_id,
                account_id=volume.account_id,
                volume_id=volume.id,
                volume_size_gib=volume.size_gib,
                description=f"Created by CreateImage({source.id}) for {image.id} from {volume.id}",
                state="pending",
                progress=0,
                started_at=now,
                storage_host=volume.storage_host,
                status_message="",
                is_public=False,
                data_bytes=0,
            )
        )
        m["Ebs"]["SnapshotId"] = snapshot_id
    log.info("%s: %s is stopped; snapshots of its volumes started", image.id, source.id)
    return True


def _end(s: Session, image: Ec2Image, source: Ec2Instance | None, state: str) -> int:
    image.state = state
    if image.restart_source and source is not None:
        # Stopped for this image (as AWS reboots it): started again, wherever it stopped.
        s.execute(
            update(Ec2Instance)
            .where(Ec2Instance.id == source.id, Ec2Instance.state == "stopped")
            .values(
                state="pending",
                state_changed_at=time.time(),
                state_reason_code=None,
                state_reason_message=None,
            )
        )
    image.source_instance_id = None
    image.restart_source = False
    log.info("%s: pending -> %s", image.id, state)
    return 1
