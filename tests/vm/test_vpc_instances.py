"""Real QEMU guests in users' own VPCs on two nodes, driven through boto3 (issue #18 step 3b).

One cloud and four instances for the whole module (boots are the cost): in VPC X
(10.0.0.0/16) x1 in the public subnet with a public IP and x2 in the same subnet on the other
node, x3 in the private subnet; in VPC Y, with the same CIDR, y1. Guests are reached by SSH
from their VPC's namespace on their node (as EDGE's tests reach theirs from the node's), and
from the cloud's public namespace as a user outside would.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mallee.node.network.vpc_names import vpc_netns
from mallee.store import Store
from mallee.store.tables.vpc import Ec2Vpc
from tests.vm.cloud import VmCloud, qemu_pids, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, console, default_image, ssh
from tests.vm.test_edge_vms import curl

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

PUBLIC_GATEWAY = "203.0.113.1"
# A server in the public namespace answering with the address it sees its client as.
WHOAMI = (
    "import http.server as h\n"
    "class H(h.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        b = self.client_address[0].encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
    "        self.end_headers(); self.wfile.write(b)\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    f"h.ThreadingHTTPServer(('{PUBLIC_GATEWAY}', 8080), H).serve_forever()\n"
)


@dataclass
class Guest:
    id: str
    ip: str
    public_ip: str | None
    netns: str  # its VPC's namespace on its node


@dataclass
class Vpcs:
    cloud: VmCloud
    ec2: Any
    key: Path
    x: str
    y: str
    public_subnet: str
    private_table: str
    public_table: str
    igw: str
    guests: dict[str, Guest]  # x1, x2, x3, y1
    outside: str

    def run(self, name: str, command: str) -> subprocess.CompletedProcess[str]:
        g = self.guests[name]
        return ssh(g.netns, self.key, g.ip, command)

    def fetch(self, name: str, url: str) -> str | None:
        """`url` fetched by guest `name` (None when it cannot be)."""
        out = self.run(name, f"timeout 3 wget -q -O - {url}")
        return out.stdout if out.returncode == 0 else None


@pytest.fixture(scope="module")
def cloud2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("vpcvm"), nodes=2)


def _vni(cloud: VmCloud, vpc_id: str) -> int:
    store = Store(cloud.env["MALLEE_DB_URL"])
    try:
        with store.read() as s:
            vpc = s.get(Ec2Vpc, vpc_id)
            assert vpc is not None and vpc.vni is not None
            return vpc.vni
    finally:
        store.dispose()


def _group(ec2: Any, vpc: str) -> str:
    gid: str = ec2.create_security_group(
        GroupName=f"web-{uuid.uuid4().hex[:6]}", Description="ssh, http, ping", VpcId=vpc
    )["GroupId"]
    everyone = [{"CidrIp": "0.0.0.0/0"}]
    ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": everyone},
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": everyone},
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": everyone},
        ],
    )
    return gid


def _launch(cloud: VmCloud, ec2: Any, key: str, subnet: str, group: str, public: bool) -> str:
    """One instance, placed before the next is launched: the scheduler's round robin then puts
    consecutive launches on alternate nodes."""
    iid: str = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=1,
        MaxCount=1,
        KeyName=key,
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
             "AssociatePublicIpAddress": public}
        ],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    wait_until(lambda: _placed(cloud, iid), 60)
    return iid


def _placed(cloud: VmCloud, iid: str) -> bool:
    try:
        return bool(cloud.node_of(iid))
    except AssertionError:
        return False


@pytest.fixture(scope="module")
def vpcs(cloud2: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpcs]:
    wait_until(lambda: all(_reported(cloud2, n) for n in cloud2.node_names()), 120)
    ec2 = cloud2.client("ec2")
    name = f"vpc-{uuid.uuid4().hex[:6]}"
    key = tmp_path_factory.mktemp("key") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    x = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    y = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    x_public = ec2.create_subnet(VpcId=x, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    x_private = ec2.create_subnet(VpcId=x, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    y_subnet = ec2.create_subnet(VpcId=y, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=x)
    public_table = ec2.create_route_table(VpcId=x)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_table, SubnetId=x_public)
    private_table = ec2.create_route_table(VpcId=x)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=private_table, SubnetId=x_private)
    gx, gy = _group(ec2, x), _group(ec2, y)
    ids = {
        "x1": _launch(cloud2, ec2, name, x_public, gx, True),
        "x2": _launch(cloud2, ec2, name, x_public, gx, False),
        "x3": _launch(cloud2, ec2, name, x_private, gx, False),
        "y1": _launch(cloud2, ec2, name, y_subnet, gy, False),
    }
    found = wait_until(lambda: all_in(ec2, list(ids.values()), "running"), 180)
    by_id = {i["InstanceId"]: i for i in found}
    cloud_id = cloud2.cloud_id()
    vnis = {x: _vni(cloud2, x), y: _vni(cloud2, y)}
    guests = {}
    for label, iid in ids.items():
        inst = by_id[iid]
        netns = vpc_netns(cloud_id, cloud2.node_of(iid), vnis[inst["VpcId"]])
        guests[label] = Guest(iid, inst["PrivateIpAddress"], inst.get("PublicIpAddress"), netns)
    for g in guests.values():
        wait_until(lambda g=g: "EUCA-READY" in console(ec2, g.id), 180)
        wait_until(lambda g=g: ssh(g.netns, key, g.ip, "true").returncode == 0, 60)
    made = Vpcs(cloud2, ec2, key, x, y, x_public, private_table, public_table, igw, guests,
                cloud2.public_netns())  # fmt: skip
    whoami = subprocess.Popen(["ip", "netns", "exec", made.outside, sys.executable, "-c", WHOAMI])
    try:
        yield made
    finally:
        whoami.kill()
        whoami.wait()


def _reported(cloud: VmCloud, node: str) -> bool:
    try:
        return bool(cloud.netns(node))
    except AssertionError:
        return False


def test_same_cidr_vpcs_on_two_nodes_are_apart_and_a_subnet_spans_them(
    cloud2: VmCloud, vpcs: Vpcs
) -> None:
    g = vpcs.guests
    nodes = {label: cloud2.node_of(guest.id) for label, guest in g.items()}
    assert nodes["x1"] != nodes["x2"]  # one subnet on both nodes
    assert nodes["x1"] != nodes["y1"]  # the two VPCs' instances on different nodes
    assert g["x1"].netns != g["y1"].netns
    # One subnet over VXLAN: x1 reaches x2 on the other node, by ping and by HTTP.
    assert vpcs.run("x1", f"ping -c 1 -W 2 {g['x2'].ip}").returncode == 0
    assert g["x2"].id in (vpcs.fetch("x1", f"http://{g['x2'].ip}/") or "")
    # Guests are told VXLAN's MTU, so full-sized frames cross nodes: 1 MiB over HTTP whole.
    assert vpcs.run("x1", "cat /sys/class/net/eth0/mtu").stdout.strip() == "1450"
    made = vpcs.run("x2", "dd if=/dev/urandom of=/www/big bs=1024 count=1024 2>/dev/null; "
                    "md5sum /www/big")  # fmt: skip
    fetched = vpcs.run("x1", f"timeout 20 wget -q -O - http://{g['x2'].ip}/big | md5sum")
    assert made.stdout.split()[0] == fetched.stdout.split()[0]
    # Y has the same block: X's addresses are nothing there, whatever node they are on.
    for target in ("x1", "x2", "x3"):
        if g[target].ip == g["y1"].ip:
            continue  # y1's own address, in its own VPC
        assert vpcs.run("y1", f"ping -c 1 -W 2 {g[target].ip}").returncode != 0
        assert vpcs.fetch("y1", f"http://{g[target].ip}/") is None
    # Neither does a public address of X lead Y's instance anywhere: Y has no gateway.
    assert vpcs.fetch("y1", f"http://{g['x1'].public_ip}/") is None


def test_public_ip_with_a_gateway_route_answers_from_outside(vpcs: Vpcs) -> None:
    x1, x2 = vpcs.guests["x1"], vpcs.guests["x2"]
    assert x1.public_ip and x2.public_ip is None
    url = f"http://{x1.public_ip}/"
    wait_until(lambda: x1.id in (curl(vpcs.outside, url) or ""), 30)
    # Its egress leaves by the gateway as its public address.
    assert vpcs.fetch("x1", f"http://{PUBLIC_GATEWAY}:8080/") == x1.public_ip
    assert vpcs.fetch("x2", f"http://{PUBLIC_GATEWAY}:8080/") is None  # no public IP
    vpcs.ec2.delete_route(RouteTableId=vpcs.public_table, DestinationCidrBlock="0.0.0.0/0")
    wait_until(lambda: curl(vpcs.outside, url) is None, 30)
    vpcs.ec2.create_route(
        RouteTableId=vpcs.public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=vpcs.igw
    )
    wait_until(lambda: x1.id in (curl(vpcs.outside, url) or ""), 30)


def test_private_subnet_reaches_outside_only_through_its_nat_gateway(vpcs: Vpcs) -> None:
    ec2, x3 = vpcs.ec2, vpcs.guests["x3"]
    whoami = f"http://{PUBLIC_GATEWAY}:8080/"
    assert x3.public_ip is None
    assert vpcs.fetch("x3", whoami) is None  # no route out
    eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=vpcs.public_subnet, AllocationId=eip["AllocationId"])
    nat_id = nat["NatGateway"]["NatGatewayId"]

    def state() -> str:
        found = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
        return str(found[0]["State"])

    wait_until(lambda: state() == "available", 60)
    assert vpcs.fetch("x3", whoami) is None  # a gateway, but no route to it yet
    ec2.create_route(
        RouteTableId=vpcs.private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id
    )
    wait_until(lambda: vpcs.fetch("x3", whoami) == eip["PublicIp"], 30)
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    wait_until(lambda: state() == "deleted", 60)
    assert vpcs.fetch("x3", whoami) is None
    ec2.delete_route(RouteTableId=vpcs.private_table, DestinationCidrBlock="0.0.0.0/0")
    ec2.release_address(AllocationId=eip["AllocationId"])


def test_acl_deny_blocks_what_the_group_allows_until_removed(vpcs: Vpcs) -> None:
    ec2, x3 = vpcs.ec2, vpcs.guests["x3"]
    url = f"http://{x3.ip}/"
    # x1 (public subnet) to x3 (private subnet): routed, so both ACLs apply; the group allows.
    assert x3.id in (vpcs.fetch("x1", url) or "")
    acl = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpcs.x]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=50, Protocol="6", RuleAction="deny", Egress=False,
        CidrBlock="10.0.1.0/24", PortRange={"From": 80, "To": 80},
    )  # fmt: skip
    wait_until(lambda: vpcs.fetch("x1", url) is None, 30)
    assert vpcs.run("x1", f"ping -c 1 -W 2 {x3.ip}").returncode == 0  # only tcp/80 is denied
    ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=50, Egress=False)
    wait_until(lambda: x3.id in (vpcs.fetch("x1", url) or ""), 30)


def test_dhcp_gives_the_subnet_address_and_metadata_the_instance_id(vpcs: Vpcs) -> None:
    for label, g in vpcs.guests.items():
        assert f"EUCA-NET {g.ip} " in console(vpcs.ec2, g.id), label
        shown = vpcs.run(label, "ip -4 -o addr show dev eth0").stdout
        assert f"{g.ip}/24" in shown, label
        base = "http://169.254.169.254/latest/meta-data"
        assert vpcs.fetch(label, f"{base}/instance-id") == g.id
        assert vpcs.fetch(label, f"{base}/local-ipv4") == g.ip


def test_restarted_node_agents_adopt_vpc_vms_as_they_are(cloud2: VmCloud, vpcs: Vpcs) -> None:
    before = qemu_pids(cloud2.data_dir)
    assert set(before) >= {g.id for g in vpcs.guests.values()}
    hosted = {node: 0 for node in cloud2.node_names()}
    for g in vpcs.guests.values():
        hosted[cloud2.node_of(g.id)] += 1
    for component, node in zip(("node", *cloud2.extra_nodes), cloud2.node_names(), strict=True):
        log = cloud2.data_dir / f"{component}.log"
        seen = log.read_text(errors="replace").count(" running VMs")
        cloud2.kill(component)  # SIGKILL: nothing cleaned up
        cloud2.start(component)
        adopted = f"adopting {hosted[node]} running VMs"

        def restarted(log: Path = log, seen: int = seen, adopted: str = adopted) -> bool:
            text = log.read_text(errors="replace")
            return text.count(" running VMs") > seen and adopted in text

        wait_until(restarted, 60)
    # The new agents' loops run meanwhile (heal every 2 s): nothing may be started again.
    x1, x2 = vpcs.guests["x1"], vpcs.guests["x2"]
    for _ in range(3):
        wait_until(lambda: x1.id in (curl(vpcs.outside, f"http://{x1.public_ip}/") or ""), 30)
        assert x2.id in (vpcs.fetch("x1", f"http://{x2.ip}/") or "")
    assert qemu_pids(cloud2.data_dir) == before
    assert all_in(vpcs.ec2, [g.id for g in vpcs.guests.values()], "running")
