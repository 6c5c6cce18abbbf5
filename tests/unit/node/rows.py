"""Instance rows for the node agent's tests."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from mallee.cloud_identity import system_account_id
from mallee.ids import new_id
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance

NODE = "n1"


def instance(store: Store, images: dict[str, str], state: str = "pending", **extra: Any) -> str:
    iid = new_id("i")
    fields: dict[str, Any] = dict(
        id=iid,
        account_id=system_account_id(store),
        reservation_id="r-1",
        image_id=images["machine"],
        kernel_id=images["kernel"],
        ramdisk_id=images["ramdisk"],
        instance_type="m1.small",
        cores=1,
        memory_mb=256,
        disk_gb=5,
        availability_zone="one",
        state=state,
        node=NODE,
        mac="d0:0d:00:00:00:01",
        private_ip="10.0.0.2",
        launch_time=dt.datetime.now(dt.UTC),
        state_changed_at=time.time(),
    )
    fields.update(extra)
    with store.session() as s:
        s.add(Ec2Instance(**fields))
    return iid


def row_of(store: Store, iid: str) -> Ec2Instance:
    with store.read() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        return row


def set_row(store: Store, iid: str, **values: Any) -> None:
    with store.session() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)


def ebs_volume(
    store: Store,
    iid: str,
    device: str = "/dev/sda1",
    *,
    state: str = "in-use",
    exported: bool = True,
) -> str:
    """A volume attached to the instance at `device`, as a launch makes it and the storage
    agent (of host `sc`, its NBD socket reported) then makes and exports it."""
    from mallee.store.tables.ebs import Ec2Volume, Ec2VolumeAttachment, StorageHost

    volume_id = new_id("vol")
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        if s.get(StorageHost, "sc") is None:
            s.add(StorageHost(name="sc", zone="one", host="h", nbd_socket="/nbd.sock",
                              reported_at=time.time()))  # fmt: skip
        s.add(Ec2Volume(id=volume_id, account_id=system_account_id(store), availability_zone="one",
                        size_gib=1, state=state, created_at=now, storage_host="sc"))  # fmt: skip
        s.flush()
        s.add(
            Ec2VolumeAttachment(volume_id=volume_id, instance_id=iid, device=device,
                                state="attaching", attached_at=now, exported=exported)
        )  # fmt: skip
    return volume_id
