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
import time
from pathlib import Path

from mallee.commands import in_netns, run
from mallee.node.network import procs
from mallee.node.network.dataplane import METADATA_MODULE
from mallee.node.network.vpc_names import METADATA_ADDRESS
from mallee.node.network.vpc_rules import VpcPlan

START_TIMEOUT = 20.0


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
        self._ensure_metadata(plan, d)

    def _ensure_metadata(self, plan: VpcPlan, d: Path) -> None:
        pidfile = d / "metadata.pid"
        argv = self.metadata_argv(plan)
        if self._metadata_pid(plan, pidfile, argv):
            return
        self._stop(pidfile, str(pidfile))
        env = {**os.environ, "MALLEE_DB_URL": self.db_url}
        run(["setsid", "-f", *argv], timeout=60, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._metadata_pid(plan, pidfile, argv):
            if time.monotonic() > deadline:
                log_file = d / "metadata.log"
                tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                raise RuntimeError(f"metadata server of {plan.netns} did not start: {tail}")
            time.sleep(0.05)

    @staticmethod
    def _metadata_pid(plan: VpcPlan, pidfile: Path, argv: list[str]) -> int | None:
        pid = procs.running(pidfile, argv)
        if pid is None:
            return None
        # Its second line is the inode of the namespace it listens in (metadata.serve).
        lines = pidfile.read_text().splitlines()
        return pid if lines[1:2] == [str(procs.netns_inode(plan.netns) or "")] else None

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
            and self._metadata_pid(plan, d / "metadata.pid", self.metadata_argv(plan))
        )

    def stop(self, netns: str) -> None:
        """Stop a namespace's servers (it is going) and forget its files."""
        d = self.run_dir / netns
        if not d.exists():
            return
        self._stop(d / "metadata.pid", str(d / "metadata.pid"))
        self._stop(d / "dnsmasq.pid", str(d / "dhcp-hosts"))
        for path in d.iterdir():
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            d.rmdir()
