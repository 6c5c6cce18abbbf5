"""Two clouds on one host, with real VMs: each in namespaces of its own, neither touching the
other's; a second agent for a running node is refused; and a data plane damaged behind the
agent's back (dnsmasq killed, chains flushed, a VM's tap deleted) is repaired within seconds.

The two clouds' nodes have the same name, as two `mallee up` on one host (node-<hostname>)
do: before names were per cloud, the second rebuilt the first one's namespace and its VMs
answered "No route to host" from then on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mallee.node.network import procs, tap_for
from mallee.node.network.links import exists
from tests.vm.cloud import VmCloud, qemu_pids, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, console, default_image, in_ns

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

METADATA = "mallee.cli.metadata"
# Seconds within which drift must be repaired (the agent checks every 2 s).
REPAIR = 15


@dataclass
class Running:
    cloud: VmCloud
    instance_id: str
    ip: str

    @property
    def netns(self) -> str:
        return self.cloud.netns()

    def page(self) -> str:
        url = f"http://{self.ip}/"
        argv = ("curl", "-s", "--connect-timeout", "1", "-m", "3", url)
        return in_ns(self.netns, *argv).stdout

    def answers(self) -> bool:
        return self.instance_id in self.page()

    def servers(self) -> tuple[list[int], list[int]]:
        return procs.strays("dnsmasq", self.netns), procs.strays(METADATA, self.netns)


def launch(cloud: VmCloud) -> Running:
    ec2 = cloud.client("ec2")
    iid = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    found = wait_until(lambda: all_in(ec2, [iid], "running"), 180)
    wait_until(lambda: "EUCA-READY" in console(ec2, iid), 180, interval=1)
    running = Running(cloud, iid, found[0]["PrivateIpAddress"])
    wait_until(running.answers, 60, interval=0.5)
    return running


def exposed(root: Path) -> dict[str, str]:
    found = {}
    for top, dirs, files in os.walk(root):
        for path in [Path(top), *(Path(top) / name for name in (*dirs, *files))]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found[str(path.relative_to(root))] = oct(stat.S_IMODE(mode))
    return found


def ns(netns: str, *argv: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Cloud A with a running instance; then cloud B, same node name, with one too."""
    node = f"node-twin-{uuid.uuid4().hex[:6]}"
    with contextlib.ExitStack() as stack:
        cloud_a = stack.enter_context(
            contextlib.contextmanager(start_vm_cloud)(tmp_path_factory.mktemp("cloud-a"), 1, node)
        )
        a = launch(cloud_a)
        before = a.servers()
        cloud_b_context = contextlib.contextmanager(start_vm_cloud)(
            tmp_path_factory.mktemp("cloud-b"), 1, node
        )
        cloud_b = stack.enter_context(cloud_b_context)
        b = launch(cloud_b)
        yield {"a": a, "b": b, "a_servers": before, "b_context": cloud_b_context}


def test_each_cloud_has_its_own_namespaces_and_servers(twins: dict[str, Any]) -> None:
    a, b = twins["a"], twins["b"]
    assert a.cloud.node_name == b.cloud.node_name
    assert a.netns != b.netns and a.cloud.public_netns() != b.cloud.public_netns()
    assert all(
        exists(n) for n in (a.netns, b.netns, a.cloud.public_netns(), b.cloud.public_netns())
    )
    # B's start left A's dnsmasq and metadata server alone (it used to kill them as strays).
    assert a.servers() == twins["a_servers"]
    assert all(len(pids) == 1 for pids in (*a.servers(), *b.servers()))
    assert not set(a.servers()[0]) & set(b.servers()[0])
    # Each instance answers in its own cloud's namespace, whatever address the other has.
    assert a.answers() and b.answers()
    if a.ip == b.ip:
        assert b.instance_id not in a.page() and a.instance_id not in b.page()
    # `mallee netns` names them, for a person's `ip netns exec $(mallee netns) ...`.
    for running in (a, b):
        for extra, wanted in (((), running.netns), (("--public",), running.cloud.public_netns())):
            argv = [sys.executable, "-m", "mallee", "netns", *extra]
            said = subprocess.run(argv, env=running.cloud.env, capture_output=True, text=True)
            assert said.stdout.strip() == wanted, said.stderr
    # Each cloud's VMs are its own: no QEMU of one names the other's data dir.
    assert set(qemu_pids(a.cloud.data_dir)) == {a.instance_id}
    assert set(qemu_pids(b.cloud.data_dir)) == {b.instance_id}


