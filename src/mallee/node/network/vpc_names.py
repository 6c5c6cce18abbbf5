"""Names, numbers and addresses of the VPC data path, derived from ids so every node computes
the same ones (see docs/architecture.md, "VPC", the data path).

A VPC's VNI is a block of 4096 (services.ec2.vpc_rows.new_vni): its subnet whose first address
lies k /28s past the VPC's first has VNI vni + k. Subnets of a VPC never overlap, so k is
unique in the VPC, and a VPC is at most a /16, so k < 4096: no column, no allocation, and the
same on every node. k also names the subnet's devices and routing table in the namespace.
"""

from __future__ import annotations

import hashlib
import ipaddress

from mallee.node.network.names import check_cloud_id

VNI_BLOCK = 1 << 12
# Policy routing: subnet k's table and the preference of its `from <subnet>` rule.
TABLE_BASE = 10000
# The VPC namespace's end of its internet gateway (a veth to the node namespace), and the
# link addresses of such a pair: the same in every pair, since every route names its device.
IGW_DEVICE = "igw0"
LINK_NODE = "169.254.255.1"
LINK_INNER = "169.254.255.2"
METADATA_ADDRESS = "169.254.169.254"
VXLAN_PORT = 4789
# A subnet's frames cross nodes in VXLAN over a 1500-byte underlay: 50 bytes go to the headers,
# so guests are told this MTU (virtio-net host_mtu), as AWS tells its guests theirs by DHCP.
GUEST_MTU = 1450


def vpc_netns(cloud_id: str, node_name: str, vni: int) -> str:
    """The VPC's namespace on a node: "mallee-vpc-" is no node namespace's prefix
    (names.netns_for puts the 8-hex cloud id there), the cloud id keeps clouds apart and the
    node's digest the nodes of one cloud on one host (test clouds)."""
    return f"{vpc_prefix(cloud_id, node_name)}{check_vni(vni):06x}"


def nat_netns(cloud_id: str, node_name: str, nat_id: str) -> str:
    return f"{nat_prefix(cloud_id, node_name)}{_digest('nat', nat_id, 12)}"


def vpc_prefix(cloud_id: str, node_name: str) -> str:
    """What this node's VPC namespaces' names, and no others', start with."""
    return f"mallee-vpc-{check_cloud_id(cloud_id)}-{_digest('node', node_name, 8)}-"


def nat_prefix(cloud_id: str, node_name: str) -> str:
    return f"mallee-nat-{check_cloud_id(cloud_id)}-{_digest('node', node_name, 8)}-"


def check_vni(vni: int) -> int:
    if not 0 < vni < 1 << 24 or vni % VNI_BLOCK:
        raise ValueError(f"not a VPC VNI (a non-zero multiple of {VNI_BLOCK} in 24 bits): {vni}")
    return vni


def subnet_index(vpc_cidr: str, subnet_cidr: str) -> int:
    """k: how many /28s the subnet's first address lies past the VPC's."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    subnet = ipaddress.IPv4Network(subnet_cidr)
    if not subnet.subnet_of(vpc) or vpc.prefixlen < 16:
        raise ValueError(f"{subnet_cidr} is not a subnet of the VPC block {vpc_cidr}")
    return (int(subnet.network_address) - int(vpc.network_address)) >> 4


def subnet_vni(vpc_vni: int, index: int) -> int:
    return check_vni(vpc_vni) + index


def bridge_name(index: int) -> str:
    return f"br-{index:03x}"


def vxlan_name(vni: int) -> str:
    """Unique in the node namespace too, where the device is made before it is moved."""
    return f"vx{vni:06x}"


def table_of(index: int) -> int:
    return TABLE_BASE + index


def router_ip(subnet_cidr: str) -> str:
    """The VPC router's address in a subnet: its first host (AWS reserves it for this)."""
    return str(ipaddress.IPv4Network(subnet_cidr).network_address + 1)


def router_mac(vni: int) -> str:
    """The same on every node (the router is distributed) and per subnet: guests' ARP caches
    stay right wherever the namespace answering them is."""
    return "02:" + ":".join(_digest("router", str(vni), 10)[i : i + 2] for i in range(0, 10, 2))


def nat_mac(nat_id: str) -> str:
    return "02:" + ":".join(_digest("natmac", nat_id, 10)[i : i + 2] for i in range(0, 10, 2))


def igw_peer(vni: int) -> str:
    """The node namespace's end of a VPC's internet gateway veth."""
    return f"vg{vni >> 12:03x}"


def nat_peer(nat_id: str) -> str:
    """The node namespace's end of a NAT gateway's public veth."""
    return "vn" + _digest("natpub", nat_id, 10)


def nat_leg(nat_id: str) -> str:
    """The VPC namespace's end of a NAT gateway's veth on its subnet's bridge."""
    return "vl" + _digest("natleg", nat_id, 10)


def _digest(kind: str, value: str, size: int) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:size]
