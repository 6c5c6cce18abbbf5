"""Load balancer workers for real: HAProxy in its own namespace, in front of two back ends.

The cloud's public namespace and two stand-in "nodes" are built here with `ip`: each node is
a namespace on the public bridge, routing nothing, whose private address (its instance's) is
served by a small HTTP server answering with its node's name. The worker code runs from rows
in a SQLite store, as the node agent runs it. Nothing touches the root namespace.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import delete, select, update

from mallee.cloud_identity import system_account_id
from mallee.commands import in_netns, run
from mallee.ids import new_id
from mallee.network_config import parse
from mallee.node.lb.workers import ElbWorkers
from mallee.node.network import links, public
from mallee.node.network.names import public_netns_for
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.compute import NodeRow
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import (
    ElbInstance,
    ElbInstanceHealth,
    ElbListener,
    ElbLoadBalancer,
    ElbWorker,
    bump_elb,
    elb_generation,
)

pytestmark = pytest.mark.vm

CLOUD = uuid.uuid4().hex[:8]
PREFIX = f"elbt-{uuid.uuid4().hex[:6]}-"
WORKER_IP = "203.0.113.150"
# The public namespace's own address: where its clients' requests come from.
GATEWAY = "203.0.113.1"
ZONE = "one"
CERT_ARN = "arn:aws:iam::123456789012:server-certificate/web"
SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = sys.argv[3].encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = NAME
        if self.path == "/headers":
            names = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port")
            body = " ".join(str(self.headers.get(n)) for n in names).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""
# One keep-alive connection: a request, then another on the same socket once told to.
CLIENT = """
import socket, sys

sock = socket.create_connection((sys.argv[1], 80), timeout=10)
reader = sock.makefile("rb")


