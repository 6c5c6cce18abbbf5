"""The seed's euca2ools transcripts, replayed with the real console scripts against a live cloud.

Each command runs as a subprocess with the environment a sourced eucarc gives. Output lines are
compared with the seed's formats (eucalyptus-release-notes.txt); ids, hosts, accounts and times
are matched by pattern, everything else literally.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import REGION, Cloud, shared_image_dir
from tests.seed import SEED_TABLE

pytestmark = pytest.mark.e2e

ID = r"[0-9a-f]{8,17}"
ACCOUNT = r"\d{12}"
IP = r"\d{1,3}(?:\.\d{1,3}){3}"
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
FINGERPRINT = r"[0-9a-f]{2}(?::[0-9a-f]{2})+"


class Euca:
    """Runs the installed console scripts with a sourced-eucarc environment."""

    def __init__(self, cloud: Cloud) -> None:
        base = cloud.endpoint
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EC2_", "EUCA"))
        }
        self.env.update(
            EC2_URL=f"{base}/services/compute",
            S3_URL=f"{base}/services/objectstorage",
            EUARE_URL=f"{base}/services/Euare",
            TOKEN_URL=f"{base}/services/Tokens",
            EUCA_PROPERTIES_URL=f"{base}/services/Empyrean",
            AWS_ACCESS_KEY_ID=cloud.admin.access_key,
            AWS_SECRET_ACCESS_KEY=cloud.admin.secret_key,
            AWS_DEFAULT_REGION=REGION,
        )

    @staticmethod
    def script(name: str) -> str:
        beside = Path(sys.executable).parent / name
        found = str(beside) if beside.exists() else shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is not installed: scripts/setup.sh installs the console scripts")
        return found

    def run(self, name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.script(name), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def __call__(self, name: str, *args: str) -> list[str]:
        """The command's output lines; it must succeed and print nothing on stderr."""
        done = self.run(name, *args)
        assert done.returncode == 0 and not done.stderr, (name, args, done.stderr)
        return done.stdout.splitlines()


def matches(lines: list[str], *patterns: str) -> None:
    """Each line matches its pattern in full (tabs as in the patterns)."""
    assert len(lines) == len(patterns), lines
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)


@pytest.fixture(scope="module")
def euca(cloud: Cloud) -> Euca:
    return Euca(cloud)


@pytest.fixture(scope="module")
def emi(euca: Euca) -> str:
    (line,) = euca("euca-describe-images", "-a", "--filter", "name=mallee-default")
    return line.split("\t")[1]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_register_and_describe_services(euca: Euca) -> None:
    # euca_conf --register-service --service-type user-api --host <host> --service-name API_110
    name = unique("API")
    host = "192.0.2.110"
    out = euca(
        "euca_conf", "--register-service", "--service-type", "user-api", "--host", host,
        "--service-name", name,
    )  # fmt: skip
    arn = rf"arn:euca:\w+:[\w.-]*:user-api:{name}/"
    matches(out, rf"SERVICE\tuser-api\t[\w.-]+\t{name}\tNOTREADY\t\d+\t{arn}")
    try:
        # euca-describe-services -T user-api: the running API and the pre-registered one.
        listed = euca("euca-describe-services", "-T", "user-api")
        assert all(line.startswith("SERVICE\tuser-api\t") for line in listed)
        fields = [line.split("\t") for line in listed]
        assert all(len(f) == 7 and f[5].isdigit() and f[6].startswith("arn:euca:") for f in fields)
        assert "ENABLED" in {f[4] for f in fields}
        assert [f[3] for f in fields if f[3] == name] == [name]
    finally:
        matches(euca("euca_conf", "--deregister-service", "-N", name), "RESPONSE\ttrue")
    assert name not in "\n".join(euca("euca-describe-services", "-A"))


