"""The instance metadata server of one node (169.254.169.254:80 is DNATed to it).

Run as `MALLEE_DB_URL=URL python -m mallee.cli.metadata --node NAME --netns NS --listen GATEWAY
--port 8775 --pidfile FILE --log FILE`; `DataPlane.ensure()` starts it. That entry point (in
the cli, the layer that may compose the others) hands `serve` the way to STS: the gateway's
internal call, as ec2.amazonaws.com.

The process stays in the host's namespace, where the database is reachable, and listens on a
socket created inside the node's namespace (see nsock). A request is answered for the
instance whose private address is the request's source AND whose MAC is the one the node's
ARP table holds for that address, placed on this node and not terminated; anything else gets
404. The MAC check keeps a guest that takes another's address, or a new instance given a
departed one's address, from ever seeing data that is not its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from mallee.datadir import private_umask
from mallee.dns_names import DnsDomains
from mallee.node.network import procs
from mallee.node.network.imds import IamView, Seen, Tokens, respond
from mallee.node.network.imds_roles import Assume, RoleCache, issuer
from mallee.node.network.nsock import listen_in, open_in
from mallee.registry.dns_domains import dns_domains

if TYPE_CHECKING:
    from mallee.store import Store
    from mallee.store.tables.ec2 import Ec2Instance

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
# AWS's default HttpPutResponseHopLimit.
PUT_HOP_LIMIT = 1
# The states in which the instance's VM may be running and asking.
LIVE_STATES = ("pending", "running", "stopping", "shutting-down")


def block_devices(row: Ec2Instance, volumes: list[str]) -> tuple[tuple[str, str], ...]:
    """ebsN for the devices of the instance's volumes other than its root (`volumes`, in
    device order), ephemeralN for its instance-store disks, as AWS lists them."""
    root = row.root_device_name
    others = [d for d in volumes if d not in (root, root.rstrip("0123456789"))]
    found = [(f"ebs{n}", d) for n, d in enumerate(others, start=1)]
    for m in json.loads(row.block_device_mappings or "[]"):
        if m.get("VirtualName"):
            found.append((str(m["VirtualName"]), str(m["DeviceName"])))
    return tuple(found)


def seen_of(
    row: Ec2Instance,
    region: str,
    names: DnsDomains,
    iam: IamView | None = None,
    devices: tuple[tuple[str, str], ...] = (),
) -> Seen:
    groups = tuple(
        str(g.get("GroupName") or g.get("GroupId", "")) for g in json.loads(row.security_groups)
    )
    return Seen(
        instance_id=row.id,
        account_id=row.account_id,
        image_id=row.image_id,
        launch_index=row.launch_index,
        instance_type=row.instance_type,
        kernel_id=row.kernel_id,
        ramdisk_id=row.ramdisk_id,
        reservation_id=row.reservation_id,
        zone=row.availability_zone,
        mac=(row.mac or "").lower(),
        private_ip=row.private_ip or "",
        public_ip=row.public_ip,
        key_name=row.key_name,
        public_key=row.public_key,
        user_data=row.user_data,
        groups=groups,
        region=region,
        local_hostname=names.private_name(row.private_ip),
        public_hostname=names.public_name(row.public_ip) or None,
        root_device=row.root_device_name,
        iam=iam,
        devices=devices,
    )


class Neighbours:
    """IPv4 address -> MAC, read from the node namespace's ARP table at each call."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def mac(self, address: str) -> str | None:
        with self._lock:
            os.lseek(self._fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(self._fd, 65536):
                chunks.append(chunk)
        for line in b"".join(chunks).decode(errors="replace").splitlines()[1:]:
            words = line.split()
            # IP address, HW type, Flags, HW address, Mask, Device; flag 0x2 = complete.
            if len(words) >= 4 and words[0] == address and int(words[2], 16) & 0x2:
                return words[3].lower()
        return None


class Directory:
    """(source address, its MAC) -> the instance, with a short cache of hits only."""

    def __init__(
        self,
        lookup: Callable[[str, str], Seen | None],
        neighbour: Callable[[str], str | None],
        ttl: float = CACHE_SECONDS,
    ) -> None:
        self._lookup, self._neighbour, self._ttl = lookup, neighbour, ttl
        self._cache: dict[tuple[str, str], tuple[float, Seen]] = {}
        self._lock = threading.Lock()

    def find(self, address: str) -> Seen | None:
        mac = self._neighbour(address)
        if mac is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((address, mac))
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        seen = self._lookup(address, mac)
        with self._lock:
            if seen is None:
                self._cache.pop((address, mac), None)
            else:
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[(address, mac)] = (now, seen)
        return seen


def store_lookup(
    store: Store, node: str, region: str, assume: Assume, vpc: str = ""
) -> Callable[[str, str], Seen | None]:
    """`vpc` set: a server in that VPC's namespace, where addresses are the VPC's own (CIDRs
    overlap between VPCs), so only that VPC's instances are answered."""
    from sqlalchemy import func, select

    from mallee.store.tables.ebs import Ec2VolumeAttachment
    from mallee.store.tables.ec2 import Ec2Instance

    roles = RoleCache(issuer(store, assume))

    def lookup(address: str, mac: str) -> Seen | None:
        query = select(Ec2Instance).where(
            Ec2Instance.private_ip == address,
            Ec2Instance.node == node,
            Ec2Instance.state.in_(LIVE_STATES),
            func.lower(Ec2Instance.mac) == mac,
        )
        if vpc:
            query = query.where(Ec2Instance.vpc_id == vpc)
        with store.read() as s:
            row = s.scalars(query).first()
            if row is None:
                return None
            s.expunge(row)
            volumes = list(
                s.scalars(
                    select(Ec2VolumeAttachment.device)
                    .where(Ec2VolumeAttachment.instance_id == row.id)
                    .order_by(Ec2VolumeAttachment.device)
                ).all()
            )
        profile = row.iam_instance_profile_id
        iam = roles.view(row.id, profile) if profile else None
        names = dns_domains(store)
        return seen_of(row, region, names, iam, block_devices(row, volumes))

    return lookup


def handler_for(directory: Directory, tokens: Tokens) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "EC2ws"
        sys_version = ""
        # A guest holding a connection open must not hold a thread for ever.
        timeout = 10

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.client_address[0], format % args)

        def _serve(self, method: str) -> None:
            headers: dict[str, str]
            try:
                seen = directory.find(self.client_address[0])
            except Exception:
                log.exception("lookup of %s failed", self.client_address[0])
                status, body, headers = 503, b"Service Unavailable", {}
            else:
                status, body, headers = respond(
                    method, self.path, dict(self.headers.items()), seen, tokens
                )
            if method == "PUT" and status == 200:
                # IMDSv2's hop limit: the token's packets die one router past the node, so a
                # container NATed behind the instance, or a host beyond it, never gets one.
                self.connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, PUT_HOP_LIMIT)
            self.send_response(status)
            headers.setdefault("Content-Type", "text/plain")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


