"""The VPC data path in real namespaces: two nodes on one public network, guests as namespaces
whose veth is the instance's tap on its subnet's bridge (as test_network_dataplane.py does),
desired state written as the api would (rows + network generation), and each node's
VpcReconciler applying it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.commands import in_netns, run
from mallee.ids import new_id
from mallee.node.network import DataPlane
from mallee.node.network.edge import EdgeReconciler
from mallee.node.network.links import delete_netns
from mallee.node.network.names import public_netns_for, tap_for
from mallee.node.network.vpc_edge import VpcReconciler
from mallee.node.network.vpc_names import bridge_name, subnet_index, vpc_netns
from mallee.node.network.vpc_servers import VpcServers
from mallee.placement.macs import mac_for
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.network import (
    Ec2Address,
    Ec2InstanceGroup,
    Ec2SecurityGroup,
    Ec2SecurityGroupRule,
    bump_network,
)
from mallee.store.tables.vpc import (
    Ec2InternetGateway,
    Ec2NatGateway,
    Ec2NetworkAcl,
    Ec2NetworkAclAssociation,
    Ec2NetworkAclEntry,
    Ec2Route,
    Ec2RouteTable,
    Ec2RouteTableAssociation,
    Ec2Subnet,
    Ec2Vpc,
)
from tests.vm.test_network_dataplane import UDHCPC_SCRIPT, add_instance, unique

pytestmark = pytest.mark.vm

CLOUD = uuid.uuid4().hex[:8]
NOW = dt.datetime.now(dt.UTC)
# A server in the public namespace answering with the address it sees the client as.
WHOAMI = (
    "import http.server as h\n"
    "class H(h.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        b = self.client_address[0].encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
    "        self.end_headers(); self.wfile.write(b)\n"
    "h.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"
)


@dataclass
class Cloud:
    store: Store
    account: str
    public_netns: str
    vpcs: dict[str, VpcReconciler]  # node -> its reconciler
    public_ips: dict[str, str]
    guests: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def converge(self) -> None:
        for reconciler in self.vpcs.values():
            reconciler.reconcile()

    def write(self, *rows: object) -> None:
        with self.store.session() as s:
            for row in rows:
                s.merge(row)
            bump_network(s)

    def vpc(self, cidr: str) -> tuple[str, str, str]:
        """A VPC (vni, main table, default ACL allowing all, a group allowing all)."""
        vid, table, acl, gid = new_id("vpc"), new_id("rtb"), new_id("acl"), new_id("sg")
        with self.store.session() as s:
            vnis = {v for v in s.query(Ec2Vpc.vni).all()}
            vni = next((k << 12) for k in range(1, 4096) if ((k << 12),) not in vnis)
            s.add(Ec2Vpc(id=vid, account_id=self.account, cidr=cidr, dhcp_options_id="default",
                         vni=vni, created_at=NOW))  # fmt: skip
            s.flush()
            s.add(Ec2RouteTable(id=table, vpc_id=vid, account_id=self.account, is_main=True,
                                created_at=NOW))  # fmt: skip
            s.add(Ec2NetworkAcl(id=acl, vpc_id=vid, account_id=self.account, is_default=True,
                                created_at=NOW))  # fmt: skip
            s.add(Ec2SecurityGroup(id=gid, account_id=self.account, vpc_id=vid, name="default",
                                   description="d", created_at=NOW))  # fmt: skip
            s.flush()
            s.add(Ec2Route(table_id=table, destination=cidr, target_kind="local",
                           target_id="local", origin="CreateRouteTable"))  # fmt: skip
            s.add(Ec2RouteTableAssociation(id=new_id("rtbassoc"), table_id=table, main=True))
            for egress in (False, True):
                s.add(
                    Ec2NetworkAclEntry(
                        acl_id=acl,
                        egress=egress,
                        rule_number=100,
                        protocol="-1",
                        rule_action="allow",
                        cidr="0.0.0.0/0",
                    )
                )
                s.add(
                    Ec2NetworkAclEntry(
                        acl_id=acl,
                        egress=egress,
                        rule_number=32767,
                        protocol="-1",
                        rule_action="deny",
                        cidr="0.0.0.0/0",
                    )
                )
            for egress in (False, True):
                s.add(Ec2SecurityGroupRule(id=new_id("sgr"), group_id=gid, egress=egress,
                                           protocol="-1", cidr="0.0.0.0/0"))  # fmt: skip
            bump_network(s)
        return vid, acl, gid

    def subnet(self, vid: str, cidr: str, acl: str) -> str:
        sid = new_id("subnet")
        with self.store.session() as s:
            s.add(Ec2Subnet(id=sid, vpc_id=vid, account_id=self.account, zone="one", cidr=cidr,
                            created_at=NOW))  # fmt: skip
            s.flush()
            s.add(Ec2NetworkAclAssociation(id=new_id("aclassoc"), acl_id=acl, subnet_id=sid))
            bump_network(s)
        return sid

    def table_for(self, vid: str, sid: str) -> str:
        """A table of the subnet's own (the local route), associated with it."""
        table = new_id("rtb")
        with self.store.session() as s:
            cidr = s.get(Ec2Vpc, vid).cidr  # type: ignore[union-attr]
            s.add(Ec2RouteTable(id=table, vpc_id=vid, account_id=self.account, created_at=NOW))
            s.flush()
            s.add(Ec2Route(table_id=table, destination=cidr, target_kind="local",
                           target_id="local", origin="CreateRouteTable"))  # fmt: skip
            s.add(Ec2RouteTableAssociation(id=new_id("rtbassoc"), table_id=table, subnet_id=sid))
            bump_network(s)
        return table

    def route(self, table: str, dest: str, kind: str, target: str) -> None:
        self.write(Ec2Route(table_id=table, destination=dest, target_kind=kind,
                            target_id=target, origin="CreateRoute"))  # fmt: skip

    def guest(self, node: str, vid: str, sid: str, ip: str, gid: str) -> tuple[str, str]:
        """An instance row and its guest namespace; returns (instance id, guest namespace)."""
        iid = add_instance(self.store, node, ip, vpc_id=vid, subnet_id=sid).id
        with self.store.session() as s:
            s.add(Ec2InstanceGroup(instance_id=iid, group_id=gid, position=0))
            bump_network(s)
        self.converge()
        with self.store.read() as s:
            vpc = s.get(Ec2Vpc, vid)
            sub = s.get(Ec2Subnet, sid)
            assert vpc is not None and sub is not None and vpc.vni is not None
            ns = vpc_netns(CLOUD, node, vpc.vni)
            bridge = bridge_name(subnet_index(vpc.cidr, sub.cidr))
        guest = unique("mv-")
        self.guests.append(guest)
        run(["ip", "netns", "add", guest])
        run(["ip", "link", "add", "name", tap_for(iid), "netns", ns, "type", "veth",
             "peer", "name", "eth0", "netns", guest])  # fmt: skip
        run(in_netns(ns, ["ip", "link", "set", tap_for(iid), "master", bridge, "up"]))
        for argv in (["ip", "link", "set", "lo", "up"],
                     ["ip", "link", "set", "eth0", "address", mac_for(iid)],
                     ["ip", "link", "set", "eth0", "mtu", "1450"],
                     ["ip", "link", "set", "eth0", "up"]):  # fmt: skip
            run(in_netns(guest, argv))
        return iid, guest

    def address(self, guest: str, cidr: str) -> None:
        gateway = str(ipaddress.IPv4Network(cidr, strict=False).network_address + 1)
        run(in_netns(guest, ["ip", "addr", "add", cidr, "dev", "eth0"]))
        run(in_netns(guest, ["ip", "route", "replace", "default", "via", gateway]))

    def serve(self, netns: str, text: str, tmp: Path) -> None:
        root = tmp / unique("www")
        root.mkdir()
        (root / "index.html").write_text(text)
        argv = ["busybox", "httpd", "-f", "-p", "80", "-h", str(root)]
        self.procs.append(subprocess.Popen(in_netns(netns, argv)))
        time.sleep(0.2)

    def associate(self, public_ip: str, iid: str) -> None:
        self.write(Ec2Address(public_ip=public_ip, allocation_id=new_id("eipalloc"),
                              account_id=self.account, instance_id=iid, domain="vpc",
                              allocated_at=NOW))  # fmt: skip


