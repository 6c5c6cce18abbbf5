"""The storage agent's one path over its backends: a new volume goes to the backend the zone's
property names and records it; every later step goes to the volume's own backend; a volume
the node's QEMU opens itself is ready without an NBD export."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.registry import components, properties
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.storage.agent import StorageAgent
from mallee.storage.backends import CephClient, Fill
from mallee.storage.overlay import OverlayBackend
from mallee.storage.snapshots import VolumeReader
from mallee.store import Store
from mallee.store.tables.ebs import (
    Ec2Volume,
    Ec2VolumeAttachment,
    Ec2VolumeModification,
    StorageHost,
)
from tests.unit.storage.test_agent import (
    FakeExporter,
    _attach,
    _instance,
    _volume,
    _volume_row,
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MemoryRbd:
    """A ceph-rbd backend of one pool whose images are byte arrays (shared by the pools)."""

    name = "ceph-rbd"
    nbd_exported = False

    def __init__(self, images: dict[str, bytearray], client: CephClient, pool: str) -> None:
        self.images = images
        self.client = client
        self.pool = pool

    def exists(self, volume_id: str) -> bool:
        return f"{self.pool}/{volume_id}" in self.images

    def create(self, volume_id: str, size_gib: int, fill: Fill | None = None) -> None:
        image = bytearray(size_gib << 20)  # MiB for GiB: small enough for a unit test

        def write(at: int, data: bytes | memoryview) -> None:
            image[at : at + len(data)] = data

        if fill is not None:
            fill(write)
        self.images.setdefault(f"{self.pool}/{volume_id}", image)

    def grow(self, volume_id: str, size_gib: int) -> None:
        image = self.images[f"{self.pool}/{volume_id}"]
        image.extend(bytes((size_gib << 20) - len(image)))

    def delete(self, volume_id: str) -> None:
        self.images.pop(f"{self.pool}/{volume_id}", None)

    def capacity_bytes(self) -> int:
        return 8 << 30

    @contextlib.contextmanager
    def reader(self, volume_id: str, snapshot_id: str, backup: object) -> Iterator[VolumeReader]:
        raise NotImplementedError("snapshots of rbd volumes are tested against a cluster")
        yield  # pragma: no cover


@pytest.fixture
def account(store: Store) -> str:
    ensure_system_account(store)
    return system_account_id(store)


@pytest.fixture
def rbd_images() -> dict[str, bytearray]:
    return {}


@pytest.fixture
def agent(
    store: Store, tmp_path: Path, rbd_images: dict[str, bytearray]
) -> tuple[StorageAgent, FakeExporter]:
    exporter = FakeExporter(tmp_path)
    made = StorageAgent(
        store,
        name="sc1",
        zone="one",
        host="h",
        backend=OverlayBackend(tmp_path / "volumes"),
        exporter=exporter,
        rbd=lambda client, pool: MemoryRbd(rbd_images, client, pool),
    )
    components.register_self(store, type="storage", name="sc1", host="h", port=8773,
                             partition="one")  # fmt: skip
    return made, exporter


def test_new_volumes_go_to_the_backend_the_property_names(
    store: Store, account: str, agent: tuple[StorageAgent, FakeExporter], rbd_images: dict
) -> None:
    sc, _ = agent
    properties.set_value(store, "one.storage.blockstoragemanager", "ceph-rbd")
    properties.set_value(store, "one.storage.cephvolumepools", "fast,slow")
    properties.set_value(store, "one.storage.cephconfigfile", "/srv/ceph/ceph.conf")
    on_rbd = _volume(store, account)
    sc.tick()
    row = _volume_row(store, on_rbd)
    assert (row.state, row.backend, row.backend_pool) == ("available", "ceph-rbd", "fast")
    assert f"fast/{on_rbd}" in rbd_images and not sc.backend.path(on_rbd).exists()

    # The property changes: new volumes only.
    properties.set_value(store, "one.storage.blockstoragemanager", "overlay")
    properties.set_value(store, "one.storage.cephvolumepools", "slow")
    on_overlay = _volume(store, account)
    sc.tick()
    row = _volume_row(store, on_overlay)
    assert (row.state, row.backend, row.backend_pool) == ("available", "overlay", "")
    assert sc.backend.path(on_overlay).exists()

    # Grown and deleted where it is: the pool it recorded, not the one named now.
    with store.session() as s:
        s.add(
            Ec2VolumeModification(
                volume_id=on_rbd, state="modifying", original_size=1, target_size=3,
                original_type="standard", target_type="standard", started_at=_utcnow(),
            )
        )  # fmt: skip
    sc.tick()
    assert len(rbd_images[f"fast/{on_rbd}"]) == 3 << 20
    assert _volume_row(store, on_rbd).size_gib == 3
    with store.session() as s:
        s.get_one(Ec2Volume, on_rbd).state = "deleting"
    sc.tick()
    assert _volume_row(store, on_rbd).state == "deleted" and not rbd_images


def test_an_rbd_attachment_is_ready_without_an_nbd_export(
    store: Store, account: str, agent: tuple[StorageAgent, FakeExporter], rbd_images: dict
) -> None:
    sc, exporter = agent
    properties.set_value(store, "one.storage.blockstoragemanager", "ceph-rbd")
    vid = _volume(store, account)
    sc.tick()
    _attach(store, vid, _instance(store, account))
    sc.tick()
    with store.read() as s:
        assert s.get_one(Ec2VolumeAttachment, vid).exported is True
    # No daemon was started for it, nothing was exported.
    assert exporter.started == 0 and exporter.served == {}
    sc.report(0.0)
    with store.read() as s:
        assert s.get_one(StorageHost, "sc1").capacity_bytes == 8 << 30