def ask(n):
    sock.sendall(b"GET / HTTP/1.1\\r\\nHost: lb\\r\\n\\r\\n")
    status = reader.readline().split()[1].decode()
    length = 0
    while (line := reader.readline()) not in (b"\\r\\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    print(n, sock.getsockname()[1], status, reader.read(length).decode(), flush=True)


ask(1)
sys.stdin.readline()
ask(2)
"""


@dataclass
class FakeNode:
    name: str
    netns: str
    public_ip: str
    subnet: str
    instance_ip: str
    server: subprocess.Popen[bytes] | None = None


def sh(netns: str, *argv: str, check: bool = True) -> str:
    return run(in_netns(netns, argv), check=check).stdout


def wait_for(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def fake_node(index: int) -> FakeNode:
    return FakeNode(
        name=f"{PREFIX}n{index}",
        netns=f"{PREFIX}n{index}",
        public_ip=f"203.0.113.{10 + index}",
        subnet=f"10.201.{index}.0/24",
        instance_ip=f"10.201.{index}.10",
    )


def build_node(pub: str, node: FakeNode, script: Path) -> None:
    run(["ip", "netns", "add", node.netns])
    peer = f"et{uuid.uuid4().hex[:8]}"
    run(["ip", "link", "add", "pub0", "netns", node.netns, "type", "veth",
         "peer", "name", peer, "netns", pub])  # fmt: skip
    sh(pub, "ip", "link", "set", peer, "master", public.PUBLIC_BRIDGE, "up")
    sh(node.netns, "ip", "link", "set", "lo", "up")
    sh(node.netns, "ip", "addr", "add", f"{node.public_ip}/24", "dev", "pub0")
    sh(node.netns, "ip", "link", "set", "pub0", "up")
    # The instance's private address, here on the node itself.
    sh(node.netns, "ip", "addr", "add", f"{node.instance_ip}/32", "dev", "lo")
    start_server(node, script)


def start_server(node: FakeNode, script: Path) -> None:
    argv = [sys.executable, str(script), node.instance_ip, "8080", node.name]
    node.server = subprocess.Popen(in_netns(node.netns, argv))


def stop_server(node: FakeNode) -> None:
    if node.server is not None:
        node.server.kill()
        node.server.wait()
        node.server = None


def get(pub: str, path: str = "/") -> str:
    return sh(pub, "curl", "-s", "-m", "5", f"http://{WORKER_IP}{path}", check=False)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[str, list[FakeNode]]]:
    pub = public_netns_for(CLOUD)
    config = parse(None)
    public.ensure_public_network(pub, config.public_subnet, str(config.public_gateway))
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    nodes: list[FakeNode] = []
    try:
        for index in (1, 2):
            nodes.append(fake_node(index))
            build_node(pub, nodes[-1], script)
        for node in nodes:
            wait_for(f"{node.name}'s server", lambda n=node: _answers(n))  # type: ignore[misc]
        yield pub, nodes
    finally:
        for node in nodes:
            stop_server(node)
            links.delete_netns(node.netns)
        for leftover in links.namespaces(f"mallee-{CLOUD}-"):
            links.delete_netns(leftover)
        links.delete_netns(pub)


def _answers(node: FakeNode) -> bool:
    url = f"http://{node.instance_ip}:8080/"
    return sh(node.netns, "curl", "-s", "-m", "2", url, check=False) == node.name


def seed(store: Store, nodes: list[FakeNode], me: str) -> tuple[str, str, list[str]]:
    """Rows: the nodes, one instance on each, a load balancer with both registered and its
    worker placed on `me`. Returns (lb id, worker id, instance ids)."""
    ensure_system_account(store)
    account = system_account_id(store)
    now = dt.datetime.now(dt.UTC)
    lb_id, worker_id = uuid.uuid4().hex[:12], new_id("elbw")
    instances = [new_id("i") for _ in nodes]
    with store.session() as s:
        for node, iid in zip(nodes, instances, strict=True):
            s.add(NodeRow(name=node.name, zone=ZONE, hypervisor="fake", cores=1, memory_mb=1,
                          disk_gb=1, subnet=node.subnet, public_ip=node.public_ip,
                          reported_at=time.time()))  # fmt: skip
            s.add(Ec2Instance(id=iid, account_id=account, reservation_id="r-1", image_id="emi-1",
                              instance_type="m1.small", cores=1, memory_mb=128, disk_gb=1,
                              availability_zone=ZONE, state="running", node=node.name,
                              private_ip=node.instance_ip, launch_time=now,
                              state_changed_at=time.time()))  # fmt: skip
        s.add(ElbLoadBalancer(id=lb_id, account_id=account, name="web", created_at=now,
                              dns_name=f"web-{lb_id}.eucalyptus.elb.example", zones=f'["{ZONE}"]',
                              hc_target="HTTP:8080/health", hc_interval=1, hc_timeout=1,
                              hc_unhealthy=2, hc_healthy=2, draining_enabled=False))  # fmt: skip
        s.flush()  # no relationships: the load balancer must exist before what refers to it
        s.add(ElbListener(lb_id=lb_id, lb_port=80, protocol="HTTP", instance_port=8080,
                          instance_protocol="HTTP"))  # fmt: skip
        s.add(ElbListener(lb_id=lb_id, lb_port=443, protocol="HTTPS", instance_port=8080,
                          instance_protocol="HTTP", ssl_certificate_id=CERT_ARN))  # fmt: skip
        for iid in instances:
            s.add(ElbInstance(lb_id=lb_id, instance_id=iid, registered_at=now))
        s.add(ElbWorker(id=worker_id, lb_id=lb_id, zone=ZONE, node=me, public_ip=WORKER_IP,
                        state="pending", created_at=now))  # fmt: skip
        bump_elb(s)
    return lb_id, worker_id, instances


def certificate(tmp: Path) -> tuple[Path, bytes]:
    """A self-signed certificate for the worker's address: (the CA file curl trusts, the PEM
    bundle HAProxy serves)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, WORKER_IP)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.IPv4Address(WORKER_IP))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    body = cert.public_bytes(serialization.Encoding.PEM)
    ca = tmp / "ca.pem"
    ca.write_bytes(body)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca, body + private


def worker_row(store: Store, worker_id: str) -> ElbWorker:
    with store.read() as s:
        row = s.get(ElbWorker, worker_id)
        assert row is not None
        return row


def health(store: Store, worker_id: str) -> dict[str, tuple[str, str, str]]:
    h = ElbInstanceHealth
    with store.read() as s:
        rows = s.execute(
            select(h.instance_id, h.state, h.reason_code, h.description).where(
                h.worker_id == worker_id
            )
        ).all()
    return {iid: (state, code, text) for iid, state, code, text in rows}


