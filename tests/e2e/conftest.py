"""A live mallee cloud started as a subprocess (`mallee up`), driven with boto3 and the AWS CLI.


Set MALLEE_E2E_ENDPOINT (+ MALLEE_E2E_ACCESS_KEY / MALLEE_E2E_SECRET_KEY, and MALLEE_E2E_CONSOLE
for its web console's origin) to run the same suite against a cloud that is already deployed.

Set MALLEE_TEST_S3_BACKEND=1 to keep the cloud's object data in a second, independent S3 server
(moto_server, started here) through the `s3` backend instead of files (scripts/test.sh runs the
S3 tests once more this way).
"""

from __future__ import annotations

import configparser
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import fresh_database_url
from tests.processes import stop_process

REGION = "eucalyptus"
S3_BACKEND_ENV = "MALLEE_TEST_S3_BACKEND"


@dataclass
class Keys:
    access_key: str
    secret_key: str
    session_token: str | None = None


@dataclass
class ObjectStore:
    """An S3 server standing for Ceph RGW or MinIO behind the s3 backend."""

    endpoint: str
    access_key: str = "mallee-store-key"
    secret_key: str = "mallee-store-secret"
    bucket: str = "mallee-objects"
    process: subprocess.Popen[bytes] | None = None

    def properties(self) -> dict[str, str]:
        """The cloud properties that point the s3 backend here (providerclient last: the
        backend is picked at the first S3 request, which must find the rest already set)."""
        return {
            "objectstorage.s3provider.s3endpoint": self.endpoint,
            "objectstorage.s3provider.s3accesskey": self.access_key,
            "objectstorage.s3provider.s3secretkey": self.secret_key,
            "objectstorage.s3provider.bucket": self.bucket,
            "objectstorage.providerclient": "s3",
        }

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


def use_s3_backend() -> bool:
    return os.environ.get(S3_BACKEND_ENV, "") not in ("", "0")


def start_object_store(data_dir: Path) -> ObjectStore:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    log = open(data_dir / "moto.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    return ObjectStore(endpoint, process=proc)


def stop_object_store(store: ObjectStore) -> None:
    if store.process is not None:
        store.process.terminate()
        store.process.wait(timeout=20)


def configure_s3_backend(cloud: Cloud, store: ObjectStore) -> None:
    """Point a running cloud's s3 backend at `store`, through Empyrean as an admin would."""
    from mallee.api.models.client import mallee_client

    empyrean = mallee_client(
        "empyrean",
        cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )
    for name, value in store.properties().items():
        empyrean.modify_property_value(Name=name, Value=value)
    cloud.object_store = store


@dataclass
class Cloud:
    endpoint: str
    admin: Keys
    # The web console's origin (its own port), e.g. http://127.0.0.1:8888.
    console: str = ""
    data_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # The independent S3 server object data goes to, when the cloud uses the s3 backend.
    object_store: ObjectStore | None = None

    def client(
        self,
        service: str,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        **kwargs: Any,
    ) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=kwargs.pop("endpoint_url", self.endpoint),
            region_name=REGION,
            aws_access_key_id=access_key or self.admin.access_key,
            aws_secret_access_key=secret_key or self.admin.secret_key,
            aws_session_token=session_token,
            config=Config(retries={"max_attempts": 1}, **kwargs),
        )

    def aws_cli(
        self,
        *args: str,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO"))}
        env.update(
            AWS_ACCESS_KEY_ID=access_key or self.admin.access_key,
            AWS_SECRET_ACCESS_KEY=secret_key or self.admin.secret_key,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        if session_token:
            env["AWS_SESSION_TOKEN"] = session_token
        cli = [sys.executable, "-m", "awscli", "--endpoint-url", self.endpoint, *args]
        return subprocess.run(cli, env=env, capture_output=True, text=True, check=check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(endpoint: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mallee exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(endpoint + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("mallee did not become healthy")


def wait_ready(log: Path, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Until `mallee up` says the cloud is ready: its controller and node agent start beside
    the api, and a launch before the node has registered finds no capacity."""
    deadline = time.monotonic() + timeout
    while b"cloud-in-a-box is ready" not in log.read_bytes():
        if proc.poll() is not None:
            raise RuntimeError(f"mallee exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cloud did not become ready: see {log}")
        time.sleep(0.1)


def shared_image_dir() -> Path:
    """The default image setup builds; tests reuse it rather than building their own."""
    default = Path.home() / ".local/share/mallee/images"
    return Path(os.environ.get("MALLEE_IMAGE_DIR", default))


def start_cloud(data_dir: Path, db_url: str) -> Cloud:
    port, console_port = free_port(), free_port()
    env = dict(
        os.environ,
        MALLEE_DATA_DIR=str(data_dir),
        MALLEE_DB_URL=db_url,
        # Control-plane tests: the node runs no VMs (tests/vm boots real ones).
        MALLEE_HYPERVISOR="fake",
        MALLEE_NODE_CORES="64",
        MALLEE_IMAGE_DIR=str(shared_image_dir()),
    )
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the process
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
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_healthy(endpoint, proc)
    wait_ready(data_dir / "server.log", proc)
    creds = configparser.ConfigParser()
    creds.read(data_dir / "credentials" / "aws-credentials")
    section = creds["mallee-admin"]
    keys = Keys(section["aws_access_key_id"], section["aws_secret_access_key"])
    return Cloud(endpoint, keys, f"http://127.0.0.1:{console_port}", data_dir, proc)


def stop_cloud(cloud: Cloud) -> None:
    if cloud.process is None:
        return
    stop_process(cloud.process)
    if cloud.data_dir is not None:
        # The storage agent leaves its NBD server running for the VMs (the next agent adopts
        # it), as the node leaves its VMs: a test cloud ends it.
        from mallee.storage.daemon import StorageDaemon

        StorageDaemon(cloud.data_dir / "volumes" / "run").stop()


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    deployed = os.environ.get("MALLEE_E2E_ENDPOINT")
    if deployed:
        yield Cloud(
            deployed,
            Keys(os.environ["MALLEE_E2E_ACCESS_KEY"], os.environ["MALLEE_E2E_SECRET_KEY"]),
            os.environ.get("MALLEE_E2E_CONSOLE", ""),
        )
        return
    data_dir = tmp_path_factory.mktemp("cloud")
    object_store = start_object_store(data_dir) if use_s3_backend() else None
    try:
        for db_url in fresh_database_url(data_dir):
            c = start_cloud(data_dir, db_url)
            try:
                if object_store is not None:
                    configure_s3_backend(c, object_store)
                yield c
            finally:
                stop_cloud(c)
    finally:
        if object_store is not None:
            stop_object_store(object_store)


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client("s3")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A new bucket of the admin's for one test, deleted after it."""
    from tests.e2e.s3util import new_bucket, remove_bucket

    name = new_bucket(s3)
    yield name
    remove_bucket(s3, name)
