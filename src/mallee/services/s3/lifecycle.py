"""Lifecycle: Put/GetBucketLifecycleConfiguration and DeleteBucketLifecycle.

The configuration is validated here and stored as the JSON of its rules (dates as ISO text).
The controller applies it (controller/lifecycle.py) through the rule model in
objectstore/lifecycle_rules.py, so what the API accepts and what gets expired are read the
same way.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from mallee.api.context import RequestContext
from mallee.objectstore.lifecycle_rules import aware
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.common import bucket_or_404
from mallee.services.s3.tagging import MAX_OBJECT_TAGS, check_tags

STATUS = "@status"
MAX_RULES = 1000
MAX_ID = 255
FILTERS = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
EXPIRATIONS = ("Days", "Date", "ExpiredObjectDeleteMarker")


def _positive(value: Any, message: str) -> None:
    if value is None or int(value) <= 0:
        raise errors.invalid_argument(message)


def _check_filter(raw: dict[str, Any]) -> bool:
    """Validates the rule's selection; True when it selects by tags."""
    has_filter, has_prefix = "Filter" in raw, "Prefix" in raw
    if has_filter == has_prefix:
        # Exactly one of the two: the current Filter or the legacy rule-level Prefix.
        raise errors.malformed_xml()
    flt = raw.get("Filter") or {}
    if sum(1 for k in FILTERS if k in flt) > 1:
        raise errors.malformed_xml()
    if "Tag" in flt:
        check_tags([flt["Tag"]], 1, "Object")
    both = flt.get("And")
    if both is not None:
        check_tags(both.get("Tags") or [], MAX_OBJECT_TAGS, "Object")
        low, high = both.get("ObjectSizeGreaterThan"), both.get("ObjectSizeLessThan")
        if low is not None and high is not None and low >= high:
            raise errors.invalid_argument(
                "ObjectSizeGreaterThan must be less than ObjectSizeLessThan in a filter"
            )
    for bound in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        value = flt.get(bound, (both or {}).get(bound))
        if value is not None and value < 0:
            raise errors.invalid_argument(f"{bound} must be a non-negative integer")
    return "Tag" in flt or bool((both or {}).get("Tags"))


def _check_expiration(expiration: dict[str, Any], tagged: bool) -> dict[str, Any]:
    if sum(1 for k in EXPIRATIONS if k in expiration) != 1:
        raise errors.malformed_xml()
    if "Days" in expiration:
        _positive(expiration["Days"], "'Days' for Expiration action must be a positive integer")
    if "Date" in expiration:
        date = aware(expiration["Date"]).astimezone(UTC)
        if date != date.replace(hour=0, minute=0, second=0, microsecond=0):
            raise errors.invalid_argument("'Date' must be at midnight GMT")
        return {"Date": date.isoformat()}
    if "ExpiredObjectDeleteMarker" in expiration and tagged:
        raise errors.invalid_request(
            "ExpiredObjectDeleteMarker cannot be specified with object tags"
        )
    return dict(expiration)


def check_rule(raw: dict[str, Any]) -> dict[str, Any]:
    """A rule as stored: validated, its ID made up when missing (as S3 does)."""
    rule = dict(raw)
    rule_id = str(rule.get("ID") or secrets.token_urlsafe(36)[:48])
    if len(rule_id) > MAX_ID:
        raise errors.invalid_argument("ID length should not exceed allowed limit of 255")
    rule["ID"] = rule_id
    if rule.get("Status") not in ("Enabled", "Disabled"):
        raise errors.malformed_xml()
    tagged = _check_filter(rule)
    if rule.get("Transitions") or rule.get("NoncurrentVersionTransitions"):
        # STANDARD is the only storage class here: there is nothing to transition to.
        raise errors.invalid_storage_class()
    actions = ("Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")
    if not any(rule.get(a) is not None for a in actions):
        raise errors.invalid_request("At least one action needs to be specified in a rule")
    if rule.get("Expiration") is not None:
        rule["Expiration"] = _check_expiration(rule["Expiration"], tagged)
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent is not None:
        _positive(
            noncurrent.get("NoncurrentDays"),
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
        )
        keep = noncurrent.get("NewerNoncurrentVersions")
        if keep is not None and not 1 <= int(keep) <= 100:
            raise errors.invalid_argument("NewerNoncurrentVersions must be between 1 and 100")
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort is not None:
        if tagged:
            raise errors.invalid_request(
                "Tag-based filter cannot be used with AbortIncompleteMultipartUpload action"
            )
        _positive(
            abort.get("DaysAfterInitiation"),
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
            "positive integer",
        )
    return rule


def check_configuration(config: Any) -> list[dict[str, Any]]:
    if not isinstance(config, dict) or not config.get("Rules"):
        raise errors.malformed_xml()
    raw_rules = config["Rules"]
    if len(raw_rules) > MAX_RULES:
        raise errors.invalid_argument(f"A lifecycle configuration holds at most {MAX_RULES} rules")
    checked = [check_rule(r) for r in raw_rules]
    ids = [r["ID"] for r in checked]
    if len(set(ids)) != len(ids):
        raise errors.invalid_argument(
            "Rule ID must be unique. Found same ID for more than one rule"
        )
    return checked


def _output_rule(stored: dict[str, Any]) -> dict[str, Any]:
    out = dict(stored)
    expiration = out.get("Expiration") or {}
    if "Date" in expiration:
        out["Expiration"] = {"Date": datetime.fromisoformat(expiration["Date"])}
    return out


def put_bucket_lifecycle_configuration(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    checked = check_configuration(params.get("LifecycleConfiguration"))
    with rt.store.session() as s:
        bucket_or_404(s, str(params["Bucket"])).lifecycle = json.dumps(checked)
    return {}


def get_bucket_lifecycle_configuration(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    name = str(params["Bucket"])
    with rt.store.read() as s:
        text = bucket_or_404(s, name).lifecycle
    if not text:
        raise errors.no_such_lifecycle_configuration(name)
    return {"Rules": [_output_rule(r) for r in json.loads(text)]}


def delete_bucket_lifecycle(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if ctx.principal.kind == "anonymous":
        raise errors.access_denied()
    with rt.store.session() as s:
        bucket_or_404(s, str(params["Bucket"])).lifecycle = None
    return {STATUS: 204}


OPERATIONS: Operations = {
    "PutBucketLifecycleConfiguration": put_bucket_lifecycle_configuration,
    "GetBucketLifecycleConfiguration": get_bucket_lifecycle_configuration,
    "DeleteBucketLifecycle": delete_bucket_lifecycle,
}
