"""The ceph-rbd volume backend on real VMs, against a one-node Ceph cluster (scripts/ceph.sh):
with `one.storage.blockstoragemanager=ceph-rbd`, a volume is an RBD image QEMU opens itself;
written in one guest (a file system and a file), detached, attached to a second instance and
read back; snapshotted while attached, and a volume made from the snapshot reads the same.

The nodes' QEMUs run in the node's network namespace, so the cluster (on 127.0.0.1, as a test
cluster must not listen elsewhere) and the storage agent that drives it run in that namespace
too: a production cluster is on a network the node namespaces route to.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mallee.api.models.client import mallee_client
from mallee.registry import properties
from mallee.storage.daemon import StorageDaemon
from tests.ceph import Ceph, start_ceph, stop_ceph
from tests.vm.cloud import REGION, VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, default_image, ssh
from tests.vm.test_volumes import (
    FIND,
    Pair,
    _attached,
    _from_snapshot,
    _guest,
    _md5,
    _serial,
    _snapshot_state,
    _state,
)

pytestmark = [pytest.mark.vm, pytest.mark.ceph, pytest.mark.timeout(900)]

ZONE = "one"


def _empyrean(cloud: VmCloud) -> Any:
    return mallee_client(
        "empyrean",
        cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=cloud.keys[0],
        aws_secret_access_key=cloud.keys[1],
    )


def _start_storage(cloud: VmCloud, netns: str) -> None:
    """The storage agent, in the namespace its Ceph cluster listens in."""
    log = open(cloud.data_dir / "storage.log", "ab")  # noqa: SIM115
    cloud.procs["storage"] = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "mallee", "storage"],
        env=cloud.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def rbdcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VmCloud, Ceph]]:
    made = start_vm_cloud(tmp_path_factory.mktemp("rbdcloud"))
    cloud = next(made)
    ceph: Ceph | None = None
    try:
        netns = cloud.netns()
        ceph = start_ceph(tmp_path_factory.mktemp("ceph"), netns)
        _start_storage(cloud, netns)
        empyrean = _empyrean(cloud)

        def configured() -> bool:
            # The zone has its storage properties once its storage controller registered.
            with contextlib.suppress(empyrean.exceptions.ClientError):
                empyrean.modify_property_value(
                    Name=f"{ZONE}.storage.cephconfigfile", Value=str(ceph.conf)
                )
                return True
            return False

        wait_until(configured, 60)
        empyrean.modify_property_value(Name=f"{ZONE}.storage.blockstoragemanager", Value="ceph-rbd")
        time.sleep(properties.CACHE_SECONDS + 0.5)  # until every process reads it
        yield cloud, ceph
    finally:
        cloud.stop("storage")
        StorageDaemon(cloud.data_dir / "volumes" / "run").stop()
        if ceph is not None:
            stop_ceph(ceph)
        with contextlib.suppress(StopIteration):
            next(made)


@pytest.fixture(scope="module")
def pair(rbdcloud: tuple[VmCloud, Ceph], tmp_path_factory: pytest.TempPathFactory) -> Pair:
    cloud = rbdcloud[0]
    ec2 = cloud.client("ec2")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path_factory.mktemp("keys") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    run = ec2.run_instances(ImageId=default_image(ec2), MinCount=2, MaxCount=2, KeyName=name)
    ids = [i["InstanceId"] for i in run["Instances"]]
    found = wait_until(lambda: all_in(ec2, ids, "running"), 120)
    ips = {i["InstanceId"]: i["PrivateIpAddress"] for i in found}
    netns = cloud.netns()
    for iid in ids:
        wait_until(lambda i=iid: ssh(netns, key, ips[i], "true").returncode == 0 or None, 180)
    return Pair(ids, ips, key, netns)


def _images(ceph: Ceph) -> set[str]:
    return set(ceph.rbd("ls", "rbd").split())


def _raw(cloud: VmCloud, volume_id: str) -> Path:
    return cloud.data_dir / "volumes" / f"{volume_id}.raw"


def test_a_volume_moves_between_instances_and_its_snapshot_reads_the_same(
    rbdcloud: tuple[VmCloud, Ceph], pair: Pair
) -> None:
    cloud, ceph = rbdcloud
    ec2 = cloud.client("ec2")
    (first, second), ips = pair.ids, pair.ips

    def guest(instance: str, script: str) -> str:
        return _guest(pair.netns, pair.key, ips[instance], script)

    volume_id = ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    wait_until(lambda: _state(ec2, volume_id)[0] == "available" or None, 30, interval=0.05)
    # An RBD image of the cluster, no file on the storage host.
    assert volume_id in _images(ceph) and not _raw(cloud, volume_id).exists()

    _attached(ec2, volume_id, first, "/dev/sdf")
    find = FIND.replace("{serial}", _serial(volume_id))
    proof = f"written by {first} {uuid.uuid4().hex}"
    written = guest(
        first,
        find + "mke2fs -q $D && mkdir -p /mnt/v && mount $D /mnt/v && "
        f"echo '{proof}' > /mnt/v/proof.txt && "
        "dd if=/dev/urandom of=/mnt/v/data bs=1M count=16 2>/dev/null && sync && "
        "md5sum /mnt/v/data && umount /mnt/v",
    )
    digest = _md5(written)

    # Taken while attached: an RBD snapshot of the image the guest has open.
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description="rbd")["SnapshotId"]
    wait_until(lambda: _snapshot_state(ec2, snapshot_id)[0] == "completed" or None, 60, 0.05)
    # Its point-in-time RBD snapshot is gone once the data is in the object store.
    assert ceph.rbd("snap", "ls", f"rbd/{volume_id}").strip() == ""

    ec2.detach_volume(VolumeId=volume_id)
    wait_until(lambda: _state(ec2, volume_id) == ("available", []) or None, 60)
    gone = guest(first, f"cat /sys/block/vd*/serial; echo; echo {first}")
    assert _serial(volume_id) not in gone

    _attached(ec2, volume_id, second, "/dev/sdg")
    read = guest(
        second, find + "mkdir -p /mnt/v && mount $D /mnt/v && cat /mnt/v/proof.txt && umount /mnt/v"
    )
    assert proof in read

    restored = _from_snapshot(ec2, snapshot_id)
    assert restored in _images(ceph) and f"{restored}.tmp" not in _images(ceph)
    _attached(ec2, restored, second, "/dev/sdh")
    found = FIND.replace("{serial}", _serial(restored))
    again = guest(
        second,
        found + "mkdir -p /mnt/r && mount $D /mnt/r && md5sum /mnt/r/data && "
        "cat /mnt/r/proof.txt && umount /mnt/r",
    )
    assert _md5(again) == digest and proof in again

    for vid in (volume_id, restored):
        ec2.detach_volume(VolumeId=vid)
        wait_until(lambda v=vid: _state(ec2, v) == ("available", []) or None, 60)
        ec2.delete_volume(VolumeId=vid)
    wait_until(lambda: not ({volume_id, restored} & _images(ceph)) or None, 30)
    ec2.delete_snapshot(SnapshotId=snapshot_id)


def test_the_property_picks_the_backend_of_new_volumes_only(
    rbdcloud: tuple[VmCloud, Ceph],
) -> None:
    cloud, ceph = rbdcloud
    ec2, empyrean = cloud.client("ec2"), _empyrean(cloud)
    on_rbd = ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    wait_until(lambda: _state(ec2, on_rbd)[0] == "available" or None, 30)
    name = f"{ZONE}.storage.blockstoragemanager"
    empyrean.modify_property_value(Name=name, Value="overlay")
    # A change reaches every process within the properties' cache time.
    time.sleep(properties.CACHE_SECONDS + 0.5)
    try:
        on_overlay = ec2.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
        wait_until(lambda: _state(ec2, on_overlay)[0] == "available" or None, 30)
        assert _raw(cloud, on_overlay).exists() and on_overlay not in _images(ceph)
        # The earlier volume stays an RBD image, and is deleted from the cluster.
        ec2.delete_volume(VolumeId=on_rbd)
        wait_until(lambda: on_rbd not in _images(ceph) or None, 30)
        ec2.delete_volume(VolumeId=on_overlay)
    finally:
        empyrean.modify_property_value(Name=name, Value="ceph-rbd")
    with pytest.raises(empyrean.exceptions.ClientError) as refused:
        empyrean.modify_property_value(Name=name, Value="das")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    # A zone no service of the cloud is in has no properties.
    with pytest.raises(empyrean.exceptions.ClientError):
        empyrean.modify_property_value(Name="nowhere.storage.blockstoragemanager", Value="overlay")
