"""S3 clients other than boto3, from Debian: s3cmd and rclone, driven as their users drive them.

Both upload one file big enough that they switch to multipart uploads; those steps are skipped
while the cloud answers CreateMultipartUpload with InvalidAction / NotImplemented.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.services.s3.data import INLINE_MAX
from tests.e2e.conftest import REGION, Cloud

pytestmark = pytest.mark.e2e

MIB = 1 << 20
# Over both tools' multipart thresholds as configured below (5 MiB chunks): three parts.
BIG = 12 * MIB + 12345


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed (scripts/setup.sh installs it)")
    return found


@pytest.fixture(scope="module")
def s3(cloud: Cloud) -> Any:
    return cloud.client("s3")


@pytest.fixture(scope="module")
def multipart(s3: Any) -> bool:
    """Whether the cloud serves multipart uploads yet."""
    name = f"mp-probe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    try:
        upload = s3.create_multipart_upload(Bucket=name, Key="probe")
    except ClientError as err:
        if err.response["Error"]["Code"] in ("InvalidAction", "NotImplemented"):
            return False
        raise
    else:
        s3.abort_multipart_upload(Bucket=name, Key="probe", UploadId=upload["UploadId"])
    finally:
        s3.delete_bucket(Bucket=name)
    return True


def random_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, MIB))
            fh.write(chunk)
            left -= len(chunk)
    return path


def test_object_data_lives_in_the_backend_store(cloud: Cloud, s3: Any) -> None:
    """With the s3 backend, the bytes are in the independent S3 server, not in the data dir."""
    if cloud.object_store is None:
        pytest.skip("the cloud keeps object data in files (fs backend)")
    store = cloud.object_store.client()
    bucket = f"bk-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    # Larger than what is kept inline in the metadata store, so it has a blob in the store.
    body = os.urandom(INLINE_MAX + 3000)
    s3.put_object(Bucket=bucket, Key="secret/name.txt", Body=body)
    found = [
        store.get_object(Bucket=cloud.object_store.bucket, Key=o["Key"])["Body"].read()
        for o in store.list_objects_v2(Bucket=cloud.object_store.bucket).get("Contents", [])
        if o["Size"] == len(body)
    ]
    assert body in found
    # The user's bucket and key never reach the store.
    keys = [o["Key"] for o in store.list_objects_v2(Bucket=cloud.object_store.bucket)["Contents"]]
    assert not [k for k in keys if "secret" in k or bucket in k]
    s3.delete_object(Bucket=bucket, Key="secret/name.txt")
    s3.delete_bucket(Bucket=bucket)


# --- s3cmd ---------------------------------------------------------------------------------------


def s3cmd_config(cloud: Cloud, path: Path) -> Path:
    host = cloud.endpoint.removeprefix("http://")
    path.write_text(
        "[default]\n"
        f"access_key = {cloud.admin.access_key}\n"
        f"secret_key = {cloud.admin.secret_key}\n"
        f"host_base = {host}\n"
        # No %(bucket)s: path-style requests, as for any endpoint without wildcard DNS.
        f"host_bucket = {host}\n"
        f"bucket_location = {REGION}\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "enable_multipart = True\n"
        "multipart_chunk_size_mb = 5\n"
        "progress_meter = False\n"
    )
    return path


def s3cmd(config: Path, *args: str) -> str:
    proc = subprocess.run(
        [need("s3cmd"), "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert proc.returncode == 0, f"s3cmd {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_s3cmd(cloud: Cloud, multipart: bool, tmp_path: Path) -> None:
    config = s3cmd_config(cloud, tmp_path / "s3cfg")
    bucket = f"s3://s3cmd-{uuid.uuid4().hex[:8]}"
    s3cmd(config, "mb", bucket)
    assert bucket in s3cmd(config, "ls")
    small = random_file(tmp_path / "up" / "small.bin", 100_000)
    s3cmd(config, "put", str(small), f"{bucket}/dir/small.bin")
    files = [small]
    if multipart:
        big = random_file(tmp_path / "up" / "big.bin", BIG)
        s3cmd(config, "put", str(big), f"{bucket}/big.bin")
        files.append(big)
    listing = s3cmd(config, "ls", "--recursive", bucket)
    assert f"{bucket}/dir/small.bin" in listing
    for f in files:
        remote = f"{bucket}/dir/{f.name}" if f is small else f"{bucket}/{f.name}"
        got = tmp_path / "down" / f.name
        got.parent.mkdir(exist_ok=True)
        s3cmd(config, "get", "--force", remote, str(got))
        assert filecmp.cmp(f, got, shallow=False)
        s3cmd(config, "del", remote)
    assert s3cmd(config, "ls", "--recursive", bucket).strip() == ""
    s3cmd(config, "rb", bucket)
    assert bucket not in s3cmd(config, "ls")


# --- rclone --------------------------------------------------------------------------------------


def rclone(cloud: Cloud, tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env.update(
        RCLONE_CONFIG=str(tmp_path / "rclone.conf"),  # none: the remote comes from here
        RCLONE_CONFIG_M_TYPE="s3",
        RCLONE_CONFIG_M_PROVIDER="Other",
        RCLONE_CONFIG_M_ENDPOINT=cloud.endpoint,
        RCLONE_CONFIG_M_ACCESS_KEY_ID=cloud.admin.access_key,
        RCLONE_CONFIG_M_SECRET_ACCESS_KEY=cloud.admin.secret_key,
        RCLONE_CONFIG_M_REGION=REGION,
        RCLONE_CONFIG_M_FORCE_PATH_STYLE="true",
        # Multipart from 5 MiB on, in 5 MiB chunks (rclone's defaults: 200 MiB cutoff).
        RCLONE_S3_UPLOAD_CUTOFF="5M",
        RCLONE_S3_CHUNK_SIZE="5M",
    )
    proc = subprocess.run(
        [need("rclone"), *args], capture_output=True, text=True, timeout=180, env=env
    )
    assert proc.returncode == 0, f"rclone {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_rclone(cloud: Cloud, multipart: bool, tmp_path: Path) -> None:
    bucket = f"rclone-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src"
    for i in range(5):
        random_file(src / f"f{i}.bin", 1000 * (i + 1))
    random_file(src / "sub" / "deeper" / "g.bin", 70_000)
    (src / "empty.txt").write_bytes(b"")
    if multipart:
        random_file(src / "big.bin", BIG)
    rclone(cloud, tmp_path, "mkdir", f"m:{bucket}")
    rclone(cloud, tmp_path, "copy", str(src), f"m:{bucket}/data")
    listed = dict(
        reversed(line.split(maxsplit=1))
        for line in rclone(cloud, tmp_path, "ls", f"m:{bucket}/data").splitlines()
    )
    expected = {
        p.relative_to(src).as_posix(): str(p.stat().st_size) for p in src.rglob("*") if p.is_file()
    }
    assert listed == expected
    rclone(cloud, tmp_path, "check", str(src), f"m:{bucket}/data")
    # Change the source: sync deletes, adds and replaces on the remote to match.
    (src / "f0.bin").unlink()
    random_file(src / "new.bin", 4321)
    random_file(src / "f1.bin", 2222)
    rclone(cloud, tmp_path, "sync", str(src), f"m:{bucket}/data")
    rclone(cloud, tmp_path, "check", str(src), f"m:{bucket}/data")
    back = tmp_path / "back"
    rclone(cloud, tmp_path, "copy", f"m:{bucket}/data", str(back))
    for p in src.rglob("*"):
        if p.is_file():
            got = back / p.relative_to(src)
            assert hashlib.md5(got.read_bytes()).digest() == hashlib.md5(p.read_bytes()).digest()
    assert not (back / "f0.bin").exists()
    rclone(cloud, tmp_path, "delete", f"m:{bucket}/data")
    assert rclone(cloud, tmp_path, "ls", f"m:{bucket}").strip() == ""
    rclone(cloud, tmp_path, "rmdir", f"m:{bucket}")
    assert bucket not in rclone(cloud, tmp_path, "lsd", "m:")
