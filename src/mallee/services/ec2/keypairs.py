"""EC2 key pairs: real RSA and ed25519 keys, fingerprints as AWS computes them.

AWS's fingerprints depend on where the key came from:
- created RSA: SHA-1 of the DER PKCS#8 private key, hex with colons;
- imported RSA: MD5 of the DER SubjectPublicKeyInfo, hex with colons (what
  `openssl pkey -pubout -outform DER | openssl md5 -c` prints);
- ed25519 (either way): base64 of the SHA-256 of the OpenSSH public key blob, with the `=`
  padding AWS keeps (`ssh-keygen -l -E sha256` prints the same digest without it).
Every pair keeps its OpenSSH public key: RunInstances copies it for the metadata service.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization.ssh import SSHPublicKeyTypes
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.tags import apply_tag_specifications, delete_all_tags, tag_list, tags_for
from mallee.store.tables.ec2 import Ec2KeyPair

_SSH = serialization.Encoding.OpenSSH
_SSH_PUB = serialization.PublicFormat.OpenSSH
_RSA_BITS = (1024, 16384)
_SSH2_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_SSH2_END = "---- END SSH2 PUBLIC KEY ----"


def colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ed25519_fingerprint(public_openssh: str) -> str:
    blob = base64.b64decode(public_openssh.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def created_rsa_fingerprint(key: rsa.RSAPrivateKey) -> str:
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return colon_hex(hashlib.sha1(pkcs8).digest())


def imported_rsa_fingerprint(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return colon_hex(hashlib.md5(der).digest())


def new_key(kind: str) -> tuple[str, str, str]:
    """(private key material, OpenSSH public key, fingerprint) of a key the cloud creates.

    RSA material is PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), ed25519 OpenSSH's format, as AWS.
    """
    if kind == "ed25519":
        ed = ed25519.Ed25519PrivateKey.generate()
        material = ed.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public = ed.public_key().public_bytes(_SSH, _SSH_PUB).decode()
        return material, public, ed25519_fingerprint(public)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    material = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(_SSH, _SSH_PUB).decode()
    return material, public, created_rsa_fingerprint(key)


def _ssh2_blob(text: str) -> bytes:
    """The key blob of an RFC 4716 ("SSH2") public key file."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines[0] != _SSH2_BEGIN or lines[-1] != _SSH2_END:
        raise ValueError("not an SSH2 public key")
    body: list[str] = []
    continued = False
    for line in lines[1:-1]:
        # Header lines are "Tag: value", possibly continued with a trailing backslash.
        if continued or (":" in line and not body):
            continued = line.endswith("\\")
            continue
        body.append(line)
    return base64.b64decode("".join(body), validate=True)


# What the parsers can return: an SSH key loader may answer key types that PEM/DER cannot carry.
_AnyPublicKey = PublicKeyTypes | SSHPublicKeyTypes


def _parse_public(material: bytes) -> _AnyPublicKey:
    """A public key in any form ImportKeyPair takes: OpenSSH, PEM, SSH2 or base64 DER."""
    text = material.strip()
    if text.startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(text)
    if text.startswith(b"---- BEGIN SSH2"):
        blob = _ssh2_blob(text.decode())
        kind = blob[4 : 4 + int.from_bytes(blob[:4], "big")]
        return serialization.load_ssh_public_key(kind + b" " + base64.b64encode(blob))
    if text.startswith(b"ssh-dss"):
        # DSA: never accepted by EC2 (and deprecated by the cryptography library).
        raise ValueError("DSA keys are not supported")
    if text.startswith((b"ssh-", b"ecdsa-")):
        return serialization.load_ssh_public_key(b" ".join(text.split()[:2]))
    return serialization.load_der_public_key(base64.b64decode(text, validate=True))


def imported_key(material: bytes) -> tuple[str, str, str]:
    """(key type, OpenSSH public key, fingerprint) of a public key given to ImportKeyPair."""
    key: _AnyPublicKey | None = None
    # Some clients base64 the key text once more than the wire needs: try both.
    for candidate in (material, _unbase64(material)):
        if candidate is None:
            continue
        try:
            key = _parse_public(candidate)
            break
        except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error, IndexError):
            continue
    if key is None:
        raise errors.bad_key_format()
    public = _openssh(key)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", public, ed25519_fingerprint(public)
    if not isinstance(key, rsa.RSAPublicKey):
        raise errors.bad_key_format("Only RSA and ED25519 keys are supported")
    if not _RSA_BITS[0] <= key.key_size <= _RSA_BITS[1]:
        raise errors.bad_key_format(f"RSA keys of {key.key_size} bits are not supported")
    return "rsa", public, imported_rsa_fingerprint(key)


