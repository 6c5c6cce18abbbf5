"""Requests that never end, against a live `mallee api` (issue #13): stalled and trickled
bodies, endless, oversized and slow heads. None may hold what other clients need: the
server answers RequestTimeout or RequestHeaderSectionTooLarge, closes the connection, and
keeps serving everyone else meanwhile.

The server under test runs with short timeouts (IDLE, GRACE) so that each attack runs
through them within a few seconds. Raw sockets send what no SDK would.
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import pytest
from botocore.config import Config

from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from tests.conftest import fresh_database_url
from tests.e2e.conftest import REGION, free_port, wait_healthy
from tests.processes import stop_process

pytestmark = pytest.mark.e2e

# The server's header_timeout and body_idle_timeout, and its body_timeout.
IDLE = 2
GRACE = 4


@dataclass
class Api:
    port: int
    pid: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def s3(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            # A request held up by the attack fails the test instead of waiting it out.
            config=Config(retries={"max_attempts": 1}, read_timeout=5, connect_timeout=5),
        )

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("limits")
    for db_url in fresh_database_url(data_dir):
        store = Store(db_url)
        store.migrate()
        access_key, secret_key = ensure_system_account(store)
        store.dispose()
        port = free_port()
        env = dict(
            os.environ,
            MALLEE_DATA_DIR=str(data_dir),
            MALLEE_DB_URL=db_url,
            MALLEE_HEADER_TIMEOUT=str(IDLE),
            MALLEE_BODY_IDLE_TIMEOUT=str(IDLE),
            MALLEE_BODY_TIMEOUT=str(GRACE),
        )
        log = open(data_dir / "api.log", "wb")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            [sys.executable, "-m", "mallee", "api", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            yield Api(port, proc.pid, access_key, secret_key)
        finally:
            stop_process(proc)


@pytest.fixture(scope="module")
def bucket(api: Api) -> str:
    s3 = api.s3()
    s3.create_bucket(Bucket="limits")
    s3.put_object(Bucket="limits", Key="kept", Body=b"data")
    return "limits"


def connect(api: Api) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", api.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    return sock


def read_answer(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True), or until `timeout`."""
    data = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not piece:
            return data, True
        data += piece
    return data, False


def answered(data: bytes, code: str) -> bool:
    return data.startswith(b"HTTP/1.1 400 ") and f"<Code>{code}</Code>".encode() in data


def send_until_answered(sock: socket.socket, pieces: Iterator[bytes]) -> None:
    """Send `pieces` until the server answers (it stops reading) or the pieces run out."""
    for piece in pieces:
        if select.select([sock], [], [], 0)[0]:
            return
        try:
            sock.sendall(piece)
        except OSError:
            return


def stalled_body(api: Api, path: str, length: int, start: bytes = b"<Delete>") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
        f"Content-Type: application/xml\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + start


def stalled_head(api: Api) -> bytes:
    return f"GET /limits HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\nX-Slow: ".encode()


