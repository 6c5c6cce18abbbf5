"""The web console's pages with 1,000 instances in the account, and a 1 GiB upload through it.

Starts its own cloud (`mallee up`, fake hypervisor, console on its own port), makes an account
with a console user, launches 1,000 instances (RunInstances with MinCount/MaxCount, as many a
call as --per-launch says), signs in as a browser does, and times each page from the client on
the same machine (loopback: what the server takes to answer). Then it uploads 1 GiB through the
console's upload form and samples the server's RSS meanwhile.

    .venv/bin/python bench/console_pages.py [--instances 1000] [--per-launch 1]
        [--upload-mib 1024] [--rounds 20]

Nothing here asserts a time; the figures go to the issue's note.
"""

from __future__ import annotations

import argparse
import configparser
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from servers import free_port, rss_mib, wait_up

REGION = "eucalyptus"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
IMAGES = Path(os.environ.get("MALLEE_IMAGE_DIR", Path.home() / ".local/share/mallee/images"))
PAGES = [
    "/",
    "/instances",
    "/instances?sort=state&dir=desc",
    "/instances?field=instance-state-name&value=running",
    "/instances/rows",
    "/instances/launch",
    "/images",
    "/keypairs",
    "/security-groups",
    "/addresses",
    "/buckets",
    "/iam/users",
    "/iam/roles",
    "/iam/policies",
]
ADMIN_PAGES = [
    "/admin/services",
    "/admin/nodes",
    "/admin/properties",
    "/admin/accounts",
    "/admin/instance-types",
]


