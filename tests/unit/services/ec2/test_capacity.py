"""Per-type zone capacity (Eucalyptus' free / max) and the instance-type table."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from mallee.api.errors import ServiceError
from mallee.cloud_identity import system_account_id
from mallee.ids import new_id
from mallee.placement.usage import free_slots
from mallee.registry import components
from mallee.services.ec2.capacity import TypeCapacity, zone_capacity
from mallee.services.ec2.instance_types import SEED_TYPES, ensure_instance_types, get_type
from mallee.services.ec2.regions import capacity_line
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance, Ec2InstanceType

ZONE = "one"
TIMEOUT = 30.0


def add_node(
    store: Store,
    name: str,
    *,
    cores: int,
    memory_mb: int,
    disk_gb: int,
    zone: str = ZONE,
    subnet: str = "",
) -> None:
    components.register_self(store, type="node", name=name, host="h", port=8775, partition=zone)
    with store.session() as s:
        s.add(
            NodeRow(
                name=name,
                zone=zone,
                hypervisor="fake",
                cores=cores,
                memory_mb=memory_mb,
                disk_gb=disk_gb,
                subnet=subnet,
                reported_at=time.time(),
            )
        )


def add_instance(store: Store, node: str | None, state: str, size: tuple[int, int, int]) -> str:
    ensure_system_account(store)
    cores, memory, disk = size
    iid = new_id("i")
    with store.session() as s:
        s.add(
            Ec2Instance(
                id=iid,
                account_id=system_account_id(store),
                reservation_id=new_id("r"),
                image_id="emi-00000000",
                instance_type="custom",
                cores=cores,
                memory_mb=memory,
                disk_gb=disk,
                availability_zone=ZONE,
                state=state,
                node=node,
                launch_time=dt.datetime.now(dt.UTC),
                state_changed_at=time.time(),
            )
        )
    return iid


def capacity(store: Store, zone: str = ZONE, now: float | None = None) -> dict[str, TypeCapacity]:
    with store.read() as s:
        caps = zone_capacity(s, zone, now=now or time.time(), heartbeat_timeout=TIMEOUT)
    return {c.name: c for c in caps}


def test_seed_types_are_inserted_once_in_order(store: Store) -> None:
    ensure_instance_types(store)
    with store.session() as s:
        get_type(s, "m1.small").memory_mb = 300  # an admin's edit survives a second ensure
    ensure_instance_types(store)
    with store.read() as s:
        rows = s.query(Ec2InstanceType).order_by(Ec2InstanceType.rank).all()
        assert [r.name for r in rows] == [t[0] for t in SEED_TYPES]
        assert len(rows) == 18
        assert (rows[-1].cores, rows[-1].memory_mb, rows[-1].disk_gb) == (48, 119808, 24000)
        assert get_type(s, "m1.small").memory_mb == 300
        with pytest.raises(ServiceError) as err:
            get_type(s, "m9.huge")
    assert err.value.code == "InvalidParameterValue"
    assert err.value.message == "Invalid value 'm9.huge' for InstanceType."


def test_capacity_is_per_node_and_summed(store: Store) -> None:
    ensure_instance_types(store)
    # Two nodes whose leftovers would fit one more c1.medium together, but not on either.
    add_node(store, "n1", cores=3, memory_mb=1536, disk_gb=30)
    add_node(store, "n2", cores=3, memory_mb=1536, disk_gb=30)
    caps = capacity(store)
    assert list(caps) == [t[0] for t in SEED_TYPES]
    small = caps["m1.small"]
    assert (small.cores, small.memory_mb, small.disk_gb) == (1, 256, 5)
    # m1.small: min(3 cores, 1536/256=6, 30/5=6) = 3 per node.
    assert (small.free, small.max) == (6, 6)
    assert (caps["c1.medium"].free, caps["c1.medium"].max) == (2, 2)
    assert caps["hs1.8xlarge"].max == 0
    add_instance(store, "n1", "running", (2, 512, 10))
    add_instance(store, "n2", "pending", (2, 512, 10))
    caps = capacity(store)
    # Each node has 1 core left: one m1.small each; a c1.medium (2 cores) fits nowhere.
    assert (caps["m1.small"].free, caps["m1.small"].max) == (2, 6)
    assert (caps["c1.medium"].free, caps["c1.medium"].max) == (0, 2)
    with store.read() as s:
        assert free_slots(s, ZONE, (1, 256, 5), now=time.time(), heartbeat_timeout=TIMEOUT) == 2


def test_only_holding_states_use_resources(store: Store) -> None:
    ensure_instance_types(store)
    add_node(store, "n1", cores=4, memory_mb=4096, disk_gb=100)
    for state in ("stopped", "terminated"):
        add_instance(store, "n1", state, (4, 4096, 100))
    assert capacity(store)["m1.small"].free == 4
    for state in ("stopping", "shutting-down"):
        add_instance(store, "n1", state, (1, 256, 5))
    assert capacity(store)["m1.small"].free == 2


def test_disabled_silent_and_other_zone_nodes_do_not_count(store: Store) -> None:
    ensure_instance_types(store)
    add_node(store, "live", cores=2, memory_mb=2048, disk_gb=50)
    add_node(store, "off", cores=2, memory_mb=2048, disk_gb=50)
    add_node(store, "far", cores=2, memory_mb=2048, disk_gb=50, zone="two")
    components.modify_service(store, "off", "DISABLED")
    assert capacity(store)["m1.small"].max == 2
    assert capacity(store, "two")["m1.small"].max == 2
    # Later than the heartbeat timeout: every node is silent, nothing fits.
    later = time.time() + TIMEOUT + 5
    assert capacity(store, now=later)["m1.small"] == TypeCapacity(
        "m1.small", 1, 256, 5, free=0, max=0
    )
    # A NodeRow without its registry row is not usable either.
    with store.session() as s:
        s.add(
            NodeRow(
                name="ghost",
                zone=ZONE,
                hypervisor="fake",
                cores=64,
                memory_mb=65536,
                disk_gb=1000,
                reported_at=time.time(),
            )
        )
    assert capacity(store)["m1.small"].max == 2


def test_verbose_line_is_eucalyptus_format() -> None:
    line = capacity_line(TypeCapacity("m1.small", 1, 256, 5, free=5, max=6))
    assert line == "0005 / 0006   1    256     5"
    assert capacity_line(TypeCapacity("x", 16, 6144, 120, free=2, max=2)) == (
        "0002 / 0002  16   6144   120"
    )


def test_each_instance_needs_an_address_of_its_node_subnet(store: Store) -> None:
    # A /29 has six host addresses; the bridge's gateway takes one.
    add_node(
        store, "nc-small-net", cores=1000, memory_mb=10**7, disk_gb=10**6, subnet="10.9.0.0/29"
    )
    size = (1, 256, 5)

    def free() -> int:
        with store.read() as s:
            return free_slots(s, ZONE, size, now=time.time(), heartbeat_timeout=TIMEOUT)

    assert free() == 5
    for _ in range(3):
        add_instance(store, "nc-small-net", "running", size)
    add_instance(store, "nc-small-net", "terminated", size)
    assert free() == 2