def test_no_file_of_either_cloud_is_readable_by_others(twins: dict[str, Any]) -> None:
    """Real QEMU disks (holding user-data), QMP sockets, dnsmasq's leases and pid file, the
    metadata server's files: owner-only, though QEMU and dnsmasq set umasks of their own."""
    for running in (twins["a"], twins["b"]):
        data = running.cloud.data_dir
        disks = list(data.glob(f"nodes/*/instances/{running.instance_id}/root.qcow2"))
        assert len(disks) == 1 and stat.S_IMODE(disks[0].stat().st_mode) == 0o600
        assert list(data.glob("dataplane/*/dhcp-leases")) and list(data.glob("**/qmp.sock"))
        assert exposed(data) == {}


def test_a_second_agent_for_a_running_node_is_refused(twins: dict[str, Any]) -> None:
    a = twins["a"]
    servers = a.servers()
    done = subprocess.run(
        [sys.executable, "-m", "mallee", "node"],
        env=a.cloud.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "not taking it over" in done.stderr and a.netns in done.stderr
    assert a.servers() == servers and a.answers()


def test_a_killed_dnsmasq_or_metadata_server_is_started_again(twins: dict[str, Any]) -> None:
    a, b = twins["a"], twins["b"]
    b_servers = b.servers()
    dnsmasq, metadata = a.servers()
    for pid in (*dnsmasq, *metadata):
        os.kill(pid, signal.SIGKILL)
    start = time.monotonic()

    def replaced() -> bool:
        now = a.servers()
        return (
            all(len(p) == 1 for p in now)
            and not set(now[0]) & set(dnsmasq)
            and not (set(now[1]) & set(metadata))
        )

    wait_until(replaced, REPAIR)
    print(f"dnsmasq and metadata server back after {time.monotonic() - start:.1f} s")
    assert b.servers() == b_servers


def test_flushed_chains_are_put_back(twins: dict[str, Any]) -> None:
    a = twins["a"]
    filter_before = ns(a.netns, "iptables", "-S")
    nat_before = ns(a.netns, "iptables", "-t", "nat", "-S")
    assert "-A FORWARD -j MALLEE_FWD" in filter_before
    ns(a.netns, "iptables", "-F", "MALLEE_INGRESS")  # every instance open to everyone
    ns(a.netns, "iptables", "-D", "FORWARD", "-j", "MALLEE_FWD")
    ns(a.netns, "iptables", "-t", "nat", "-F", "MALLEE_SNAT")
    ns(a.netns, "iptables", "-t", "nat", "-F", "MALLEE_META")
    start = time.monotonic()
    wait_until(
        lambda: (
            ns(a.netns, "iptables", "-S") == filter_before
            and ns(a.netns, "iptables", "-t", "nat", "-S") == nat_before
        ),
        REPAIR,
    )
    print(f"chains back after {time.monotonic() - start:.1f} s")


def test_a_deleted_tap_gets_its_vm_back_on_a_new_one(twins: dict[str, Any]) -> None:
    a, b = twins["a"], twins["b"]
    tap = tap_for(a.instance_id)
    qemu_before = qemu_pids(a.cloud.data_dir)[a.instance_id]
    ns(a.netns, "ip", "link", "del", tap)
    assert not a.answers()
    start = time.monotonic()
    # Its QEMU holds a dead port: the agent starts the VM again on a new tap (a cold boot).
    wait_until(a.answers, 120, interval=0.5)
    print(f"instance answering again {time.monotonic() - start:.1f} s after its tap was deleted")
    assert qemu_pids(a.cloud.data_dir)[a.instance_id] != qemu_before
    master = ns(a.netns, "ip", "-o", "link", "show", tap)
    assert "master br0" in master
    ec2 = a.cloud.client("ec2")
    assert all_in(ec2, [a.instance_id], "running")
    assert b.answers()


def test_one_cloud_going_leaves_the_other_running(twins: dict[str, Any]) -> None:
    """B is torn down (instances terminated, agents stopped, namespaces deleted): A's
    instance still answers, its servers unchanged."""
    a, b = twins["a"], twins["b"]
    servers = a.servers()
    b_netns, b_public = b.netns, b.cloud.public_netns()
    twins["b_context"].__exit__(None, None, None)
    assert not exists(b_netns) and not exists(b_public)
    assert a.answers() and a.servers() == servers
    assert exists(a.cloud.public_netns())
