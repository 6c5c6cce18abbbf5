"""CreateVpc's and CreateDhcpOptions' refusals, and a VNI block two creators both picked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from mallee.api.errors import ServiceError
from mallee.services.base import Runtime
from mallee.services.ec2 import dhcp_options, vpcs
from mallee.store.tables.vpc import Ec2Vpc
from tests.unit.services.ec2.test_default_vpc import call, rt

__all__ = ["rt"]


def code(rt: Runtime, fn: Any, **params: Any) -> str:
    with pytest.raises(ServiceError) as err:
        call(rt, fn, **params)
    return err.value.code


@pytest.mark.parametrize(
    "cidr", ["127.0.0.0/16", "169.254.0.0/16", "224.0.0.0/16", "240.1.0.0/16", "0.0.0.0/16"]
)
def test_unroutable_vpc_ranges_are_refused(rt: Runtime, cidr: str) -> None:
    assert code(rt, vpcs.create_vpc, CidrBlock=cidr) == "InvalidVpc.Range"


def test_a_vni_block_taken_meanwhile_is_picked_again(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = call(rt, vpcs.create_vpc, CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    with rt.store.read() as s:
        taken = s.get(Ec2Vpc, first).vni  # type: ignore[union-attr]
    # As a concurrent creator that committed the same block first: the unique key refuses it.
    fresh = 4096 if taken != 4096 else 8192
    picks = iter([taken, fresh])
    monkeypatch.setattr(vpcs, "new_vni", lambda s: next(picks))
    second = call(rt, vpcs.create_vpc, CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    with rt.store.read() as s:
        rows = s.execute(select(Ec2Vpc.id, Ec2Vpc.vni).where(Ec2Vpc.is_default.is_(False)))
        got = {vpc_id: vni for vpc_id, vni in rows}
    assert got == {first: taken, second: fresh}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("domain-name", "bad domain,--x"),
        ("domain-name", "-lead.example"),
        ("domain-name-servers", "10.0.0.300"),
        ("ntp-servers", "ntp.example"),
        ("netbios-name-servers", "x"),
        ("netbios-node-type", "3"),
    ],
)
def test_dhcp_option_values_are_checked(rt: Runtime, key: str, value: str) -> None:
    configs = [{"Key": key, "Values": [value]}]
    assert code(rt, dhcp_options.create_dhcp_options, DhcpConfigurations=configs) == (
        "InvalidParameterValue"
    )


def test_good_dhcp_options_are_kept(rt: Runtime) -> None:
    configs = [
        {"Key": "domain-name", "Values": ["corp.example other.example."]},
        {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS", "10.0.0.2"]},
        {"Key": "ntp-servers", "Values": ["10.0.0.3"]},
        {"Key": "netbios-node-type", "Values": ["2"]},
    ]
    made = call(rt, dhcp_options.create_dhcp_options, DhcpConfigurations=configs)
    assert len(made["DhcpOptions"]["DhcpConfigurations"]) == 4
