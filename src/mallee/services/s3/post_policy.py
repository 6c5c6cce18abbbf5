"""POST policy documents (browser uploads): parsing, condition checks and signatures.

A policy is base64 JSON: {"expiration": ISO 8601, "conditions": [...]}, each condition one of
{"field": "value"} (exact), ["eq", "$field", "value"], ["starts-with", "$field", "prefix"] or
["content-length-range", min, max]. The form is signed by signing the base64 text itself: SigV4
(hex HMAC-SHA256 with the derived signing key) or SigV2 (base64 HMAC-SHA1 with the secret).
Every form field but the file, the policy and the signature must be allowed by a condition.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mallee.api.auth.common import parse_count
from mallee.api.auth.signing import ALGORITHM, same, sign_hex, signing_key
from mallee.api.auth.sigv4 import split_credential
from mallee.api.auth.timefmt import parse_amz_date
from mallee.services.s3 import errors

# Fields no condition needs to name (S3: x-amz-signature, file, policy, x-ignore-*; SigV2's
# AWSAccessKeyId and signature; and the bucket, which is not a field but the URL).
UNCHECKED = frozenset({"file", "policy", "x-amz-signature", "signature", "awsaccesskeyid"})
MAX_CONDITION_TEXT = 200


@dataclass(frozen=True, slots=True)
class Condition:
    op: str  # "eq" or "starts-with"
    name: str  # field name, lower-case, without "$"
    value: str
    text: str  # as S3 quotes it back in errors

    def holds(self, actual: str) -> bool:
        if self.op == "eq":
            return actual == self.value
        if self.name == "content-type":
            # A Content-Type list (a,b) passes when every entry has the prefix.
            return all(part.strip().startswith(self.value) for part in actual.split(","))
        return actual.startswith(self.value)


@dataclass(slots=True)
class PostPolicy:
    expiration: float
    conditions: list[Condition] = field(default_factory=list)
    length_range: tuple[int, int] | None = None


def parse_policy(encoded: str) -> PostPolicy:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise errors.invalid_policy_document("Invalid 'base64' encoding.") from err
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise errors.invalid_policy_document("Invalid JSON.") from err
    if not isinstance(document, dict):
        raise errors.invalid_policy_document("Invalid JSON.")
    if "expiration" not in document:
        raise errors.invalid_policy_document("Policy missing expiration.")
    if "conditions" not in document:
        raise errors.invalid_policy_document("Policy missing conditions.")
    policy = PostPolicy(_expiration(document["expiration"]))
    conditions = document["conditions"]
    if not isinstance(conditions, list):
        raise errors.invalid_policy_document("Invalid 'conditions' value: must be a list.")
    for item in conditions:
        _add_condition(policy, item)
    return policy


def _expiration(value: Any) -> float:
    text = value if isinstance(value, str) else ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        # S3 wants a full UTC timestamp, e.g. 2007-12-01T12:00:00.000Z.
        raise errors.invalid_policy_document(f"Invalid 'expiration' value: '{value}'")
    return moment.timestamp()


def _quoted(items: list[Any]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def _add_condition(policy: PostPolicy, item: Any) -> None:
    if isinstance(item, dict):
        if len(item) != 1:
            raise errors.invalid_policy_document(
                "Invalid Simple-Condition: Simple-Conditions must have exactly one property"
                " specified."
            )
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise errors.invalid_policy_document(
                f"Invalid Simple-Condition: value of {name} must be a string."
            )
        text = _quoted(["eq", f"${name}", value])
        policy.conditions.append(Condition("eq", name.lower(), value, text))
        return
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise errors.invalid_policy_document(
            f"Invalid Condition: {json.dumps(item)[:MAX_CONDITION_TEXT]}"
        )
    op = item[0].lower()
    if op == "content-length-range":
        policy.length_range = _length_range(item)
        return
    if op not in ("eq", "starts-with"):
        raise errors.invalid_policy_document(f"Invalid Condition: unknown operation '{item[0]}'.")
    if len(item) != 3 or not all(isinstance(part, str) for part in item[1:]):
        raise errors.invalid_policy_document(
            f"Invalid Condition: '{item[0]}' needs a field and a value."
        )
    name, value = item[1], item[2]
    if not name.startswith("$"):
        raise errors.invalid_policy_document(
            f"Invalid Condition: field name '{name}' must start with '$'."
        )
    policy.conditions.append(Condition(op, name[1:].lower(), value, _quoted(item)))


def _length_range(item: list[Any]) -> tuple[int, int]:
    bounds: list[int] = []
    for part in item[1:]:
        if isinstance(part, bool):
            break
        if isinstance(part, int):
            bounds.append(part)
        elif isinstance(part, str) and (count := parse_count(part)) is not None:
            bounds.append(count)
    if len(item) != 3 or len(bounds) != 2 or bounds[0] < 0 or bounds[0] > bounds[1]:
        raise errors.invalid_policy_document(
            "Invalid content-length-range: needs two integers, min <= max."
        )
    return bounds[0], bounds[1]


def check_policy(policy: PostPolicy, fields: dict[str, str], bucket: str, now: float) -> None:
    """AccessDenied unless the policy is current and the form (lower-case names) satisfies it."""
    if now > policy.expiration:
        raise errors.post_policy_denied("Policy expired.")
    values = dict(fields)
    values["bucket"] = bucket
    covered: set[str] = set()
    for condition in policy.conditions:
        if not condition.holds(values.get(condition.name, "")):
            raise errors.post_policy_denied(f"Policy Condition failed: {condition.text}")
        covered.add(condition.name)
    extra = [
        name
        for name in fields
        if name not in UNCHECKED and name not in covered and not name.startswith("x-ignore-")
    ]
    if extra:
        raise errors.post_policy_denied(f"Extra input fields: {', '.join(extra)}")


@dataclass(frozen=True, slots=True)
class PostSignature:
    """The signature fields of a form, whichever version carried them."""

    version: str  # "v4" or "v2"
    access_key: str
    signature: str
    # SigV4 only: the credential scope the signing key is derived for.
    date: str = ""
    region: str = ""
    service: str = ""


def signature_fields(fields: dict[str, str]) -> PostSignature | None:
    """The form's signature claims; None for an unsigned form. InvalidArgument when partial."""
    if "x-amz-algorithm" in fields or "x-amz-signature" in fields:
        return _v4_fields(fields)
    if "awsaccesskeyid" in fields or "signature" in fields:
        for name, spelled in (("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature")):
            if not fields.get(name):
                raise errors.missing_post_field(spelled)
        return PostSignature("v2", fields["awsaccesskeyid"], fields["signature"])
    return None


