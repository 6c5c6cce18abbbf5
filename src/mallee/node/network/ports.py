"""The node agent's NIC plane: each instance's port where its network is.

An instance of the default VPC (EDGE) gets a tap on the node's bridge and a DHCP entry in the
node's dnsmasq (dataplane.DataPlane); one of a user VPC gets a tap on its subnet's bridge in
the VPC's namespace (vpc_ports.VpcPorts), its DHCP and filtering coming from the rows. The
agent asks one plane and never needs to know which: QEMU runs in whichever namespace the
returned Nic names.
"""

from __future__ import annotations

from collections.abc import Collection

from mallee.node.network.dataplane import DataPlane, Nic
from mallee.node.network.vpc_ports import VpcPorts


class Ports:
    def __init__(self, edge: DataPlane, vpc: VpcPorts) -> None:
        self.edge = edge
        self.vpc = vpc

    @property
    def netns(self) -> str:
        """The node's namespace (EDGE's), what the node reports."""
        return self.edge.netns

    def heal(self, running: Collection[str]) -> set[str]:
        """Repairs both planes; the running VMs whose tap is gone, each checked where its
        tap belongs (a user VPC's instance has none in the node's namespace)."""
        in_vpcs = self.vpc.ports()
        lost = self.edge.heal([i for i in running if i not in in_vpcs])
        return lost | self.vpc.heal({i: in_vpcs[i] for i in running if i in in_vpcs})

    def plug(self, instance_id: str, mac: str, ip: str) -> Nic:
        port = self.vpc.port(instance_id)
        if port is None:
            return self.edge.plug(instance_id, mac, ip)
        return self.vpc.plug(port, mac, ip)

    def unplug(self, instance_id: str) -> None:
        """Wherever its port is: its row may have changed or gone since it was plugged."""
        self.edge.unplug(instance_id)
        self.vpc.unplug(instance_id)

    def plugged(self) -> set[str]:
        return self.edge.plugged() | self.vpc.plugged()