def _unbase64(material: bytes) -> bytes | None:
    try:
        return base64.b64decode(b"".join(material.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _openssh(key: _AnyPublicKey) -> str:
    try:
        return key.public_bytes(_SSH, _SSH_PUB).decode()
    except (ValueError, TypeError) as err:
        raise errors.bad_key_format("Only RSA and ED25519 keys are supported") from err


def check_key_name(name: str) -> None:
    """AWS: up to 255 ASCII characters (printable ones here: the name reaches metadata)."""
    if not name:
        raise errors.missing("KeyName")
    if not name.isascii():
        raise errors.invalid_parameter(
            "keyName", name, "Character sets beyond ASCII are not supported."
        )
    if len(name) > 255 or re.search(r"[\x00-\x1f\x7f]", name):
        raise errors.invalid_parameter("keyName", name, "Up to 255 printable ASCII characters.")


_FILTERS = {
    "key-name": lambda k: k.name,
    "fingerprint": lambda k: k.fingerprint,
    "key-pair-id": lambda k: k.id,
    "key-type": lambda k: k.key_type,
}


def _key_out(k: Ec2KeyPair, tags: dict[str, str], with_public: bool) -> dict[str, object]:
    item: dict[str, object] = {
        "KeyPairId": k.id,
        "KeyName": k.name,
        "KeyFingerprint": k.fingerprint,
        "KeyType": k.key_type,
        "CreateTime": k.created_at,
        "Tags": tag_list(tags),
    }
    if with_public:
        item["PublicKey"] = k.public_key
    return item


def _add(
    rt: Runtime, ctx: RequestContext, params: Params, kind: str, public: str, fp: str
) -> Result:
    name = str(params.get("KeyName") or "")
    key_id = new_id("key")
    account = ctx.principal.account_id
    try:
        with rt.store.session() as s:
            s.add(
                Ec2KeyPair(
                    id=key_id,
                    account_id=account,
                    name=name,
                    key_type=kind,
                    fingerprint=fp,
                    public_key=public,
                    created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                )
            )
            s.flush()
            specs = params.get("TagSpecifications")
            apply_tag_specifications(s, account, specs, {"key-pair": [key_id]})
            tags = tags_for(s, account, [key_id]).get(key_id, {})
    except IntegrityError as err:
        raise errors.duplicate_key_pair(name) from err
    out: Result = {"KeyName": name, "KeyFingerprint": fp, "KeyPairId": key_id}
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def create_key_pair(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_key_name(str(params.get("KeyName") or ""))
    kind = str(params.get("KeyType") or "rsa")
    if kind not in ("rsa", "ed25519"):
        raise errors.invalid_parameter("KeyType", kind)
    key_format = str(params.get("KeyFormat") or "pem")
    if key_format != "pem":
        # PuTTY's ppk is not offered: `puttygen key.pem -o key.ppk` converts the pem.
        raise errors.invalid_parameter("KeyFormat", key_format, "Only pem is supported.")
    material, public, fp = new_key(kind)
    return {**_add(rt, ctx, params, kind, public, fp), "KeyMaterial": material}


def import_key_pair(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_key_name(str(params.get("KeyName") or ""))
    raw = params.get("PublicKeyMaterial")
    if not raw:
        raise errors.missing("PublicKeyMaterial")
    kind, public, fp = imported_key(raw if isinstance(raw, bytes) else str(raw).encode())
    return _add(rt, ctx, params, kind, public, fp)


def describe_key_pairs(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _FILTERS)
    names = [str(n) for n in params.get("KeyNames") or []]
    ids = [str(i) for i in params.get("KeyPairIds") or []]
    account = ctx.principal.account_id
    with rt.store.read() as s:
        rows = s.scalars(
            select(Ec2KeyPair).where(Ec2KeyPair.account_id == account).order_by(Ec2KeyPair.name)
        ).all()
        tags = tags_for(s, account, [k.id for k in rows])
    have_names, have_ids = {k.name for k in rows}, {k.id for k in rows}
    for name in names:
        if name not in have_names:
            raise errors.not_found("key-pair", name)
    for key_id in ids:
        if key_id not in have_ids:
            raise errors.key_pair_id_not_found(key_id)
    chosen = [
        k
        for k in rows
        if (not names or k.name in names)
        and (not ids or k.id in ids)
        and matches(filters, lookup(_FILTERS, k), tags.get(k.id, {}))
    ]
    with_public = bool(params.get("IncludePublicKey"))
    return {"KeyPairs": [_key_out(k, tags.get(k.id, {}), with_public) for k in chosen]}


def delete_key_pair(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name, key_id = params.get("KeyName"), params.get("KeyPairId")
    if not name and not key_id:
        raise errors.missing("KeyName")
    if key_id and not is_id(str(key_id), "key"):
        raise errors.invalid_parameter("KeyPairId", key_id)
    with rt.store.session() as s:
        query = select(Ec2KeyPair).where(Ec2KeyPair.account_id == ctx.principal.account_id)
        query = (
            query.where(Ec2KeyPair.name == str(name))
            if name
            else query.where(Ec2KeyPair.id == str(key_id))
        )
        key = s.scalar(query)
        # Deleting a key pair that does not exist succeeds, as in AWS.
        if key is None:
            return {"Return": True}
        delete_all_tags(s, [key.id])
        s.delete(key)
        return {"Return": True, "KeyPairId": key.id}


OPERATIONS: Operations = {
    "CreateKeyPair": create_key_pair,
    "DeleteKeyPair": delete_key_pair,
    "DescribeKeyPairs": describe_key_pairs,
    "ImportKeyPair": import_key_pair,
}
