"""The node opens the NBD export of the volume's attachment, not one named after the volume:
a new attachment's export is one no earlier client of the volume knows."""

from __future__ import annotations

import datetime as dt

from mallee.node.hypervisor.hotplug import NbdVolume, blockdev_options
from mallee.node.volumes import VolumePlugs
from mallee.store import Store
from mallee.store.tables.ebs import Ec2VolumeAttachment, nbd_export_name
from tests.unit.node.test_volumes import attachment, plugs, running  # noqa: F401


def test_each_attachment_has_its_own_export(
    store: Store,
    plugs: VolumePlugs,  # noqa: F811
    images: dict[str, str],
) -> None:
    iid = running(store, plugs, images)
    vid = attachment(store, iid)
    with store.read() as s:
        tag = s.get_one(Ec2VolumeAttachment, vid).export_tag
    assert len(tag) == 8
    (row,) = plugs.attachments()
    assert row.export == nbd_export_name(vid, tag) == f"{vid}.{tag}"
    options = blockdev_options(vid, NbdVolume(row.nbd_socket, row.export))
    assert (options["node-name"], options["export"]) == (vid, f"{vid}.{tag}")
    # The volume attached again (the first attachment's row gone): a new name.
    with store.session() as s:
        s.delete(s.get_one(Ec2VolumeAttachment, vid))
    with store.session() as s:
        s.add(Ec2VolumeAttachment(volume_id=vid, instance_id=iid, device="/dev/sdg",
                                  attached_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    (again,) = plugs.attachments()
    assert again.export.startswith(f"{vid}.") and again.export != row.export