def get(netns: str, url: str) -> str | None:
    proc = run(in_netns(netns, ["curl", "-s", "-m", "3", url]), check=False)
    return proc.stdout if proc.returncode == 0 else None


@pytest.fixture
def cloud(tmp_path: Path, store: Store) -> Iterator[Cloud]:
    ensure_system_account(store)
    planes, vpcs, ips = [], {}, {}
    host = random.sample(range(200, 250), 2)
    try:
        for n, octet in enumerate(host):
            node = unique(f"vn{n}-")
            ips[node] = f"203.0.113.{octet}"
            plane = DataPlane(cloud_id=CLOUD, node_name=node, subnet=f"10.79.{n + 1}.0/24",
                              data_dir=tmp_path / node, db_url=store.url)  # fmt: skip
            plane.ensure()
            planes.append(plane)
            EdgeReconciler(store, node_name=node, netns=plane.netns,
                           public_netns=public_netns_for(CLOUD), subnet=f"10.79.{n + 1}.0/24",
                           public_ip=ips[node]).setup()  # fmt: skip
            with store.session() as s:
                s.add(NodeRow(name=node, zone="one", hypervisor="tcg", cores=1, memory_mb=1,
                              disk_gb=1, subnet=f"10.79.{n + 1}.0/24", public_ip=ips[node],
                              netns=plane.netns, reported_at=time.time()))  # fmt: skip
            servers = VpcServers(tmp_path / node / "vpc", node_name=node, db_url=store.url,
                                 region="eucalyptus")  # fmt: skip
            vpcs[node] = VpcReconciler(store, cloud_id=CLOUD, node_name=node,
                                       netns=plane.netns, public_ip=ips[node],
                                       servers=servers)  # fmt: skip
        made = Cloud(store, system_account_id(store), public_netns_for(CLOUD), vpcs, ips)
        yield made
    finally:
        if "made" in locals():
            for p in made.procs:
                p.kill()
                p.wait()
            for g in made.guests:
                delete_netns(g)
        for r in vpcs.values():
            r.teardown()
        for plane in planes:
            plane.teardown()
        delete_netns(public_netns_for(CLOUD))


