"""S3 under faults: the api SIGKILLed during concurrent writes, truncated uploads, and memory
that stays flat while a large object streams through.


These tests run their own `mallee api` process (its own data dir and database), never the
shared session cloud, so they can kill it and read its RSS. With MALLEE_TEST_S3_BACKEND=1 that
server keeps its data in a moto_server through the s3 backend, as the session cloud does.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.services.s3.data import INLINE_MAX
from tests.conftest import fresh_database_url
from tests.e2e.conftest import (
    REGION,
    ObjectStore,
    free_port,
    start_object_store,
    stop_object_store,
    use_s3_backend,
    wait_healthy,
)
from tests.processes import stop_process

pytestmark = pytest.mark.e2e

MIB = 1 << 20


@dataclass
class ApiServer:
    """One `mallee api` process that a test may SIGKILL and start again on the same state."""

    data_dir: Path
    env: dict[str, str]
    port: int
    keys: tuple[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = open(self.data_dir / f"api-{self.starts}.log", "wb")  # noqa: SIM115 - child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mallee", "api", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_healthy(self.endpoint, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None

    def client(self, pool: int = 10) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.keys[0],
            aws_secret_access_key=self.keys[1],
            # No retries: a request the kill broke must show as not acknowledged, never be
            # silently sent again to the restarted server.
            config=Config(retries={"max_attempts": 1}, max_pool_connections=pool),
        )

    def vm_kib(self, field_name: str) -> int:
        """A memory figure of the api process from /proc/<pid>/status (VmRSS, VmHWM), KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field_name} in /proc/{self.proc.pid}/status")


def _prepare_state(db_url: str, object_store: ObjectStore | None) -> tuple[str, str]:
    """A migrated database with the cloud admin's keys (and the s3 backend's properties)."""
    from mallee.registry import properties
    from mallee.services.iam.bootstrap import ensure_system_account
    from mallee.store import Store

    store = Store(db_url)
    try:
        store.migrate()
        keys = ensure_system_account(store)
        if object_store is not None:
            for name, value in object_store.properties().items():
                properties.set_value(store, name, value)
        return keys
    finally:
        store.dispose()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    object_store = start_object_store(tmp_path) if use_s3_backend() else None
    try:
        for db_url in fresh_database_url(tmp_path):
            env = dict(os.environ, MALLEE_DATA_DIR=str(tmp_path), MALLEE_DB_URL=db_url)
            server = ApiServer(tmp_path, env, free_port(), _prepare_state(db_url, object_store))
            server.start()
            try:
                yield server
            finally:
                server.stop()
    finally:
        if object_store is not None:
            stop_object_store(object_store)


# --- SIGKILL during concurrent writes ------------------------------------------------------------


WRITERS = 200


def test_sigkill_during_200_concurrent_puts_loses_no_acknowledged_object(api: ApiServer) -> None:
    rng = random.Random(5)
    # Sizes from empty to a few MiB, so the kill finds writes in every stage: receiving the
    # body, fsyncing the blob, committing the version (with the bytes inline for small ones).
    bodies = {
        f"obj/{i:03d}": rng.randbytes(rng.choice((0, 1, 4096, 100_000, 1 * MIB, 3 * MIB)))
        for i in range(WRITERS)
    }
    _kill_during_puts(api, bodies, {})


def test_sigkill_during_concurrent_small_puts_loses_no_acknowledged_object(api: ApiServer) -> None:
    rng = random.Random(7)
    # Every size kept inline in the version row, so each write is durable through its commit
    # alone; half the keys are overwrites, which must end as the old bytes or the new ones.
    sizes = (0, 1, 100, 4096, INLINE_MAX - 1, INLINE_MAX)
    bodies = {f"small/{i:03d}": rng.randbytes(rng.choice(sizes)) for i in range(WRITERS)}
    old = {key: b"old:" + key.encode() for key in list(bodies)[::2]}
    _kill_during_puts(api, bodies, old)


