"""The cloud's DNS server of one node (Eucalyptus' DNS service).

Run as `MALLEE_DB_URL=URL python -m mallee.node.network.dns_server --node N --netns NS
--listen GATEWAY --public-netns PUB --pidfile FILE --log FILE --region R`;
`DataPlane.ensure()` starts it. Like the metadata server it stays in the host's namespace
(where the database and the host's resolver are reachable) and answers on sockets made inside
the namespaces (nsock): on the node's gateway, for its instances (DHCP names it their
resolver), and on the public network's gateway, for the outside (`/etc/netns/<public
namespace>/resolv.conf` names it). Every node's server binds the public gateway with
SO_REUSEPORT, so the outside keeps a resolver while any node of the host runs.

It answers A queries for the cloud's names from memory (dns_records, reloaded when the
network or ELB generation moves), NXDOMAIN for other names in the cloud's zones, and passes
every other query to the host's resolvers, answering SERVFAIL when none replies.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from mallee.datadir import private_umask
from mallee.network_config import BadNetworkConfig, parse
from mallee.node.network import dns_records, nsock, procs
from mallee.node.network.dns_records import Records
from mallee.registry import properties
from mallee.registry.dns_domains import dns_domains, elb_domain
from mallee.store import Store

log = logging.getLogger(__name__)

PORT = 53
# Seconds a resolver may cache an answer: addresses move (an elastic IP, a worker's node).
TTL = 5
RELOAD_EVERY = 0.5
# Also reloaded this often without a generation change (a changed InstanceDnsDomain).
RELOAD_ANYWAY = 10.0
# A miss reloads the records when they are older than this (a name just made).
MISS_RELOAD_AFTER = 0.1
UPSTREAM_TIMEOUT = 2.0
PUBLIC_RETRY = 2.0


class Answerer:
    def __init__(self, upstreams: list[str], upstream_port: int = PORT) -> None:
        self.records = Records(zones=())
        self.upstreams = upstreams
        self.upstream_port = upstream_port
        # Called on a miss in the cloud's zones: True when the records were reloaded.
        self.on_miss: Callable[[], bool] = lambda: False

    def answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not DNS: no answer, as a resolver would
        if len(query.question) != 1:
            return _error(query, dns.rcode.FORMERR)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        records = self.records
        if not records.in_zone(name):
            return self._forward(query, wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        addresses = records.lookup(name)
        if not addresses and self.on_miss():
            addresses = self.records.lookup(name)
        if not addresses:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, TTL, dns.rdataclass.IN, dns.rdatatype.A, list(addresses)
                )
            )
        # Any other type of a name that exists: NOERROR with no answer (NODATA).
        return response.to_wire()

    def _forward(self, query: dns.message.Message, wire: bytes) -> bytes:
        for upstream in self.upstreams:
            try:
                reply = dns.query.udp(
                    query, upstream, timeout=UPSTREAM_TIMEOUT, port=self.upstream_port
                )
            except (dns.exception.DNSException, OSError):
                continue
            return reply.to_wire()
        return _error(query, dns.rcode.SERVFAIL)


def _error(query: dns.message.Message, rcode: dns.rcode.Rcode) -> bytes:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return response.to_wire()


def host_resolvers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    found = [ln.split()[1] for ln in lines if ln.startswith("nameserver") and len(ln.split()) > 1]
    return [ip for ip in found if _is_ip(ip)]


def _is_ip(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except OSError:
        return False
    return True


def open_sockets(netns: str, host: str, shared: bool) -> list[socket.socket]:
    """A UDP and a TCP socket on host:53 inside `netns` (SO_REUSEPORT when `shared`)."""

    def make() -> list[socket.socket]:
        made = []
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if shared:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, PORT))
            if kind == socket.SOCK_STREAM:
                sock.listen(64)
            made.append(sock)
        return made

    return nsock.inside(netns, make)


def serve_udp(sock: socket.socket, answer: Callable[[bytes], bytes | None]) -> None:
    while True:
        wire, peer = sock.recvfrom(4096)
        reply = answer(wire)
        if reply is not None:
            sock.sendto(reply, peer)


def serve_tcp(sock: socket.socket, answer: Callable[[bytes], bytes | None]) -> None:
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=_tcp_client, args=(conn, answer), daemon=True).start()


def _tcp_client(conn: socket.socket, answer: Callable[[bytes], bytes | None]) -> None:
    with conn:
        conn.settimeout(10)
        try:
            while True:
                head = _read(conn, 2)
                if head is None:
                    return
                wire = _read(conn, struct.unpack("!H", head)[0])
                reply = answer(wire) if wire is not None else None
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _read(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        piece = conn.recv(size - len(data))
        if not piece:
            return None
        data += piece
    return data


def _serve(socks: list[socket.socket], answerer: Answerer) -> None:
    udp, tcp = socks
    threading.Thread(target=serve_udp, args=(udp, answerer.answer), daemon=True).start()
    threading.Thread(target=serve_tcp, args=(tcp, answerer.answer), daemon=True).start()


def _public_gateway(store: Store) -> str:
    plan = parse(properties.get_json(store, "cloud.network.network_configuration"))
    return str(plan.public_gateway)


def _open_public(args: argparse.Namespace, store: Store, answerer: Answerer) -> None:
    """The public network's socket, once the EDGE reconciler has made that namespace."""
    while True:
        try:
            gateway = _public_gateway(store)
            _serve(open_sockets(args.public_netns, gateway, shared=True), answerer)
            log.info("answering on %s:%s in %s", gateway, PORT, args.public_netns)
            return
        except (OSError, ValueError, BadNetworkConfig) as err:
            log.debug("public network not ready: %s", err)
            time.sleep(PUBLIC_RETRY)