def _v4_fields(fields: dict[str, str]) -> PostSignature:
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        if not fields.get(name):
            raise errors.missing_post_field(name)
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise errors.invalid_argument(
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
            "x-amz-algorithm",
            fields["x-amz-algorithm"],
        )
    scope = split_credential(fields["x-amz-credential"])
    amz_date = fields["x-amz-date"]
    if scope is None or parse_amz_date(amz_date) is None or scope[1] != amz_date[:8]:
        raise errors.invalid_argument(
            "Invalid argument.", "x-amz-credential", fields["x-amz-credential"]
        )
    access_key, date, region, service = scope
    return PostSignature("v4", access_key, fields["x-amz-signature"], date, region, service)


def expected_signature(claims: PostSignature, secret: str, encoded_policy: str) -> str:
    if claims.version == "v4":
        key = signing_key(secret, claims.date, claims.region, claims.service)
        return sign_hex(key, encoded_policy)
    digest = hmac.digest(secret.encode(), encoded_policy.encode(), "sha1")
    return base64.b64encode(digest).decode()


def signature_matches(claims: PostSignature, secret: str, encoded_policy: str) -> bool:
    expected = expected_signature(claims, secret, encoded_policy)
    provided = claims.signature if claims.version == "v2" else claims.signature.lower()
    return same(expected, provided)