def _kill_during_puts(api: ApiServer, bodies: dict[str, bytes], old: dict[str, bytes]) -> None:
    """Write `bodies` from WRITERS threads at once (over `old` contents), SIGKILL the api once
    some are acknowledged, restart it: every acknowledged write holds its bytes, every key
    holds one whole version (new, old, or none), and the server takes writes again."""
    s3 = api.client(pool=WRITERS)
    bucket = f"kill-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for key, data in old.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    acked = _put_until_killed(api, s3, bucket, bodies)
    api.start()
    s3 = api.client()
    listed = {
        o["Key"]: o["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    }
    assert acked <= set(listed), f"acknowledged but lost: {sorted(acked - set(listed))}"
    # Every key that exists, acknowledged or not (a write can commit just before the kill and
    # lose only its answer), holds exactly the bytes of one write: nothing partial.
    for key in listed:
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if key in acked or got != old.get(key):
            assert hashlib.sha256(got).digest() == hashlib.sha256(bodies[key]).digest(), key
            assert listed[key] == len(bodies[key]), key
    for key in set(bodies) - set(listed):
        with pytest.raises(ClientError) as err:
            s3.head_object(Bucket=bucket, Key=key)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert set(old) <= set(listed), "an interrupted overwrite lost the previous version"
    print(f"acknowledged {len(acked)}, stored {len(listed)} of {WRITERS}")
    # The restarted server takes writes again.
    s3.put_object(Bucket=bucket, Key="after", Body=b"alive")
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"alive"


def _put_until_killed(api: ApiServer, s3: Any, bucket: str, bodies: dict[str, bytes]) -> set[str]:
    """The keys whose PUT was acknowledged before the SIGKILL that ended them all."""
    acked: set[str] = set()
    lock = threading.Lock()
    go = threading.Barrier(len(bodies) + 1)

    def put(key: str) -> None:
        go.wait()
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])
        except Exception:  # a broken connection: the expected outcome of the kill
            return
        with lock:
            acked.add(key)

    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = [pool.submit(put, key) for key in bodies]
        go.wait()
        # Kill once some writes have been acknowledged and many are still in flight.
        deadline = time.monotonic() + 30
        while len(acked) < 20 and time.monotonic() < deadline:
            time.sleep(0.002)
        api.kill()
        for f in futures:
            f.result()
    assert 0 < len(acked) < len(bodies), f"{len(acked)} acknowledged: no write in flight"
    return set(acked)


# --- truncated uploads ---------------------------------------------------------------------------


