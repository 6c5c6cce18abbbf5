"""Ansible's amazon.aws collection, unchanged, against a live cloud, as issue #18 asks: an
instance launched with `ec2_instance` into the default subnet (wait, tags), found again with
`ec2_instance_info` by filters, and a VPC of the user's own built with `ec2_vpc_net`,
`ec2_vpc_subnet`, `ec2_vpc_igw` and `ec2_vpc_route_table`, with an instance launched into its
subnet. Each flow runs twice: the second run changes nothing (the modules' idempotence is how
their authors judge an API)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.clients.test_ansible import changed, play
from tests.e2e.conftest import Cloud

pytestmark = pytest.mark.e2e


def results(report: dict[str, Any], name: str) -> dict[str, Any]:
    """The module result of the (last) task called `name`."""
    found = [
        host
        for p in report["plays"]
        for t in p["tasks"]
        if t["task"]["name"] == name
        for host in t["hosts"].values()
    ]
    assert found, f"no task {name}"
    return dict(found[-1])


INSTANCE_TASKS = """
    - name: default subnets
      amazon.aws.ec2_vpc_subnet_info:
        filters:
          default-for-az: "true"
      register: defaults
    - name: launch
      amazon.aws.ec2_instance:
        name: "{{ prefix }}-vm"
        image_id: "{{ image }}"
        instance_type: m1.small
        vpc_subnet_id: "{{ defaults.subnets[0].id }}"
        wait: true
        state: running
        tags:
          env: "{{ prefix }}"
      register: vm
    - name: find
      amazon.aws.ec2_instance_info:
        filters:
          "tag:env": "{{ prefix }}"
          subnet-id: "{{ defaults.subnets[0].id }}"
          vpc-id: "{{ defaults.subnets[0].vpc_id }}"
          instance-state-name: running
      register: info
    - ansible.builtin.assert:
        that:
          - info.instances | length == 1
          - info.instances[0].instance_id == vm.instance_ids[0]
          - info.instances[0].subnet_id == defaults.subnets[0].id
          - info.instances[0].network_interfaces | length == 1
          - info.instances[0].tags.Name == prefix + "-vm"
"""

INSTANCE_CLEANUP = """
    - name: terminate
      amazon.aws.ec2_instance:
        state: absent
        wait: true
        filters:
          "tag:env": "{{ prefix }}"
"""

VPC_TASKS = """
    - name: vpc
      amazon.aws.ec2_vpc_net:
        name: "{{ prefix }}"
        cidr_block: 10.40.0.0/16
        tags:
          env: "{{ prefix }}"
      register: vpc
    - name: subnet
      amazon.aws.ec2_vpc_subnet:
        vpc_id: "{{ vpc.vpc.id }}"
        cidr: 10.40.1.0/24
        map_public: true
        tags:
          Name: "{{ prefix }}-public"
      register: subnet
    - name: igw
      amazon.aws.ec2_vpc_igw:
        vpc_id: "{{ vpc.vpc.id }}"
        state: present
      register: igw
    - name: route table
      amazon.aws.ec2_vpc_route_table:
        vpc_id: "{{ vpc.vpc.id }}"
        subnets:
          - "{{ subnet.subnet.id }}"
        routes:
          - dest: 0.0.0.0/0
            gateway_id: "{{ igw.gateway_id }}"
        tags:
          Name: "{{ prefix }}-public"
      register: table
    - name: web
      amazon.aws.ec2_instance:
        name: "{{ prefix }}-web"
        image_id: "{{ image }}"
        instance_type: m1.small
        vpc_subnet_id: "{{ subnet.subnet.id }}"
        wait: true
        state: running
        tags:
          env: "{{ prefix }}"
      register: web
    - ansible.builtin.assert:
        that:
          - web.instances[0].subnet_id == subnet.subnet.id
          - web.instances[0].vpc_id == vpc.vpc.id
          - web.instances[0].private_ip_address.startswith("10.40.1.")
          - web.instances[0].security_groups[0].group_name == "default"
          - vpc.vpc.cidr_block == "10.40.0.0/16"
          - subnet.subnet.vpc_id == vpc.vpc.id
          - subnet.subnet.map_public_ip_on_launch
          - igw.vpc_id == vpc.vpc.id
          - table.route_table.associations | length == 1
          - table.route_table.associations[0].subnet_id == subnet.subnet.id
"""

VPC_CLEANUP = (
    INSTANCE_CLEANUP
    + """
    - amazon.aws.ec2_vpc_route_table_info:
        filters:
          vpc-id: "{{ vpc_id }}"
          "tag:Name": "{{ prefix }}-public"
      register: tables
    - amazon.aws.ec2_vpc_route_table:
        vpc_id: "{{ vpc_id }}"
        route_table_id: "{{ item.id }}"
        lookup: id
        state: absent
      loop: "{{ tables.route_tables }}"
    - amazon.aws.ec2_vpc_igw:
        vpc_id: "{{ vpc_id }}"
        state: absent
    - amazon.aws.ec2_vpc_subnet:
        vpc_id: "{{ vpc_id }}"
        cidr: 10.40.1.0/24
        state: absent
    - amazon.aws.ec2_vpc_net:
        vpc_id: "{{ vpc_id }}"
        state: absent
"""
)


def test_ec2_instance_in_the_default_subnet(module_cloud: Cloud, tmp_path: Path) -> None:
    ec2 = module_cloud.client("ec2")
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    image = images["Images"][0]["ImageId"]
    prefix = f"an{uuid.uuid4().hex[:6]}"
    first = play(module_cloud, tmp_path, INSTANCE_TASKS, prefix=prefix, image=image)
    vm = results(first, "launch")
    assert vm["changed"] and len(vm["instance_ids"]) == 1
    (launched,) = vm["instances"]
    assert launched["state"]["name"] == "running"
    assert launched["vpc_id"] and launched["subnet_id"].startswith("subnet-")
    again = play(module_cloud, tmp_path, INSTANCE_TASKS, prefix=prefix, image=image)
    assert changed(again) == 0, "a second run changes nothing"
    assert results(again, "launch")["instance_ids"] == vm["instance_ids"]
    play(module_cloud, tmp_path, INSTANCE_CLEANUP, prefix=prefix)
    (r,) = ec2.describe_instances(InstanceIds=vm["instance_ids"])["Reservations"]
    assert r["Instances"][0]["State"]["Name"] == "terminated"


def test_vpc_subnet_gateway_route_table(module_cloud: Cloud, tmp_path: Path) -> None:
    prefix = f"an{uuid.uuid4().hex[:6]}"
    ec2 = module_cloud.client("ec2")
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    image = images["Images"][0]["ImageId"]
    first = play(module_cloud, tmp_path, VPC_TASKS, prefix=prefix, image=image)
    assert changed(first) >= 5
    vpc_id = results(first, "vpc")["vpc"]["id"]
    (table,) = ec2.describe_route_tables(
        Filters=[{"Name": "tag:Name", "Values": [f"{prefix}-public"]}]
    )["RouteTables"]
    routes = {r["DestinationCidrBlock"]: r["GatewayId"] for r in table["Routes"]}
    assert routes["0.0.0.0/0"].startswith("igw-") and routes["10.40.0.0/16"] == "local"
    again = play(module_cloud, tmp_path, VPC_TASKS, prefix=prefix, image=image)
    assert changed(again) == 0, "a second run changes nothing"
    assert results(again, "web")["instance_ids"] == results(first, "web")["instance_ids"]
    play(module_cloud, tmp_path, VPC_CLEANUP, prefix=prefix, vpc_id=vpc_id)
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
