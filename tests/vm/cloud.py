"""A whole cloud on this machine with real VMs, each component its own process so a test can
SIGKILL and restart any of them (the api, the controller, the node agent)."""

from __future__ import annotations

import configparser
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.conftest import fresh_database_url
from tests.e2e.conftest import free_port, shared_image_dir, wait_healthy
from tests.processes import stop_process

REGION = "eucalyptus"
COMPONENTS = ("api", "controller", "node")


@dataclass
class VmCloud:
    data_dir: Path
    env: dict[str, str]
    port: int
    node_name: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    keys: tuple[str, str] = ("", "")
    # Further node agents: component name ("node2") -> the MALLEE_NODE_* settings it differs by.
    extra_nodes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, component: str) -> None:
        env = {**self.env, **self.extra_nodes.get(component, {})}
        command = "node" if component in self.extra_nodes else component
        argv = [sys.executable, "-m", "mallee", command]
        if component == "api":
            argv += ["--port", str(self.port)]
        # Owner-only, as everything in a data dir (tests check no one else may read any).
        path = self.data_dir / f"{component}.log"
        log = open(path, "ab", opener=_private)  # noqa: SIM115
        since = log.tell()
        self.procs[component] = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if component == "api":
            wait_healthy(self.endpoint, self.procs[component])
        if component == "storage":
            # The api makes volumes only in zones whose storage service is up.
            _wait_logged(path, since, b" up for zone ", self.procs[component])

    def kill(self, component: str) -> None:
        proc = self.procs.pop(component)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self, component: str) -> None:
        proc = self.procs.pop(component, None)
        if proc is None:
            return
        stop_process(proc)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.keys[0],
            aws_secret_access_key=self.keys[1],
            config=Config(retries={"max_attempts": 1}),
        )

    def wait_node_ready(self, timeout: float = 120) -> None:
        """Until the node has reported (it probes KVM and sets up its namespace first)."""
        ec2 = self.client("ec2")

        def free() -> bool:
            zones = ec2.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
            small = [z for z in zones if z["ZoneName"] == "|- m1.small"]
            return bool(small) and not small[0]["State"].startswith("0000")

        wait_until(free, timeout)

    def counters(self, instance_id: str) -> dict[str, float] | None:
        """What the node last reported for the instance (InstanceCounters), if anything."""
        from mallee.store import Store
        from mallee.store.tables.compute import InstanceCounters

        store = Store(self.env["MALLEE_DB_URL"])
        try:
            with store.read() as s:
                row = s.get(InstanceCounters, instance_id)
                if row is None:
                    return None
                return {"cpu_seconds": row.cpu_seconds, "net_in_bytes": float(row.net_in_bytes),
                        "disk_read_bytes": float(row.disk_read_bytes)}  # fmt: skip
        finally:
            store.dispose()

    def netns(self, node: str = "") -> str:
        from mallee.store import Store
        from mallee.store.tables.compute import NodeRow

        store = Store(self.env["MALLEE_DB_URL"])
        try:
            with store.read() as s:
                row = s.get(NodeRow, node or self.node_name)
                assert row is not None, "the node has not reported yet"
                return row.netns
        finally:
            store.dispose()

    def node_of(self, instance_id: str) -> str:
        from mallee.store import Store
        from mallee.store.tables.ec2 import Ec2Instance

        store = Store(self.env["MALLEE_DB_URL"])
        try:
            with store.read() as s:
                row = s.get(Ec2Instance, instance_id)
                assert row is not None and row.node is not None
                return row.node
        finally:
            store.dispose()

    def node_names(self) -> list[str]:
        return [self.node_name, *(e["MALLEE_NODE_NAME"] for e in self.extra_nodes.values())]

    def cloud_id(self) -> str:
        from mallee.node.network.identity import cloud_id
        from mallee.store import Store

        store = Store(self.env["MALLEE_DB_URL"])
        try:
            return cloud_id(store)
        finally:
            store.dispose()

    def public_netns(self) -> str:
        """The cloud's stand-in for the outside network (public and elastic IPs)."""
        from mallee.node.network.names import public_netns_for

        return public_netns_for(self.cloud_id())