def _presigned_put(s3: Any, bucket: str, key: str) -> tuple[str, str]:
    """(host:port, path?query) of a presigned PutObject: the body is not part of the signature,
    so what the server does with a short body is about the body alone."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key})
    parts = urlsplit(url)
    return parts.netloc, f"{parts.path}?{parts.query}"


def test_truncated_upload_stores_nothing(api: ApiServer) -> None:
    s3 = api.client()
    bucket = f"trunc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"old contents")
    # Sizes for each way in: a small body taken in at once (and kept inline), a blob, a large
    # overwrite that never completes.
    cases = (("tiny", 40_000, 30_000), ("new", 200_000, 150_000), ("kept", 3 * MIB, 2 * MIB + 7))
    for key, promised, sent in cases:
        netloc, target = _presigned_put(s3, bucket, key)
        host, port = netloc.split(":")
        with socket.create_connection((host, int(port))) as sock:
            head = (
                f"PUT {target} HTTP/1.1\r\nHost: {netloc}\r\n"
                f"Content-Length: {promised}\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            sock.sendall(head.encode() + os.urandom(sent))
            time.sleep(0.2)  # let the server take in what was sent before the connection drops
    # The server notices the dropped connection asynchronously; give it a moment.
    time.sleep(0.5)
    for key in ("tiny", "new"):
        with pytest.raises(ClientError) as err:
            s3.head_object(Bucket=bucket, Key=key)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # An overwrite that never completed leaves the previous version in place.
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"old contents"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept"]
    leftovers = list((api.data_dir / "objects" / "tmp").glob("*"))
    assert not leftovers, "temporary blob files left behind"


# --- memory stays flat ---------------------------------------------------------------------------

LARGE = 512 * MIB
# The api at rest after the warm-up is ~148-153 MiB here (2026-12-07: +2 MiB from the locked
# dependency set's move to today's releases, +3 MiB from the security round's modules, +5-9 MiB
# from EBS, image import and VPC in EC2); what this test guards is that a 512 MiB object adds
# only GROWTH_LIMIT_KIB to it, and the limit leaves the at-rest figure ~20 MiB of room.
RSS_LIMIT_KIB = 172 * 1024
# PostgreSQL's driver and its connection pool (SQLite's module is part of Python).
POSTGRES_KIB = 10 * 1024
# The s3 backend's botocore client for the store (models, endpoint rules) costs ~15-20 MiB once.
S3_CLIENT_KIB = 24 * 1024
# What one upload or download may hold at a time: a part of the s3 backend (8 MiB), the pieces
# in flight between the socket and the worker thread, allocator slack.
GROWTH_LIMIT_KIB = 40 * 1024


def _pattern(size: int) -> Iterator[bytes]:
    """`size` bytes in 1 MiB pieces, generated on the fly (the test holds none of it)."""
    block = hashlib.sha256(b"mallee").digest() * (MIB // 32)
    for offset in range(0, size, MIB):
        yield block[: min(MIB, size - offset)]


def _stream_put(s3: Any, bucket: str, key: str, size: int) -> None:
    netloc, target = _presigned_put(s3, bucket, key)
    conn = http.client.HTTPConnection(netloc, timeout=300)
    try:
        conn.request("PUT", target, body=_pattern(size), headers={"Content-Length": str(size)})
        answer = conn.getresponse()
        assert answer.status == 200, answer.read()
        answer.read()
    finally:
        conn.close()


def test_memory_stays_flat_for_a_512_mib_object(api: ApiServer) -> None:
    s3 = api.client()
    bucket = f"big-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    # Warm up: the backend and its buffers exist, a multipart-sized blob has gone through.
    _stream_put(s3, bucket, "warm", 20 * MIB)
    s3.get_object(Bucket=bucket, Key="warm")["Body"].read()
    warm = api.vm_kib("VmRSS")
    _stream_put(s3, bucket, "large", LARGE)
    after_put = api.vm_kib("VmHWM")
    head = s3.head_object(Bucket=bucket, Key="large")
    assert head["ContentLength"] == LARGE
    expected = hashlib.md5(usedforsecurity=False)
    for piece in _pattern(LARGE):
        expected.update(piece)
    assert head["ETag"].strip('"') == expected.hexdigest()
    got = hashlib.md5(usedforsecurity=False)
    body = s3.get_object(Bucket=bucket, Key="large")["Body"]
    for piece in body.iter_chunks(MIB):
        got.update(piece)
    assert got.hexdigest() == expected.hexdigest()
    peak = api.vm_kib("VmHWM")
    print(f"api RSS warm {warm // 1024} MiB, peak {after_put // 1024} (PUT) {peak // 1024} (GET)")
    assert after_put - warm < GROWTH_LIMIT_KIB, f"RSS grew {(after_put - warm) // 1024} MiB (PUT)"
    assert peak - warm < GROWTH_LIMIT_KIB, f"RSS grew {(peak - warm) // 1024} MiB (GET)"
    limit = RSS_LIMIT_KIB + (S3_CLIENT_KIB if use_s3_backend() else 0)
    limit += POSTGRES_KIB if os.environ.get("MALLEE_TEST_DB") == "postgres" else 0
    assert peak < limit, f"peak RSS {peak // 1024} MiB"
