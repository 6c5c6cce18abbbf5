"""One node's data plane inside its own network namespace; every step idempotent.

After a crash, `ensure()` repairs what is missing and adopts the dnsmasq and metadata server
still running (found by pid file and command line), so nothing is started twice.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mallee.node.host import CommandError, in_netns, run
from mallee.node.network.names import netns_for, tap_for

log = logging.getLogger(__name__)

BRIDGE = "br0"
METADATA_ADDRESS = "169.254.169.254"
METADATA_PORT = 8775
NAT_CHAIN = "MALLEE_META"


@dataclass(frozen=True, slots=True)
class Nic:
    netns: str
    tap: str
    mac: str
    ip: str


def _alive(pidfile: Path, marker: str) -> int | None:
    """The pid in `pidfile` when that process runs and its command line contains `marker`."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline else None


def _strays(program: str, netns: str) -> list[int]:
    """Processes of `program` serving `netns` that no pid file of ours names any more.

    They are left when a node's state directory is lost while its namespace lives on (a wiped
    data dir, a crashed test); they hold the DHCP and metadata ports a new server needs.
    """
    try:
        wanted = os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return []
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ours = os.stat(proc / "ns" / "net").st_ino == wanted
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in cmdline]
        if not words or program not in " ".join(words[:3]):
            continue
        # dnsmasq runs inside the namespace; the metadata server names it on its command line.
        if ours or ("--netns" in words and netns in words):
            found.append(int(proc.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if pids:
        time.sleep(0.2)


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
        self.node_name = node_name
        self.network = ipaddress.ip_network(subnet, strict=False)
        self._netns = netns_for(node_name) if netns is None else netns
        self.run_dir = data_dir / "dataplane" / node_name
        self.db_url = db_url
        self.region = region
        self.hosts_file = self.run_dir / "dhcp-hosts"
        # plug/unplug run on several agent threads; the hosts file is read-modify-written.
        self._hosts_lock = threading.Lock()

    @property
    def netns(self) -> str:
        return self._netns

    @property
    def gateway(self) -> str:
        return str(next(self.network.hosts()))

    def _ns(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(in_netns(self.netns, argv), check=check)

    def ensure(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.netns and not Path(f"/run/netns/{self.netns}").exists():
            run(["ip", "netns", "add", self.netns])
        self._ns("ip", "link", "set", "lo", "up")
        self._ns("sysctl", "-qw", "net.ipv4.ip_forward=1")
        if self._ns("ip", "link", "show", BRIDGE, check=False).returncode != 0:
            self._ns("ip", "link", "add", BRIDGE, "type", "bridge")
        cidr = f"{self.gateway}/{self.network.prefixlen}"
        if cidr not in self._ns("ip", "-o", "addr", "show", "dev", BRIDGE).stdout:
            self._ns("ip", "addr", "add", cidr, "dev", BRIDGE)
        self._ns("ip", "link", "set", BRIDGE, "up")
        self.hosts_file.touch()
        self._ensure_dnsmasq()
        self._ensure_metadata()
        self._ensure_nat()

    def _ensure_dnsmasq(self) -> None:
        pidfile = self.run_dir / "dnsmasq.pid"
        if _alive(pidfile, str(self.hosts_file)):
            return
        _kill(_strays("dnsmasq", self.netns) if self.netns else [])
        mask = str(self.network.netmask)
        self._ns(
            "dnsmasq",
            "--conf-file=/dev/null",
            "--port=0",
            "--user=root",
            f"--interface={BRIDGE}",
            "--bind-interfaces",
            f"--dhcp-range={self.network.network_address},static,{mask},infinite",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-option=option:router,{self.gateway}",
            f"--dhcp-leasefile={self.run_dir / 'leases'}",
            "--dhcp-authoritative",
            f"--pid-file={pidfile}",
            "--log-dhcp",
            f"--log-facility={self.run_dir / 'dnsmasq.log'}",
        )

    def _ensure_metadata(self) -> None:
        pidfile = self.run_dir / "metadata.pid"
        if _alive(pidfile, "mallee.node.network.metadata"):
            return
        _kill(_strays("mallee.node.network.metadata", self.netns) if self.netns else [])
        argv = [
            sys.executable, "-m", "mallee.node.network.metadata",
            "--db-url", self.db_url, "--node", self.node_name, "--region", self.region,
            "--netns", self.netns, "--listen", self.gateway, "--port", str(METADATA_PORT),
            "--pidfile", str(pidfile),
        ]  # fmt: skip
        log_file = open(self.run_dir / "metadata.log", "ab")  # noqa: SIM115 - the child owns it
        # Its own session: the server outlives a crashed agent and is adopted by the next one.
        # It stays in the host's namespace (to reach the database) and listens in the node's.
        subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while not _alive(pidfile, "mallee.node.network.metadata"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"metadata server for {self.node_name} did not start")
            time.sleep(0.05)

    def _ensure_nat(self) -> None:
        # Our own chain, flushed and refilled: repeating this never duplicates a rule.
        if self._ns("iptables", "-t", "nat", "-L", NAT_CHAIN, "-n", check=False).returncode:
            self._ns("iptables", "-t", "nat", "-N", NAT_CHAIN)
        self._ns("iptables", "-t", "nat", "-F", NAT_CHAIN)
        self._ns(
            "iptables", "-t", "nat", "-A", NAT_CHAIN, "-i", BRIDGE, "-d", f"{METADATA_ADDRESS}/32",
            "-p", "tcp", "--dport", "80", "-j", "DNAT",
            "--to-destination", f"{self.gateway}:{METADATA_PORT}",
        )  # fmt: skip
        jump = ("PREROUTING", "-j", NAT_CHAIN)
        if self._ns("iptables", "-t", "nat", "-C", *jump, check=False).returncode:
            self._ns("iptables", "-t", "nat", "-A", *jump)

    def plug(self, instance_id: str, mac: str, ip: str) -> Nic:
        tap = tap_for(instance_id)
        if self._ns("ip", "link", "show", tap, check=False).returncode != 0:
            self._ns("ip", "tuntap", "add", "dev", tap, "mode", "tap")
        self._ns("ip", "link", "set", tap, "master", BRIDGE, "up")
        self._set_host(instance_id, f"{mac},{ip},{instance_id},infinite")
        return Nic(self.netns, tap, mac, ip)

    def unplug(self, instance_id: str) -> None:
        tap = tap_for(instance_id)
        if self._ns("ip", "link", "show", tap, check=False).returncode == 0:
            self._ns("ip", "link", "del", tap, check=False)
        for line in self._hosts():
            mac, ip, owner = line.split(",")[:3]
            if owner == instance_id:
                # dnsmasq would keep the (infinite) lease and refuse this address to the next
                # instance given it; release it on the departed VM's behalf.
                self._ns("dhcp_release", BRIDGE, ip, mac, check=False)
        self._set_host(instance_id, None)

    def plugged(self) -> set[str]:
        return {line.split(",")[2] for line in self._hosts() if line.count(",") >= 3}

    def _hosts(self) -> list[str]:
        try:
            return [ln for ln in self.hosts_file.read_text().splitlines() if ln.strip()]
        except FileNotFoundError:
            return []

    def _set_host(self, instance_id: str, line: str | None) -> None:
        with self._hosts_lock:
            self._write_host(instance_id, line)

    def _write_host(self, instance_id: str, line: str | None) -> None:
        old = self._hosts()
        new = [ln for ln in old if ln.split(",")[2:3] != [instance_id]]
        if line is not None:
            new.append(line)
        if new == old:
            return
        tmp = self.hosts_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{ln}\n" for ln in new))
        os.replace(tmp, self.hosts_file)
        pid = _alive(self.run_dir / "dnsmasq.pid", str(self.hosts_file))
        if pid:
            os.kill(pid, signal.SIGHUP)  # dnsmasq rereads its hosts file

    def teardown(self) -> None:
        for name, marker in (("dnsmasq.pid", str(self.hosts_file)),
                             ("metadata.pid", "mallee.node.network.metadata")):  # fmt: skip
            pid = _alive(self.run_dir / name, marker)
            if pid:
                os.kill(pid, signal.SIGTERM)
        if self.netns and Path(f"/run/netns/{self.netns}").exists():
            try:
                run(["ip", "netns", "del", self.netns])
            except CommandError as err:
                log.warning("could not delete namespace %s: %s", self.netns, err)
