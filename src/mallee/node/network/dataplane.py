"""One node's data plane: namespace, bridge, taps, DHCP, metadata server and its redirect.

Every step converges: it reads what exists and changes only what differs, so `ensure()` may be
repeated at any time, and after a crash it repairs what is missing and adopts the dnsmasq and
metadata server still running (pid file + command line + namespace) instead of starting a
second one. All state lives in the namespace itself (taps carry their instance id as alias)
and in `<data_dir>/dataplane/<node>/` (dnsmasq hosts and lease files, pid files, logs).

Calls are serialised by a lock file there, across threads and processes alike.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mallee.node.host import run
from mallee.node.network import links, nat, procs
from mallee.node.network.dhcp import Dhcp, Host
from mallee.node.network.names import (
    bridge_mac,
    check_host_ip,
    check_instance_id,
    check_mac,
    netns_for,
    tap_for,
)

log = logging.getLogger(__name__)

METADATA_PORT = 8775
METADATA_MODULE = "mallee.node.network.metadata"
START_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class Nic:
    netns: str  # namespace QEMU must be started in ("" = the host's)
    tap: str  # -netdev tap,ifname=<tap>,script=no,downscript=no
    mac: str
    ip: str


class DataPlane:
    def __init__(
        self,
        *,
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
        self.node_name = node_name
        self.network = network
        self.region = region
        self.db_url = db_url
        self._netns = netns_for(node_name) if netns is None else netns
        # In its own namespace the bridge has the conventional name; in the host's it must
        # not meet anyone else's.
        self.bridge = "br0" if self._netns else "mallee0"
        self.run_dir = data_dir / "dataplane" / re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)
        self.dhcp = Dhcp(
            netns=self._netns,
            bridge=self.bridge,
            network=network,
            gateway=self.gateway,
            run_dir=self.run_dir,
        )
        self.metadata_pidfile = self.run_dir / "metadata.pid"

    @property
    def netns(self) -> str:
        return self._netns

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # A fresh open file description per call: flock then excludes other threads too.
        with open(self.run_dir / "lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def ensure(self) -> None:
        with self._locked():
            self._ensure()

    def _ensure(self) -> None:
        if not links.exists(self.netns):
            # Servers still running belong to a namespace that was deleted: they serve no one.
            self._stop_servers()
        links.ensure_netns(self.netns)
        cidr = f"{self.gateway}/{self.network.prefixlen}"
        links.ensure_bridge(self.netns, self.bridge, bridge_mac(self.node_name), cidr)
        self.dhcp.ensure()
        self._ensure_metadata()
        nat.ensure_metadata_redirect(self.netns, self.bridge, self.gateway, METADATA_PORT)

    def _heal(self) -> None:
        """Cheap checks before plugging: restart what died since the last ensure()."""
        if not links.exists(self.netns):
            self._ensure()
            return
        self.dhcp.ensure()
        self._ensure_metadata()

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

    def _teardown_host(self) -> None:
        nat.remove_metadata_redirect("")
        for tap, owner in links.taps("").items():
            with contextlib.suppress(ValueError):
                if tap == tap_for(owner):
                    links.delete_tap("", tap)
        run(["ip", "link", "del", "dev", self.bridge], check=False)

    def _stop_servers(self) -> None:
        self._stop_metadata()
        self.dhcp.stop()

    def _stop_metadata(self) -> None:
        # Any of ours, whatever its configuration, and any serving this namespace.
        pid = procs.alive(self.metadata_pidfile, str(self.metadata_pidfile))
        strays = procs.strays(METADATA_MODULE, self.netns) if self.netns else []
        procs.stop(sorted({*strays, *([pid] if pid else [])}))
        self.metadata_pidfile.unlink(missing_ok=True)

    def _metadata_argv(self) -> list[str]:
        return [
            sys.executable, "-m", METADATA_MODULE,
            "--node", self.node_name, "--region", self.region,
            "--netns", self.netns, "--listen", self.gateway, "--port", str(METADATA_PORT),
            "--pidfile", str(self.metadata_pidfile), "--log", str(self.run_dir / "metadata.log"),
        ]  # fmt: skip

    def _metadata_pid(self) -> int | None:
        """Our metadata server, as we would start it, listening in the current namespace."""
        pid = procs.running(self.metadata_pidfile, self._metadata_argv())
        if pid is None:
            return None
        # Its second line is the inode of the namespace it listens in.
        lines = self.metadata_pidfile.read_text().splitlines()
        wanted = str(procs.netns_inode(self.netns) or "") if self.netns else ""
        return pid if lines[1:2] == [wanted] else None

    def _ensure_metadata(self) -> None:
        if self._metadata_pid():
            return
        self._stop_metadata()
        log_file = self.run_dir / "metadata.log"
        argv = self._metadata_argv()
        # setsid -f: its own session and no parent of ours to outlive, so it survives a crashed
        # agent (and is adopted by the next) and never lingers as our zombie.
        # The database URL (it may hold a password) goes by environment, not the command line.
        env = {**os.environ, "MALLEE_DB_URL": self.db_url}
        run(["setsid", "-f", *argv], timeout=60, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._metadata_pid():
            if time.monotonic() > deadline:
                tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                raise RuntimeError(f"metadata server for {self.node_name} did not start: {tail}")
            time.sleep(0.05)