def test_euca_conf_components(euca: Euca) -> None:
    # The older forms: sudo euca_conf --register-cluster cluster1 / --register-walrus /
    # --register-sc cluster1 / --register-nodes "<hosts>".
    zone = unique("cluster")
    node = f"192.0.2.{int(time.time()) % 200 + 20}"
    try:
        matches(
            euca("euca_conf", "--register-cluster", zone, "192.0.2.2"),
            rf"SERVICE\tcontroller\t{zone}\t{zone}\tNOTREADY\t\d+\tarn:euca:\S+",
        )
        matches(
            euca("euca_conf", "--register-sc", zone, "192.0.2.3"),
            rf"SERVICE\tstorage\t{zone}\tsc-{zone}\tNOTREADY\t\d+\tarn:euca:\S+",
        )
        matches(
            euca("euca_conf", "--register-walrus", "-C", f"walrus-{zone}", "-H", "192.0.2.4"),
            rf"SERVICE\tobjectstorage\t\S+\twalrus-{zone}\tNOTREADY\t\d+\tarn:euca:\S+",
        )
        matches(
            euca("euca_conf", "--register-nodes", node, "-P", zone),
            rf"SERVICE\tnode\t{zone}\tnode-{node}\tNOTREADY\t\d+\tarn:euca:\S+",
        )
        listed = euca("euca-describe-services", "-A", "-P", zone)
        assert sorted(line.split("\t")[1] for line in listed) == ["controller", "node", "storage"]
    finally:
        for args in (
            ("--deregister-nodes", node),
            ("--deregister-sc", f"sc-{zone}"),
            ("--deregister-cluster", zone),
            ("--deregister-walrus", f"walrus-{zone}"),
        ):
            euca.run("euca_conf", *args)
    assert zone not in "\n".join(euca("euca-describe-services", "-A"))


def test_instance_types_as_the_seed_shows_them(euca: Euca) -> None:
    # The cloud's types come out as the seed shows them (tests/unit/euca checks the formatter).
    assert "\n".join(euca("euca-describe-instance-types")) == SEED_TABLE
    capacity = euca("euca-describe-instance-types", "--show-capacity", "m1.small")
    matches(
        capacity,
        r"INSTANCETYPE\tName\s+CPUs  Memory \(MB\)  Disk \(GB\)  Used / Total  Used %",
        r"INSTANCETYPE\tm1\.small\s+1\s+256\s+5\s+\d+ /\s+\d+\s+\d*%?",
    )


def test_zones(euca: Euca) -> None:
    (zone,) = euca("euca-describe-availability-zones")
    assert re.fullmatch(r"AVAILABILITYZONE\t\S+\tavailable\t", zone)
    verbose = euca("euca-describe-availability-zones", "verbose")
    assert verbose[0] == zone
    assert verbose[1] == "AVAILABILITYZONE\t|- vm types\tfree / max   cpu   ram  disk\t"
    assert re.fullmatch(
        r"AVAILABILITYZONE\t\|- m1\.small\t\d{4} / \d{4}   1    256     5\t", verbose[2]
    )


def test_images(euca: Euca, emi: str, cloud: Cloud) -> None:
    image = rf"IMAGE\t{emi}\t{ACCOUNT}/mallee-default\t\S+\tavailable\tpublic\tx86_64\tmachine"
    image += r"\teki-\w+\teri-\w+\t\tinstance-store\t(?:paravirtual|hvm)\t\w*"
    matches(euca("euca-describe-images", emi), image)
    kinds = {line.split("\t")[7] for line in euca("euca-describe-images", "-a")}
    assert {"machine", "kernel", "ramdisk"} <= kinds
    if cloud.data_dir is None:
        return  # a deployed cloud: its image files are not on this machine
    images = shared_image_dir()
    kernel = euca("euca-register", "-n", unique("kernel"), str(images / "vmlinux"))
    matches(kernel, r"IMAGE\teki-\w+")
    ramdisk = euca("euca-register", "-n", unique("ramdisk"), str(images / "initrd.cpio"))
    eki, eri = kernel[0].split("\t")[1], ramdisk[0].split("\t")[1]
    name = unique("installed")
    # euca-install-image -i <image> -n "demoimage" -r x86_64 --virtualization-type hvm -b bucket
    installed = euca(
        "euca-install-image", "-i", str(images / "root.qcow2"), "-n", name, "-r", "x86_64",
        "--kernel", eki, "--ramdisk", eri, "-b", "demobucket",
    )  # fmt: skip
    matches(installed, r"IMAGE\temi-\w+")
    emi2 = installed[0].split("\t")[1]
    owned = euca("euca-describe-images", "-o", "self", "--filter", f"name={name}")
    assert owned[0].startswith(f"IMAGE\t{emi2}\t") and "\tprivate\t" in owned[0]
    assert emi2 in "\n".join(euca("euca-describe-images"))


