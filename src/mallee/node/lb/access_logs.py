"""ELB access logs: each worker's requests, as HAProxy logs them, delivered to the load
balancer's bucket every access_log_interval minutes, one object per worker, named as ELB names
them.

HAProxy sends a datagram per request to a unix socket the agent binds for the worker (beside its
stats socket; a unix socket is a file, so the namespace does not stand between them). A thread
appends each line, as it comes, to the worker's spool on disk: one file per minute
(`access/<minute>.log` in its run directory). When an interval has ended (and GRACE more, for
lines still in flight) its minutes' files become one object, written as the S3 API writes one
(objectstore's versioning rules, the blob backend for what does not fit in the row), owned by
the bucket's owner; the files go once the object is committed. An agent restarted in between
finds the files and delivers them; a delivery repeated after a crash writes the same key again
(the name's random part comes from the worker and the interval), never a second object.

Why datagrams and not a file HAProxy writes: HAProxy writes no log files, only to syslog
sockets (or its own stdout, closed in daemon mode); a syslog daemon between them would be one
more service on every node. The price: lines HAProxy sends while no agent runs are dropped by
the kernel; what reached the spool is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from mallee.config import Settings
from mallee.node.lb.log_format import elb_line
from mallee.objectstore import versions
from mallee.objectstore.backends import Backend, make_backend
from mallee.objectstore.canonical import canonical_id
from mallee.store.db import Store
from mallee.store.tables.elb import ElbListener, ElbLoadBalancer, ElbWorker
from mallee.store.tables.s3 import S3Bucket, S3Object

log = logging.getLogger(__name__)

# Seconds in one of access_log_interval's minutes (tests make it shorter).
MINUTE = 60.0
# An interval is delivered this long after it ends: datagrams sent before its end are in.
GRACE = 2.0
# An object up to this size keeps its bytes in its row, as the S3 API keeps small objects.
INLINE_MAX = 64 * 1024
SPOOL = "access"
# Longer than this undelivered (no bucket, the load balancer gone) and a spool file goes.
KEEP_UNDELIVERED = 24 * 3600.0


def owner_acl(account_id: str) -> str:
    grant = {"grantee": {"type": "CanonicalUser", "id": canonical_id(account_id)},
             "permission": "FULL_CONTROL"}  # fmt: skip
    return json.dumps({"owner": account_id, "grants": [grant]})


def object_key(prefix: str, account: str, region: str, lb_name: str, end: float, ip: str,
               worker_id: str) -> str:  # fmt: skip
    """`<prefix>/AWSLogs/<account>/elasticloadbalancing/<region>/<yyyy>/<mm>/<dd>/
    <account>_elasticloadbalancing_<region>_<name>_<end>_<ip>_<random>.log`."""
    when = datetime.fromtimestamp(end, UTC)
    random = hashlib.sha256(f"{worker_id}:{end}".encode()).hexdigest()[:8]
    name = (f"{account}_elasticloadbalancing_{region}_{lb_name}_{when:%Y%m%dT%H%MZ}_{ip}_"
            f"{random}.log")  # fmt: skip
    path = f"AWSLogs/{account}/elasticloadbalancing/{region}/{when:%Y/%m/%d}/{name}"
    prefix = prefix.strip("/")
    return f"{prefix}/{path}" if prefix else path


def due_groups(minutes: list[int], interval: int, now: float) -> dict[int, list[int]]:
    """Spooled minutes (indexes of MINUTE since the epoch) by the end (a minute index) of the
    interval of `interval` minutes they fall in, for the intervals past their end and GRACE."""
    out: dict[int, list[int]] = {}
    for m in minutes:
        end = (m // interval + 1) * interval
        if end * MINUTE + GRACE <= now:
            out.setdefault(end, []).append(m)
    return {end: sorted(ms) for end, ms in sorted(out.items())}


@dataclass
class _Socket:
    worker_id: str
    sock: socket.socket
    spool: Path
    path: Path


class AccessLogs:
    """The workers' log sockets, spools and deliveries."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir
        self._backend: Backend | None = None
        self._selector = selectors.DefaultSelector()
        self._sockets: dict[str, _Socket] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- receiving ----------------------------------------------------------------------------

    def ensure(self, worker_id: str, path: Path, run_dir: Path) -> None:
        """The worker's socket bound at `path` and read into its spool under `run_dir`."""
        with self._lock:
            if worker_id in self._sockets:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(path))
            os.chmod(path, 0o600)
            sock.setblocking(False)
            entry = _Socket(worker_id, sock, run_dir / SPOOL, path)
            self._sockets[worker_id] = entry
            self._selector.register(sock, selectors.EVENT_READ, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._receive, name="elb-logs", daemon=True)
                self._thread.start()

    def forget(self, worker_id: str) -> None:
        with self._lock:
            entry = self._sockets.pop(worker_id, None)
            if entry is not None:
                self._selector.unregister(entry.sock)
                entry.sock.close()
                entry.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._stop.set()
        for worker_id in list(self._sockets):
            self.forget(worker_id)

    def _receive(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                ready = self._selector.select(timeout=0) if self._sockets else []
            if not ready:
                time.sleep(0.05)
                continue
            for key, _ in ready:
                entry: _Socket = key.data
                try:
                    self._drain(entry)
                except OSError:
                    log.exception("ELB worker %s: access log not spooled", entry.worker_id)

    def _drain(self, entry: _Socket) -> None:
        lines = []
        while True:
            try:
                data = entry.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # closed by forget() meanwhile
            lines.append(data.rstrip(b"\x00\n") + b"\n")
        if lines:
            entry.spool.mkdir(parents=True, exist_ok=True)
            minute = math.floor(time.time() / MINUTE)
            with open(entry.spool / f"{minute}.log", "ab") as f:
                f.write(b"".join(lines))

    # --- delivering ---------------------------------------------------------------------------

    def deliver_due(self, worker_id: str, run_dir: Path, now: float | None = None) -> int:
        """The worker's spooled intervals that have ended, each as one object; returns how
        many objects it wrote (what failed stays spooled for the next call)."""
        try:
            return self._deliver(worker_id, run_dir, now)
        except Exception:
            log.exception("ELB worker %s: access logs not delivered", worker_id)
            return 0

    def _deliver(self, worker_id: str, run_dir: Path, now: float | None) -> int:
        spool = run_dir / SPOOL
        now = time.time() if now is None else now
        try:
            minutes = sorted(int(p.stem) for p in spool.glob("*.log") if p.stem.isdigit())
        except OSError:
            return 0
        if not minutes:
            return 0
        with self.store.read() as s:
            found = s.execute(
                select(ElbLoadBalancer, ElbWorker.public_ip)
                .join(ElbWorker, ElbWorker.lb_id == ElbLoadBalancer.id)
                .where(ElbWorker.id == worker_id)
            ).first()
            lb, ip = (found[0], found[1]) if found else (None, None)
            schemes = {
                port: "https" if proto == "HTTPS" else "http"
                for port, proto in s.execute(
                    select(ElbListener.lb_port, ElbListener.protocol).where(
                        ElbListener.lb_id == (lb.id if lb else "")
                    )
                )
            }
            bucket = s.get(S3Bucket, lb.access_log_bucket) if lb is not None else None
        if lb is None or bucket is None or not lb.access_log_bucket:
            self._drop_old(spool, minutes, now)
            return 0
        interval = 60 if lb.access_log_interval >= 60 else 5
        written = 0
        for end, group in due_groups(minutes, interval, now).items():
            body = self._body(spool, group, lb.name, schemes)
            key = object_key(lb.access_log_prefix, lb.account_id, bucket.region, lb.name,
                             end * MINUTE, ip or "-", worker_id)  # fmt: skip
            self._put(bucket.name, key, body)
            for m in group:
                (spool / f"{m}.log").unlink(missing_ok=True)
            written += 1
        return written

    def _body(
        self, spool: Path, minutes: list[int], lb_name: str, schemes: dict[int, str]
    ) -> bytes:
        out = []
        for m in minutes:
            with contextlib.suppress(FileNotFoundError):
                for raw in (spool / f"{m}.log").read_text(errors="replace").splitlines():
                    port = _front_port(raw)
                    line = elb_line(raw, lb_name, schemes.get(port, "http"))
                    if line is not None:
                        out.append(line + "\n")
        return "".join(out).encode()

    def _put(self, bucket_name: str, key: str, body: bytes) -> None:
        blob = None
        if len(body) > INLINE_MAX:
            blob = self.backend().put([body], "")
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        freed: list[str] = []
        try:
            with self.store.session() as s:
                bucket = s.get(S3Bucket, bucket_name, with_for_update=True)
                if bucket is None:
                    raise LookupError(bucket_name)
                row = S3Object(
                    bucket=bucket_name,
                    key=key,
                    version_id=versions.new_version_id(bucket),
                    account_id=bucket.account_id,
                    size=len(body),
                    etag=f'"{md5}"',
                    blob_id=blob.blob_id if blob else None,
                    data=None if blob else body,
                    last_modified=datetime.now(UTC),
                    headers=json.dumps({"ContentType": "text/plain", "Metadata": {}}),
                    acl=owner_acl(bucket.account_id),
                )
                freed = versions.put_version(s, bucket, row)
        except BaseException:
            if blob is not None:
                self.backend().delete(blob.blob_id)
            raise
        for blob_id in freed:
            self.backend().delete(blob_id)

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = make_backend(Settings(data_dir=self.data_dir), self.store)
        return self._backend

    def _drop_old(self, spool: Path, minutes: list[int], now: float) -> None:
        for m in minutes:
            if m * MINUTE + KEEP_UNDELIVERED < now:
                (spool / f"{m}.log").unlink(missing_ok=True)


def _front_port(raw: str) -> int:
    words = raw.split(" ", 8)
    try:
        return int(words[6])
    except (IndexError, ValueError):
        return 0