def _detach(log_file: Path) -> None:
    """Own stdio: the starter may be waiting for the pipes it gave us to close."""
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)


def _watch_netns(netns: str, inode: int | None) -> None:
    """Exit when the namespace we listen in is deleted or replaced: we would serve no one."""
    while procs.netns_inode(netns) == inode:
        time.sleep(2)
    log.warning("namespace %s is gone; exiting", netns)
    os._exit(0)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mallee-metadata")
    # Default from the environment: a URL on a command line is readable by every local user.
    p.add_argument("--db-url", default=os.environ.get("MALLEE_DB_URL", ""))
    p.add_argument("--node", required=True)
    p.add_argument("--region", default="eucalyptus")
    p.add_argument("--netns", default="", help="namespace to listen in (this process stays out)")
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, default=8775)
    p.add_argument("--pidfile", type=Path, required=True)
    p.add_argument("--log", type=Path, default=None)
    p.add_argument("--vpc", default="", help="serve only this VPC's instances (its namespace)")
    args = p.parse_args(argv)
    if not args.db_url:
        p.error("--db-url or MALLEE_DB_URL is required")
    return args


def serve(argv: list[str] | None, assumer: Callable[[Store, str], Assume]) -> int:
    """The server's process: `assumer(store, region)` makes its way to instance credentials."""
    private_umask()
    args = _parse(argv)
    if args.log is not None:
        _detach(args.log)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s metadata: %(message)s")
    from mallee.store import Store

    inode = procs.netns_inode(args.netns) if args.netns else None
    neighbours = Neighbours(open_in(args.netns, "/proc/thread-self/net/arp"))
    store = Store(args.db_url)
    assume = assumer(store, args.region)
    lookup = store_lookup(store, args.node, args.region, assume, args.vpc)
    handler = handler_for(Directory(lookup, neighbours.mac), Tokens())
    server = ThreadingHTTPServer((args.listen, args.port), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listen_in(args.netns, args.listen, args.port)
    server.daemon_threads = True
    if args.netns:
        threading.Thread(target=_watch_netns, args=(args.netns, inode), daemon=True).start()
    # Written once listening: its presence means ready. The second line names the namespace
    # instance, so a server left listening in a deleted namespace is never adopted.
    tmp = args.pidfile.with_name(args.pidfile.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n{inode or ''}\n")
    os.replace(tmp, args.pidfile)
    log.info("serving metadata for %s on %s:%s in %s", args.node, args.listen, args.port,
             args.netns or "the host namespace")  # fmt: skip
    sys.stdout.flush()
    server.serve_forever()
    return 0