def test_subnet_spans_nodes_and_same_cidr_vpcs_stay_apart(cloud: Cloud, tmp_path: Path) -> None:
    n1, n2 = list(cloud.vpcs)
    x, x_acl, x_sg = cloud.vpc("10.0.0.0/16")
    y, y_acl, y_sg = cloud.vpc("10.0.0.0/16")
    xs, ys = cloud.subnet(x, "10.0.1.0/24", x_acl), cloud.subnet(y, "10.0.1.0/24", y_acl)
    a, ga = cloud.guest(n1, x, xs, "10.0.1.10", x_sg)
    b, gb = cloud.guest(n2, x, xs, "10.0.1.11", x_sg)
    c, gc = cloud.guest(n2, y, ys, "10.0.1.11", y_sg)
    d, gd = cloud.guest(n1, y, ys, "10.0.1.10", y_sg)
    for guest, ip in ((ga, "10.0.1.10"), (gb, "10.0.1.11"), (gc, "10.0.1.11"), (gd, "10.0.1.10")):
        cloud.address(guest, f"{ip}/24")
    cloud.serve(gb, b, tmp_path)
    cloud.serve(gc, c, tmp_path)
    cloud.converge()
    # Same subnet, two nodes: over VXLAN; the same address in the other VPC is another guest.
    assert get(ga, "http://10.0.1.11/") == b
    assert get(gd, "http://10.0.1.11/") == c
    ping = ["busybox", "ping", "-c", "1", "-W", "2", "10.0.1.1"]
    assert run(in_netns(ga, ping), check=False).returncode == 0  # its node's router
    assert a and d
    # The VXLAN port takes only the other node: a host on the public network is dropped.
    node = cloud.vpcs[n1].netns
    send = "import socket, sys; socket.socket(2, 2).sendto(b'x' * 16, (sys.argv[1], 4789))"
    argv = [sys.executable, "-c", send, cloud.public_ips[n1]]
    run(in_netns(cloud.public_netns, argv))
    listing = run(in_netns(node, ["iptables", "-w", "-nvxL", "MV_VXIN"])).stdout.splitlines()
    assert any(cloud.public_ips[n2] in line and "RETURN" in line for line in listing)
    assert int(listing[-1].split()[0]) >= 1 and "DROP" in listing[-1]  # the packets counter
    assert get(ga, "http://10.0.1.11/") == b  # and the peer still gets through


def test_acl_deny_blocks_what_a_group_allows(cloud: Cloud, tmp_path: Path) -> None:
    n1, n2 = list(cloud.vpcs)
    vid, acl, sg = cloud.vpc("10.5.0.0/16")
    one, two = cloud.subnet(vid, "10.5.1.0/24", acl), cloud.subnet(vid, "10.5.2.0/24", acl)
    _, client = cloud.guest(n1, vid, one, "10.5.1.10", sg)
    server, web = cloud.guest(n2, vid, two, "10.5.2.10", sg)
    cloud.address(client, "10.5.1.10/24")
    cloud.address(web, "10.5.2.10/24")
    cloud.serve(web, server, tmp_path)
    cloud.converge()
    assert get(client, "http://10.5.2.10/") == server  # routed across subnets and nodes
    deny = Ec2NetworkAclEntry(
        acl_id=acl,
        egress=False,
        rule_number=50,
        protocol="6",
        rule_action="deny",
        cidr="10.5.1.0/24",
        port_from=80,
        port_to=80,
    )
    cloud.write(deny)
    cloud.converge()
    assert get(client, "http://10.5.2.10/") is None
    with cloud.store.session() as s:
        s.delete(s.get(Ec2NetworkAclEntry, (acl, False, 50)))
        bump_network(s)
    cloud.converge()
    assert get(client, "http://10.5.2.10/") == server


