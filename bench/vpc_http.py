"""A VPC made from nothing to HTTP on its instance's public IP, against the instance's boot.

Issue #18: CreateVpc + CreateSubnet (MapPublicIpOnLaunch) + CreateInternetGateway +
AttachInternetGateway + CreateRoute 0.0.0.0/0 + an ingress rule, then RunInstances into the
subnet, until the guest's HTTP server answers on its public IP from `mallee-pub` (the cloud's
public namespace): at most the boot time plus 1 s. The boot time is measured the same way in
the same run: an instance in the default VPC (EDGE) to HTTP on its public IP. moto boots
nothing, so the figures are printed against the target.

Usage: python bench/vpc_http.py [--runs 3]   (as root: the node uses network namespaces)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import dataplanes
from mallee.node.network.links import delete_netns
from mallee.node.network.vpc_names import nat_prefix, vpc_prefix
from servers import start_mallee, stop
from vm_boot import GUEST_TYPE, REAL_NODE, ec2_client, in_ns, until, wait_for_node

HTTP = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def public_ip(ec2: Any, iid: str, start: float) -> str:
    found: dict[str, Any] = {}

    def has_one() -> bool:
        found.update(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0])
        return bool(found.get("PublicIpAddress"))

    until(has_one, start, what="a public IP")
    return str(found["PublicIpAddress"])


def to_http(ec2: Any, public_ns: str, iid: str, start: float) -> float:
    ip = public_ip(ec2, iid, start)
    url = f"http://{ip}/"
    took = until(lambda: in_ns(public_ns, "curl", "-sf", "-m", "1", url), start, what="http")
    ec2.terminate_instances(InstanceIds=[iid])
    return took


def edge_boot(ec2: Any, image: str, public_ns: str) -> float:
    start = time.monotonic()
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=GUEST_TYPE)[
        "Instances"
    ][0]["InstanceId"]
    return to_http(ec2, public_ns, iid, start)


def vpc_boot(ec2: Any, image: str, public_ns: str, n: int) -> float:
    start = time.monotonic()
    vpc = ec2.create_vpc(CidrBlock=f"10.{50 + n}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{50 + n}.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    (table,) = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "RouteTables"
    ]
    ec2.create_route(
        RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=HTTP)
    iid = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType=GUEST_TYPE, SubnetId=subnet
    )["Instances"][0]["InstanceId"]
    return to_http(ec2, public_ns, iid, start)


def remove_vpcs(data_dir: Path) -> None:
    cloud = dataplanes.cloud_of(data_dir)
    node = REAL_NODE["MALLEE_NODE_NAME"]
    prefixes = (vpc_prefix(cloud, node), nat_prefix(cloud, node))
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(prefixes):
            delete_netns(name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "mallee"
        server = start_mallee(Path(d), **REAL_NODE)
        try:
            ec2 = ec2_client(server)
            wait_for_node(ec2)
            found = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
            image = found["Images"][0]["ImageId"]
            ec2.authorize_security_group_ingress(GroupName="default", IpPermissions=HTTP)
            ec2.modify_instance_type_attribute(Name=GUEST_TYPE, Memory=128)
            public_ns = dataplanes.public_netns(data)
            rows = []
            for n in range(args.runs):
                rows.append((edge_boot(ec2, image, public_ns), vpc_boot(ec2, image, public_ns, n)))
        finally:
            stop(server)
            remove_vpcs(data)
            dataplanes.remove(data, REAL_NODE["MALLEE_NODE_NAME"])
    edge, vpc = (statistics.median(col) for col in zip(*rows, strict=True))
    print(f"{'median of ' + str(args.runs):46}{'measured':>10}{'target':>10}")
    print(f"{'default VPC: RunInstances -> HTTP on public IP':46}{edge:10.2f}")
    print(f"{'new VPC: CreateVpc ... -> HTTP on public IP':46}{vpc:10.2f}{edge + 1:10.2f}")
    print(f"{'VPC cost over the boot (s)':46}{vpc - edge:10.2f}{1.0:10.2f}")


if __name__ == "__main__":
    main()
