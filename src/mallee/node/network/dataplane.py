"""One node's data plane: namespace, bridge, taps, DHCP, the metadata server and its redirect,
the DNS server.

Every step converges: it reads what exists and changes only what differs, so `ensure()` may be
repeated at any time, and after a crash it repairs what is missing and adopts the dnsmasq and
metadata server still running (pid file + command line + namespace) instead of starting a
second one. All state lives in the namespace itself (taps carry their instance id as alias)
and in `<data_dir>/dataplane/<node>/` (dnsmasq hosts and lease files, pid files, logs).
`heal()` checks the real state cheaply (a few /proc reads, one `ip` and two `iptables` runs)
and repairs what drifted, so the agent calls it every few seconds.

The namespace is named by the cloud and the node (names.netns_for): another cloud on the host
never meets it. Only one process may run it: the first to change anything holds a lock on
/run/mallee/<namespace>.lock (released when it exits, however it exits), and any other gets
DataPlaneBusyError instead of adopting (that is, killing) the holder's dnsmasq and metadata
server. Calls of the holder are serialised by a lock file in the state directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import re
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mallee.commands import run
from mallee.node.network import links, nat, procs
from mallee.node.network.dhcp import Dhcp, Host
from mallee.node.network.names import (
    bridge_mac,
    check_cloud_id,
    check_host_ip,
    check_instance_id,
    check_mac,
    host_bridge_for,
    legacy_netns_for,
    netns_for,
    public_netns_for,
    tap_for,
)
from mallee.node.network.node_servers import NodeServer

log = logging.getLogger(__name__)

METADATA_PORT = 8775
METADATA_MODULE = "mallee.cli.metadata"
DNS_MODULE = "mallee.node.network.dns_server"
# Who holds which namespace: one lock file each, in a tmpfs that forgets them at boot.
HOLDERS = Path("/run/mallee")


class DataPlaneBusyError(RuntimeError):
    """Another live process (another node agent) runs this data plane."""


@dataclass(frozen=True, slots=True)
class Nic:
    netns: str  # namespace QEMU must be started in ("" = the host's)
    tap: str  # -netdev tap,ifname=<tap>,script=no,downscript=no
    mac: str
    ip: str
    # The MTU the guest is told to use (virtio-net host_mtu); 0: the default 1500.
    mtu: int = 0


class DataPlane:
    def __init__(
        self,
        *,
        cloud_id: str,
        node_name: str,
        subnet: str,
        data_dir: Path,
        db_url: str,
        netns: str | None = None,
        region: str = "eucalyptus",
    ) -> None:
        network = ipaddress.ip_network(subnet, strict=False)
        if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen > 29:
            raise ValueError(f"node subnet must be IPv4 with room for hosts: {subnet}")
        self.cloud_id = check_cloud_id(cloud_id)
        self.node_name = node_name
        self.network = network
        self.region = region
        self.db_url = db_url
        self._netns = netns_for(cloud_id, node_name) if netns is None else netns
        # In its own namespace the bridge has the conventional name; in the host's it must
        # not meet anyone else's.
        self.bridge = "br0" if self._netns else host_bridge_for(cloud_id)
        self._holder: IO[str] | None = None
        self.run_dir = data_dir / "dataplane" / re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)
        self.dhcp = Dhcp(
            netns=self._netns,
            bridge=self.bridge,
            network=network,
            gateway=self.gateway,
            run_dir=self.run_dir,
        )
        self.servers = self._make_servers()

    @property
    def netns(self) -> str:
        return self._netns

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    # --- who runs it ---------------------------------------------------------------------

    def claim(self) -> None:
        """Hold this data plane for as long as this object lives (or until release()), or
        raise DataPlaneBusyError naming the live process that holds it."""
        if self._holder is not None:
            return
        HOLDERS.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            holder = open(self._holder_path, "a+", opener=_private)  # noqa: SIM115 - kept
            try:
                fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder.seek(0)
                who = holder.read().strip() or "another process"
                holder.close()
                raise DataPlaneBusyError(
                    f"the data plane {self.netns or 'in the host namespace'} is run by {who}; "
                    "not taking it over"
                ) from None
            # A holder tearing the data plane down removes the file: one opened before that
            # is a lock nobody else sees, so the file is opened again.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self._holder_path).st_ino == os.fstat(holder.fileno()).st_ino:
                    break
            holder.close()
        holder.seek(0)
        holder.truncate()
        holder.write(f"pid {os.getpid()} (state in {self.run_dir})\n")
        holder.flush()
        self._holder = holder

    @property
    def _holder_path(self) -> Path:
        # The host's namespace has room for one data plane (one metadata redirect chain).
        return HOLDERS / f"{self.netns or 'host-namespace'}.lock"

    def release(self) -> None:
        if self._holder is not None:
            self._holder.close()
            self._holder = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.claim()
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A fresh open file description per call: flock then excludes other threads too.
        with open(self.run_dir / "lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    # --- set-up and repair ------------------------------------------------------------------

    def ensure(self) -> None:
        with self._locked():
            self._ensure()

    def _ensure(self) -> None:
        if not links.exists(self.netns):
            self._adopt_legacy()
        if not links.exists(self.netns):
            # Servers still running belong to a namespace that was deleted: they serve no one.
            self._stop_servers()
        links.ensure_netns(self.netns)
        cidr = f"{self.gateway}/{self.network.prefixlen}"
        links.ensure_bridge(self.netns, self.bridge, bridge_mac(self.node_name), cidr)
        self.dhcp.ensure()
        for server in self.servers:
            server.ensure(self.db_url)
        nat.ensure_metadata_redirect(self.netns, self.bridge, self.gateway, METADATA_PORT)

    def _adopt_legacy(self) -> None:
        """A namespace an older mallee made for this node ("mallee-<node>", one per host) is
        renamed to ours, its VMs' taps and servers left running, when its dnsmasq is the one
        our own state directory names; one of another cloud's is never touched."""
        legacy = legacy_netns_for(self.node_name)
        if not self.netns or legacy == self.netns or not links.exists(legacy):
            return
        pid = procs.alive(self.dhcp.pid_file, str(self.dhcp.hosts_file))
        if pid is None or procs.netns_of(pid) != procs.netns_inode(legacy):
            return
        log.warning("namespace %s of an older mallee is this node's: renamed %s", legacy,
                    self.netns)  # fmt: skip
        links.rename_netns(legacy, self.netns)

    def heal(self, running: Collection[str]) -> set[str]:
        """Check the real data plane and repair what drifted: the namespace, the bridge, the
        taps of `running` (instances whose VMs run here), dnsmasq, the metadata server and
        its redirect. Returns the instances of `running` whose tap is gone: their VMs hold a
        dead port that no new tap can replace, and must be started again."""
        with self._locked():
            if not links.exists(self.netns):
                log.warning("namespace %s is gone: building it again", self.netns or "-")
                self._ensure()
                return set(running)
            repaired = []
            found = links.interfaces(self.netns)
            bridge = found.get(self.bridge, {})
            cidr = f"{self.gateway}/{self.network.prefixlen}"
            if (
                "UP" not in bridge.get("flags", ())
                or bridge.get("address") != bridge_mac(self.node_name)
                or links.inet_addresses(bridge) != {cidr}
            ):
                repaired.append(f"bridge {self.bridge}")
                links.ensure_bridge(self.netns, self.bridge, bridge_mac(self.node_name), cidr)
            # After the bridge: dnsmasq binds to it.
            repaired += self._heal_servers()
            lost = set()
            for instance_id in running:
                tap = found.get(tap_for(instance_id))
                if tap is None:
                    lost.add(instance_id)
                elif tap.get("master") != self.bridge or "UP" not in tap.get("flags", ()):
                    repaired.append(f"tap of {instance_id}")
                    links.ensure_tap(self.netns, tap_for(instance_id), self.bridge, instance_id)
            if nat.ensure_metadata_redirect(self.netns, self.bridge, self.gateway, METADATA_PORT):
                repaired.append("metadata redirect")
            if repaired or lost:
                log.warning("data plane %s drifted: repaired %s; taps lost by %s",
                            self.netns or self.bridge, ", ".join(repaired) or "nothing",
                            ", ".join(sorted(lost)) or "no VM")  # fmt: skip
            return lost

    def _heal_servers(self) -> list[str]:
        """dnsmasq and the metadata server started again if they died; what was."""
        repaired = []
        if not self.dhcp.pid():
            repaired.append("dnsmasq")
            self.dhcp.ensure()
        for server in self.servers:
            if not server.pid():
                repaired.append(server.label)
                server.ensure(self.db_url)
        return repaired

    def _heal(self) -> None:
        """Cheap checks before plugging: restart what died since the last ensure()."""
        if not links.exists(self.netns):
            self._ensure()
            return
        self._heal_servers()

    def plug(self, instance_id: str, mac: str, ip: str) -> Nic:
        check_instance_id(instance_id)
        mac = check_mac(mac.lower())
        ip = check_host_ip(ip, self.network, self.gateway)
        tap = tap_for(instance_id)
        with self._locked():
            self._heal()
            links.ensure_tap(self.netns, tap, self.bridge, instance_id)
            self.dhcp.set_host(Host(mac, ip, instance_id))
        return Nic(self.netns, tap, mac, ip)

    def unplug(self, instance_id: str) -> None:
        check_instance_id(instance_id)
        with self._locked():
            if links.exists(self.netns):
                links.delete_tap(self.netns, tap_for(instance_id))
            self.dhcp.remove_host(instance_id)

    def plugged(self) -> set[str]:
        """Instances with a tap or a DHCP entry here (either may survive an agent crash)."""
        found = {h.owner for h in self.dhcp.hosts()}
        if links.exists(self.netns):
            for tap, owner in links.taps(self.netns).items():
                with contextlib.suppress(ValueError):
                    if tap == tap_for(owner):
                        found.add(owner)
        return found

    def teardown(self) -> None:
        """Stop dnsmasq and the metadata server and remove the namespace and state files."""
        with self._locked():
            self._stop_servers()
            if self.netns:
                links.delete_netns(self.netns)
            else:
                self._teardown_host()
            self.dhcp.forget()
            self._holder_path.unlink(missing_ok=True)
        self.release()

    def _teardown_host(self) -> None:
        nat.remove_metadata_redirect("")
        found = links.interfaces("")
        for tap, owner in links.taps("").items():
            with contextlib.suppress(ValueError):
                if tap == tap_for(owner) and found.get(tap, {}).get("master") == self.bridge:
                    links.delete_tap("", tap)
        run(["ip", "link", "del", "dev", self.bridge], check=False)

    def _stop_servers(self) -> None:
        for server in self.servers:
            server.stop()
        self.dhcp.stop()

    def _metadata_argv(self) -> list[str]:
        return [
            sys.executable, "-m", METADATA_MODULE,
            "--node", self.node_name, "--region", self.region,
            "--netns", self.netns, "--listen", self.gateway, "--port", str(METADATA_PORT),
            "--pidfile", str(self.run_dir / "metadata.pid"),
            "--log", str(self.run_dir / "metadata.log"),
        ]  # fmt: skip

    def _dns_argv(self) -> list[str]:
        return [
            sys.executable, "-m", DNS_MODULE,
            "--node", self.node_name, "--region", self.region,
            "--netns", self.netns, "--listen", self.gateway,
            "--public-netns", public_netns_for(self.cloud_id),
            "--pidfile", str(self.run_dir / "dns.pid"), "--log", str(self.run_dir / "dns.log"),
        ]  # fmt: skip

    def _make_servers(self) -> list[NodeServer]:
        metadata = NodeServer(
            f"metadata server for {self.node_name}",
            METADATA_MODULE,
            self._metadata_argv(),
            self.run_dir / "metadata.pid",
            self.run_dir / "metadata.log",
            self.netns,
        )
        if not self.netns:
            # In the host's namespace the gateway would be the host's: no DNS served there.
            return [metadata]
        dns = NodeServer(
            f"DNS server for {self.node_name}",
            DNS_MODULE,
            self._dns_argv(),
            self.run_dir / "dns.pid",
            self.run_dir / "dns.log",
            self.netns,
        )
        return [metadata, dns]


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
