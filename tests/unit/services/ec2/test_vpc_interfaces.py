"""Step 2 of issue #18 without a server: where a launch goes (launch_network), the addresses
interfaces take and placement then skips, the primary interface kept in step with its
instance's placement, and the interface filters DescribeInstances and
DescribeNetworkInterfaces share."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.config import Settings
from mallee.controller.scheduler import Scheduler
from mallee.controller.vmstate import purge_terminated
from mallee.registry import components
from mallee.services.base import Runtime
from mallee.services.ec2 import (
    addresses,
    default_vpc,
    interface_addresses,
    launch_network,
    nat_gateways,
    network_interfaces,
    subnets,
    vpcs,
)
from mallee.services.ec2.interface_views import FILTERS, Interface, live_query, load
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.interfaces import Ec2NetworkInterface, held_addresses
from mallee.store.tables.network import Ec2Address
from mallee.store.tables.vpc import Ec2Subnet

ACCOUNT = "123456789012"
CALLER = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "root", "root")


@pytest.fixture
def rt(store: Any, tmp_path: Path) -> Runtime:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
        s.add(
            NodeRow(
                name="n1",
                zone="one",
                hypervisor="fake",
                cores=4,
                memory_mb=4096,
                disk_gb=100,
                subnet="10.111.1.0/29",
                reported_at=time.time(),
            )
        )
    runtime = Runtime(Settings(data_dir=tmp_path, zone="one"), store)
    default_vpc.default_vpc_ready(runtime, ACCOUNT)
    return runtime


def call(rt: Runtime, fn: Any, **params: Any) -> Any:
    ctx = RequestContext(
        request_id="r",
        service="ec2",
        region="eucalyptus",
        http=HttpRequest("POST", "/", "", {}),
        principal=CALLER,
        params=params,
    )
    return fn(rt, ctx, params)


def code(err: pytest.ExceptionInfo[ServiceError]) -> str:
    return err.value.code


def default_subnet(rt: Runtime) -> Ec2Subnet:
    with rt.store.read() as s:
        return launch_network.default_subnet(s, ACCOUNT, "one")


def user_subnet(rt: Runtime) -> str:
    vpc = call(rt, vpcs.create_vpc, CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    made = call(rt, subnets.create_subnet, VpcId=vpc, CidrBlock="10.5.0.0/28")
    return str(made["Subnet"]["SubnetId"])


def resolve(rt: Runtime, **params: Any) -> launch_network.LaunchNetwork:
    # A session, as RunInstances': a named address is checked under the subnet's lock.
    with rt.store.session() as s:
        return launch_network.resolve(s, ACCOUNT, params, "one")


def test_a_launch_goes_to_the_default_subnet_of_its_zone(rt: Runtime) -> None:
    subnet = default_subnet(rt)
    plain = resolve(rt)
    assert (plain.subnet_id, plain.vpc_id, plain.zone) == (subnet.id, subnet.vpc_id, "one")
    assert plain.public_ip and plain.delete_on_termination
    named = resolve(
        rt,
        NetworkInterfaces=[
            {
                "DeviceIndex": 0,
                "SubnetId": subnet.id,
                "AssociatePublicIpAddress": False,
                "Groups": ["sg-0123abcd"],
            }
        ],
    )
    assert named.subnet_id == subnet.id and not named.public_ip
    assert named.group_ids == ["sg-0123abcd"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"SubnetId": "OWN", "SecurityGroups": ["web"]}, "InvalidParameterCombination"),
        (
            {"SubnetId": "OWN", "PrivateIpAddress": "10.5.0.9", "MaxCount": 2},
            "InvalidParameterCombination",
        ),
        ({"SubnetId": "OWN", "PrivateIpAddress": "10.5.0.2"}, "InvalidParameterValue"),
        ({"SubnetId": "OWN", "PrivateIpAddress": "10.5.2.9"}, "InvalidParameterValue"),
        (
            {"SubnetId": "DEFAULT", "NetworkInterfaces": [{"DeviceIndex": 0}]},
            "InvalidParameterCombination",
        ),
        (
            {"NetworkInterfaces": [{"DeviceIndex": 0}], "SecurityGroupIds": ["sg-0123abcd"]},
            "InvalidParameterCombination",
        ),
        ({"NetworkInterfaces": [{"DeviceIndex": 1}]}, "InvalidParameterValue"),
        (
            {"NetworkInterfaces": [{"DeviceIndex": 0, "NetworkInterfaceId": "eni-0123abcd"}]},
            "InvalidNetworkInterfaceID.NotFound",
        ),
        ({"SubnetId": "subnet-0123abcd"}, "InvalidSubnetID.NotFound"),
        ({"SubnetId": "nope"}, "InvalidSubnetID.Malformed"),
        ({"PrivateIpAddress": "10.111.1.3"}, "Unsupported"),
        (
            {"SubnetId": "DEFAULT", "Placement": {"AvailabilityZone": "two"}},
            "InvalidParameterValue",
        ),
    ],
)
def test_launch_refusals(rt: Runtime, params: dict[str, Any], expected: str) -> None:
    ids = {"OWN": user_subnet(rt), "DEFAULT": default_subnet(rt).id}
    given = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    with pytest.raises(ServiceError) as err:
        resolve(rt, **given)
    assert code(err) == expected


def test_no_default_vpc_no_default_launch(rt: Runtime) -> None:
    subnet = default_subnet(rt)
    call(rt, subnets.delete_subnet, SubnetId=subnet.id)
    with pytest.raises(ServiceError) as err:
        resolve(rt)
    assert code(err) == "MissingInput"


def test_interface_addresses_are_skipped_by_placement(rt: Runtime) -> None:
    subnet = default_subnet(rt)
    # The node's /29: .1 is its gateway, so interfaces take .2 and .3 (and the spare).
    made = call(
        rt,
        network_interfaces.create_network_interface,
        SubnetId=subnet.id,
        SecondaryPrivateIpAddressCount=1,
    )["NetworkInterface"]
    held = [a["PrivateIpAddress"] for a in made["PrivateIpAddresses"]]
    assert held == ["10.111.1.2", "10.111.1.3"]
    with rt.store.read() as s:
        assert held_addresses(s) == set(held)
        assert interface_addresses.pick(rt, s, subnet, 1, set()) == ["10.111.1.4"]
    components.register_self(rt.store, type="node", name="n1", host="h", port=8775, partition="one")
    iid = _pending_instance(rt, subnet)
    assert Scheduler().place_pending(rt.store, zone="one", heartbeat_timeout=60) == 1
    with rt.store.read() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None and row.private_ip == "10.111.1.4"
        (eni,) = s.query(Ec2NetworkInterface).filter_by(instance_id=iid).all()
        # The primary interface was given the same addresses in the same transaction.
        assert (eni.private_ip, eni.mac) == (row.private_ip, row.mac)


def test_user_subnet_addresses_skip_the_reserved_four(rt: Runtime) -> None:
    own = user_subnet(rt)
    first = call(rt, network_interfaces.create_network_interface, SubnetId=own)
    assert first["NetworkInterface"]["PrivateIpAddress"] == "10.5.0.4"
    with pytest.raises(ServiceError) as err:
        call(
            rt,
            network_interfaces.create_network_interface,
            SubnetId=own,
            SecondaryPrivateIpAddressCount=11,
        )
    assert code(err) == "InsufficientFreeAddressesInSubnet"
    with pytest.raises(ServiceError) as err:
        call(
            rt,
            network_interfaces.create_network_interface,
            SubnetId=own,
            PrivateIpAddress="10.5.0.2",
        )
    assert code(err) == "InvalidParameterValue"


def _pending_instance(rt: Runtime, subnet: Ec2Subnet) -> str:
    from mallee.services.ec2.launch_network import INSERT_INTERFACES, primary_interfaces

    iid = "i-0123456789abcdef0"
    now = dt.datetime.now(dt.UTC)
    with rt.store.session() as s:
        s.add(
            Ec2Instance(
                id=iid,
                account_id=ACCOUNT,
                reservation_id="r-0123456789abcdef0",
                image_id="emi-00000000",
                instance_type="m1.small",
                cores=1,
                memory_mb=256,
                disk_gb=5,
                availability_zone="one",
                state="pending",
                vpc_id=subnet.vpc_id,
                subnet_id=subnet.id,
                launch_time=now,
                state_changed_at=time.time(),
            )
        )
        s.flush()
        network = launch_network.LaunchNetwork(subnet.vpc_id, subnet.id, "one")
        INSERT_INTERFACES.run(s.connection(), primary_interfaces(ACCOUNT, network, [iid], now))
    return iid


def test_the_interface_goes_with_its_instance(rt: Runtime) -> None:
    subnet = default_subnet(rt)
    iid = _pending_instance(rt, subnet)
    with rt.store.read() as s:
        (eni,) = load(s, live_query(ACCOUNT))
        assert eni.instance_id == iid and eni.device_index == 0
    with rt.store.session() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        row.state, row.terminated_at = "terminated", time.time() - 7200
    with rt.store.read() as s:
        assert load(s, live_query(ACCOUNT)) == []
        assert s.query(Ec2NetworkInterface).count() == 1  # until the instance is purged
    purge_terminated(rt.store, now=time.time())
    with rt.store.read() as s:
        assert s.query(Ec2NetworkInterface).count() == 0


def _interface(**fields: Any) -> Interface:
    base: dict[str, Any] = {
        "id": "eni-1",
        "account_id": ACCOUNT,
        "vpc_id": "vpc-1",
        "subnet_id": "subnet-1",
        "zone": "one",
        "private_ip": "10.0.0.5",
        "mac": "d0:0d:00:00:00:01",
        "description": "",
        "status": "in-use",
        "source_dest_check": True,
        "interface_type": "interface",
        "requester_managed": False,
        "attachment_id": "eni-attach-1",
        "instance_id": "i-1",
        "device_index": 0,
        "delete_on_termination": True,
        "attach_time": None,
        "attachment_status": "attached",
    }
    return Interface(**{**base, **fields})


def test_filters_read_every_address_and_group() -> None:
    eni = _interface(secondary_ips=("10.0.0.6",), groups=(("sg-1", "web"),), public_ip="1.2.3.4")
    assert FILTERS["private-ip-address"](eni) == ["10.0.0.5", "10.0.0.6"]
    assert FILTERS["group-name"](eni) == ["web"]
    assert FILTERS["attachment.device-index"](eni) == "0"
    assert FILTERS["association.public-ip"](eni) == "1.2.3.4"
    spare = _interface(attachment_id=None, instance_id=None, device_index=None)
    assert FILTERS["attachment.device-index"](spare) is None
    assert FILTERS["attachment.instance-owner-id"](spare) is None


def test_nat_gateway_on_an_address_released_meanwhile_is_not_found(rt: Runtime) -> None:
    """ReleaseAddress holds the address row's lock while CreateNatGateway waits for it: when
    the release commits, the gateway's lookup answers NotFound, not a server error."""
    subnet = user_subnet(rt)
    allocation = call(rt, addresses.allocate_address, Domain="vpc")["AllocationId"]
    outcome: list[str] = []
    with rt.store.session() as s:
        held = s.scalar(
            select(Ec2Address).where(Ec2Address.allocation_id == allocation).with_for_update()
        )
        s.delete(held)
        s.flush()

        def create() -> None:
            try:
                call(rt, nat_gateways.create_nat_gateway, SubnetId=subnet, AllocationId=allocation)
                outcome.append("created")
            except ServiceError as err:
                outcome.append(err.code)

        worker = threading.Thread(target=create)
        worker.start()
        worker.join(0.5)  # it waits on the row (PostgreSQL) or the write lock (SQLite)
    worker.join(30)
    assert outcome == ["InvalidAllocationID.NotFound"]