def _wait_logged(
    path: Path, since: int, line: bytes, proc: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with path.open("rb") as f:
            f.seek(since)
            if line in f.read():
                return
        if proc.poll() is not None:
            raise RuntimeError(f"{path.name}: the process exited ({proc.returncode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name}: no {line!r} within {timeout}s")
        time.sleep(0.05)


def start_vm_cloud(tmp: Path, nodes: int = 1, node: str = "") -> Iterator[VmCloud]:
    """A cloud with `nodes` node agents: node n has subnet 10.111.n.0/24 and public IP
    203.0.113.(10+n), in namespaces of their own. The first node is named `node` (default: a
    name no other test uses)."""
    for db_url in fresh_database_url(tmp):
        node = node or f"node-{uuid.uuid4().hex[:6]}"
        env = dict(
            os.environ,
            MALLEE_DATA_DIR=str(tmp),
            MALLEE_DB_URL=db_url,
            MALLEE_IMAGE_DIR=str(shared_image_dir()),
            MALLEE_HYPERVISOR="auto",
            MALLEE_NODE_NAME=node,
            MALLEE_HEARTBEAT_TIMEOUT="30",
        )
        cloud = VmCloud(tmp, env, free_port(), node)
        for n in range(2, nodes + 1):
            cloud.extra_nodes[f"node{n}"] = {
                "MALLEE_NODE_NAME": f"{node}-{n}",
                "MALLEE_NODE_SUBNET": f"10.111.{n}.0/24",
                "MALLEE_NODE_PUBLIC_IP": f"203.0.113.{10 + n}",
            }
        subprocess.run([sys.executable, "-m", "mallee", "init"], env=env, check=True)
        creds = configparser.ConfigParser()
        creds.read(tmp / "credentials" / "aws-credentials")
        sec = creds["mallee-admin"]
        cloud.keys = (sec["aws_access_key_id"], sec["aws_secret_access_key"])
        for component in (*COMPONENTS, *cloud.extra_nodes):
            cloud.start(component)
        cloud.wait_node_ready()
        try:
            yield cloud
        finally:
            _teardown(cloud)


def _teardown(cloud: VmCloud) -> None:
    try:
        ec2 = cloud.client("ec2")
        ids = [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ]
        if ids:
            ec2.terminate_instances(InstanceIds=ids)
            wait_until(lambda: not live_instances(ec2), 60)
    finally:
        for component in (*COMPONENTS, *cloud.extra_nodes):
            cloud.stop(component)
        _kill_vms(cloud.data_dir)
        _remove_netns(cloud)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def live_instances(ec2: Any) -> list[str]:
    return [
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]


def _kill_vms(data_dir: Path) -> None:
    """Any QEMU left running from this cloud's data dir (a failed test must not leak VMs)."""
    for pids in qemu_pids(data_dir).values():
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _remove_netns(cloud: VmCloud) -> None:
    from mallee.node.lb.teardown import remove_cloud_workers
    from mallee.node.network import DataPlane
    from mallee.node.network.links import delete_netns

    subnets = {cloud.node_name: os.environ.get("MALLEE_NODE_SUBNET", "10.111.1.0/24")}
    subnets.update(
        {e["MALLEE_NODE_NAME"]: e["MALLEE_NODE_SUBNET"] for e in cloud.extra_nodes.values()}
    )
    for name, subnet in subnets.items():
        DataPlane(
            cloud_id=cloud.cloud_id(),
            node_name=name,
            subnet=subnet,
            data_dir=cloud.data_dir,
            db_url=cloud.env["MALLEE_DB_URL"],
        ).teardown()
    remove_cloud_workers(cloud.cloud_id())
    delete_netns(cloud.public_netns())


def qemu_pids(data_dir: Path) -> dict[str, list[int]]:
    """instance id -> pids of the QEMUs whose command line points into data_dir."""
    found: dict[str, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"qemu-system-x86_64"):
            continue
        text = b" ".join(argv).decode(errors="replace")
        if str(data_dir) not in text:
            continue
        for word in text.replace(",", " ").replace("/", " ").split():
            if word.startswith("i-") and len(word) == 19:
                found.setdefault(word, []).append(int(proc.name))
                break
    return found


def wait_until(check: Any, timeout: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        time.sleep(interval)
