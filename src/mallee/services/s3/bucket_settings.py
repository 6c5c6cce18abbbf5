"""Bucket settings S3 keeps and answers with: request payment, logging, website, acceleration.

Kept, checked as S3 checks them, and returned. This cloud bills no one, but a Requester Pays
bucket is refused, as in S3, to other accounts that do not accept the charges and to anonymous
callers (policy.access_for). It delivers no access logs and serves no website endpoint. It has
no accelerate endpoint either, so Transfer Acceleration can only be Suspended: Enabled is
refused (NotImplemented) rather than kept as a promise nothing keeps.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.acl import policy_grantee
from mallee.services.s3.checksums import check_body_md5
from mallee.services.s3.common import check_grantees, settings_bucket
from mallee.store.tables.s3 import S3Bucket

STATUS = "@status"
PAYERS = frozenset({"BucketOwner", "Requester"})
LOG_PERMISSIONS = frozenset({"FULL_CONTROL", "READ", "WRITE"})
DATE_SOURCES = frozenset({"EventTime", "DeliveryTime"})
PROTOCOLS = frozenset({"http", "https"})
ACCELERATE = frozenset({"Enabled", "Suspended"})
MAX_ROUTING_RULES = 50


def check_logging(s: Session, bucket: S3Bucket, enabled: dict[str, Any]) -> dict[str, Any]:
    """A LoggingEnabled as stored: its target bucket exists and has the same owner, its
    grants name grantees that exist."""
    grants_out: list[dict[str, Any]] = []
    for grant in enabled.get("TargetGrants") or []:
        if grant.get("Permission") not in LOG_PERMISSIONS or "Grantee" not in grant:
            raise errors.malformed_xml()
        grantee = policy_grantee(grant["Grantee"])
        check_grantees(s, [{"grantee": grantee}])
        shown = (
            {"Type": "Group", "URI": grantee["uri"]}
            if grantee["type"] == "Group"
            else {"Type": "CanonicalUser", "ID": grantee["id"]}
        )
        grants_out.append({"Grantee": shown, "Permission": grant["Permission"]})
    key_format = enabled.get("TargetObjectKeyFormat")
    if key_format is not None:
        partitioned = key_format.get("PartitionedPrefix")
        if ("SimplePrefix" in key_format) == (partitioned is not None) or (
            partitioned is not None
            and partitioned.get("PartitionDateSource", "EventTime") not in DATE_SOURCES
        ):
            raise errors.malformed_xml()
    name = str(enabled["TargetBucket"])
    target = s.get(S3Bucket, name)
    if target is None:
        raise errors.invalid_target_bucket_for_logging(
            name, "The target bucket for logging does not exist"
        )
    if target.account_id != bucket.account_id:
        raise errors.invalid_target_bucket_for_logging(
            name, "The owner for the bucket to be logged and the target bucket must be the same."
        )
    out: dict[str, Any] = {"TargetBucket": name, "TargetPrefix": str(enabled["TargetPrefix"])}
    if grants_out:
        out["TargetGrants"] = grants_out
    if key_format is not None:
        out["TargetObjectKeyFormat"] = key_format
    return out


def _check_protocol(where: dict[str, Any]) -> None:
    if where.get("Protocol") is not None and where["Protocol"] not in PROTOCOLS:
        raise errors.invalid_request(
            "Invalid protocol, protocol can be http or https. If not defined the protocol will"
            " be selected automatically."
        )


def check_website(config: dict[str, Any]) -> None:
    """A WebsiteConfiguration, checked as S3 checks it."""
    redirect_all = config.get("RedirectAllRequestsTo")
    if redirect_all is not None:
        if len(config) > 1:
            raise errors.invalid_argument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
                "RedirectAllRequestsTo",
                "not null",
            )
        _check_protocol(redirect_all)
        return
    index = config.get("IndexDocument")
    if index is None:
        raise errors.invalid_argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
            "IndexDocument",
            "null",
        )
    suffix = str(index.get("Suffix") or "")
    if not suffix or "/" in suffix:
        raise errors.invalid_argument(
            "The IndexDocument Suffix is not well formed", "IndexDocument", suffix
        )
    rules = config.get("RoutingRules")
    if rules is None:
        return
    if not rules:
        raise errors.malformed_xml()
    if len(rules) > MAX_ROUTING_RULES:
        raise errors.invalid_request(
            f"The number of routing rules must not exceed {MAX_ROUTING_RULES}."
        )
    for rule in rules:
        redirect = rule.get("Redirect") or {}
        if "ReplaceKeyPrefixWith" in redirect and "ReplaceKeyWith" in redirect:
            raise errors.invalid_request(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both."
            )
        if "Condition" in rule and not rule["Condition"]:
            raise errors.invalid_request(
                "Condition cannot be empty. To redirect all requests without a condition, the"
                " condition element shouldn't be present."
            )
        _check_protocol(redirect)


def put_bucket_request_payment(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_body_md5(ctx, params.get("ContentMD5"))
    payer = (params.get("RequestPaymentConfiguration") or {}).get("Payer")
    if payer not in PAYERS:
        raise errors.malformed_xml()
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).request_payer = str(payer)
    return {}


def get_bucket_request_payment(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    return {"Payer": bucket.request_payer or "BucketOwner"}


def put_bucket_logging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_body_md5(ctx, params.get("ContentMD5"))
    enabled = (params.get("BucketLoggingStatus") or {}).get("LoggingEnabled")
    with rt.store.session() as s:
        bucket = settings_bucket(s, ctx, params)
        # An empty BucketLoggingStatus turns logging off.
        kept = check_logging(s, bucket, enabled) if enabled is not None else None
        bucket.logging = json.dumps(kept) if kept is not None else None
    return {}


def get_bucket_logging(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    return {"LoggingEnabled": json.loads(bucket.logging)} if bucket.logging else {}


def put_bucket_website(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    check_body_md5(ctx, params.get("ContentMD5"))
    config: dict[str, Any] = params.get("WebsiteConfiguration") or {}
    check_website(config)
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).website = json.dumps(config)
    return {}


def get_bucket_website(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    if not bucket.website:
        raise errors.no_such_website_configuration(bucket.name)
    found: Result = json.loads(bucket.website)
    return found


def delete_bucket_website(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        settings_bucket(s, ctx, params).website = None
    return {STATUS: 204}


def put_bucket_accelerate_configuration(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    status = (params.get("AccelerateConfiguration") or {}).get("Status")
    if status not in ACCELERATE:
        raise errors.malformed_xml()
    with rt.store.session() as s:
        bucket = settings_bucket(s, ctx, params)
        if "." in bucket.name:
            raise errors.invalid_request(
                "Amazon S3 Transfer Acceleration is not supported for buckets with periods"
                " (.) in their names"
            )
        if status == "Enabled":
            raise errors.not_implemented(
                "Transfer Acceleration is not available here: there is no accelerate endpoint"
            )
        bucket.accelerate = str(status)
    return {}


def get_bucket_accelerate_configuration(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        bucket = settings_bucket(s, ctx, params)
    # Never configured: an empty configuration, as S3 answers.
    return {"Status": bucket.accelerate} if bucket.accelerate else {}


OPERATIONS: Operations = {
    "PutBucketRequestPayment": put_bucket_request_payment,
    "GetBucketRequestPayment": get_bucket_request_payment,
    "PutBucketLogging": put_bucket_logging,
    "GetBucketLogging": get_bucket_logging,
    "PutBucketWebsite": put_bucket_website,
    "GetBucketWebsite": get_bucket_website,
    "DeleteBucketWebsite": delete_bucket_website,
    "PutBucketAccelerateConfiguration": put_bucket_accelerate_configuration,
    "GetBucketAccelerateConfiguration": get_bucket_accelerate_configuration,
}
