"""mallee vs moto server: S3 object throughput, one core each, with boto3 clients on another.

Usage: python bench/s3_throughput.py [--seconds 5] [--objects 10000]

- 4 KiB PutObject and GetObject ops/s, one boto3 client, then 8 client processes;
- 64 MiB PUT and GET MB/s (presigned URLs, so the client neither hashes nor signs the body),
  next to a plain copy of a 64 MiB file on the same disk (with and without fsync: mallee's PUT
  is durable before it answers, as the copy with fsync is);
- RSS of the server process holding --objects 4 KiB objects;
- the same 4 KiB loops (1 and 8 clients) against a server that answers at once without any
  work: the ceiling the clients themselves set.

mallee runs as one `mallee api` process (the S3 gateway alone: no controller, no node) with
the fs backend, pinned to CPU 0 like moto server; this process and its clients run on CPU 1.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from servers import Server, free_port, rss_mib, start_mallee_api, start_moto, stop, wait_up

SMALL = 4096
LARGE = 64 << 20
CLIENTS = 8
# Keys each client cycles through.
KEYS = 100
ROUNDS = 3


def client(server: Server) -> Any:
    region = "eucalyptus" if server.name == "mallee" else "us-east-1"
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


# --- small objects -------------------------------------------------------------------------------


def _loop(server: Server, op: str, seconds: float, worker: int, counts: Any, ready: Any) -> None:
    """One client: `op` on 4 KiB objects as fast as it goes for `seconds`, timed from the moment
    every client is ready (process start-up and boto3's own set-up are not counted)."""
    s3 = client(server)
    body = os.urandom(SMALL)

    def once(n: int) -> None:
        key = f"w{worker}/k{n % KEYS}"
        if op == "put":
            s3.put_object(Bucket="bench", Key=key, Body=body)
        else:
            s3.get_object(Bucket="bench", Key=key)["Body"].read()

    once(0)  # the first call loads boto3's models and opens the connection
    ready.wait()
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        once(done)
        done += 1
    counts[worker] = done


def ops_per_second(server: Server, op: str, clients: int, seconds: float) -> float:
    """ops/s of `clients` boto3 client processes (forked here, so on CPU 1 too)."""
    ctx = multiprocessing.get_context("fork")
    counts = ctx.Array("q", clients)
    ready = ctx.Barrier(clients)
    procs = [
        ctx.Process(target=_loop, args=(server, op, seconds, w, counts, ready))
        for w in range(clients)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"{server.name} {op} client failed")
    return sum(counts) / seconds


def seed_small(server: Server) -> None:
    """The keys every GET client reads (w<n>/k<i>, i < KEYS) exist."""
    s3 = client(server)
    body = os.urandom(SMALL)
    for w in range(CLIENTS):
        for i in range(KEYS):
            s3.put_object(Bucket="bench", Key=f"w{w}/k{i}", Body=body)


# --- the client alone ----------------------------------------------------------------------------

_NULL_GET = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: "0"\r\n\r\n' % SMALL + bytes(SMALL)
_NULL_PUT = b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: "0"\r\n\r\n'


async def _null_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request at once, taking in (after "100 Continue") whatever body it has."""
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                name, _, value = line.partition(":")
                if name == "content-length":
                    length = int(value)
            if "expect: 100-continue" in head:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if length:
                await reader.readexactly(length)
            writer.write(_NULL_PUT if head.startswith("put") else _NULL_GET)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def null_server_main(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.start_server(_null_connection, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(serve())


def start_null_server() -> Server:
    """A server that does no work at all, on CPU 0: what boto3 itself reaches against it is
    the ceiling of any server's ops/s in this benchmark."""
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, __file__, "--null-server", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url, proc)
    return Server("null", proc, url, "null-key", "null-secret")


def client_ceiling(seconds: float) -> dict[str, float]:
    server = start_null_server()
    try:
        return {
            f"{op}{n}": ops_per_second(server, op, n, seconds)
            for op in ("put", "get")
            for n in (1, CLIENTS)
        }
    finally:
        stop(server)


# --- large objects -------------------------------------------------------------------------------


def _target(s3: Any, method: str, key: str) -> tuple[str, str]:
    url = s3.generate_presigned_url(method, Params={"Bucket": "bench", "Key": key})
    parts = urlsplit(url)
    return parts.netloc, f"{parts.path}?{parts.query}"


def large_put(server: Server, data: bytes) -> float:
    netloc, target = _target(client(server), "put_object", "large")
    conn = http.client.HTTPConnection(netloc, timeout=300)
    start = time.perf_counter()
    conn.request("PUT", target, body=data, headers={"Content-Length": str(len(data))})
    answer = conn.getresponse()
    answer.read()
    elapsed = time.perf_counter() - start
    conn.close()
    assert answer.status == 200, answer.status
    return len(data) / elapsed / 1e6


def large_get(server: Server) -> float:
    netloc, target = _target(client(server), "get_object", "large")
    conn = http.client.HTTPConnection(netloc, timeout=300)
    start = time.perf_counter()
    conn.request("GET", target)
    answer = conn.getresponse()
    got = 0
    while piece := answer.read(1 << 20):
        got += len(piece)
    elapsed = time.perf_counter() - start
    conn.close()
    assert answer.status == 200 and got == LARGE, (answer.status, got)
    return got / elapsed / 1e6


