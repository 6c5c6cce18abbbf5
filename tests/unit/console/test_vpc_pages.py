"""The VPC pages against a fake cloud: the list a page at a time, a VPC's page built from
the API's answers filtered to it, what is made inside it (each form's parameters as the API
takes them), confirmations before removing anything, and refusals shown by their form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console
from tests.unit.console.test_pages import Fake, links, refused, sign_in

pytestmark = pytest.mark.nodb

VPC = "vpc-0000000a"
HERE = f"/vpcs/detail?id={VPC}"


@pytest.fixture
def clients() -> dict[str, Fake]:
    return {}


@pytest.fixture
def console(tmp_path: Path, clients: dict[str, Fake], monkeypatch: pytest.MonkeyPatch) -> Console:
    made = Console(Settings(data_dir=tmp_path, port=1))
    monkeypatch.setattr(made.cloud, "client", lambda service, keys: clients[service])
    return made


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console, follow_redirects=False) as c:
        yield c


def _vpc(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "VpcId": f"vpc-{n:08x}",
        "CidrBlock": f"10.{n}.0.0/16",
        "State": "available",
        "IsDefault": n == 0,
        "DhcpOptionsId": "dopt-00000001",
        "Tags": [{"Key": "Name", "Value": f"net-{n}"}, {"Key": "env", "Value": "test"}],
        **extra,
    }


def test_vpcs_are_asked_for_a_page_at_a_time(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    pages = {None: ([_vpc(0), _vpc(1)], "tok-2"), "tok-2": ([_vpc(2)], None)}

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        found, following = pages[params.get("NextToken")]
        return {"Vpcs": found, **({"NextToken": following} if following else {})}

    clients["ec2"] = ec2 = Fake({"describe_vpcs": describe})
    sign_in(console, client)
    first = client.get("/console/vpcs", params={"size": "25", "sort": "cidr", "dir": "desc"})
    assert first.status_code == 200
    assert ec2.asked("describe_vpcs") == [{"MaxResults": 25, "Filters": []}]
    text = first.text
    # Every column the list promises, sorted within the page as asked.
    assert text.index("10.1.0.0/16") < text.index("10.0.0.0/16")
    row = text[text.index('id="row-vpc-00000000"') :]
    row = row[: row.index("</tr>")]
    for shown in ("net-0", "available", ">yes<", "dopt-00000001", "Name=net-0, env=test"):
        assert shown in row
    assert 'href="/console/vpcs" class="active"' in text  # in the navigation, this page's
    [following] = links(text, "next")
    second = client.get("/console/vpcs", params={k: v[0] for k, v in following.items()})
    assert ec2.asked("describe_vpcs")[1]["NextToken"] == "tok-2" and "vpc-00000002" in second.text
    client.get("/console/vpcs", params={"field": "cidr-block", "value": "10.1."})
    assert ec2.asked("describe_vpcs")[-1]["Filters"] == [
        {"Name": "cidr-block", "Values": ["*10.1.*"]}
    ]


def test_a_vpc_is_created_with_its_name_and_deleted_after_asking(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    made = {"Vpc": {"VpcId": VPC, "CidrBlock": "10.9.0.0/16"}}
    clients["ec2"] = ec2 = Fake(
        {"create_vpc": made, "delete_vpc": {}, "describe_vpcs": {"Vpcs": [_vpc(10, VpcId=VPC)]}}
    )
    csrf = sign_in(console, client)
    answer = client.post(
        "/console/vpcs/create", data={"_csrf": csrf, "cidr": "10.9.0.0/16", "name": "lab"}
    )
    # On to the new VPC's own page.
    assert answer.status_code == 303 and answer.headers["location"] == f"/console{HERE}"
    client.post("/console/vpcs/create", data={"_csrf": csrf, "cidr": "10.8.0.0/16"})
    assert ec2.asked("create_vpc") == [
        {
            "CidrBlock": "10.9.0.0/16",
            "TagSpecifications": [
                {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "lab"}]}
            ],
        },
        {"CidrBlock": "10.8.0.0/16"},
    ]
    form = {"_csrf": csrf, "id": VPC, "_back": "/vpcs?size=25"}
    asked = client.post("/console/vpcs/delete", data=form)
    assert asked.status_code == 200 and f"Delete VPC {VPC}?" in asked.text
    assert not ec2.asked("delete_vpc")
    done = client.post("/console/vpcs/delete", data={**form, "confirmed": "yes"})
    assert done.headers["location"] == "/console/vpcs?size=25"
    assert ec2.asked("delete_vpc") == [{"VpcId": VPC}]
    # Refused (it still holds a subnet): the API's words, by the delete button it came from.
    ec2.answers["delete_vpc"] = refused(
        "DependencyViolation", f"The vpc '{VPC}' has dependencies and cannot be deleted."
    )
    done = client.post("/console/vpcs/delete", data={**form, "confirmed": "yes"})
    assert done.headers["location"] == "/console/vpcs?size=25"
    page = client.get("/console/vpcs").text
    shown = f"DependencyViolation: The vpc &#39;{VPC}&#39; has dependencies and cannot be deleted."
    assert page.count(shown) == 1
    assert page.index(shown) < page.index('action="/console/vpcs/delete"')
    assert page.index(shown) > page.index('<h2 id="list">')
    # Deleted from its own page, the browser goes to the list (the page is gone).
    ec2.answers["delete_vpc"] = {}
    done = client.post("/console/vpcs/delete", data={**form, "_back": HERE, "confirmed": "yes"})
    assert done.headers["location"] == "/console/vpcs"


ROUTE_TABLES = [
    {
        "RouteTableId": "rtb-00000001",
        "VpcId": VPC,
        "Associations": [{"Main": True, "RouteTableAssociationId": "rtbassoc-00000001"}],
        "Routes": [
            {
                "DestinationCidrBlock": "10.10.0.0/16",
                "GatewayId": "local",
                "State": "active",
                "Origin": "CreateRouteTable",
            },
            {
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": "igw-00000001",
                "State": "active",
                "Origin": "CreateRoute",
            },
        ],
    },
    {
        "RouteTableId": "rtb-00000002",
        "VpcId": VPC,
        "Tags": [{"Key": "Name", "Value": "private"}],
        "Associations": [
            {
                "Main": False,
                "RouteTableAssociationId": "rtbassoc-00000002",
                "SubnetId": "subnet-00000002",
            }
        ],
        "Routes": [
            {
                "DestinationCidrBlock": "0.0.0.0/0",
                "NatGatewayId": "nat-00000001",
                "State": "blackhole",
                "Origin": "CreateRoute",
            }
        ],
    },
]
ACL_ENTRIES = [
    {
        "RuleNumber": 32767,
        "Protocol": "-1",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
    },
    {
        "RuleNumber": 200,
        "Protocol": "6",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 22, "To": 22},
    },
    {
        "RuleNumber": 100,
        "Protocol": "6",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "192.0.2.0/24",
        "PortRange": {"From": 80, "To": 443},
    },
    {
        "RuleNumber": 100,
        "Protocol": "-1",
        "RuleAction": "allow",
        "Egress": True,
        "CidrBlock": "0.0.0.0/0",
    },
]
DETAIL = {
    "describe_vpcs": {"Vpcs": [_vpc(10, VpcId=VPC)]},
    "describe_subnets": {
        "Subnets": [
            {
                "SubnetId": "subnet-00000001",
                "VpcId": VPC,
                "CidrBlock": "10.10.1.0/24",
                "AvailabilityZone": "zone-a",
                "State": "available",
                "AvailableIpAddressCount": 250,
                "MapPublicIpOnLaunch": True,
                "Tags": [{"Key": "Name", "Value": "front"}],
            },
            {
                "SubnetId": "subnet-00000002",
                "VpcId": VPC,
                "CidrBlock": "10.10.2.0/24",
                "AvailabilityZone": "zone-a",
                "State": "available",
                "AvailableIpAddressCount": 251,
                "MapPublicIpOnLaunch": False,
            },
        ]
    },
    "describe_internet_gateways": {
        "InternetGateways": [
            {
                "InternetGatewayId": "igw-00000001",
                "Attachments": [{"VpcId": VPC, "State": "available"}],
            }
        ]
    },
    "describe_route_tables": {"RouteTables": ROUTE_TABLES},
    "describe_nat_gateways": {
        "NatGateways": [
            {
                "NatGatewayId": "nat-00000001",
                "SubnetId": "subnet-00000001",
                "State": "available",
                "NatGatewayAddresses": [
                    {
                        "AllocationId": "eipalloc-00000001",
                        "PublicIp": "203.0.113.7",
                        "PrivateIp": "10.10.1.5",
                    }
                ],
            }
        ]
    },
    "describe_network_acls": {
        "NetworkAcls": [
            {
                "NetworkAclId": "acl-00000001",
                "VpcId": VPC,
                "IsDefault": True,
                "Entries": ACL_ENTRIES,
                "Associations": [{"SubnetId": "subnet-00000001"}],
            }
        ]
    },
    "describe_security_groups": {
        "SecurityGroups": [{"GroupId": "sg-00000001", "GroupName": "default", "Description": "d"}]
    },
    "describe_availability_zones": {
        "AvailabilityZones": [{"ZoneName": "zone-a", "State": "available"}]
    },
    "describe_addresses": {
        "Addresses": [
            # Held by the NAT gateway, associated with an instance, and one that is free.
            {"AllocationId": "eipalloc-00000001", "PublicIp": "203.0.113.7"},
            {
                "AllocationId": "eipalloc-00000002",
                "PublicIp": "203.0.113.8",
                "AssociationId": "eipassoc-1",
                "InstanceId": "i-1",
            },
            {"AllocationId": "eipalloc-00000003", "PublicIp": "203.0.113.9"},
        ]
    },
}


def _section(page: str, heading: str) -> str:
    start = page.index(f'<h2 id="{heading}">')
    end = page.find("</section>", start)
    return page[start:end]


def test_a_vpc_s_page_shows_what_it_holds(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake(DETAIL)
    sign_in(console, client)
    answer = client.get("/console/vpcs/detail", params={"id": VPC})
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert f"VPC {VPC} (net-10)" in page and "10.10.0.0/16" in page
    # Each part asked for filtered to this VPC (NAT gateways' filter is named Filter).
    mine = [{"Name": "vpc-id", "Values": [VPC]}]
    for operation in ("describe_subnets", "describe_route_tables", "describe_network_acls"):
        assert ec2.asked(operation) == [{"Filters": mine}]
    assert ec2.asked("describe_security_groups") == [{"Filters": mine}]
    assert ec2.asked("describe_internet_gateways") == [
        {"Filters": [{"Name": "attachment.vpc-id", "Values": [VPC]}]}
    ]
    assert {"Filter": mine} in ec2.asked("describe_nat_gateways")
    subnets = _section(page, "subnets")
    assert "10.10.1.0/24" in subnets and "front" in subnets and "250" in subnets
    # The switch offered is the other way from how each subnet is.
    assert subnets.count('name="map" value="off"') == 1
    assert subnets.count('name="map" value="on"') == 1
    assert "igw-00000001" in _section(page, "gateways")
    tables = _section(page, "route-tables")
    assert "private" in tables and "blackhole" in tables and "nat-00000001" in tables
    # The VPC's local route cannot be deleted; the others can; the main table neither.
    assert tables.count('action="/console/vpcs/routes/delete"') == 2
    assert tables.count('action="/console/vpcs/route-tables/delete"') == 1
    assert 'value="rtbassoc-00000002"' in tables
    assert 'value="rtbassoc-00000001"' not in tables  # the main association is not a subnet's
    assert '<option value="igw-00000001">' in tables and '<option value="nat-00000001">' in tables
    nats = _section(page, "nat-gateways")
    assert "203.0.113.7" in nats and "10.10.1.5" in nats
    # Only the free elastic IP is offered (besides allocating one).
    assert '<option value="eipalloc-00000003">' in nats and '<option value="new">' in nats
    assert "eipalloc-00000002" not in nats
    assert '<option value="eipalloc-00000001">' not in nats
    acls = _section(page, "acls")
    rules = [acls.index(f"<tr><td>{n}</td>") for n in ("100", "200", "*")]
    assert rules == sorted(rules), "inbound entries in rule order, the catch-all last"
    assert "80-443" in acls and "192.0.2.0/24" in acls and "subnet-00000001" in acls
    assert 'href="/console/security-groups/detail?id=sg-00000001"' in _section(page, "groups")


def test_subnets_are_made_switched_and_deleted_from_the_vpc_s_page(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    made = {"Subnet": {"SubnetId": "subnet-00000003", "CidrBlock": "10.10.3.0/24"}}
    clients["ec2"] = ec2 = Fake(
        {**DETAIL, "create_subnet": made, "delete_subnet": {}, "modify_subnet_attribute": {}}
    )
    csrf = sign_in(console, client)
    base = {"_csrf": csrf, "vpc": VPC, "_back": HERE}
    answer = client.post(
        "/console/vpcs/subnets/create",
        data={**base, "cidr": "10.10.3.0/24", "zone": "zone-a", "name": "back"},
    )
    assert answer.headers["location"] == f"/console{HERE}"
    client.post("/console/vpcs/subnets/create", data={**base, "cidr": "10.10.4.0/24", "zone": ""})
    assert ec2.asked("create_subnet") == [
        {
            "VpcId": VPC,
            "CidrBlock": "10.10.3.0/24",
            "AvailabilityZone": "zone-a",
            "TagSpecifications": [
                {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "back"}]}
            ],
        },
        {"VpcId": VPC, "CidrBlock": "10.10.4.0/24"},
    ]
    for choice in ("on", "off"):
        client.post(
            "/console/vpcs/subnets/public-ip",
            data={**base, "subnet": "subnet-00000003", "map": choice},
        )
    assert ec2.asked("modify_subnet_attribute") == [
        {"SubnetId": "subnet-00000003", "MapPublicIpOnLaunch": {"Value": True}},
        {"SubnetId": "subnet-00000003", "MapPublicIpOnLaunch": {"Value": False}},
    ]
    form = {**base, "subnet": "subnet-00000003"}
    asked = client.post("/console/vpcs/subnets/delete", data=form)
    assert "Delete subnet subnet-00000003?" in asked.text and not ec2.asked("delete_subnet")
    assert f'href="/console{HERE}">Cancel' in asked.text
    ec2.answers["create_subnet"] = refused(
        "InvalidSubnet.Conflict", "The CIDR '10.10.1.0/24' conflicts with another subnet"
    )
    client.post("/console/vpcs/subnets/create", data={**base, "cidr": "10.10.1.0/24"})
    client.post("/console/vpcs/subnets/delete", data={**form, "confirmed": "yes"})
    assert ec2.asked("delete_subnet") == [{"SubnetId": "subnet-00000003"}]
    page = client.get("/console" + HERE).text
    shown = "InvalidSubnet.Conflict: The CIDR &#39;10.10.1.0/24&#39; conflicts with another subnet"
    assert page.count(shown) == 1
    assert page.index("Create a subnet") < page.index(shown)
    assert page.index(shown) < page.index('action="/console/vpcs/subnets/create"')


def test_an_internet_gateway_is_made_and_attached_as_one_or_not_at_all(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    gateway = {"InternetGateway": {"InternetGatewayId": "igw-00000009"}}
    clients["ec2"] = ec2 = Fake(
        {
            **DETAIL,
            "create_internet_gateway": gateway,
            "attach_internet_gateway": {},
            "detach_internet_gateway": {},
            "delete_internet_gateway": {},
        }
    )
    csrf = sign_in(console, client)
    base = {"_csrf": csrf, "vpc": VPC, "_back": HERE}
    client.post("/console/vpcs/gateways/create", data={**base, "name": "edge"})
    assert ec2.asked("create_internet_gateway") == [
        {
            "TagSpecifications": [
                {"ResourceType": "internet-gateway", "Tags": [{"Key": "Name", "Value": "edge"}]}
            ]
        }
    ]
    assert ec2.asked("attach_internet_gateway") == [
        {"InternetGatewayId": "igw-00000009", "VpcId": VPC}
    ]
    assert not ec2.asked("delete_internet_gateway")
    # Refused attaching (the VPC has one): the gateway just made is deleted again.
    ec2.answers["attach_internet_gateway"] = refused(
        "Resource.AlreadyAssociated", f"The VPC {VPC} already has an internet gateway attached"
    )
    client.post("/console/vpcs/gateways/create", data=base)
    assert ec2.asked("delete_internet_gateway") == [{"InternetGatewayId": "igw-00000009"}]
    page = client.get("/console" + HERE).text
    assert page.count("Resource.AlreadyAssociated: The VPC") == 1
    form = {**base, "gateway": "igw-00000001"}
    asked = client.post("/console/vpcs/gateways/delete", data=form)
    assert "Detach internet gateway igw-00000001" in asked.text
    assert not ec2.asked("detach_internet_gateway")
    client.post("/console/vpcs/gateways/delete", data={**form, "confirmed": "yes"})
    assert ec2.asked("detach_internet_gateway") == [
        {"InternetGatewayId": "igw-00000001", "VpcId": VPC}
    ]
    assert ec2.asked("delete_internet_gateway")[-1] == {"InternetGatewayId": "igw-00000001"}


def test_routes_and_associations(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake(
        {
            **DETAIL,
            "create_route_table": {"RouteTable": {"RouteTableId": "rtb-00000003"}},
            "delete_route_table": {},
            "create_route": {"Return": True},
            "delete_route": {},
            "associate_route_table": {"AssociationId": "rtbassoc-00000003"},
            "disassociate_route_table": {},
        }
    )
    csrf = sign_in(console, client)
    base = {"_csrf": csrf, "vpc": VPC, "_back": HERE}
    client.post("/console/vpcs/route-tables/create", data=base)
    assert ec2.asked("create_route_table") == [{"VpcId": VPC}]
    table = {**base, "table": "rtb-00000002"}
    for target in ("igw-00000001", "nat-00000001"):
        client.post(
            "/console/vpcs/routes/create",
            data={**table, "destination": "0.0.0.0/0", "target": target},
        )
    # What no form offers is refused before the API is asked, beside the form.
    client.post(
        "/console/vpcs/routes/create",
        data={**table, "destination": "0.0.0.0/0", "target": "pcx-1"},
    )
    assert ec2.asked("create_route") == [
        {
            "RouteTableId": "rtb-00000002",
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": "igw-00000001",
        },
        {
            "RouteTableId": "rtb-00000002",
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": "nat-00000001",
        },
    ]
    assert "form-error" in client.get("/console" + HERE).text
    ec2.answers["create_route"] = refused(
        "RouteAlreadyExists", "The route identified by 0.0.0.0/0 already exists."
    )
    client.post(
        "/console/vpcs/routes/create",
        data={**table, "destination": "0.0.0.0/0", "target": "igw-00000001"},
    )
    page = client.get("/console" + HERE).text
    shown = "RouteAlreadyExists: The route identified by 0.0.0.0/0 already exists."
    assert page.count(shown) == 1
    assert page.index(shown) < page.index('action="/console/vpcs/routes/create"')
    route = {**table, "destination": "0.0.0.0/0"}
    assert (
        "Delete the route to 0.0.0.0/0"
        in client.post("/console/vpcs/routes/delete", data=route).text
    )
    client.post("/console/vpcs/routes/delete", data={**route, "confirmed": "yes"})
    assert ec2.asked("delete_route") == [
        {"RouteTableId": "rtb-00000002", "DestinationCidrBlock": "0.0.0.0/0"}
    ]
    client.post("/console/vpcs/route-tables/associate", data={**table, "subnet": "subnet-00000001"})
    assert ec2.asked("associate_route_table") == [
        {"RouteTableId": "rtb-00000002", "SubnetId": "subnet-00000001"}
    ]
    link = {**table, "association": "rtbassoc-00000002", "subnet": "subnet-00000002"}
    asked = client.post("/console/vpcs/route-tables/disassociate", data=link)
    assert "Disassociate subnet-00000002 from route table rtb-00000002?" in asked.text
    client.post("/console/vpcs/route-tables/disassociate", data={**link, "confirmed": "yes"})
    assert ec2.asked("disassociate_route_table") == [{"AssociationId": "rtbassoc-00000002"}]
    client.post("/console/vpcs/route-tables/delete", data={**table, "confirmed": "yes"})
    assert ec2.asked("delete_route_table") == [{"RouteTableId": "rtb-00000002"}]


def test_a_nat_gateway_with_an_address_allocated_for_it(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake(
        {
            **DETAIL,
            "allocate_address": {"AllocationId": "eipalloc-0000000a", "PublicIp": "203.0.113.10"},
            "release_address": {},
            "create_nat_gateway": {"NatGateway": {"NatGatewayId": "nat-0000000b"}},
            "delete_nat_gateway": {"NatGatewayId": "nat-0000000b"},
        }
    )
    csrf = sign_in(console, client)
    base = {"_csrf": csrf, "vpc": VPC, "_back": HERE, "subnet": "subnet-00000001"}
    client.post("/console/vpcs/nat-gateways/create", data={**base, "allocation": "eipalloc-3"})
    client.post("/console/vpcs/nat-gateways/create", data={**base, "allocation": "new"})
    assert ec2.asked("allocate_address") == [{"Domain": "vpc"}]
    assert ec2.asked("create_nat_gateway") == [
        {"SubnetId": "subnet-00000001", "AllocationId": "eipalloc-3"},
        {"SubnetId": "subnet-00000001", "AllocationId": "eipalloc-0000000a"},
    ]
    assert not ec2.asked("release_address")
    # Refused: an address allocated for it is released; one chosen is left as it was.
    ec2.answers["create_nat_gateway"] = refused(
        "InvalidSubnetID.NotFound", "The subnet ID 'subnet-00000001' does not exist"
    )
    client.post("/console/vpcs/nat-gateways/create", data={**base, "allocation": "new"})
    client.post("/console/vpcs/nat-gateways/create", data={**base, "allocation": "eipalloc-3"})
    assert ec2.asked("release_address") == [{"AllocationId": "eipalloc-0000000a"}]
    page = client.get("/console" + HERE).text
    assert page.count("InvalidSubnetID.NotFound: The subnet ID") == 2
    form = {**base, "nat": "nat-0000000b"}
    asked = client.post("/console/vpcs/nat-gateways/delete", data=form)
    assert "Delete NAT gateway nat-0000000b?" in asked.text and not ec2.asked("delete_nat_gateway")
    client.post("/console/vpcs/nat-gateways/delete", data={**form, "confirmed": "yes"})
    assert ec2.asked("delete_nat_gateway") == [{"NatGatewayId": "nat-0000000b"}]


def test_instances_show_their_vpc_and_subnet(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    instance = {
        "InstanceId": "i-00000001",
        "State": {"Name": "running"},
        "VpcId": VPC,
        "SubnetId": "subnet-00000001",
    }
    gone = {"InstanceId": "i-00000002", "State": {"Name": "terminated"}, "VpcId": None}
    answer = {"Reservations": [{"Instances": [instance, gone]}]}
    clients["ec2"] = ec2 = Fake({"describe_instances": answer})
    sign_in(console, client)
    listed = client.get("/console/instances", params={"field": "subnet-id", "value": "subnet-0"})
    assert listed.status_code == 200
    assert f'<a href="/console/vpcs/detail?id={VPC}">{VPC}</a>' in listed.text
    assert "<td>subnet-00000001</td>" in listed.text
    assert ec2.asked("describe_instances")[0]["Filters"] == [
        {"Name": "subnet-id", "Values": ["*subnet-0*"]}
    ]
    detail = client.get("/console/instances/detail", params={"id": "i-00000001"}).text
    assert f'<dt>VPC</dt><dd><a href="/console/vpcs/detail?id={VPC}">' in detail
    assert "<dt>Subnet</dt><dd>subnet-00000001</dd>" in detail
