"""The instance metadata service, run inside a node's namespace (169.254.169.254 is DNATed here).

Answers each request from the instance whose private address is the request's source, on this
node, and not terminated: an unknown source gets 404, never another instance's data. IMDSv1
and IMDSv2 (PUT /latest/api/token) are both served.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from mallee.node.network.nsock import listen_in
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance

log = logging.getLogger(__name__)

TOKEN_TTL_BOUNDS = (1, 21600)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the metadata service knows of one instance."""

    instance_id: str
    image_id: str
    launch_index: int
    instance_type: str
    kernel_id: str | None
    ramdisk_id: str | None
    reservation_id: str
    zone: str
    mac: str
    private_ip: str
    public_ip: str | None
    key_name: str | None
    public_key: str | None
    user_data: str | None
    groups: tuple[str, ...]
    region: str

    @classmethod
    def of(cls, row: Ec2Instance, region: str) -> Seen:
        groups = tuple(
            g.get("GroupName") or g.get("GroupId", "") for g in json.loads(row.security_groups)
        )
        return cls(
            row.id,
            row.image_id,
            row.launch_index,
            row.instance_type,
            row.kernel_id,
            row.ramdisk_id,
            row.reservation_id,
            row.availability_zone,
            row.mac or "",
            row.private_ip or "",
            row.public_ip,
            row.key_name,
            row.public_key,
            row.user_data,
            groups,
            region,
        )


def _hostname(seen: Seen) -> str:
    return f"ip-{seen.private_ip.replace('.', '-')}.{seen.region}.compute.internal"


def _meta(seen: Seen) -> dict[str, Callable[[Seen], str | None]]:
    return {
        "ami-id": lambda s: s.image_id,
        "ami-launch-index": lambda s: str(s.launch_index),
        "hostname": _hostname,
        "instance-id": lambda s: s.instance_id,
        "instance-type": lambda s: s.instance_type,
        "kernel-id": lambda s: s.kernel_id,
        "local-hostname": _hostname,
        "local-ipv4": lambda s: s.private_ip,
        "mac": lambda s: s.mac,
        "public-hostname": lambda s: s.public_ip and f"euca-{s.public_ip.replace('.', '-')}",
        "public-ipv4": lambda s: s.public_ip,
        "ramdisk-id": lambda s: s.ramdisk_id,
        "reservation-id": lambda s: s.reservation_id,
        "security-groups": lambda s: "\n".join(s.groups),
    }


def answer(path: str, seen: Seen) -> tuple[int, str]:
    """(status, body) for a GET of `path` by the instance `seen`."""
    path = "/" + path.strip("/")
    if path in ("/", "/latest"):
        return 200, "latest\n" if path == "/" else "meta-data/\nuser-data\n"
    if path == "/latest/user-data":
        if not seen.user_data:
            return 404, "Not Found"
        return 200, base64.b64decode(seen.user_data).decode(errors="replace")
    if not path.startswith("/latest/meta-data"):
        return 404, "Not Found"
    rest = path.removeprefix("/latest/meta-data").strip("/")
    table = _meta(seen)
    if rest == "":
        names = [k for k, f in table.items() if f(seen)]
        return 200, "\n".join(
            [*names, "placement/", *(["public-keys/"] if seen.public_key else [])]
        )
    if rest in table and table[rest](seen):
        return 200, str(table[rest](seen))
    if rest == "placement":
        return 200, "availability-zone"
    if rest == "placement/availability-zone":
        return 200, seen.zone
    if seen.public_key and rest == "public-keys":
        return 200, f"0={seen.key_name or 'key'}"
    if seen.public_key and rest == "public-keys/0":
        return 200, "openssh-key"
    if seen.public_key and rest == "public-keys/0/openssh-key":
        return 200, seen.public_key.strip() + "\n"
    return 404, "Not Found"


class Directory:
    """Source address -> instance, read from the store with a short cache."""

    def __init__(self, store: Store, node: str, region: str, ttl: float = 2.0) -> None:
        self.store, self.node, self.region, self.ttl = store, node, region, ttl
        self._cache: dict[str, tuple[float, Seen | None]] = {}
        self._lock = threading.Lock()

    def find(self, address: str) -> Seen | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(address)
        if hit and now - hit[0] < self.ttl and hit[1] is not None:
            return hit[1]
        with self.store.read() as s:
            row = s.scalar(
                select(Ec2Instance).where(
                    Ec2Instance.private_ip == address,
                    Ec2Instance.node == self.node,
                    Ec2Instance.state.in_(("pending", "running", "stopping")),
                )
            )
            seen = Seen.of(row, self.region) if row is not None else None
        with self._lock:
            self._cache[address] = (now, seen)
        return seen


class Tokens:
    """IMDSv2 session tokens, per instance, in memory (a restart makes callers fetch anew)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue(self, instance_id: str, ttl: int) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (instance_id, time.monotonic() + ttl)
        return token

    def valid(self, token: str, instance_id: str) -> bool:
        found = self._tokens.get(token)
        return found is not None and found[0] == instance_id and found[1] > time.monotonic()


def _handler(directory: Directory, tokens: Tokens) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "EC2ws"
        sys_version = ""

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

        def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            seen = directory.find(self.client_address[0])
            if seen is None:
                return self._send(404, "Not Found")
            token = self.headers.get("X-aws-ec2-metadata-token")
            if token is not None and not tokens.valid(token, seen.instance_id):
                return self._send(401, "Unauthorized")
            status, body = answer(self.path.split("?")[0], seen)
            self._send(status, body)

        def do_PUT(self) -> None:
            if self.path.rstrip("/") != "/latest/api/token":
                return self._send(404, "Not Found")
            if self.headers.get("X-Forwarded-For"):
                return self._send(403, "Forbidden")
            seen = directory.find(self.client_address[0])
            if seen is None:
                return self._send(404, "Not Found")
            raw = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            low, high = TOKEN_TTL_BOUNDS
            if not raw.isdigit() or not low <= int(raw) <= high:
                return self._send(400, "Bad Request")
            token = tokens.issue(seen.instance_id, int(raw))
            self._send(200, token, {"X-aws-ec2-metadata-token-ttl-seconds": raw})

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mallee-metadata")
    p.add_argument("--db-url", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--region", default="eucalyptus")
    p.add_argument("--netns", default="", help="namespace to listen in (this process stays out)")
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, default=8775)
    p.add_argument("--pidfile", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s metadata: %(message)s")
    store = Store(args.db_url)
    handler = _handler(Directory(store, args.node, args.region), Tokens())
    server = ThreadingHTTPServer((args.listen, args.port), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listen_in(args.netns, args.listen, args.port)
    server.daemon_threads = True
    args.pidfile.write_text(str(os.getpid()))
    log.info("serving metadata for %s on %s:%s", args.node, args.listen, args.port)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
