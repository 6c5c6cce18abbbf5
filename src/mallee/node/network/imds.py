"""What the instance metadata service answers, as pure functions (no sockets, no database).

`respond(method, path, headers, seen, tokens)` is the whole protocol: IMDSv1 GETs, IMDSv2
session tokens (PUT /latest/api/token), and the AWS listing format (one name a line, no
trailing newline, directories ending with "/"). `seen` is the caller's instance, already
picked by the server from the request's source address; None means "not an instance here".
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_BOUNDS = (1, 21600)
# The dated versions clients probe (cloud-init asks for 2009-04-04 and later); all serve the
# same tree as "latest".
VERSIONS = (
    "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
    "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25",
    "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02", "latest",
)  # fmt: skip

Tree = dict[str, "Tree | str"]
Reply = tuple[int, bytes, dict[str, str]]


@dataclass(frozen=True, slots=True)
class IamView:
    """The instance profile part of the tree: iam/info and iam/security-credentials/<role>."""

    info: str  # the JSON document of iam/info
    role_name: str | None = None
    credentials: str | None = None  # the JSON document for the role, when deliverable


@dataclass(frozen=True, slots=True)
class Seen:
    """What the metadata service tells one instance (a snapshot of its row)."""

    instance_id: str
    account_id: str
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
    user_data: str | None  # base64, as stored
    groups: tuple[str, ...]
    region: str
    # The instance's DNS names (mallee.dns_names); no public one without a public address.
    local_hostname: str = ""
    public_hostname: str | None = None
    root_device: str = "/dev/sda1"
    iam: IamView | None = None
    # block-device-mapping/: (name, device) pairs as AWS lists them: ami and root (the root
    # device), ebsN (its other volumes), ephemeralN (its instance-store disks).
    devices: tuple[tuple[str, str], ...] = ()


def _present(tree: Mapping[str, Tree | str | None]) -> Tree:
    return {k: v for k, v in tree.items() if v}


def _interface(s: Seen) -> Tree:
    return _present(
        {
            "device-number": "0",
            "local-hostname": s.local_hostname,
            "local-ipv4s": s.private_ip,
            "mac": s.mac,
            "public-ipv4s": s.public_ip,
            "security-groups": "\n".join(s.groups),
        }
    )


def _block_devices(s: Seen) -> Tree:
    tree: Tree = {"ami": s.root_device, "root": s.root_device}
    tree.update(s.devices)
    return tree


def meta_tree(s: Seen) -> Tree:
    """The meta-data tree of instance `s`; absent values are left out, as AWS does."""
    keys: Tree | None = (
        {"0": {"openssh-key": s.public_key.strip() + "\n"}} if s.public_key else None
    )
    return _present(
        {
            "ami-id": s.image_id,
            "ami-launch-index": str(s.launch_index),
            "block-device-mapping": _block_devices(s),
            "hostname": s.local_hostname,
            "iam": _iam(s.iam) if s.iam else None,
            "instance-id": s.instance_id,
            "instance-type": s.instance_type,
            "kernel-id": s.kernel_id,
            "local-hostname": s.local_hostname,
            "local-ipv4": s.private_ip,
            "mac": s.mac,
            "network": {"interfaces": {"macs": {s.mac: _interface(s)}}} if s.mac else None,
            "placement": {"availability-zone": s.zone, "region": s.region},
            "public-hostname": s.public_hostname,
            "public-ipv4": s.public_ip,
            "public-keys": keys,
            "ramdisk-id": s.ramdisk_id,
            "reservation-id": s.reservation_id,
            "security-groups": "\n".join(s.groups),
        }
    )


def _iam(view: IamView) -> Tree:
    tree: Tree = {"info": view.info}
    if view.role_name and view.credentials:
        tree["security-credentials"] = {view.role_name: view.credentials}
    return tree


def identity_document(s: Seen) -> str:
    doc = {
        "accountId": s.account_id,
        "architecture": "x86_64",
        "availabilityZone": s.zone,
        "imageId": s.image_id,
        "instanceId": s.instance_id,
        "instanceType": s.instance_type,
        "kernelId": s.kernel_id,
        "privateIp": s.private_ip,
        "ramdiskId": s.ramdisk_id,
        "region": s.region,
        "version": "2017-09-30",
    }
    return json.dumps(doc, indent=2)


def _listing(tree: Tree) -> str:
    return "\n".join(k + "/" if isinstance(v, dict) else k for k, v in sorted(tree.items()))


def _walk(tree: Tree, parts: list[str], seen: Seen) -> tuple[int, str]:
    node: Tree | str = tree
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return 404, "Not Found"
        node = node[part]
    if not isinstance(node, dict):
        return 200, node
    if parts == ["public-keys"]:
        # AWS lists keys as index=name, though each is fetched by its index.
        return 200, f"0={seen.key_name or 'key'}"
    return 200, _listing(node)


def answer(path: str, seen: Seen) -> tuple[int, bytes]:
    """(status, body) for a GET of `path` by the instance `seen`."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if not parts:
        return 200, "\n".join(VERSIONS).encode()
    if parts[0] not in VERSIONS:
        return 404, b"Not Found"
    version, rest = parts[0], parts[1:]
    if not rest:
        return 200, ("dynamic\nmeta-data" + ("\nuser-data" if seen.user_data else "")).encode()
    if rest == ["user-data"]:
        data = _user_data(seen)
        return (200, data) if data is not None else (404, b"Not Found")
    if rest[0] == "meta-data":
        status, text = _walk(meta_tree(seen), rest[1:], seen)
        return status, text.encode()
    if rest[0] == "dynamic" and version != "1.0":
        dynamic: Tree = {"instance-identity": {"document": identity_document(seen)}}
        status, text = _walk(dynamic, rest[1:], seen)
        return status, text.encode()
    return 404, b"Not Found"