class Browser:
    def __init__(self, origin: str) -> None:
        self.base = origin + "/console"
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.csrf = ""

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=120) as r:
            text = str(r.read().decode())
        found = re.search(r'name="_csrf" value="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        return text

    def post(self, path: str, **form: str) -> str:
        body = urllib.parse.urlencode({"_csrf": self.csrf, **form}).encode()
        with self.opener.open(self.base + path, data=body, timeout=120) as r:
            return str(r.read().decode())

    def upload(self, bucket: str, key: str, size: int) -> int:
        """A multipart/form-data body with `size` bytes of file, sent in pieces (never held)."""
        boundary = "----bench" + uuid.uuid4().hex
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in {"_csrf": self.csrf, "bucket": bucket, "key": key}.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{key}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        tail = f"\r\n--{boundary}--\r\n".encode()
        piece = os.urandom(1024 * 1024)

        def body() -> Iterator[bytes]:
            yield head.encode()
            left = size
            while left:
                n = min(left, len(piece))
                yield piece[:n]
                left -= n
            yield tail

        length = len(head.encode()) + size + len(tail)
        request = urllib.request.Request(self.base + "/buckets/upload", data=body(), method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Content-Length", str(length))
        with self.opener.open(request, timeout=3600) as r:
            return int(r.status)


def start(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str, tuple[str, str]]:
    port, ui = free_port(), free_port()
    env = dict(
        os.environ,
        MALLEE_DATA_DIR=str(tmp),
        MALLEE_DB_URL=f"sqlite:///{tmp / 'mallee.db'}",
        MALLEE_HYPERVISOR="fake",
        MALLEE_NODE_CORES="4096",
        MALLEE_NODE_MEMORY_MB=str(4096 * 1024),
        MALLEE_NODE_DISK_GB=str(4096 * 100),
        # Each instance takes an address of the node's subnet: a /24 holds 253.
        MALLEE_NODE_SUBNET="10.112.0.0/20",
        MALLEE_IMAGE_DIR=str(IMAGES),
    )
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - lives as long as the process
    command = [sys.executable, "-m", "mallee", "up", "--port", str(port), "--console-port", str(ui)]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    wait_up(endpoint + "/healthz", proc)
    deadline = time.monotonic() + 180
    while b"cloud-in-a-box is ready" not in (tmp / "server.log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the cloud did not start: see {tmp / 'server.log'}")
        time.sleep(0.2)
    creds = configparser.ConfigParser()
    creds.read(tmp / "credentials" / "aws-credentials")
    sec = creds["mallee-admin"]
    keys = (sec["aws_access_key_id"], sec["aws_secret_access_key"])
    return proc, endpoint, f"http://127.0.0.1:{ui}", keys


def client(service: str, endpoint: str, keys: tuple[str, str]) -> Any:
    path = {"iam": "/services/Euare"}.get(service, "")
    return mallee_client(
        service,
        endpoint + path,
        region_name=REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
    )


def console_user(
    endpoint: str, keys: tuple[str, str], account: str
) -> tuple[str, str, tuple[str, str]]:
    """A user with a console password (and every right) in `account`, made there if new."""
    admin = client("iam", endpoint, keys)
    if account != "eucalyptus":
        admin.create_account(AccountName=account)
        made = admin.create_access_key(DelegateAccount=account)["AccessKey"]
        keys = (made["AccessKeyId"], made["SecretAccessKey"])
    own = client("iam", endpoint, keys)
    user, password = f"bench-{uuid.uuid4().hex[:6]}", f"Pw-{uuid.uuid4().hex}"
    own.create_user(UserName=user)
    own.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=ALLOW_ALL)
    own.create_login_profile(UserName=user, Password=password)
    return user, password, keys


def launch(ec2: Any, count: int, per_launch: int) -> None:
    image = next(
        i["ImageId"]
        for i in ec2.describe_images()["Images"]
        if i.get("ImageType", "machine") == "machine" and i["ImageId"].startswith("emi-")
    )
    left, waited = count, 0
    while left:
        n = min(left, per_launch)
        try:
            ec2.run_instances(ImageId=image, InstanceType="m1.small", MinCount=n, MaxCount=n)
        except ClientError as failed:
            # The node's heartbeat lags behind a busy server (and it reports its capacity a
            # moment after the cloud says it is ready): the zone has no room until it comes.
            if failed.response["Error"]["Code"] != "InsufficientInstanceCapacity" or waited > 300:
                raise
            waited += 1
            time.sleep(1)
            continue
        left -= n


def timed(browser: Browser, path: str, rounds: int) -> tuple[float, float, float, int]:
    browser.get(path)  # warm: the console's client for this service, the model
    times = []
    text = ""
    for _ in range(rounds):
        t = time.perf_counter()
        text = browser.get(path)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95, times[-1], len(text)


def pages(browser: Browser, paths: list[str], rounds: int) -> None:
    for path in paths:
        try:
            median, p95, worst, size = timed(browser, path, rounds)
        except urllib.error.HTTPError as failed:
            print(f"  {path:55s} HTTP {failed.code}")
            continue
        print(
            f"  {path:55s} p50 {median:6.1f} ms  p95 {p95:6.1f} ms  max {worst:6.1f} ms",
            f"{size // 1024} KiB",
        )


def upload(
    browser: Browser, proc: subprocess.Popen[bytes], endpoint: str, keys: tuple[str, str], mib: int
) -> None:
    s3 = client("s3", endpoint, keys)
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    browser.get("/buckets/objects?" + urllib.parse.urlencode({"bucket": bucket}))
    before = rss_mib(proc.pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    status = browser.upload(bucket, "big.bin", mib * 1024 * 1024)
    took = time.perf_counter() - t
    done.set()
    sampler.join()
    size = s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"]
    print(
        f"upload {mib} MiB: HTTP {status}, {took:.1f} s ({mib / took:.0f} MiB/s), stored "
        f"{size} bytes; server RSS {before:.1f} -> peak {peak[0]:.1f} MiB "
        f"(growth {peak[0] - before:.1f} MiB, `mallee up` and its child processes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=1000)
    # EC2 pages DescribeInstances by reservation (the instances one RunInstances made), so a
    # page of the list holds as many instances as this times the page size.
    parser.add_argument("--per-launch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--upload-mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        proc, endpoint, console, keys = start(Path(tmp))
        try:
            account = f"bench{uuid.uuid4().hex[:6]}"
            user, password, own = console_user(endpoint, keys, account)
            t = time.perf_counter()
            launch(client("ec2", endpoint, own), args.instances, args.per_launch)
            print(
                f"launched {args.instances} instances, {args.per_launch} a RunInstances, "
                f"in {time.perf_counter() - t:.1f} s"
            )
            browser = Browser(console)
            browser.get("/login")
            browser.post("/login", account=account, user=user, password=password)
            print(f"pages with {args.instances} instances ({args.rounds} rounds each):")
            pages(browser, PAGES, args.rounds)
            admin_user, admin_password, _ = console_user(endpoint, keys, "eucalyptus")
            root = Browser(console)
            root.get("/login")
            root.post("/login", account="eucalyptus", user=admin_user, password=admin_password)
            print("the cloud administrator's pages:")
            pages(root, ADMIN_PAGES, args.rounds)
            if args.upload_mib:
                upload(browser, proc, endpoint, own, args.upload_mib)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