class Loader:
    """The records from the rows: reloaded when the generations move (polled), and at once on
    a miss in the cloud's zones that the last load may not know yet, so two nodes' servers
    (both behind the public gateway) never disagree for longer than a query."""

    def __init__(self, store: Store, answerer: Answerer, region: str) -> None:
        self.store = store
        self.answerer = answerer
        self.region = region
        self.seen: tuple[object, ...] | None = None
        self.loaded_at = 0.0
        self.lock = threading.Lock()

    def poll(self, force: bool = False) -> None:
        with self.lock, self.store.read() as s:
            now = dns_records.generation(s)
            stale = time.monotonic() - self.loaded_at > RELOAD_ANYWAY
            if force or now != self.seen or stale:
                self.answerer.records = dns_records.load(
                    s, dns_domains(self.store), elb_domain(self.store, self.region)
                )
                self.seen, self.loaded_at = now, time.monotonic()

    def on_miss(self) -> bool:
        """Reload if the records may be behind; whether they changed."""
        if time.monotonic() - self.loaded_at < MISS_RELOAD_AFTER:
            return False
        before = self.answerer.records
        try:
            self.poll()
        except Exception:  # the database away: answer from what is known
            log.exception("reloading the records on a miss failed")
        return self.answerer.records is not before

    def run(self) -> None:
        while True:
            try:
                self.poll()
            except Exception:  # the database may be away for a moment: keep the last records
                log.exception("reloading the records failed")
            time.sleep(RELOAD_EVERY)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mallee-dns")
    p.add_argument("--db-url", default=os.environ.get("MALLEE_DB_URL", ""))
    p.add_argument("--node", required=True)
    p.add_argument("--netns", required=True)
    p.add_argument("--listen", required=True)
    p.add_argument("--public-netns", required=True)
    p.add_argument("--region", default="eucalyptus")
    p.add_argument("--pidfile", type=Path, required=True)
    p.add_argument("--log", type=Path, default=None)
    args = p.parse_args(argv)
    if not args.db_url:
        p.error("--db-url or MALLEE_DB_URL is required")
    return args


def main(argv: list[str] | None = None) -> int:
    private_umask()
    args = _parse(argv)
    if args.log is not None:
        log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dns: %(message)s")
    store = Store(args.db_url)
    answerer = Answerer(host_resolvers())
    inode = procs.netns_inode(args.netns)
    _serve(open_sockets(args.netns, args.listen, shared=False), answerer)
    loader = Loader(store, answerer, args.region)
    answerer.on_miss = loader.on_miss
    threading.Thread(target=loader.run, daemon=True).start()
    threading.Thread(target=_open_public, args=(args, store, answerer), daemon=True).start()
    # Written once listening: its presence means ready; the second line names the namespace.
    tmp = args.pidfile.with_name(args.pidfile.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n{inode or ''}\n")
    os.replace(tmp, args.pidfile)
    log.info("answering for node %s on %s:%s in %s", args.node, args.listen, PORT, args.netns)
    sys.stdout.flush()
    while procs.netns_inode(args.netns) == inode:
        time.sleep(2)
    log.warning("namespace %s is gone; exiting", args.netns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