def test_public_ip_only_with_a_gateway_route_and_nat_for_private(
    cloud: Cloud, tmp_path: Path
) -> None:
    n1, n2 = list(cloud.vpcs)
    vid, acl, sg = cloud.vpc("10.6.0.0/16")
    public, private = cloud.subnet(vid, "10.6.1.0/24", acl), cloud.subnet(vid, "10.6.2.0/24", acl)
    igw = new_id("igw")
    cloud.write(Ec2InternetGateway(id=igw, account_id=cloud.account, vpc_id=vid, created_at=NOW))
    public_table, private_table = cloud.table_for(vid, public), cloud.table_for(vid, private)
    web, gweb = cloud.guest(n1, vid, public, "10.6.1.10", sg)
    _, gpriv = cloud.guest(n2, vid, private, "10.6.2.10", sg)
    cloud.address(gweb, "10.6.1.10/24")
    cloud.address(gpriv, "10.6.2.10/24")
    cloud.serve(gweb, web, tmp_path)
    eip = f"203.0.113.{random.randint(150, 199)}"
    cloud.associate(eip, web)
    cloud.converge()
    assert get(cloud.public_netns, f"http://{eip}/") is None  # no route to the gateway
    cloud.route(public_table, "0.0.0.0/0", "gateway", igw)
    cloud.converge()
    assert get(cloud.public_netns, f"http://{eip}/") == web

    nat_eip = f"203.0.113.{random.randint(100, 149)}"
    nat = new_id("nat")
    cloud.write(Ec2NatGateway(id=nat, account_id=cloud.account, vpc_id=vid, subnet_id=public,
                              allocation_id=new_id("eipalloc"), public_ip=nat_eip,
                              private_ip="10.6.1.5", network_interface_id=new_id("eni"),
                              created_at=NOW))  # fmt: skip
    gateway = str(ipaddress.IPv4Network("203.0.113.0/24").network_address + 1)
    whoami = f"http://{gateway}:8080/"
    cloud.procs.append(
        subprocess.Popen(in_netns(cloud.public_netns, [sys.executable, "-c", WHOAMI]))
    )
    time.sleep(0.5)
    cloud.converge()
    assert get(gpriv, whoami) is None  # a private subnet without a NAT route
    cloud.route(private_table, "0.0.0.0/0", "nat-gateway", nat)
    cloud.converge()
    assert get(gpriv, whoami) == nat_eip
    assert get(gweb, whoami) == eip


def test_dhcp_and_metadata_answer_each_vpc_its_own(cloud: Cloud, tmp_path: Path) -> None:
    n1, _ = list(cloud.vpcs)
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    seen = {}
    for _ in range(2):  # two VPCs with the same CIDR, a guest at the same address on one node
        vid, acl, sg = cloud.vpc("10.7.0.0/16")
        sid = cloud.subnet(vid, "10.7.1.0/24", acl)
        iid, guest = cloud.guest(n1, vid, sid, "10.7.1.10", sg)
        seen[iid] = guest
    cloud.converge()
    for iid, guest in seen.items():
        udhcpc = ["busybox", "udhcpc", "-i", "eth0", "-s", str(script), "-n", "-q"]
        run(in_netns(guest, [*udhcpc, "-t", "6", "-T", "1", "-A", "1"]), check=False)
        shown = run(in_netns(guest, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])).stdout
        assert "10.7.1.10/24" in shown
        url = "http://169.254.169.254/latest/meta-data/instance-id"
        assert get(guest, url) == iid


def test_restart_converges_and_a_vpc_leaving_the_node_is_torn_down(cloud: Cloud) -> None:
    n1, _ = list(cloud.vpcs)
    vid, acl, sg = cloud.vpc("10.8.0.0/16")
    sid = cloud.subnet(vid, "10.8.1.0/24", acl)
    iid, _ = cloud.guest(n1, vid, sid, "10.8.1.10", sg)
    first = cloud.vpcs[n1]
    (ns,) = first.applied
    rules = run(in_netns(ns, ["iptables", "-S"])).stdout
    assert not first.reconcile()  # nothing moved: nothing applied
    again = VpcReconciler(cloud.store, cloud_id=CLOUD, node_name=n1, netns=first.netns,
                          public_ip=first.public_ip, servers=first.servers)  # fmt: skip
    assert again.reconcile()
    assert run(in_netns(ns, ["iptables", "-S"])).stdout == rules
    run(in_netns(ns, ["iptables", "-F", "MV_FWD"]))  # drift: a flushed chain
    again.reconcile(force=True)
    assert run(in_netns(ns, ["iptables", "-S"])).stdout == rules
    with cloud.store.session() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        row.state = "terminated"
        bump_network(s)
    again.reconcile()
    assert not Path(f"/run/netns/{ns}").exists()
