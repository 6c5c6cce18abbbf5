"""DescribeAccountAttributes: what the account may have, as AWS names it. Every account
is VPC-only (AWS since EC2-Classic's end); its default VPC is the EDGE network."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.registry import properties
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.default_vpc import default_vpc_ready
from mallee.store.tables.vpc import Ec2AccountVpc

NAMES = (
    "supported-platforms",
    "default-vpc",
    "max-instances",
    "vpc-max-security-groups-per-interface",
    "max-elastic-ips",
    "vpc-max-elastic-ips",
)
# AWS's defaults for limits mallee does not keep per account.
MAX_INSTANCES = 20
GROUPS_PER_INTERFACE = 5


def describe_account_attributes(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    asked = [str(n) for n in params.get("AttributeNames") or []]
    for name in asked:
        if name not in NAMES:
            raise errors.invalid_parameter("attributeName", name)
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    with rt.store.read() as s:
        marker = s.get(Ec2AccountVpc, account)
        default_vpc = marker.default_vpc_id if marker is not None else None
    addresses = str(properties.get_int(rt.store, "cloud.addresses.maxpublicaddresses"))
    values = {
        "supported-platforms": ["VPC"],
        "default-vpc": [default_vpc or "none"],
        "max-instances": [str(MAX_INSTANCES)],
        "vpc-max-security-groups-per-interface": [str(GROUPS_PER_INTERFACE)],
        "max-elastic-ips": [addresses],
        "vpc-max-elastic-ips": [addresses],
    }
    return {
        "AccountAttributes": [
            {
                "AttributeName": name,
                "AttributeValues": [{"AttributeValue": v} for v in values[name]],
            }
            for name in (asked or NAMES)
        ]
    }


OPERATIONS: Operations = {"DescribeAccountAttributes": describe_account_attributes}