def file_copy(tmp: Path, data: bytes, durable: bool) -> float:
    """MB/s of copying a 64 MiB file to another on the same disk (fsynced when `durable`)."""
    src, dst = tmp / "copy-src", tmp / "copy-dst"
    src.write_bytes(data)
    dst.unlink(missing_ok=True)
    start = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while piece := fin.read(1 << 20):
            fout.write(piece)
        if durable:
            fout.flush()
            os.fsync(fout.fileno())
    elapsed = time.perf_counter() - start
    src.unlink()
    dst.unlink()
    return LARGE / elapsed / 1e6


def best(measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(ROUNDS))


# --- one server ----------------------------------------------------------------------------------


def measure(server: Server, seconds: float, objects: int) -> dict[str, float]:
    s3 = client(server)
    s3.create_bucket(Bucket="bench")
    out: dict[str, float] = {"rss_idle": rss_mib(server.proc.pid)}
    ops_per_second(server, "put", 1, 1)  # warm-up
    out["put1"] = ops_per_second(server, "put", 1, seconds)
    out["put8"] = ops_per_second(server, "put", CLIENTS, seconds)
    seed_small(server)
    out["get1"] = ops_per_second(server, "get", 1, seconds)
    out["get8"] = ops_per_second(server, "get", CLIENTS, seconds)
    data = os.urandom(LARGE)
    out["put_large"] = statistics.median(large_put(server, data) for _ in range(ROUNDS))
    out["get_large"] = statistics.median(large_get(server) for _ in range(ROUNDS))
    s3.delete_object(Bucket="bench", Key="large")
    fill(server, objects)
    out["rss_full"] = rss_mib(server.proc.pid)
    return out


def _fill(server: Server, worker: int, count: int) -> None:
    s3 = client(server)
    body = os.urandom(SMALL)
    for i in range(count):
        s3.put_object(Bucket="fill", Key=f"f{worker}/{i:06d}", Body=body)


def fill(server: Server, objects: int) -> None:
    """`objects` 4 KiB objects in a bucket of their own, written by 8 clients, then listed."""
    s3 = client(server)
    s3.create_bucket(Bucket="fill")
    ctx = multiprocessing.get_context("fork")
    share = -(-objects // CLIENTS)
    procs = [ctx.Process(target=_fill, args=(server, w, share)) for w in range(CLIENTS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    listed = sum(
        len(page.get("Contents", []))
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="fill")
    )
    assert listed == share * CLIENTS, listed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--null-server", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.null_server:
        null_server_main(args.null_server)
        return
    # This process and every client it forks on CPU 1; the servers go to CPU 0 (taskset).
    os.sched_setaffinity(0, {1})
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = os.urandom(LARGE)
        copy = best(lambda: file_copy(tmp, data, durable=True))
        copy_cached = best(lambda: file_copy(tmp, data, durable=False))
        for name in ("mallee", "moto"):
            server = start_mallee_api(tmp) if name == "mallee" else start_moto()
            try:
                time.sleep(1)
                results[name] = measure(server, args.seconds, args.objects)
            finally:
                stop(server)
        ceiling = client_ceiling(args.seconds)
    m, t = results["mallee"], results["moto"]
    print(f"{'':36}{'mallee':>10}{'moto':>10}{'ratio':>9}")
    rows = (
        ("PutObject 4 KiB ops/s, 1 client", "put1"),
        ("PutObject 4 KiB ops/s, 8 clients", "put8"),
        ("GetObject 4 KiB ops/s, 1 client", "get1"),
        ("GetObject 4 KiB ops/s, 8 clients", "get8"),
        ("PUT 64 MiB, MB/s", "put_large"),
        ("GET 64 MiB, MB/s", "get_large"),
    )
    for label, key in rows:
        print(f"{label:36}{m[key]:10.0f}{t[key]:10.0f}{m[key] / t[key]:8.2f}x")
    print(
        "boto3 against a server that does nothing (no server can be measured faster): "
        f"PutObject {ceiling['put1']:.0f}/s with 1 client, {ceiling['put8']:.0f}/s with "
        f"{CLIENTS}; GetObject {ceiling['get1']:.0f}/s, {ceiling['get8']:.0f}/s"
    )
    print(f"{'RSS idle, MiB':36}{m['rss_idle']:10.0f}{t['rss_idle']:10.0f}")
    print(f"{f'RSS with {args.objects} objects, MiB':36}{m['rss_full']:10.0f}{t['rss_full']:10.0f}")
    print(
        f"64 MiB file copy on the same disk: {copy:.0f} MB/s with fsync, {copy_cached:.0f} without"
    )
    print(
        f"mallee PUT at {m['put_large'] / copy:.0%} of the fsynced copy, "
        f"GET at {m['get_large'] / copy_cached:.0%} of the plain copy"
    )


if __name__ == "__main__":
    main()