def test_instances_tags_and_monitoring(euca: Euca, emi: str) -> None:
    key = unique("batman1key")
    euca("euca-create-keypair", key)
    # euca-run-instances -k batman1key emi-90E83973 --monitor
    ran = euca("euca-run-instances", "-k", key, emi, "--monitor", "-t", "m1.small")
    instance = (
        rf"INSTANCE\ti-{ID}\t{emi}\t\S*\t\S*\t(?:pending|running)\t{key}\t0\t\tm1\.small"
        rf"\t{TIME}\t\S+\teki-\w+\teri-\w+\t\tmonitoring-(?:enabled|pending)\t.*\tx86_64"
    )
    matches(ran, rf"RESERVATION\tr-{ID}\t{ACCOUNT}\tdefault", instance)
    iid = ran[1].split("\t")[1]
    try:
        # euca-create-tags vol-65803EB8 --tag "testtag" -> TAG volume vol-65803EB8 testtag
        matches(
            euca("euca-create-tags", iid, "--tag", "testtag", "--tag", "role=web"),
            rf"TAG\tinstance\t{iid}\ttesttag\t",
            rf"TAG\tinstance\t{iid}\trole\tweb",
        )
        tags = euca("euca-describe-tags", "--filter", f"resource-id={iid}")
        assert sorted(tags) == [
            f"TAG\tinstance\t{iid}\trole\tweb",
            f"TAG\tinstance\t{iid}\ttesttag\t",
        ]
        described = euca("euca-describe-instances", "--filter", "tag:role=web", iid)
        assert described[0].startswith("RESERVATION\tr-")
        assert described[1].startswith(f"INSTANCE\t{iid}\t{emi}\t")
        assert sorted(described[2:]) == sorted(tags)
        # euca-unmonitor-instances i-DB5842DC / euca-monitor-instances i-25D3415E
        matches(euca("euca-unmonitor-instances", iid), rf"{iid}\tmonitoring-(?:disabling|disabled)")
        matches(euca("euca-monitor-instances", iid), rf"{iid}\tmonitoring-(?:pending|enabled)")
        matches(
            euca("euca-modify-instance-attribute", iid, "--disable-api-termination", "true"),
            rf"disableApiTermination\t{iid}\ttrue",
        )
        refused = euca.run("euca-terminate-instances", iid)
        assert refused.returncode == 1 and not refused.stdout
        assert refused.stderr.startswith("euca-terminate-instances: error (OperationNotPermitted)")
        euca("euca-modify-instance-attribute", iid, "--disable-api-termination", "false")
        console = euca("euca-get-console-output", iid)
        assert console[0] == iid
    finally:
        done = euca("euca-terminate-instances", iid)
        matches(done, rf"INSTANCE\t{iid}\t\w[\w-]*\t(?:shutting-down|terminated)")
        euca("euca-delete-keypair", key)


def test_key_pairs(euca: Euca, tmp_path: Path) -> None:
    name = unique("key")
    out = euca("euca-create-keypair", name)
    matches(out[:2], rf"KEYPAIR\t{name}\t{FINGERPRINT}", r"-----BEGIN (?:RSA )?PRIVATE KEY-----")
    assert out[-1].startswith("-----END")
    saved = tmp_path / "key.pem"
    other = unique("key")
    matches(euca("euca-create-keypair", "-f", str(saved), other), rf"KEYPAIR\t{other}\t\S+")
    assert saved.read_text().startswith("-----BEGIN") and saved.stat().st_mode & 0o077 == 0
    listed = euca("euca-describe-keypairs", name, other)
    assert out[0] in listed
    assert {line.split("\t")[1] for line in listed} == {name, other}
    for key in (name, other):
        matches(euca("euca-delete-keypair", key), rf"KEYPAIR\t{key}")


