"""DHCP and metadata inside each VPC namespace: one dnsmasq (every subnet's bridge, static
hosts by MAC) and one metadata server per namespace.

The metadata server is the node's (metadata.py) run with `--vpc`: it listens on
169.254.169.254:80 on a socket opened inside the VPC namespace (the address is on its `lo`,
so guests reach it through their router, no DNAT) and answers only the instance of that VPC
with the request's source address and the MAC the namespace's ARP table holds for it: CIDRs
overlap between VPCs, and a namespace names its VPC. Both are found again after an agent
restart by pid file and exact command line, as the node's own are (procs.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from mallee.commands import in_netns, run
from mallee.node.network import procs
from mallee.node.network.dataplane import METADATA_MODULE
from mallee.node.network.node_servers import NodeServer
from mallee.node.network.vpc_names import METADATA_ADDRESS
from mallee.node.network.vpc_rules import VpcPlan


class VpcServers:
    def __init__(self, run_dir: Path, *, node_name: str, db_url: str, region: str) -> None:
        self.run_dir = run_dir
        self.node_name = node_name
        self.db_url = db_url
        self.region = region

    def _dir(self, netns: str) -> Path:
        path = self.run_dir / netns
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def dnsmasq_argv(self, plan: VpcPlan) -> list[str]:
        d = self.run_dir / plan.netns
        return [
            "dnsmasq", "--conf-file=/dev/null", "--port=0", "--user=root", "--bind-interfaces",
            *plan.dhcp, f"--dhcp-hostsfile={d / 'dhcp-hosts'}",
            f"--dhcp-leasefile={d / 'dhcp-leases'}", "--dhcp-authoritative",
            f"--pid-file={d / 'dnsmasq.pid'}", "--log-dhcp", f"--log-facility={d / 'dnsmasq.log'}",
        ]  # fmt: skip

    def metadata_argv(self, plan: VpcPlan) -> list[str]:
        d = self.run_dir / plan.netns
        return [
            sys.executable, "-m", METADATA_MODULE, "--node", self.node_name,
            "--region", self.region, "--netns", plan.netns, "--vpc", plan.vpc_id,
            "--listen", METADATA_ADDRESS, "--port", "80",
            "--pidfile", str(d / "metadata.pid"), "--log", str(d / "metadata.log"),
        ]  # fmt: skip

    def ensure(self, plan: VpcPlan) -> None:
        d = self._dir(plan.netns)
        hosts = "".join(f"{mac},{ip},{owner},infinite\n" for mac, ip, owner in plan.hosts)
        hosts_file = d / "dhcp-hosts"
        changed = not hosts_file.exists() or hosts_file.read_text() != hosts
        if changed:
            tmp = d / "dhcp-hosts.tmp"
            tmp.write_text(hosts)
            os.replace(tmp, hosts_file)
        argv = self.dnsmasq_argv(plan)
        pid = procs.running(d / "dnsmasq.pid", argv)
        if pid and changed:
            os.kill(pid, signal.SIGHUP)  # rereads its hosts file
        elif not pid:
            self._stop(d / "dnsmasq.pid", str(hosts_file))
            for name in ("dhcp-leases", "dnsmasq.log"):
                os.close(os.open(d / name, os.O_WRONLY | os.O_CREAT, 0o600))
            run(in_netns(plan.netns, argv))
        self._metadata(plan.netns, self.metadata_argv(plan)).ensure(self.db_url)

    def _metadata(self, netns: str, argv: list[str]) -> NodeServer:
        d = self.run_dir / netns
        return NodeServer(
            f"metadata server of {netns}",
            METADATA_MODULE,
            argv,
            d / "metadata.pid",
            d / "metadata.log",
            netns,
        )

    @staticmethod
    def _stop(pidfile: Path, marker: str) -> None:
        pid = procs.alive(pidfile, marker)
        if pid:
            procs.stop([pid])
        pidfile.unlink(missing_ok=True)

    def alive(self, plan: VpcPlan) -> bool:
        d = self.run_dir / plan.netns
        return bool(
            procs.running(d / "dnsmasq.pid", self.dnsmasq_argv(plan))
            and self._metadata(plan.netns, self.metadata_argv(plan)).pid()
        )

    def stop(self, netns: str) -> None:
        """Stop a namespace's servers (it is going) and forget its files."""
        d = self.run_dir / netns
        if not d.exists():
            return
        # Stopping needs no command line: the pid file and the namespace name the server.
        self._metadata(netns, []).stop()
        self._stop(d / "dnsmasq.pid", str(d / "dhcp-hosts"))
        for path in d.iterdir():
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            d.rmdir()
