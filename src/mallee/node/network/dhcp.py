"""DHCP by MAC: one dnsmasq per node, fixed addresses only (DNS is dns_server.py's).

The hosts file ("mac,ip,instance-id,infinite" per line) is the list of instances the node
serves. It is rewritten whole (temp file + rename) and dnsmasq rereads it on SIGHUP. Leases
are infinite, so an address given to an instance stays leased after it is gone: leaving
instances are released with dhcp_release, and leases of instances that left while dnsmasq was
down are dropped from the lease file before it starts again, so the address can be reused.

Callers serialise calls (DataPlane holds a file lock).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from mallee.commands import in_netns, run
from mallee.node.network import procs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Host:
    mac: str
    ip: str
    owner: str

    def line(self) -> str:
        return f"{self.mac},{self.ip},{self.owner},infinite"


class Dhcp:
    def __init__(
        self,
        *,
        netns: str,
        bridge: str,
        network: ipaddress.IPv4Network,
        gateway: str,
        run_dir: Path,
    ) -> None:
        self.netns, self.bridge, self.network, self.gateway = netns, bridge, network, gateway
        self.hosts_file = run_dir / "dhcp-hosts"
        self.lease_file = run_dir / "dhcp-leases"
        self.pid_file = run_dir / "dnsmasq.pid"
        self.log_file = run_dir / "dnsmasq.log"

    def pid(self) -> int | None:
        """Our dnsmasq, running with the configuration we would start it with."""
        return procs.running(self.pid_file, self._argv())

    def ensure(self) -> None:
        """dnsmasq running for this node: adopted if it still runs, else started."""
        if not self.hosts_file.exists():
            self._write([])
        if self.pid():
            return
        self.stop()  # one left from an older configuration, or a stray holding the port
        self._prune_leases()
        # dnsmasq sets its own umask (022): files it finds keep their mode, its pid file
        # (made anew) is narrowed once it is written.
        for path in (self.lease_file, self.log_file):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        run(in_netns(self.netns, self._argv()))
        with contextlib.suppress(FileNotFoundError):
            os.chmod(self.pid_file, 0o600)

    def _argv(self) -> list[str]:
        return [
            "dnsmasq",
            "--conf-file=/dev/null",
            "--port=0",
            "--user=root",
            f"--interface={self.bridge}",
            "--bind-interfaces",
            f"--dhcp-range={self.network.network_address},static,{self.network.netmask},infinite",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-option=option:router,{self.gateway}",
            # The node's DNS server (dns_server.py) answers on the gateway too.
            f"--dhcp-option=option:dns-server,{self.gateway}",
            f"--dhcp-leasefile={self.lease_file}",
            "--dhcp-authoritative",
            f"--pid-file={self.pid_file}",
            "--log-dhcp",
            f"--log-facility={self.log_file}",
        ]

    def hosts(self) -> list[Host]:
        try:
            text = self.hosts_file.read_text()
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            parts = line.split(",")
            if len(parts) >= 3:
                found.append(Host(parts[0], parts[1], parts[2]))
        return found

    def set_host(self, host: Host) -> None:
        """Serve `host`; another entry with its owner, MAC or address is stale and goes."""
        old = self.hosts()
        stale = [
            h for h in old
            if h != host and (h.owner == host.owner or h.ip == host.ip or h.mac == host.mac)
        ]  # fmt: skip
        for other in stale:
            log.warning("dhcp entry %s replaced by %s", other.line(), host.line())
            self._release(other)
        for mac, ip in self.leases():
            if ip == host.ip and mac != host.mac:
                self._release(Host(mac, ip, "?"))
        new = [h for h in old if h not in stale]
        self._write(new if host in new else [*new, host])

    def remove_host(self, owner: str) -> None:
        old = self.hosts()
        for host in old:
            if host.owner == owner:
                self._release(host)
        self._write([h for h in old if h.owner != owner])

    def leases(self) -> list[tuple[str, str]]:
        """(mac, ip) of each IPv4 lease dnsmasq holds."""
        try:
            lines = self.lease_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [
            (w[1], w[2]) for w in (ln.split() for ln in lines) if len(w) >= 3 and w[0] != "duid"
        ]

    def _release(self, host: Host) -> None:
        # dnsmasq would keep the infinite lease and refuse the address to the next instance.
        if self.pid():
            argv = ["dhcp_release", self.bridge, host.ip, host.mac]
            run(in_netns(self.netns, argv), check=False)

    def _prune_leases(self) -> None:
        """Drop leases no hosts entry matches (dnsmasq is not running: the file is ours)."""
        try:
            lines = self.lease_file.read_text().splitlines()
        except FileNotFoundError:
            return
        served = {(h.mac, h.ip) for h in self.hosts()}
        keep = [ln for ln in lines if ln.startswith("duid") or tuple(ln.split()[1:3]) in served]
        if keep != lines:
            _replace(self.lease_file, "".join(f"{ln}\n" for ln in keep))

    def _write(self, hosts: list[Host]) -> None:
        text = "".join(f"{h.line()}\n" for h in hosts)
        if self.hosts_file.exists() and self.hosts_file.read_text() == text:
            return
        _replace(self.hosts_file, text)
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGHUP)  # dnsmasq rereads its hosts file

    def stop(self) -> None:
        # Its hosts file path is unique to this node, so it marks our dnsmasq.
        pid = procs.alive(self.pid_file, str(self.hosts_file))
        procs.stop(sorted({*([pid] if pid else []), *procs.strays("dnsmasq", self.netns)}))

    def forget(self) -> None:
        """Remove the state files (the node is going away)."""
        for path in (self.hosts_file, self.lease_file, self.pid_file):
            path.unlink(missing_ok=True)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an older mallee keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