@dataclass
class Stalled:
    """One connection per opening, each sending its opening and then nothing; a connection
    the server closes is opened again, until the block ends. Keeps every answer."""

    api: Api
    openings: list[bytes]
    answers: list[tuple[bytes, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _hold(self, opening: bytes) -> None:
        while not self._stop.is_set():
            with connect(self.api) as sock:
                sock.sendall(opening)
                data, closed = b"", False
                while not closed and not self._stop.is_set():
                    more, closed = read_answer(sock, 0.2)
                    data += more
                if closed:
                    self.answers.append((data, closed))

    def __enter__(self) -> Stalled:
        for opening in self.openings:
            thread = threading.Thread(target=self._hold, args=(opening,), daemon=True)
            thread.start()
            self._threads.append(thread)
        time.sleep(0.5)  # every connection open and stalled
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def healthz_ms(api: Api) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(api.endpoint + "/healthz", timeout=5) as answer:
        assert answer.status == 200
    return (time.monotonic() - started) * 1000


def test_six_stalled_bodies_do_not_freeze_s3(api: Api, bucket: str) -> None:
    """The probe: six unauthenticated `POST ?delete` bodies that stop after `<Delete>` made
    ListObjectsV2 hang. Here they run (and are opened again as the server times them out)
    while the bucket's owner lists it, over and over."""
    s3 = api.s3()
    openings = [stalled_body(api, f"/{bucket}?delete", 1_000_000)] * 6
    # Bodies small enough for the server to take in before handling: same for them.
    openings += [stalled_body(api, f"/{bucket}?delete", 2000)] * 6
    latencies = []
    with Stalled(api, openings) as attack:
        until = time.monotonic() + 2 * IDLE + 1
        while time.monotonic() < until:
            started = time.monotonic()
            listed = s3.list_objects_v2(Bucket=bucket)
            latencies.append((time.monotonic() - started) * 1000)
            assert [o["Key"] for o in listed["Contents"]] == ["kept"]
    print(
        f"\nListObjectsV2 during 12 stalled bodies: {len(latencies)} calls, "
        f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms"
    )
    # Each stalled body was answered RequestTimeout and its connection closed.
    assert len(attack.answers) >= len(openings)
    for data, closed in attack.answers:
        assert answered(data, "RequestTimeout") and closed, data


def test_healthz_answers_during_50_stalled_connections(api: Api, bucket: str) -> None:
    openings = [stalled_body(api, f"/{bucket}?delete", 1_000_000)] * 10
    openings += [stalled_body(api, f"/{bucket}?delete", 2000)] * 5
    openings += [stalled_body(api, "/services/Euare", 5000, b"Action=List")] * 10
    openings += [stalled_head(api)] * 25
    latencies = []
    with Stalled(api, openings) as attack:
        until = time.monotonic() + 2 * IDLE + 1
        while time.monotonic() < until:
            latencies.append(healthz_ms(api))
            time.sleep(0.02)
    print(
        f"\n/healthz during {len(openings)} stalled connections: {len(latencies)} calls, "
        f"median {statistics.median(latencies):.2f} ms, max {max(latencies):.2f} ms"
    )
    assert len(attack.answers) >= len(openings)
    for data, closed in attack.answers:
        assert answered(data, "RequestTimeout") and closed, data


@pytest.mark.parametrize("length", [2000, 1_000_000])
def test_a_trickled_body_times_out_in_all(api: Api, bucket: str, length: int) -> None:
    """A byte every 0.4 s never leaves the body idle for IDLE seconds; it still ends."""
    with connect(api) as sock:
        started = time.monotonic()
        sock.sendall(stalled_body(api, f"/{bucket}?delete", length))
        data, closed = b"", False
        while not closed and time.monotonic() - started < GRACE + IDLE + 5:
            sock.sendall(b" ")
            more, closed = read_answer(sock, 0.4)
            data += more
        took = time.monotonic() - started
    assert answered(data, "RequestTimeout") and closed, data
    assert GRACE - 0.5 < took < GRACE + IDLE + 2


def test_a_signed_stalled_upload_times_out(api: Api, bucket: str) -> None:
    s3 = api.s3()
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "stalled"})
    target = url.split(str(api.port), 1)[1]
    with connect(api) as sock:
        started = time.monotonic()
        sock.sendall(
            f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
            "Content-Length: 100000\r\n\r\n0123456789".encode()
        )
        data, closed = read_answer(sock, IDLE + 5)
        took = time.monotonic() - started
    assert answered(data, "RequestTimeout") and closed, data
    assert took < IDLE + 2
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["kept"]


def test_slow_and_silent_heads_are_dropped(api: Api) -> None:
    with connect(api) as slow, connect(api) as silent:
        started = time.monotonic()
        slow.sendall(stalled_head(api))
        data, closed = read_answer(slow, IDLE + 5)
        assert answered(data, "RequestTimeout") and closed, data
        assert time.monotonic() - started < IDLE + 2
        # Never sent a byte: closed, with nothing to answer.
        assert read_answer(silent, 5) == (b"", True)


def test_oversized_heads_are_refused(api: Api) -> None:
    # The probe's 10 MiB header line and 20,000 headers were answered 200.
    with connect(api) as sock:
        line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
        send_until_answered(sock, iter([line] + [b"a" * 65536] * 160 + [b"\r\n\r\n"]))
        data, closed = read_answer(sock, 10)
    assert answered(data, "RequestHeaderSectionTooLarge") and closed, data
    with connect(api) as sock:
        many = b"".join(b"X-%d: v\r\n" % i for i in range(20_000))
        send_until_answered(sock, iter([b"GET /healthz HTTP/1.1\r\n", many, b"\r\n"]))
        data, closed = read_answer(sock, 10)
    assert answered(data, "RequestHeaderSectionTooLarge") and closed, data
    # Within the limits: served.
    with connect(api) as sock:
        headers = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 600) for i in range(90))
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n"
        )
        data, _ = read_answer(sock, 10)
    assert data.startswith(b"HTTP/1.1 200 "), data


def _endless_header(api: Api, size: int, sent: threading.Barrier | None = None) -> None:
    with connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        send_until_answered(sock, iter([b"a" * 65536] * (size // 65536)))
        if sent is not None:
            sent.wait(timeout=60)  # held open until the server's size is taken
        read_answer(sock, 5)


def test_endless_headers_do_not_grow_the_server(api: Api) -> None:
    """The probe: four unterminated 50 MiB headers grew the api from 220 to 396 MiB."""
    _endless_header(api, 1 << 20)  # warm-up: the refusal's code paths once
    before = api.rss_mib()
    sent = threading.Barrier(5)
    threads = [
        threading.Thread(target=_endless_header, args=(api, 50 << 20, sent), daemon=True)
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    sent.wait(timeout=60)
    during = api.rss_mib()
    for thread in threads:
        thread.join(timeout=60)
    grown = during - before
    print(f"\napi RSS {before:.1f} MiB, {grown:+.1f} MiB with 4 endless headers sent")
    assert grown < 8
    healthz_ms(api)
