"""Key pair fingerprints as AWS computes them, checked against ssh-keygen and openssl."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mallee.api.errors import ServiceError
from mallee.services.ec2.keypairs import check_key_name, imported_key, new_key


def tool(*argv: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(list(argv), input=stdin, capture_output=True, check=True).stdout


def ssh_keygen_fingerprint(path: Path, digest: str) -> str:
    """The hash part of `ssh-keygen -l -E <digest>` ("MD5:aa:bb.." or "SHA256:base64")."""
    out = tool("ssh-keygen", "-l", "-E", digest, "-f", str(path)).decode().split()[1]
    return out.split(":", 1)[1]


def openssl_colon_digest(der: bytes, digest: str) -> str:
    out = tool("openssl", "dgst", f"-{digest}", "-c", stdin=der).decode()
    return out.rsplit("= ", 1)[1].strip()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_created_rsa_is_pkcs1_pem_with_sha1_of_pkcs8(tmp_path: Path) -> None:
    material, public, fp = new_key("rsa")
    assert material.startswith("-----BEGIN RSA PRIVATE KEY-----")
    pem = write(tmp_path / "k.pem", material)
    # OpenSSH reads the private key and derives the public key the cloud stored.
    assert tool("ssh-keygen", "-y", "-f", str(pem)).decode().split()[:2] == public.split()[:2]
    pkcs8 = tool("openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", str(pem))
    assert fp == openssl_colon_digest(pkcs8, "sha1")
    assert len(fp.split(":")) == 20


def test_created_ed25519_is_openssh_with_padded_sha256(tmp_path: Path) -> None:
    material, public, fp = new_key("ed25519")
    assert material.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    key = write(tmp_path / "k", material)
    assert tool("ssh-keygen", "-y", "-f", str(key)).decode().split()[:2] == public.split()[:2]
    # ssh-keygen prints the same SHA-256 without base64 padding; AWS keeps the "=".
    assert fp == ssh_keygen_fingerprint(key, "sha256") + "="
    assert len(base64.b64decode(fp)) == 32


def test_imported_rsa_is_md5_of_der_public_key(tmp_path: Path) -> None:
    key = tmp_path / "id"
    # PEM (not OpenSSH's own format) so that openssl reads the private key too.
    tool("ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "", "-f", str(key))
    pub = (tmp_path / "id.pub").read_bytes()
    kind, public, fp = imported_key(pub)
    assert kind == "rsa" and public.split()[:2] == pub.decode().split()[:2]
    der = tool("openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER")
    assert fp == openssl_colon_digest(der, "md5")
    # Not OpenSSH's own MD5 (of the SSH key blob): AWS hashes the DER form.
    assert fp != ssh_keygen_fingerprint(key, "md5")


def test_imported_ed25519_matches_ssh_keygen(tmp_path: Path) -> None:
    key = tmp_path / "id"
    tool("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@host", "-f", str(key))
    kind, _, fp = imported_key((tmp_path / "id.pub").read_bytes())
    assert kind == "ed25519"
    assert fp == ssh_keygen_fingerprint(key, "sha256") + "="


def test_every_import_form_gives_the_same_key(tmp_path: Path) -> None:
    key = tmp_path / "id"
    tool("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(key))
    pub = key.with_suffix(".pub")
    openssh = pub.read_bytes()
    forms = {
        "openssh": openssh,
        "openssh without comment": b" ".join(openssh.split()[:2]) + b"\n",
        "ssh2 (RFC 4716)": tool("ssh-keygen", "-e", "-f", str(pub)),
        "pem spki": tool("ssh-keygen", "-e", "-m", "PKCS8", "-f", str(pub)),
        "pem pkcs1": tool("ssh-keygen", "-e", "-m", "PEM", "-f", str(pub)),
        "base64 der": base64.b64encode(
            tool("openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER")
        ),
        "base64 of openssh": base64.b64encode(openssh),
    }
    results = {name: imported_key(material) for name, material in forms.items()}
    assert len(set(results.values())) == 1, results


def test_ssh2_with_continued_headers(tmp_path: Path) -> None:
    key = tmp_path / "id"
    tool("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    body = tool("ssh-keygen", "-e", "-f", str(key.with_suffix(".pub"))).decode().splitlines()
    text = "\n".join([body[0], 'Comment: "a long \\', 'comment"', "x-Tag: 1", *body[1:]])
    assert imported_key(text.encode()) == imported_key(key.with_suffix(".pub").read_bytes())


@pytest.mark.parametrize(
    "material",
    [
        b"not a key",
        b"ssh-rsa AAAA",
        b"ssh-rsa !!!notbase64",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n",
        b"",
    ],
)
def test_bad_material_is_invalid_key_format(material: bytes) -> None:
    with pytest.raises(ServiceError) as err:
        imported_key(material)
    assert err.value.code == "InvalidKey.Format"


def test_unsupported_key_types_are_invalid_key_format() -> None:
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key()
    text = ecdsa.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    for material in (text, b"ssh-dss AAAAB3NzaC1kc3MAAACBAP8= old@host"):
        with pytest.raises(ServiceError) as err:
            imported_key(material)
        assert err.value.code == "InvalidKey.Format"


def test_key_names() -> None:
    check_key_name("a" * 255)
    check_key_name("with spaces; and $(shell) `chars`")
    for bad, code in (
        ("", "MissingParameter"),
        ("a" * 256, "InvalidParameterValue"),
        ("clé", "InvalidParameterValue"),
        ("line\nbreak", "InvalidParameterValue"),
    ):
        with pytest.raises(ServiceError) as err:
            check_key_name(bad)
        assert err.value.code == code