def _user_data(seen: Seen) -> bytes | None:
    if not seen.user_data:
        return None
    try:
        return base64.b64decode(seen.user_data, validate=True)
    except (binascii.Error, ValueError):
        return None


def token_ttl(raw: str | None) -> int | None:
    """The TTL a token request asks for, or None when missing or outside 1..21600."""
    if raw is None or not raw.strip().isdigit():
        return None
    ttl = int(raw)
    return ttl if TTL_BOUNDS[0] <= ttl <= TTL_BOUNDS[1] else None


class Tokens:
    """IMDSv2 session tokens, bound to one instance each, in memory.

    A restarted server forgets them; clients then get 401 and ask for a new one, as after an
    expiry.
    """

    MAX = 65536

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, instance_id: str, ttl: int) -> str:
        token = secrets.token_urlsafe(40)
        now = self._now()
        with self._lock:
            if len(self._tokens) >= self.MAX:
                self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
                while len(self._tokens) >= self.MAX:
                    del self._tokens[next(iter(self._tokens))]
            self._tokens[token] = (instance_id, now + ttl)
        return token

    def valid(self, token: str, instance_id: str) -> bool:
        with self._lock:
            found = self._tokens.get(token)
        return found is not None and found[0] == instance_id and found[1] > self._now()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def respond(
    method: str, path: str, headers: Mapping[str, str], seen: Seen | None, tokens: Tokens
) -> Reply:
    """The whole reply to one request: IMDSv1 and IMDSv2 (a token, when sent, must be good)."""
    is_token_path = path.split("?")[0].rstrip("/") == "/latest/api/token"
    if method == "PUT" and is_token_path:
        return _issue_token(headers, seen, tokens)
    if method not in ("GET", "HEAD") or is_token_path:
        return 405, b"Method Not Allowed", {"Allow": "PUT" if is_token_path else "GET"}
    if seen is None:
        return 404, b"Not Found", {}
    token = _header(headers, TOKEN_HEADER)
    if token is not None and not tokens.valid(token, seen.instance_id):
        return 401, b"Unauthorized", {}
    status, body = answer(path, seen)
    is_user_data = path.split("?")[0].rstrip("/").endswith("/user-data")
    kind = "application/octet-stream" if is_user_data else "text/plain"
    return status, body, {"Content-Type": kind}


def _issue_token(headers: Mapping[str, str], seen: Seen | None, tokens: Tokens) -> Reply:
    # A request relayed by a proxy on the instance must not get a token (as AWS).
    if _header(headers, "X-Forwarded-For") is not None:
        return 403, b"Forbidden", {}
    ttl = token_ttl(_header(headers, TTL_HEADER))
    if ttl is None:
        return 400, b"Bad Request", {}
    if seen is None:
        return 404, b"Not Found", {}
    token = tokens.issue(seen.instance_id, ttl)
    return 200, token.encode(), {TTL_HEADER: str(ttl), "Content-Type": "text/plain"}
