"""A load balancer in a user VPC's subnets: its requester-managed interfaces, as AWS shows
them, follow its subnets and groups; it takes only instances of its VPC."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import default_image, wait_state
from tests.e2e.test_elb_api import HTTP, Account, error, unique
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def acct(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    _, ak, sk = new_account(cloud, tmp_path_factory.mktemp("elbvpc"))
    return Account(cloud, ak, sk)


def lb_interfaces(acct: Account, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = acct.ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"ELB {name}"]}]
    )["NetworkInterfaces"]
    return sorted(found, key=lambda e: e["SubnetId"])


def test_interfaces_follow_subnets_and_groups(acct: Account) -> None:
    vpc = acct.ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    one = acct.ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=acct.zone)
    subnet = one["Subnet"]["SubnetId"]
    group = acct.ec2.create_security_group(GroupName=unique("g"), Description="lb", VpcId=vpc)
    gid = group["GroupId"]
    name = unique()
    acct.elb.create_load_balancer(
        LoadBalancerName=name, Listeners=[HTTP], Subnets=[subnet], SecurityGroups=[gid]
    )
    [eni] = lb_interfaces(acct, name)
    assert eni["RequesterManaged"] is True and eni["Status"] == "in-use"
    assert eni["VpcId"] == vpc and eni["SubnetId"] == subnet
    assert eni["AvailabilityZone"] == acct.zone
    assert [g["GroupId"] for g in eni["Groups"]] == [gid]
    # AWS keeps a subnet's first four addresses.
    assert eni["PrivateIpAddress"] == "10.40.1.4"
    with pytest.raises(ClientError) as err:
        acct.ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert err.value.response["Error"]["Code"] in ("InvalidNetworkInterface.InUse",
                                                   "OperationNotPermitted")  # fmt: skip

    # A subnet's launch does not take the load balancer's address.
    launched = acct.ec2.run_instances(
        ImageId=default_image(acct.ec2), MinCount=1, MaxCount=1, SubnetId=subnet
    )["Instances"][0]
    assert launched["PrivateIpAddress"] != eni["PrivateIpAddress"]
    iid = launched["InstanceId"]
    wait_state(acct.ec2, [iid], "running")
    acct.elb.register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": iid}]
    )

    # An instance of EDGE (the default VPC) is out of the load balancer's reach.
    edge = acct.ec2.run_instances(ImageId=default_image(acct.ec2), MinCount=1, MaxCount=1)
    edge_id = edge["Instances"][0]["InstanceId"]
    with pytest.raises(ClientError) as err:
        acct.elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": edge_id}]
        )
    assert error(err) == ("InvalidInstance", 400)
    classic = unique()
    acct.create(classic)
    with pytest.raises(ClientError) as err:
        acct.elb.register_instances_with_load_balancer(
            LoadBalancerName=classic, Instances=[{"InstanceId": iid}]
        )
    assert error(err) == ("InvalidInstance", 400)
    acct.elb.delete_load_balancer(LoadBalancerName=classic)

    two = acct.ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.2.0/24", AvailabilityZone=acct.zone)
    with pytest.raises(ClientError) as err:  # one subnet per zone
        acct.elb.attach_load_balancer_to_subnets(
            LoadBalancerName=name, Subnets=[two["Subnet"]["SubnetId"]]
        )
    assert error(err)[0] == "InvalidSubnet"

    other = acct.ec2.create_security_group(GroupName=unique("g"), Description="lb", VpcId=vpc)
    acct.elb.apply_security_groups_to_load_balancer(
        LoadBalancerName=name, SecurityGroups=[other["GroupId"], gid]
    )
    [eni] = lb_interfaces(acct, name)
    assert sorted(g["GroupId"] for g in eni["Groups"]) == sorted([other["GroupId"], gid])

    acct.elb.delete_load_balancer(LoadBalancerName=name)
    assert lb_interfaces(acct, name) == []
    acct.ec2.terminate_instances(InstanceIds=[iid, edge_id])


def test_internal_scheme_is_refused(acct: Account) -> None:
    vpc = acct.ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    sub = acct.ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24", AvailabilityZone=acct.zone)
    name = unique()
    with pytest.raises(ClientError) as err:
        acct.elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[HTTP],
            Subnets=[sub["Subnet"]["SubnetId"]],
            Scheme="internal",
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)
    assert lb_interfaces(acct, name) == []
