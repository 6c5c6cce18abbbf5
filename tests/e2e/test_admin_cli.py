"""`mallee services|nodes|properties|accounts`: the admin CLI against a live cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Cloud

pytestmark = pytest.mark.e2e


def mallee(cloud: Cloud, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=cloud.admin.access_key, AWS_SECRET_ACCESS_KEY=cloud.admin.secret_key
    )
    argv = [sys.executable, "-m", "mallee", *args, "--endpoint", cloud.endpoint]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def as_json(cloud: Cloud, *args: str) -> Any:
    out = mallee(cloud, *args, "--output", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_services_and_nodes(cloud: Cloud) -> None:
    wanted = {"user-api", "objectstorage", "controller", "node"}
    deadline = time.monotonic() + 60  # the controller and node register a moment after the api
    while not wanted <= {s["type"] for s in as_json(cloud, "services", "list")}:
        assert time.monotonic() < deadline, "services did not all register"
        time.sleep(0.5)
    nodes = as_json(cloud, "nodes", "list")
    assert nodes and all(n["type"] == "node" for n in nodes)
    name = nodes[0]["name"]
    assert as_json(cloud, "nodes", "disable", name) == [{"name": name, "state": "DISABLED"}]
    listed = {n["name"]: n["state"] for n in as_json(cloud, "nodes", "list")}
    assert listed[name] == "DISABLED"
    as_json(cloud, "nodes", "enable", name)
    table = mallee(cloud, "services", "list", "--type", "user-api").stdout.splitlines()
    assert table[0].split() == ["TYPE", "NAME", "PARTITION", "HOST", "STATE", "EPOCH"]


def test_properties(cloud: Cloud) -> None:
    name = "cloud.compute.scheduling_policy"
    assert as_json(cloud, "properties", "set", name, "GREEDY")[0]["value"] == "GREEDY"
    assert as_json(cloud, "properties", "list", name) == [{"name": name, "value": "GREEDY"}]
    bad = mallee(cloud, "properties", "set", name, "BOGUS")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("mallee properties set: InvalidParameterValue:")
    assert as_json(cloud, "properties", "reset", name)[0]["value"] == "ROUNDROBIN"


def test_accounts(cloud: Cloud) -> None:
    name = f"acct{uuid.uuid4().hex[:8]}"
    made = as_json(cloud, "accounts", "create", name)[0]
    assert made["name"] == name and len(made["id"]) == 12
    assert name in {a["name"] for a in as_json(cloud, "accounts", "list")}
    as_json(cloud, "accounts", "delete", name)
    assert name not in {a["name"] for a in as_json(cloud, "accounts", "list")}


def test_errors_are_one_line(cloud: Cloud) -> None:
    missing = mallee(cloud, "nodes", "disable", "no-such-node")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("mallee nodes disable: ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["MALLEE_DATA_DIR"] = "/nonexistent-mallee"
    nocreds = subprocess.run(
        [sys.executable, "-m", "mallee", "accounts", "list"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert nocreds.returncode == 1 and "no credentials" in nocreds.stderr
    assert "Traceback" not in nocreds.stderr
