"""`mallee up` / `mallee down` as a newcomer uses them (fake hypervisor: no VMs needed here)."""

from __future__ import annotations

import configparser
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e


def start(data_dir: Path, port: int, console_port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = dict(
        os.environ,
        MALLEE_DATA_DIR=str(data_dir),
        MALLEE_HYPERVISOR="fake",
        MALLEE_NODE_CORES="8",
    )
    env.pop("MALLEE_DB_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mallee",
            "up",
            "--port",
            str(port),
            "--console-port",
            str(console_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("  stop with"):
            return proc, lines
    proc.kill()
    raise AssertionError("mallee up did not report ready:\n" + "\n".join(lines))


def down(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MALLEE_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "mallee", "down"], env=env, capture_output=True, text=True
    )


def client(service: str, port: int, profile: configparser.SectionProxy) -> object:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="eucalyptus",
        aws_access_key_id=profile["aws_access_key_id"],
        aws_secret_access_key=profile["aws_secret_access_key"],
    )


def test_up_down_up_keeps_state(tmp_path: Path) -> None:
    port, console_port = free_port(), free_port()
    proc, lines = start(tmp_path, port, console_port)
    try:
        text = "\n".join(lines)
        for service in ("user-api", "objectstorage", "controller", "node"):
            assert f"{service} ENABLED" in text
        assert f"endpoint:        http://127.0.0.1:{port}" in text
        assert f"web console:     http://127.0.0.1:{console_port}/console/" in text
        creds = configparser.ConfigParser()
        creds.read(tmp_path / "credentials" / "aws-credentials")
        demo = client("sts", port, creds["mallee-demo"]).get_caller_identity()  # type: ignore[attr-defined]
        admin = client("sts", port, creds["mallee-admin"]).get_caller_identity()  # type: ignore[attr-defined]
        # The demo account's admin user holds the account's root keys (as in Eucalyptus).
        assert demo["Arn"].endswith(":root") and demo["Account"] != admin["Account"]
        login = (tmp_path / "credentials" / "demo" / "console-login").read_text()
        assert "user: admin" in login and re.search(r"password: \S{12,}", login)
        # The cloud admin gets a console password too (the console's administration pages).
        admin_login = (tmp_path / "credentials" / "console-login").read_text()
        assert "account: eucalyptus" in admin_login and "user: admin" in admin_login
        eucarc = (tmp_path / "credentials" / "demo" / "eucarc").read_text()
        assert f"EC2_URL=http://127.0.0.1:{port}/services/compute" in eucarc
        assert "S3_URL=" in eucarc and "AWS_ACCESS_KEY_ID=" in eucarc
        ec2 = client("ec2", port, creds["mallee-demo"])
        ec2.create_key_pair(KeyName="kept")  # type: ignore[attr-defined]
    finally:
        result = down(tmp_path)
        proc.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert down(tmp_path).returncode == 1  # nothing left to stop

    proc, lines = start(tmp_path, port, console_port)
    try:
        ready = next(line for line in lines if "is ready" in line)
        seconds = float(re.search(r"ready \(([\d.]+) s\)", ready).group(1))  # type: ignore[union-attr]
        print(f"second start: API ready after {seconds} s")
        assert not any("building the default image" in line for line in lines)
        keys = ec2.describe_key_pairs()["KeyPairs"]  # type: ignore[attr-defined]
        assert [k["KeyName"] for k in keys] == ["kept"]
        # The demo password is written once: a restart does not change or reprint it.
        assert (tmp_path / "credentials" / "demo" / "console-login").read_text() == login
        assert (tmp_path / "credentials" / "console-login").read_text() == admin_login
    finally:
        down(tmp_path)
        proc.wait(timeout=60)


def test_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, MALLEE_DATA_DIR=str(tmp_path), MALLEE_HYPERVISOR="fake")
        result = subprocess.run(
            [sys.executable, "-m", "mallee", "up", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"mallee up: port {port} on 127.0.0.1 is in use: stop what uses it, or start with --port N."
    )
    assert "Traceback" not in result.stdout + result.stderr
