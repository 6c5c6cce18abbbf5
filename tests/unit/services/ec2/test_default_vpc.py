"""The default VPC's derivation: made once per account with its rows, blocks computed from the
network configuration and the nodes, a zone that appears later gets its default subnet, one
the user deleted stays deleted."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.config import Settings
from mallee.registry import properties
from mallee.services.base import Runtime
from mallee.services.ec2 import default_vpc, subnets, vpcs
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.network import network_generation
from mallee.store.tables.vpc import Ec2Route, Ec2RouteTable, Ec2Subnet, Ec2Vpc

ACCOUNT = "123456789012"
CALLER = Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "root", "root")


@pytest.fixture
def rt(store: Any, tmp_path: Path) -> Runtime:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
    return Runtime(Settings(data_dir=tmp_path, zone="one"), store)


def add_node(rt: Runtime, name: str, zone: str, subnet: str) -> None:
    with rt.store.session() as s:
        s.add(
            NodeRow(
                name=name,
                zone=zone,
                hypervisor="fake",
                cores=1,
                memory_mb=1024,
                disk_gb=10,
                subnet=subnet,
                reported_at=time.time(),
            )
        )


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


def default_subnets(rt: Runtime) -> dict[str, str]:
    found = call(rt, subnets.describe_subnets)["Subnets"]
    return {n["AvailabilityZone"]: n["CidrBlock"] for n in found if n["DefaultForAz"]}


def test_made_once_with_its_rows(rt: Runtime) -> None:
    add_node(rt, "n1", "one", "10.111.1.0/24")
    before = 0
    with rt.store.read() as s:
        before = network_generation(s)
    (vpc,) = call(rt, vpcs.describe_vpcs)["Vpcs"]
    assert vpc["IsDefault"] and vpc["CidrBlock"] == "10.111.0.0/16"
    assert call(rt, vpcs.describe_vpcs)["Vpcs"] == [vpc]
    with rt.store.read() as s:
        assert network_generation(s) > before
        (table,) = s.query(Ec2RouteTable).filter_by(vpc_id=vpc["VpcId"]).all()
        kinds = {r.target_kind for r in s.query(Ec2Route).filter_by(table_id=table.id)}
        assert table.is_main and kinds == {"local", "gateway"}
        assert s.query(Ec2Vpc).count() == 1
    assert default_subnets(rt) == {"one": "10.111.1.0/24"}


def test_blocks_follow_the_nodes_and_the_configuration(rt: Runtime) -> None:
    add_node(rt, "n1", "one", "10.111.2.0/24")
    assert default_subnets(rt) == {"one": "10.111.2.0/24"}
    add_node(rt, "n2", "one", "10.111.3.0/24")
    assert default_subnets(rt) == {"one": "10.111.2.0/23"}
    # A zone that appears gets its default subnet on first need.
    add_node(rt, "n3", "two", "10.111.8.0/24")
    assert default_subnets(rt) == {"one": "10.111.2.0/23", "two": "10.111.8.0/24"}
    properties.set_value(
        rt.store, "cloud.network.network_configuration", '{"PrivateNetwork": "10.111.0.0/20"}'
    )
    (vpc,) = call(rt, vpcs.describe_vpcs)["Vpcs"]
    assert vpc["CidrBlock"] == "10.111.0.0/20"


def test_zone_without_nodes_uses_the_nodes_default_subnet(rt: Runtime) -> None:
    assert default_subnets(rt) == {"one": rt.settings.node_subnet}


def test_a_deleted_default_subnet_is_not_made_again(rt: Runtime) -> None:
    add_node(rt, "n1", "one", "10.111.1.0/24")
    (subnet,) = call(rt, subnets.describe_subnets)["Subnets"]
    call(rt, subnets.delete_subnet, SubnetId=subnet["SubnetId"])
    assert call(rt, subnets.describe_subnets)["Subnets"] == []
    with rt.store.read() as s:
        assert s.query(Ec2Subnet).count() == 0


def test_ensure_is_safe_against_a_second_creator(rt: Runtime) -> None:
    with rt.store.session() as s1, rt.store.session() as s2:
        first = default_vpc.ensure_default_vpc(rt, s1, ACCOUNT)
        assert first is not None
        s1.commit()
        second = default_vpc.ensure_default_vpc(rt, s2, ACCOUNT)
    assert second is not None and second.id == first.id


def test_create_default_vpc_only_when_there_is_none(rt: Runtime) -> None:
    with pytest.raises(ServiceError) as err:
        call(rt, default_vpc.create_default_vpc)
    assert err.value.code == "DefaultVpcAlreadyExists"
