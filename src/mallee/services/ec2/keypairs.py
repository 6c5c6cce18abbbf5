"""EC2 key pairs: real RSA and ed25519 keys, fingerprints as AWS computes them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.ids import new_id
from mallee.services.base import Params, Provider, Result
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.tags import apply_tag_specifications, delete_all_tags, tag_list, tags_for
from mallee.store.tables.ec2 import Ec2KeyPair

_SSH = serialization.Encoding.OpenSSH
_SSH_PUB = serialization.PublicFormat.OpenSSH


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _ed25519_fingerprint(public_openssh: str) -> str:
    blob = base64.b64decode(public_openssh.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode() + "="


def _new_key(kind: str) -> tuple[str, str, str]:
    """(private key material, OpenSSH public key, fingerprint) for a key AWS creates."""
    if kind == "ed25519":
        ed = ed25519.Ed25519PrivateKey.generate()
        material = ed.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public = ed.public_key().public_bytes(_SSH, _SSH_PUB).decode()
        return material, public, _ed25519_fingerprint(public)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    material = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    # AWS: SHA-1 of the DER-encoded PKCS#8 private key for the RSA keys it creates.
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(_SSH, _SSH_PUB).decode()
    return material, public, _colons(hashlib.sha1(pkcs8).digest())


def _imported(material: bytes) -> tuple[str, str, str]:
    """(key type, OpenSSH public key, fingerprint) of an imported public key."""
    text = material.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
        else:
            key = serialization.load_ssh_public_key(text)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise ServiceError(
            "InvalidKey.Format", "Key is not in valid OpenSSH public key format", 400
        ) from err
    if isinstance(key, ed25519.Ed25519PublicKey):
        public = key.public_bytes(_SSH, _SSH_PUB).decode()
        return "ed25519", public, _ed25519_fingerprint(public)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ServiceError("InvalidKey.Format", "Only RSA and ed25519 keys are supported", 400)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # AWS: MD5 of the DER public key for imported RSA keys.
    fingerprint = _colons(hashlib.md5(der).digest())
    return "rsa", key.public_bytes(_SSH, _SSH_PUB).decode(), fingerprint


_FILTERS = {
    "key-name": lambda k: k.name,
    "fingerprint": lambda k: k.fingerprint,
    "key-pair-id": lambda k: k.id,
    "key-type": lambda k: k.key_type,
}


class KeyPairsApi(Provider):
    def _add(self, ctx: RequestContext, params: Params, kind: str, public: str, fp: str) -> str:
        name = str(params.get("KeyName") or "")
        if not name or len(name) > 255:
            raise ServiceError("InvalidParameterValue", "Key name must be 1 to 255 characters", 400)
        key_id = new_id("key")
        try:
            with self.store.session() as s:
                s.add(
                    Ec2KeyPair(
                        id=key_id,
                        account_id=ctx.principal.account_id,
                        name=name,
                        key_type=kind,
                        fingerprint=fp,
                        public_key=public,
                        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                    )
                )
                s.flush()
                apply_tag_specifications(
                    s,
                    ctx.principal.account_id,
                    params.get("TagSpecifications"),
                    {"key-pair": [key_id]},
                )
        except IntegrityError as err:
            raise ServiceError(
                "InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.", 400
            ) from err
        return key_id

    def create_key_pair(self, ctx: RequestContext, params: Params) -> Result:
        kind = str(params.get("KeyType") or "rsa")
        if kind not in ("rsa", "ed25519"):
            raise ServiceError("InvalidParameterValue", f"Invalid key type: {kind}", 400)
        if params.get("KeyFormat", "pem") != "pem":
            raise ServiceError("InvalidParameterValue", "Only the pem key format is supported", 400)
        material, public, fp = _new_key(kind)
        key_id = self._add(ctx, params, kind, public, fp)
        return {
            "KeyName": params["KeyName"],
            "KeyFingerprint": fp,
            "KeyMaterial": material,
            "KeyPairId": key_id,
        }

    def import_key_pair(self, ctx: RequestContext, params: Params) -> Result:
        raw = params.get("PublicKeyMaterial") or b""
        kind, public, fp = _imported(raw if isinstance(raw, bytes) else str(raw).encode())
        key_id = self._add(ctx, params, kind, public, fp)
        return {"KeyName": params["KeyName"], "KeyFingerprint": fp, "KeyPairId": key_id}

    def describe_key_pairs(self, ctx: RequestContext, params: Params) -> Result:
        filters = parse_filters(params.get("Filters"), _FILTERS)
        names = [str(n) for n in params.get("KeyNames") or []]
        ids = [str(i) for i in params.get("KeyPairIds") or []]
        account = ctx.principal.account_id
        with self.store.read() as s:
            rows = s.scalars(
                select(Ec2KeyPair).where(Ec2KeyPair.account_id == account).order_by(Ec2KeyPair.name)
            ).all()
            tags = tags_for(s, account, [k.id for k in rows])
        for wanted, attr, code in (
            (names, "name", "InvalidKeyPair.NotFound"),
            (ids, "id", "InvalidKeyPair.NotFound"),
        ):
            have = {getattr(k, attr) for k in rows}
            missing = [w for w in wanted if w not in have]
            if missing:
                raise ServiceError(code, f"The key pair '{missing[0]}' does not exist", 400)
        chosen = [
            k
            for k in rows
            if (not names or k.name in names)
            and (not ids or k.id in ids)
            and matches(filters, lookup(_FILTERS, k), tags.get(k.id, {}))
        ]
        out = []
        for k in chosen:
            item = {
                "KeyPairId": k.id,
                "KeyName": k.name,
                "KeyFingerprint": k.fingerprint,
                "KeyType": k.key_type,
                "CreateTime": k.created_at,
                "Tags": tag_list(tags.get(k.id, {})),
            }
            if params.get("IncludePublicKey"):
                item["PublicKey"] = k.public_key
            out.append(item)
        return {"KeyPairs": out}

    def delete_key_pair(self, ctx: RequestContext, params: Params) -> Result:
        name, key_id = params.get("KeyName"), params.get("KeyPairId")
        if not name and not key_id:
            raise ServiceError(
                "MissingParameter", "The request must contain the parameter KeyName", 400
            )
        with self.store.session() as s:
            query = select(Ec2KeyPair).where(Ec2KeyPair.account_id == ctx.principal.account_id)
            query = (
                query.where(Ec2KeyPair.name == name)
                if name
                else query.where(Ec2KeyPair.id == key_id)
            )
            key = s.scalar(query)
            # Deleting a key pair that does not exist succeeds, as in AWS.
            if key is not None:
                delete_all_tags(s, [key.id])
                s.delete(key)
        return {"Return": True, **({"KeyPairId": key.id} if key is not None else {})}