def test_worker_balances_checks_health_and_reloads_seamlessly(
    store: Store, tmp_path: Path, cloud: tuple[str, list[FakeNode]]
) -> None:
    pub, nodes = cloud
    me = f"{PREFIX}me"
    _, worker_id, (first, second) = seed(store, nodes, me)
    ca, bundle = certificate(tmp_path)
    workers = ElbWorkers(store, cloud_id=CLOUD, node_name=me, data_dir=tmp_path / "data",
                         pem_source=lambda s, arn: bundle if arn == CERT_ARN else None)  # fmt: skip
    hp = workers.haproxy(worker_id)
    stop = threading.Event()
    thread = threading.Thread(target=workers.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for("the worker to run", lambda: worker_row(store, worker_id).state == "running")
        wait_for(
            "both back ends in service",
            lambda: (
                {v[0] for v in health(store, worker_id).values()} == {"InService"}
                and len(health(store, worker_id)) == 2
            ),
        )
        # The client's address, the scheme and the port reach the instance as headers.
        assert get(pub, "/headers") == f"{GATEWAY} http 80"
        secure = ["curl", "-s", "-m", "5", "--cacert", str(ca), f"https://{WORKER_IP}/headers"]
        assert sh(pub, *secure) == f"{GATEWAY} https 443"
        answers = [get(pub) for _ in range(6)]
        assert set(answers) == {nodes[0].name, nodes[1].name}
        assert all(a != b for a, b in itertools.pairwise(answers)), answers

        # A back end that stops answering goes out of service; the other takes everything.
        stop_server(nodes[1])
        wait_for(
            "the stopped back end out of service",
            lambda: (
                health(store, worker_id).get(second)
                == (
                    "OutOfService",
                    "Instance",
                    "Instance has failed at least the UnhealthyThreshold number of health checks "
                    "consecutively.",
                )
            ),
        )
        assert health(store, worker_id)[first][0] == "InService"
        assert [get(pub) for _ in range(4)] == [nodes[0].name] * 4

        # A keep-alive connection made before a deregistration is served after the reload.
        client = subprocess.Popen(
            in_netns(pub, [sys.executable, "-c", CLIENT, WORKER_IP]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None and client.stdin is not None
        one = client.stdout.readline().split()
        assert one[0] == "1" and one[2:] == ["200", nodes[0].name]
        before = hp.worker_pid()
        with store.session() as s:
            s.execute(delete(ElbInstance).where(ElbInstance.instance_id == second))
            bump_elb(s)
            s.flush()
            gen = elb_generation(s)
        wait_for("the deregistration applied",
                 lambda: worker_row(store, worker_id).applied_generation == gen)  # fmt: skip
        assert second not in (hp.current() or "")
        assert hp.worker_pid() != before
        client.stdin.write("go\n")
        client.stdin.flush()
        two = client.stdout.readline().split()
        client.wait(timeout=10)
        assert two[0] == "2" and two[1] == one[1], (one, two)  # the same connection
        assert two[2:] == ["200", nodes[0].name]
        wait_for("the deregistered back end's health row gone",
                 lambda: second not in health(store, worker_id))  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=10)

    # A restarted agent adopts the running HAProxy; a dead one is started again.
    master = hp.pid()
    assert master is not None
    again = ElbWorkers(store, cloud_id=CLOUD, node_name=me, data_dir=tmp_path / "data",
                       pem_source=lambda s, arn: bundle)  # fmt: skip
    again.reconcile_once()
    assert hp.pid() == master
    assert get(pub) == nodes[0].name
    hp.stop()
    again._healed = 0.0
    deadline = time.monotonic() + 20
    while hp.pid() is None and time.monotonic() < deadline:
        again.reconcile_once()
        time.sleep(0.25)
    assert hp.pid() not in (None, master)
    wait_for("the restarted HAProxy to serve", lambda: get(pub) == nodes[0].name)

    # Deletion: HAProxy, namespace and run directory go; the row says stopped.
    with store.session() as s:
        s.execute(update(ElbWorker).where(ElbWorker.id == worker_id).values(state="deleting"))
    again.reconcile_once()
    assert worker_row(store, worker_id).state == "stopped"
    assert hp.pid() is None
    assert not links.exists(hp.netns)
    assert not hp.run_dir.exists()
    assert health(store, worker_id) == {}
