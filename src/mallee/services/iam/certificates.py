"""What UploadServerCertificate accepts: a PEM certificate, its chain, and the private key that
matches the certificate's public key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mallee.api.errors import ServiceError

MAX_BODY = 16384
MAX_KEY = 16384
MAX_CHAIN = 2097152


def malformed_certificate(message: str) -> ServiceError:
    return ServiceError("MalformedCertificate", message, 400)


def key_pair_mismatch() -> ServiceError:
    return ServiceError(
        "KeyPairMismatch",
        "The public key of the certificate does not match the private key given.",
        400,
    )


@dataclass(frozen=True, slots=True)
class Checked:
    body: str
    chain: str | None
    key: str
    expiration: datetime


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise malformed_certificate(f"{field} must be PEM text of at most {limit} characters.")
    return value.strip() + "\n"


def check(body: Any, key: Any, chain: Any) -> Checked:
    body_text = _text(body, "CertificateBody", MAX_BODY)
    key_text = _text(key, "PrivateKey", MAX_KEY)
    try:
        cert = x509.load_pem_x509_certificate(body_text.encode())
    except ValueError as err:
        raise malformed_certificate(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from err
    try:
        private = serialization.load_pem_private_key(key_text.encode(), password=None)
    except (ValueError, TypeError) as err:
        # TypeError: a key sealed with a passphrase, which IAM cannot use either.
        raise malformed_certificate(
            "Unable to parse private key. Please ensure it is an unencrypted PEM key."
        ) from err
    mine = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if mine != theirs:
        raise key_pair_mismatch()
    chain_text = None
    if chain is not None and str(chain).strip():
        chain_text = _text(chain, "CertificateChain", MAX_CHAIN)
        try:
            x509.load_pem_x509_certificates(chain_text.encode())
        except ValueError as err:
            raise malformed_certificate(
                "Unable to parse certificate chain. Please ensure it is in PEM format."
            ) from err
    return Checked(body_text, chain_text, key_text, cert.not_valid_after_utc)
