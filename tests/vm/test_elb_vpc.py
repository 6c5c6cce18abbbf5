"""A load balancer in a user VPC's subnet with real VMs on two nodes, driven through boto3: its
worker reaches the VPC's instances through its interface in the subnet, whose address and
groups the instances' groups judge, and its own group decides what reaches its listener from
the outside."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, console, default_image, in_ns
from tests.vm.test_elb_vms import HEALTH_CHECK, HTTP_LISTENER, fetch, served_by
from tests.vm.test_vpc_instances import _placed, _reported

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

LB = "invpc"


@pytest.fixture(scope="module")
def cloud2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("elbvpc"), nodes=2)


@pytest.fixture(scope="module")
def setup(cloud2: VmCloud) -> dict[str, Any]:
    """A VPC's subnet with two instances on the two nodes, whose group admits port 80 only
    from the load balancer's group, and that load balancer (its group without port 80)."""
    wait_until(lambda: all(_reported(cloud2, n) for n in cloud2.node_names()), 120)
    ec2 = cloud2.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]
    tag = uuid.uuid4().hex[:6]
    lb_group = ec2.create_security_group(
        GroupName=f"lb-{tag}", Description="the load balancer", VpcId=vpc
    )["GroupId"]
    backend_group = ec2.create_security_group(
        GroupName=f"be-{tag}", Description="back ends", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=backend_group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                        "UserIdGroupPairs": [{"GroupId": lb_group}]}],
    )  # fmt: skip
    ids = []
    for _ in range(2):
        iid = ec2.run_instances(
            ImageId=default_image(ec2),
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet["SubnetId"],
            SecurityGroupIds=[backend_group],
        )["Instances"][0]["InstanceId"]
        # Placed before the next launch: the scheduler's round robin alternates the nodes.
        wait_until(lambda iid=iid: _placed(cloud2, iid), 60)
        ids.append(iid)
    wait_until(lambda: all_in(ec2, ids, "running"), 180)
    for iid in ids:
        wait_until(lambda iid=iid: "EUCA-READY" in console(ec2, iid), 180)
    elb = cloud2.client("elb")
    dns_name = elb.create_load_balancer(
        LoadBalancerName=LB,
        Listeners=[HTTP_LISTENER],
        Subnets=[subnet["SubnetId"]],
        SecurityGroups=[lb_group],
    )["DNSName"]
    elb.configure_health_check(LoadBalancerName=LB, HealthCheck=HEALTH_CHECK)
    elb.register_instances_with_load_balancer(
        LoadBalancerName=LB, Instances=[{"InstanceId": i} for i in ids]
    )
    return {"ec2": ec2, "elb": elb, "ids": ids, "dns": dns_name, "url": f"http://{dns_name}/",
            "lb_group": lb_group, "outside": cloud2.public_netns(), "vpc": vpc}  # fmt: skip


def health(elb: Any) -> dict[str, str]:
    states = elb.describe_instance_health(LoadBalancerName=LB)["InstanceStates"]
    return {s["InstanceId"]: s["State"] for s in states}


def test_instances_on_two_nodes(cloud2: VmCloud, setup: dict[str, Any]) -> None:
    nodes = {cloud2.node_of(i) for i in setup["ids"]}
    assert len(nodes) == 2


def test_the_worker_reaches_the_instances_through_its_interface(setup: dict[str, Any]) -> None:
    """The back ends' group admits only the load balancer's group: health checks pass, so the
    worker's packets carry its interface's address, a member of that group."""
    elb, ids = setup["elb"], setup["ids"]
    wait_until(lambda: health(elb) == dict.fromkeys(ids, "InService"), 120)
    [eni] = setup["ec2"].describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"ELB {LB}"]}]
    )["NetworkInterfaces"]
    assert eni["RequesterManaged"] and eni["VpcId"] == setup["vpc"]


def test_its_group_without_the_listener_port_refuses(setup: dict[str, Any]) -> None:
    outside = setup["outside"]
    wait_until(
        lambda: in_ns(outside, "getent", "hosts", setup["dns"]).returncode == 0, 60, interval=0.2
    )
    wait_until(lambda: health(setup["elb"]) == dict.fromkeys(setup["ids"], "InService"), 120)
    for _ in range(3):
        assert fetch(outside, setup["url"]) is None


def test_requests_alternate_once_its_group_admits_the_port(setup: dict[str, Any]) -> None:
    outside, ids = setup["outside"], setup["ids"]
    setup["ec2"].authorize_security_group_ingress(
        GroupId=setup["lb_group"], IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"
    )
    wait_until(lambda: served_by(fetch(outside, setup["url"]), ids) is not None, 60, interval=0.2)
    seen = [served_by(fetch(outside, setup["url"]), ids) for _ in range(8)]
    assert None not in seen and set(seen) == set(ids)


def test_deleting_it_leaves_no_interface(setup: dict[str, Any]) -> None:
    setup["elb"].delete_load_balancer(LoadBalancerName=LB)
    found = setup["ec2"].describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"ELB {LB}"]}]
    )["NetworkInterfaces"]
    assert found == []
    wait_until(lambda: fetch(setup["outside"], setup["url"]) is None, 30)