def test_security_groups(euca: Euca) -> None:
    name = unique("web")
    created = euca("euca-create-group", name, "-d", "web servers")
    matches(created, rf"GROUP\tsg-{ID}\t{name}\tweb servers")
    try:
        matches(
            euca("euca-authorize", name, "-P", "tcp", "-p", "22", "-s", "10.0.0.0/8"),
            rf"GROUP\t{name}",
            rf"PERMISSION\t{name}\tALLOWS\ttcp\t22\t22\tFROM\tCIDR\t10\.0\.0\.0/8",
        )
        matches(
            euca("euca-authorize", name, "-P", "icmp", "-t", "-1:-1"),
            rf"GROUP\t{name}",
            rf"PERMISSION\t{name}\tALLOWS\ticmp\t-1\t-1\tFROM\tCIDR\t0\.0\.0\.0/0",
        )
        lines = euca("euca-describe-groups", name)
        # The group is the default VPC's (issue #18): euca2ools prints its VPC last.
        assert re.fullmatch(rf"GROUP\tsg-{ID}\t{ACCOUNT}\t{name}\tweb servers\tvpc-{ID}", lines[0])
        owner = lines[0].split("\t")[2]
        assert sorted(lines[1:]) == sorted(
            [
                f"PERMISSION\t{owner}\t{name}\tALLOWS\ticmp\t-1\t-1\tFROM\tCIDR\t0.0.0.0/0\tingress",
                f"PERMISSION\t{owner}\t{name}\tALLOWS\ttcp\t22\t22\tFROM\tCIDR\t10.0.0.0/8\tingress",
                f"PERMISSION\t{owner}\t{name}\tALLOWS\t-1\t\t\tTO\tCIDR\t0.0.0.0/0\tegress",
            ]
        )
        euca("euca-revoke", name, "-P", "tcp", "-p", "22", "-s", "10.0.0.0/8")
        assert "\ttcp\t22\t" not in "\n".join(euca("euca-describe-groups", name))
    finally:
        matches(euca("euca-delete-group", name), r"RETURN\ttrue")


def test_addresses(euca: Euca, emi: str) -> None:
    allocated = euca("euca-allocate-address")
    matches(allocated, rf"ADDRESS\t{IP}\tstandard\teipalloc-{ID}")
    ip = allocated[0].split("\t")[1]
    iid = euca("euca-run-instances", emi)[1].split("\t")[1]
    try:
        deadline = time.monotonic() + 60
        while "\trunning\t" not in euca("euca-describe-instances", iid)[1]:
            assert time.monotonic() < deadline, "instance did not start"
            time.sleep(0.5)
        matches(euca("euca-associate-address", ip, "-i", iid), rf"ADDRESS\t{ip}\t{iid}")
        matches(
            euca("euca-describe-addresses", ip),
            rf"ADDRESS\t{ip}\t{iid}\tstandard\teipalloc-{ID}\teipassoc-{ID}\t\t{IP}",
        )
        euca("euca-disassociate-address", ip)
    finally:
        euca("euca-terminate-instances", iid)
        euca("euca-release-address", ip)


def test_properties(euca: Euca) -> None:
    name = "objectstorage.max_buckets_per_account"
    (line,) = euca("euca-describe-properties", name)
    assert re.fullmatch(rf"PROPERTY\t{re.escape(name)}\t\d+", line)
    old = line.split("\t")[2]
    assert euca("euca-modify-property", "-p", f"{name}=42") == [f"PROPERTY\t{name}\t42 was {old}"]
    try:
        assert euca("euca-describe-properties", name) == [f"PROPERTY\t{name}\t42"]
    finally:
        reset = euca("euca-modify-property", "-r", name)
    assert reset == [f"PROPERTY\t{name}\t100 was 42"]
    verbose = euca("euca-describe-properties", "-v", name)
    assert [v.split("\t")[0] for v in verbose] == ["PROPERTY", "DESCRIPTION", "DEFAULT"]


def test_bad_input_is_one_sentence(euca: Euca) -> None:
    def fails(done: subprocess.CompletedProcess[str], start: str) -> None:
        assert done.returncode != 0 and not done.stdout, done
        assert done.stderr.startswith(start), done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1

    fails(
        euca.run("euca-describe-instances", "i-0000000000000000f"),
        "euca-describe-instances: error (InvalidInstanceID.NotFound): ",
    )
    fails(
        euca.run("euca-describe-instances", AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY=""),
        "euca-describe-instances: error: no credentials: source your eucarc",
    )
    fails(
        euca.run("euca-describe-images", "-U", "http://127.0.0.1:9/services/compute"),
        "euca-describe-images: error: could not connect to http://127.0.0.1:9/",
    )
    fails(
        euca.run("euca-describe-services", "-S", "not-the-secret"),
        "euca-describe-services: error (",
    )
    fails(euca.run("euca-modify-property", "-p", "no-equals"), "euca-modify-property: error: ")
