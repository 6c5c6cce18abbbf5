"""EC2 key pairs through boto3 and the AWS CLI: real keys, AWS fingerprints, errors, accounts."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ssh_public(private: Path) -> list[str]:
    out = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(private)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[:2]


def test_created_rsa_key_is_usable_and_fingerprinted_as_aws(ec2: Any, tmp_path: Path) -> None:
    name = unique("rsa")
    made = ec2.create_key_pair(KeyName=name)
    assert made["KeyName"] == name and made["KeyPairId"].startswith("key-")
    assert made["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    pem = tmp_path / "k.pem"
    pem.write_text(made["KeyMaterial"])
    pem.chmod(0o600)
    pkcs8 = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", str(pem)],
        capture_output=True,
        check=True,
    ).stdout
    assert made["KeyFingerprint"] == ":".join(f"{b:02x}" for b in hashlib.sha1(pkcs8).digest())
    listed = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    assert len(listed) == 1
    item = listed[0]
    assert item["PublicKey"].split()[:2] == ssh_public(pem)
    assert (item["KeyType"], item["KeyFingerprint"]) == ("rsa", made["KeyFingerprint"])
    assert item["KeyPairId"] == made["KeyPairId"] and "CreateTime" in item
    assert "PublicKey" not in ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
    ec2.delete_key_pair(KeyName=name)


def test_created_ed25519_key(ec2: Any, tmp_path: Path) -> None:
    name = unique("ed")
    made = ec2.create_key_pair(KeyName=name, KeyType="ed25519")
    assert made["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    key = tmp_path / "k"
    key.write_text(made["KeyMaterial"])
    key.chmod(0o600)
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(key)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert made["KeyFingerprint"] == printed.removeprefix("SHA256:") + "="
    listed = ec2.describe_key_pairs(KeyPairIds=[made["KeyPairId"]], IncludePublicKey=True)
    assert listed["KeyPairs"][0]["PublicKey"].split()[:2] == ssh_public(key)
    assert listed["KeyPairs"][0]["KeyType"] == "ed25519"
    # Deleting by id works too, and says which pair went.
    assert ec2.delete_key_pair(KeyPairId=made["KeyPairId"])["KeyPairId"] == made["KeyPairId"]


def test_import_forms_and_md5_fingerprint(ec2: Any, tmp_path: Path) -> None:
    key = tmp_path / "id"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)], check=True
    )
    pub = key.with_suffix(".pub")
    spki = subprocess.run(
        ["ssh-keygen", "-e", "-m", "PKCS8", "-f", str(pub)], capture_output=True, check=True
    ).stdout
    ssh2 = subprocess.run(["ssh-keygen", "-e", "-f", str(pub)], capture_output=True, check=True)
    der = base64.b64decode(b"".join(line for line in spki.splitlines() if b"-----" not in line))
    expected = ":".join(f"{b:02x}" for b in hashlib.md5(der).digest())
    names = []
    for material in (pub.read_bytes(), spki, ssh2.stdout):
        name = unique("imp")
        out = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)
        assert out["KeyFingerprint"] == expected and out["KeyPairId"].startswith("key-")
        assert "KeyMaterial" not in out
        names.append(name)
    listed = ec2.describe_key_pairs(
        Filters=[{"Name": "fingerprint", "Values": [expected]}], IncludePublicKey=True
    )["KeyPairs"]
    assert sorted(k["KeyName"] for k in listed) == sorted(names)
    assert {tuple(k["PublicKey"].split()[:2]) for k in listed} == {
        tuple(pub.read_text().split()[:2])
    }
    for name in names:
        ec2.delete_key_pair(KeyName=name)


def test_key_pair_errors(ec2: Any) -> None:
    name = unique("dup")
    ec2.create_key_pair(KeyName=name)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("create_key_pair", {"KeyName": name}, "InvalidKeyPair.Duplicate"),
        ("import_key_pair", {"KeyName": name, "PublicKeyMaterial": b"x"}, "InvalidKey.Format"),
        (
            "import_key_pair",
            {"KeyName": unique("bad"), "PublicKeyMaterial": b"ssh-rsa AAAAB3NzaC1yc2E="},
            "InvalidKey.Format",
        ),
        ("describe_key_pairs", {"KeyNames": [unique("nope")]}, "InvalidKeyPair.NotFound"),
        (
            "describe_key_pairs",
            {"KeyPairIds": ["key-0123456789abcdef0"]},
            "InvalidKeyPair.NotFound",
        ),
        ("create_key_pair", {"KeyName": "x" * 256}, "InvalidParameterValue"),
        ("create_key_pair", {"KeyName": "clé"}, "InvalidParameterValue"),
        ("create_key_pair", {"KeyName": unique("k"), "KeyFormat": "ppk"}, "InvalidParameterValue"),
        (
            "describe_key_pairs",
            {"Filters": [{"Name": "no-such-filter", "Values": ["x"]}]},
            "InvalidParameterValue",
        ),
    ]
    for operation, params, expected in cases:
        with pytest.raises(ClientError) as err:
            getattr(ec2, operation)(**params)
        assert code(err) == expected, (operation, params)
    # Deleting a key pair that does not exist succeeds, as AWS.
    assert ec2.delete_key_pair(KeyName=unique("gone"))["Return"] is True
    ec2.delete_key_pair(KeyName=name)
    with pytest.raises(ClientError) as err:
        ec2.describe_key_pairs(KeyNames=[name])
    assert code(err) == "InvalidKeyPair.NotFound"


def test_filters_and_tag_specifications(ec2: Any) -> None:
    team = unique("team")
    made = ec2.create_key_pair(
        KeyName=unique("tagged"),
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": team}]}],
    )
    assert made["Tags"] == [{"Key": "team", "Value": team}]
    other = ec2.create_key_pair(KeyName=unique("plain"), KeyType="ed25519")
    by_tag = ec2.describe_key_pairs(Filters=[{"Name": "tag:team", "Values": [team]}])
    assert [k["KeyPairId"] for k in by_tag["KeyPairs"]] == [made["KeyPairId"]]
    assert by_tag["KeyPairs"][0]["Tags"] == [{"Key": "team", "Value": team}]
    wild = ec2.describe_key_pairs(
        Filters=[
            {"Name": "key-name", "Values": ["tagged-*", "plain-*"]},
            {"Name": "key-pair-id", "Values": [made["KeyPairId"], other["KeyPairId"]]},
        ]
    )
    assert {k["KeyPairId"] for k in wild["KeyPairs"]} == {made["KeyPairId"], other["KeyPairId"]}
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(
            KeyName=unique("wrong"),
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}],
        )
    assert code(err) == "InvalidParameterValue"
    ec2.delete_key_pair(KeyPairId=made["KeyPairId"])
    ec2.delete_key_pair(KeyPairId=other["KeyPairId"])
    # Tags go with the key pair.
    assert not ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [made["KeyPairId"]]}])[
        "Tags"
    ]


def test_accounts_see_only_their_own_key_pairs(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    name = unique("mine")
    ec2.create_key_pair(KeyName=name)
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    assert name not in [k["KeyName"] for k in other.describe_key_pairs()["KeyPairs"]]
    with pytest.raises(ClientError) as err:
        other.describe_key_pairs(KeyNames=[name])
    assert code(err) == "InvalidKeyPair.NotFound"
    # The same name is free in another account; deleting there leaves ours alone.
    other.create_key_pair(KeyName=name)
    other.delete_key_pair(KeyName=name)
    assert ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]["KeyName"] == name
    ec2.delete_key_pair(KeyName=name)


def test_aws_cli(cloud: Cloud, tmp_path: Path) -> None:
    name = unique("cli")
    out = cloud.aws_cli(
        "ec2", "create-key-pair", "--key-name", name, "--query", "KeyMaterial", "--output", "text"
    )
    assert out.returncode == 0, out.stderr
    pem = tmp_path / "cli.pem"
    pem.write_text(out.stdout)
    pem.chmod(0o600)
    listed = cloud.aws_cli(
        "ec2", "describe-key-pairs", "--key-names", name, "--include-public-key", check=True
    )
    assert json.loads(listed.stdout)["KeyPairs"][0]["PublicKey"].split()[:2] == ssh_public(pem)
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    imported = cloud.aws_cli(
        "ec2",
        "import-key-pair",
        "--key-name",
        name + "-imp",
        "--public-key-material",
        f"fileb://{key}.pub",
        check=True,
    )
    assert json.loads(imported.stdout)["KeyFingerprint"].endswith("=")
    missing = cloud.aws_cli("ec2", "describe-key-pairs", "--key-names", unique("none"))
    assert missing.returncode != 0 and "InvalidKeyPair.NotFound" in missing.stderr
    for n in (name, name + "-imp"):
        cloud.aws_cli("ec2", "delete-key-pair", "--key-name", n, check=True)
