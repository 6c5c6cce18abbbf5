"""The data directory holds every account's secrets in files: the database (secret keys in plain
text, with its -wal and -shm), the image cache, object data, credentials. No local user but
its owner may read or write any of it, whether mallee made the directory or an older mallee
left it readable, and whatever umask the process that starts mallee has.

Live: `mallee up` as a subprocess (the fake hypervisor: tests/vm checks real QEMU disks and
dnsmasq's files), driven with boto3.
"""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import fresh_database_url
from tests.e2e.conftest import free_port, shared_image_dir, wait_healthy
from tests.processes import stop_process

pytestmark = pytest.mark.e2e


@dataclass
class Up:
    data_dir: Path
    endpoint: str
    keys: tuple[str, str]
    process: subprocess.Popen[bytes]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="eucalyptus",
            aws_access_key_id=self.keys[0],
            aws_secret_access_key=self.keys[1],
            config=Config(retries={"max_attempts": 1}),
        )


def env_for(data_dir: Path, db_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        MALLEE_DATA_DIR=str(data_dir),
        MALLEE_DB_URL=db_url,
        MALLEE_HYPERVISOR="fake",
        MALLEE_NODE_CORES="8",
        MALLEE_IMAGE_DIR=str(shared_image_dir()),
    )


def start(data_dir: Path, db_url: str, log: Path) -> Up:
    """`mallee up` started the way a user's shell would: umask 022 (its files would be 0644
    and its directories 0755 if mallee did not see to it)."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mallee", "up", "--port", str(port)],
            env=env_for(data_dir, db_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.umask(0o022),
        )
    endpoint = f"http://127.0.0.1:{port}"
    wait_healthy(endpoint, proc)
    creds = configparser.ConfigParser()
    creds.read(data_dir / "credentials" / "aws-credentials")
    section = creds["mallee-admin"]
    return Up(data_dir, endpoint, (section["aws_access_key_id"], section["aws_secret_access_key"]),
              proc)  # fmt: skip


def databases(tmp: Path, data_dir: Path) -> Iterator[str]:
    """SQLite in the data directory, where mallee keeps it by default; or PostgreSQL."""
    for url in fresh_database_url(tmp):
        yield f"sqlite:///{data_dir / 'mallee.db'}" if url.startswith("sqlite") else url


def exposed(root: Path) -> dict[str, str]:
    """Everything under `root` (itself included) that group or others may touch."""
    found = {}
    for top, dirs, files in os.walk(root):
        for path in [Path(top), *(Path(top) / name for name in (*dirs, *files))]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found[str(path.relative_to(root.parent))] = oct(stat.S_IMODE(mode))
    return found


def use_the_cloud(up: Up) -> None:
    """Put secrets in every kind of file: an instance (image cache, the node's journal), an
    object, a new user's access key."""
    ec2, s3, iam = up.client("ec2"), up.client("s3"), up.client("iam")
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    deadline = time.monotonic() + 60
    while True:
        try:
            iid = ec2.run_instances(
                ImageId=image["Images"][0]["ImageId"],
                MinCount=1,
                MaxCount=1,
                UserData="#!/bin/sh\necho secret-user-data\n",
            )["Instances"][0]["InstanceId"]
            break
        except ClientError as err:
            # The node reports its capacity a moment after the api answers.
            if err.response["Error"]["Code"] != "InsufficientInstanceCapacity":
                raise
            assert time.monotonic() < deadline, "the node never reported"
            time.sleep(0.3)
    bucket = f"modes-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    # Larger than what the database keeps inline: a blob file of its own.
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"s3cr3t" * 100_000)
    iam.create_user(UserName="modes")
    iam.create_access_key(UserName="modes")
    while True:
        found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        if found["State"]["Name"] == "running":
            break
        assert time.monotonic() < deadline, "instance did not start"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """A cloud whose data directory `mallee up` makes itself (its parent, too)."""
    tmp = tmp_path_factory.mktemp("modes-fresh")
    data_dir = tmp / "home" / "mallee"
    for db_url in databases(tmp, data_dir):
        up = start(data_dir, db_url, tmp / "up.log")
        try:
            yield up
        finally:
            stop_process(up.process)


def test_a_new_clouds_files_are_its_owners_alone(fresh: Up) -> None:
    use_the_cloud(fresh)
    data = fresh.data_dir
    for made in ("mallee.db", "objects", "image-cache", "credentials/eucarc", "logs", "nodes"):
        if made != "mallee.db" or (data / made).exists():  # PostgreSQL: no database file
            assert (data / made).exists(), made
    assert exposed(data.parent) == {}
    # The database's write-ahead log and index are there while it runs: owner-only as well.
    if (data / "mallee.db").exists():
        assert (data / "mallee.db-wal").exists() and (data / "mallee.db-shm").exists()


def test_an_old_install_is_tightened_at_start(tmp_path: Path) -> None:
    """A data directory as an older mallee left it (0755 directories, 0644 files): the next
    start leaves none of it readable by others."""
    data = tmp_path / "mallee"
    for db_url in databases(tmp_path, data):
        subprocess.run(
            [sys.executable, "-m", "mallee", "init"],
            env=env_for(data, db_url),
            check=True,
            capture_output=True,
        )
        disk = data / "nodes" / "node-old" / "instances" / "i-0123456789abcdef0"
        disk.mkdir(parents=True)
        (disk / "root.qcow2").write_bytes(b"user-data: secret")
        (data / "objects" / "ab" / "cd").mkdir(parents=True)
        (data / "objects" / "ab" / "cd" / ("ab" * 16)).write_bytes(b"object")
        (data / ".private").unlink()  # an older mallee made no such record
        for top, _dirs, files in os.walk(data):
            os.chmod(top, 0o755)
            for name in files:
                os.chmod(Path(top) / name, 0o644)
        before = exposed(data)
        assert "mallee/mallee.db" in before or not db_url.startswith("sqlite")
        assert {"mallee/credentials/eucarc", f"mallee/{disk.relative_to(data)}/root.qcow2"} <= set(
            before
        )

        up = start(data, db_url, tmp_path / "up.log")
        try:
            assert exposed(data) == {}
            assert stat.S_IMODE((disk / "root.qcow2").stat().st_mode) == 0o600
            assert stat.S_IMODE(data.stat().st_mode) == 0o700
            use_the_cloud(up)
            assert exposed(data) == {}
        finally:
            stop_process(up.process)


def test_a_shared_directory_is_refused(tmp_path: Path) -> None:
    """A world-writable (sticky, like /tmp) data directory is not locked up, nor used."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "someone-elses").write_text("x")
    os.chmod(shared / "someone-elses", 0o644)
    os.chmod(shared, 0o1777)
    done = subprocess.run(
        [sys.executable, "-m", "mallee", "up", "--port", str(free_port())],
        env=env_for(shared, f"sqlite:///{shared / 'mallee.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "shared" in done.stderr and str(shared) in done.stderr
    assert sorted(p.name for p in shared.iterdir()) == ["someone-elses"]
    assert stat.S_IMODE((shared / "someone-elses").stat().st_mode) == 0o644
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
