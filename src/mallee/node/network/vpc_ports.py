"""Instances' ports in users' own VPCs: a tap in the VPC's namespace on this node, on its
subnet's bridge (docs/architecture.md, "VPC", what step 3b uses).

The VPC reconciler (vpc_edge) builds the namespace and its bridges once it has seen the
placement; until then a launch waits (PortNotReady, as for volumes), costing nothing. The tap
is opened inside the namespace rather than moved there, so its life is the namespace's: a
namespace rebuilt from scratch has lost its taps, and `heal` reports their VMs so the agent
starts them again on fresh ones. DHCP (vpc_servers) and filtering (vpc_rules) come from the
rows, not from here: a port is only a tap, named and aliased as EDGE's are (names.tap_for).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from mallee.commands import CommandError
from mallee.node.boot_disks import NotReady
from mallee.node.hypervisor.base import LaunchError
from mallee.node.network import links
from mallee.node.network.dataplane import Nic
from mallee.node.network.names import check_cloud_id, check_mac, tap_for
from mallee.node.network.vpc_names import (
    GUEST_MTU,
    bridge_name,
    subnet_index,
    vpc_netns,
    vpc_prefix,
)
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.vpc import Ec2Subnet, Ec2Vpc

log = logging.getLogger(__name__)


class PortNotReady(NotReady):
    """The instance's VPC namespace or subnet bridge is not built on this node yet: the VPC
    reconciler builds it within a pass of the placement, and the launch is tried again."""


@dataclass(frozen=True, slots=True)
class VpcPort:
    instance_id: str
    netns: str  # the VPC's namespace on this node
    bridge: str  # its subnet's bridge there

    @property
    def tap(self) -> str:
        return tap_for(self.instance_id)


class VpcPorts:
    def __init__(self, store: Store, *, cloud_id: str, node_name: str) -> None:
        self.store = store
        self.cloud_id = check_cloud_id(cloud_id)
        self.node_name = node_name

    # --- which instances are in a user VPC ---------------------------------------------------

    def ports(self, instance_id: str | None = None) -> dict[str, VpcPort]:
        """This node's instances (or the one named) that are in a user VPC, with where their
        port goes; the default VPC's, EDGE's, are not in it. One indexed read."""
        i = Ec2Instance
        query = (
            select(i.id, Ec2Vpc.vni, Ec2Vpc.cidr, Ec2Subnet.cidr)
            .join(Ec2Vpc, Ec2Vpc.id == i.vpc_id)
            .join(Ec2Subnet, Ec2Subnet.id == i.subnet_id)
            .where(
                i.node == self.node_name,
                i.state != "terminated",
                Ec2Vpc.is_default.is_(False),
                Ec2Vpc.vni.is_not(None),
            )
        )
        if instance_id is not None:
            query = query.where(i.id == instance_id)
        with self.store.read() as s:
            rows = s.execute(query).all()
        return {str(row[0]): self._port(*row) for row in rows}

    def _port(self, instance_id: str, vni: int | None, vpc_cidr: str, subnet_cidr: str) -> VpcPort:
        try:
            netns = vpc_netns(self.cloud_id, self.node_name, int(vni or 0))
            bridge = bridge_name(subnet_index(str(vpc_cidr), str(subnet_cidr)))
        except ValueError:
            # A VNI that is no block (a VPC made before blocks were allocated): vpc_desired
            # gives it no data path, so its instances have nowhere to be plugged.
            return VpcPort(str(instance_id), "", "")
        return VpcPort(str(instance_id), netns, bridge)

    def port(self, instance_id: str) -> VpcPort | None:
        return self.ports(instance_id).get(instance_id)

    # --- taps --------------------------------------------------------------------------------

    def plug(self, port: VpcPort, mac: str, ip: str) -> Nic:
        mac = check_mac(mac.lower())
        if not port.netns:
            raise LaunchError(f"the VPC of {port.instance_id} has no data path (no VNI block)")
        if not links.exists(port.netns):
            raise PortNotReady(f"VPC namespace {port.netns} is not built yet")
        if port.bridge not in links.interfaces(port.netns):
            raise PortNotReady(f"bridge {port.bridge} of {port.netns} is not built yet")
        links.ensure_tap(port.netns, port.tap, port.bridge, port.instance_id)
        return Nic(port.netns, port.tap, mac, ip, GUEST_MTU)

    def unplug(self, instance_id: str) -> None:
        """Its tap deleted in whichever of this node's VPC namespaces holds it: the row may
        be gone, or name another VPC than the one the tap was made in."""
        tap = tap_for(instance_id)
        for ns in self._namespaces():
            with contextlib.suppress(CommandError):  # a namespace deleted meanwhile
                links.delete_tap(ns, tap)

    def plugged(self) -> set[str]:
        """Instances with a tap in one of this node's VPC namespaces."""
        found = set()
        for ns in self._namespaces():
            with contextlib.suppress(CommandError):
                for tap, owner in links.taps(ns).items():
                    with contextlib.suppress(ValueError):
                        if tap == tap_for(owner):
                            found.add(owner)
        return found

    def heal(self, running: Mapping[str, VpcPort]) -> set[str]:
        """The running VMs whose tap is gone from their VPC namespace (rebuilt, or the tap
        deleted): they hold a dead port and must start again. A namespace or bridge that is
        not there yet is the reconciler's to build first: its VMs are reported once it is,
        so they start again on a port that can be made."""
        by_ns: dict[str, list[VpcPort]] = defaultdict(list)
        for port in running.values():
            if port.netns:
                by_ns[port.netns].append(port)
        lost = set()
        for ns, ports in sorted(by_ns.items()):
            if not links.exists(ns):
                continue
            try:
                found = links.interfaces(ns)
            except CommandError:
                continue  # deleted meanwhile
            for port in ports:
                if port.bridge not in found:
                    continue
                tap = found.get(port.tap)
                if tap is None:
                    lost.add(port.instance_id)
                elif tap.get("master") != port.bridge or "UP" not in tap.get("flags", ()):
                    log.warning("tap of %s in %s drifted: repaired", port.instance_id, ns)
                    links.ensure_tap(ns, port.tap, port.bridge, port.instance_id)
        return lost

    def _namespaces(self) -> list[str]:
        return links.namespaces(vpc_prefix(self.cloud_id, self.node_name))
