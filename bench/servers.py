"""Servers the benchmarks compare: mallee (`mallee up`) and moto server, each pinned to CPU 0."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# Benchmarks need no web console, and must not take its port from a cloud running here.
NO_CONSOLE = {"MALLEE_CONSOLE_PORT": "0"}


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    access_key: str
    secret_key: str
    # A `mallee up` cloud's data directory (None for moto and `mallee api` alone).
    data_dir: Path | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server {url} exited")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server {url} did not start")


def start_mallee(tmp: Path, **extra_env: str) -> Server:
    """`mallee up` on CPU 0 with its own data dir; extra_env sets MALLEE_* settings."""
    port = free_port()
    env = dict(os.environ, MALLEE_DATA_DIR=str(tmp / "mallee"), **NO_CONSOLE, **extra_env)
    proc = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "mallee", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url + "/healthz", proc)
    creds = configparser.ConfigParser()
    creds.read(tmp / "mallee" / "credentials" / "aws-credentials")
    sec = creds["mallee-admin"]
    return Server(
        "mallee", proc, url, sec["aws_access_key_id"], sec["aws_secret_access_key"], tmp / "mallee"
    )


def start_mallee_api(tmp: Path) -> Server:
    """`mallee api` alone on CPU 0, on a fresh database holding the cloud admin's keys."""
    from mallee.services.iam.bootstrap import ensure_system_account
    from mallee.store import Store

    data = tmp / "mallee"
    data.mkdir()
    db_url = f"sqlite:///{data / 'mallee.db'}"
    store = Store(db_url)
    store.migrate()
    access, secret = ensure_system_account(store)
    store.dispose()
    port = free_port()
    env = dict(os.environ, MALLEE_DATA_DIR=str(data), MALLEE_DB_URL=db_url, **NO_CONSOLE)
    proc = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "mallee", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url + "/healthz", proc)
    return Server("mallee", proc, url, access, secret)


def start_moto() -> Server:
    port = free_port()
    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    proc = subprocess.Popen(
        ["taskset", "-c", "0", moto, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_up(url, proc)
    return Server("moto", proc, url, "AKIAIOSFODNN7EXAMPLE", "x" * 40)


def rss_mib(pid: int) -> float:
    """RSS of the server process and its children (uvicorn/werkzeug may fork)."""
    total = 0
    pids = [pid]
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    pids += [int(p) for p in kids.split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def signed(server: Server, service: str, body: str, region: str = "eucalyptus") -> AWSRequest:
    """A SigV4-signed form POST to the server's root (valid for 15 minutes)."""
    req = AWSRequest(
        "POST",
        server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(server.access_key, server.secret_key), service, region).add_auth(req)
    return req


def stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    if server.data_dir is not None:
        # The storage agent leaves its NBD server running for the VMs (the next agent adopts
        # it), as the node leaves its VMs: a benchmark's cloud ends it.
        from mallee.storage.daemon import StorageDaemon

        StorageDaemon(server.data_dir / "volumes" / "run").stop()
