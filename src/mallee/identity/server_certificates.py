"""IAM server certificates as the rest of the cloud uses them: sealing their private keys, and
the PEM bundle a load balancer worker serves HTTPS and SSL listeners with.

The private key is sealed with the cloud's sealing key (sealing_key.py, the data directory's
`console.key` every api process shares), so a dump of the database alone does not give the
keys away. Whoever unseals needs that key file: the node agent reads it from its data
directory (the same directory on a cloud-in-a-box; a node on another host needs a copy).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.sealing_key import load_key
from mallee.store.tables.iam import IamServerCertificate


def seal(private_key_pem: str, data_dir: Path) -> str:
    return Fernet(load_key(data_dir)).encrypt(private_key_pem.encode()).decode("ascii")


def unseal(sealed: str, data_dir: Path) -> str:
    return Fernet(load_key(data_dir)).decrypt(sealed.encode("ascii")).decode()


def find(s: Session, arn: str, account_id: str | None = None) -> IamServerCertificate | None:
    """The server certificate `arn` names (of `account_id` when given)."""
    stmt = select(IamServerCertificate).where(IamServerCertificate.arn == arn)
    if account_id is not None:
        stmt = stmt.where(IamServerCertificate.account_id == account_id)
    return s.scalars(stmt).first()


def pem_bundle(s: Session, arn: str, data_dir: Path) -> bytes | None:
    """The certificate, its chain and its private key in one PEM (HAProxy's `crt` file), or
    None when no server certificate has that ARN (deleted since, or never uploaded)."""
    cert = find(s, arn)
    if cert is None:
        return None
    parts = [cert.body.strip(), (cert.chain or "").strip(), unseal(cert.sealed_key, data_dir)]
    return ("\n".join(p.strip() for p in parts if p.strip()) + "\n").encode()
