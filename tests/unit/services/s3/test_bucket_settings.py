"""Bucket settings' rules: default encryption and what object writes may ask for, website
configurations, ownership controls and the public access block deciding what an ACL may be
and grant, the NotImplemented answer after authorization, and the answers' wire round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mallee.api.context import ANONYMOUS, Principal, RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.services.base import Provider, Runtime
from mallee.services.s3 import errors
from mallee.services.s3.bucket_settings import check_website
from mallee.services.s3.common import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    acl_allows,
    canned_grants,
    canonical_id,
    group_grant,
    user_grant,
)
from mallee.services.s3.encryption import check_rules, check_write
from mallee.services.s3.ownership import acl_has_effect, check_ownership
from mallee.services.s3.provider import S3Provider
from mallee.services.s3.public_access import blocks, check_acl_change
from mallee.store import Store
from mallee.store.tables.s3 import S3Bucket
from tests.unit.api.protocol.wire import error_roundtrip, response_roundtrip

OWNER, OTHER = "111111111111", "222222222222"
S3 = load_service_model("s3")


def codes(err: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return err.value.code, err.value.status


def principal(account: str) -> Principal:
    return Principal(account, f"arn:aws:iam::{account}:root", account, "root", "root")


def bucket(**settings: Any) -> S3Bucket:
    return S3Bucket(name="bk", account_id=OWNER, **settings)


# Default encryption --------------------------------------------------------------------------


def aes(**rule: Any) -> list[dict[str, Any]]:
    return [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, **rule}]


def test_encryption_rules_keep_one_aes256_rule() -> None:
    assert check_rules(aes()) == aes(BucketKeyEnabled=False)
    assert check_rules(aes(BucketKeyEnabled=True)) == aes(BucketKeyEnabled=True)


@pytest.mark.parametrize(
    ("rules", "wanted"),
    [
        ([], ("MalformedXML", 400)),
        (aes() + aes(), ("MalformedXML", 400)),
        ([{"BucketKeyEnabled": True}], ("MalformedXML", 400)),
        (
            [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}],
            ("NotImplemented", 501),
        ),
        (
            [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}}],
            ("NotImplemented", 501),
        ),
        (
            [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:backup"}}],
            ("MalformedXML", 400),
        ),
        (
            [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "AES256",
                        "KMSMasterKeyID": "alias/mine",
                    }
                }
            ],
            ("InvalidArgument", 400),
        ),
    ],
)
def test_encryption_rules_refused(rules: list[dict[str, Any]], wanted: tuple[str, int]) -> None:
    with pytest.raises(ServiceError) as err:
        check_rules(rules)
    assert codes(err) == wanted


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ({}, None),
        ({"ServerSideEncryption": "AES256"}, None),
        ({"ServerSideEncryption": "aws:kms"}, ("NotImplemented", 501)),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k"}, ("NotImplemented", 501)),
        ({"ServerSideEncryption": "DES"}, ("InvalidArgument", 400)),
        ({"SSEKMSKeyId": "k"}, ("InvalidArgument", 400)),
        ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "a2V5"}, ("NotImplemented", 501)),
    ],
)
def test_what_an_object_write_may_ask_for(
    params: dict[str, Any], wanted: tuple[str, int] | None
) -> None:
    if wanted is None:
        check_write(params)
        return
    with pytest.raises(ServiceError) as err:
        check_write(params)
    assert codes(err) == wanted


# Website ------------------------------------------------------------------------------------


def test_website_configurations_accepted() -> None:
    check_website({"IndexDocument": {"Suffix": "index.html"}})
    check_website({"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}})
    check_website(
        {
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "404.html"},
            "RoutingRules": [
                {"Condition": {"HttpErrorCodeReturnedEquals": "404"}, "Redirect": {"HostName": "h"}}
            ],
        }
    )


@pytest.mark.parametrize(
    ("config", "wanted"),
    [
        ({}, "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"),
        ({"IndexDocument": {"Suffix": ""}}, "The IndexDocument Suffix is not well formed"),
        ({"IndexDocument": {"Suffix": "a/b.html"}}, "The IndexDocument Suffix is not well formed"),
        (
            {"RedirectAllRequestsTo": {"HostName": "h"}, "ErrorDocument": {"Key": "e"}},
            "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
        ),
        (
            {"RedirectAllRequestsTo": {"HostName": "h", "Protocol": "gopher"}},
            "Invalid protocol, protocol can be http or https. If not defined the protocol will be"
            " selected automatically.",
        ),
        (
            {"IndexDocument": {"Suffix": "i"}, "RoutingRules": [{"Condition": {}, "Redirect": {}}]},
            "Condition cannot be empty. To redirect all requests without a condition, the"
            " condition element shouldn't be present.",
        ),
        (
            {
                "IndexDocument": {"Suffix": "i"},
                "RoutingRules": [
                    {"Redirect": {"ReplaceKeyPrefixWith": "a", "ReplaceKeyWith": "b"}}
                ],
            },
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
        ),
        (
            {"IndexDocument": {"Suffix": "i"}, "RoutingRules": [{"Redirect": {}}] * 51},
            "The number of routing rules must not exceed 50.",
        ),
        ({"IndexDocument": {"Suffix": "i"}, "RoutingRules": []}, "The XML you provided"),
    ],
)
def test_website_configurations_refused(config: dict[str, Any], wanted: str) -> None:
    with pytest.raises(ServiceError) as err:
        check_website(config)
    assert err.value.status == 400
    assert err.value.message.startswith(wanted)


# What an ACL may be, and what it grants ------------------------------------------------------


def test_an_acl_has_effect_beyond_the_owners_full_control() -> None:
    assert not acl_has_effect(canned_grants("private", OWNER), [OWNER])
    assert not acl_has_effect(
        canned_grants("bucket-owner-full-control", OTHER, OWNER), [OTHER, OWNER]
    )
    assert acl_has_effect(canned_grants("bucket-owner-read", OTHER, OWNER), [OTHER, OWNER])
    assert acl_has_effect(canned_grants("public-read", OWNER), [OWNER])
    assert acl_has_effect(canned_grants("log-delivery-write", OWNER), [OWNER])
    assert acl_has_effect([user_grant(OTHER, "FULL_CONTROL")], [OWNER])


def test_object_ownership_header() -> None:
    assert check_ownership("ObjectWriter") == "ObjectWriter"
    with pytest.raises(ServiceError) as err:
        check_ownership("Nobody")
    assert codes(err) == ("InvalidArgument", 400)


def test_acl_changes_where_acls_are_disabled() -> None:
    enforced = bucket(ownership="BucketOwnerEnforced")
    check_acl_change(enforced, canned_grants("private", OWNER), [OWNER])
    with pytest.raises(ServiceError) as err:
        check_acl_change(enforced, canned_grants("authenticated-read", OWNER), [OWNER])
    assert codes(err) == ("AccessControlListNotSupported", 400)
    # Preferred and ObjectWriter leave ACLs alone.
    check_acl_change(
        bucket(ownership="BucketOwnerPreferred"), canned_grants("public-read", OWNER), [OWNER]
    )


def test_acl_changes_under_block_public_acls() -> None:
    blocked = bucket(public_access_block=json.dumps({"BlockPublicAcls": True}))
    for public in (group_grant(ALL_USERS, "READ"), group_grant(AUTHENTICATED_USERS, "WRITE")):
        with pytest.raises(ServiceError) as err:
            check_acl_change(blocked, [user_grant(OWNER, "FULL_CONTROL"), public], [OWNER])
        assert codes(err) == ("AccessDenied", 403)
    check_acl_change(blocked, canned_grants("log-delivery-write", OWNER), [OWNER])
    check_acl_change(blocked, [user_grant(OTHER, "READ")], [OWNER])
    # Only the flag that is on counts.
    ignoring = bucket(public_access_block=json.dumps({"IgnorePublicAcls": True}))
    check_acl_change(ignoring, canned_grants("public-read", OWNER), [OWNER])
    assert blocks(ignoring, "IgnorePublicAcls") and not blocks(ignoring, "BlockPublicAcls")
    assert not blocks(bucket(), "IgnorePublicAcls")


def test_ignored_public_grants_grant_nothing() -> None:
    acl = json.dumps(
        {
            "owner": OWNER,
            "grants": [
                group_grant(ALL_USERS, "READ"),
                group_grant(AUTHENTICATED_USERS, "WRITE"),
                user_grant(OTHER, "READ_ACP"),
            ],
        }
    )
    assert acl_allows(acl, ANONYMOUS, "READ") is True
    assert acl_allows(acl, ANONYMOUS, "READ", public=False) is None
    assert acl_allows(acl, principal(OTHER), "WRITE", public=False) is None
    assert acl_allows(acl, principal(OTHER), "READ_ACP", public=False) is False


# Operations mallee does not implement --------------------------------------------------------


def context(operation: str, params: dict[str, Any], who: Principal = ANONYMOUS) -> RequestContext:
    return RequestContext(
        request_id="r",
        service="s3",
        region="eucalyptus",
        http=HttpRequest("GET", "/bk", "", {}, b""),
        principal=who,
        operation=S3.operation_model(operation),
        params=params,
    )


def test_s3_answers_not_implemented_only_to_whom_authorization_admits(store: Store) -> None:
    provider = S3Provider(Runtime(Settings(), store))
    asked: list[str] = []

    def admit(ctx: RequestContext) -> None:
        asked.append(ctx.operation_name)

    def refuse(ctx: RequestContext) -> None:
        raise ServiceError("AccessDenied", "Access Denied", 403)

    signed = context("GetBucketReplication", {"Bucket": "bk"}, principal(OWNER))
    assert (provider.unimplemented(signed, admit).code, asked) == (
        "NotImplemented",
        ["GetBucketReplication"],
    )
    assert provider.unimplemented(signed, admit).status == 501
    with pytest.raises(ServiceError) as err:
        provider.unimplemented(signed, refuse)
    assert codes(err) == ("AccessDenied", 403)
    # An anonymous caller beyond any bucket: nothing could have admitted it.
    bucketless = context("ListDirectoryBuckets", {})
    assert provider.unimplemented(bucketless, admit).code == "AccessDenied"


def test_other_services_answer_invalid_action_unauthorized(store: Store) -> None:
    class Query(Provider):
        service = "iam"
        action_prefix = "iam"

    def never(ctx: RequestContext) -> None:
        raise AssertionError("authorized")

    ctx = context("GetBucketReplication", {})
    error = Query(Runtime(Settings(), store)).unimplemented(ctx, never)
    assert (error.code, error.status) == ("InvalidAction", 400)


def test_not_implemented_reads_back_as_s3_says_it() -> None:
    op = S3.operation_model("GetBucketReplication")
    parsed, response = error_roundtrip("rest-xml", S3, op, errors.not_implemented())
    assert response.status == 501
    assert parsed["Error"] == {
        "Code": "NotImplemented",
        "Message": "A header you provided implies functionality that is not implemented",
    }


# The answers on the wire ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        ("GetBucketRequestPayment", {"Payer": "Requester"}),
        (
            "GetBucketEncryption",
            {"ServerSideEncryptionConfiguration": {"Rules": aes(BucketKeyEnabled=False)}},
        ),
        (
            "GetPublicAccessBlock",
            {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": False,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": False,
                }
            },
        ),
        (
            "GetBucketOwnershipControls",
            {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}},
        ),
        (
            "GetBucketLogging",
            {
                "LoggingEnabled": {
                    "TargetBucket": "logs",
                    "TargetPrefix": "bk/",
                    "TargetGrants": [
                        {
                            "Grantee": {"Type": "CanonicalUser", "ID": canonical_id(OTHER)},
                            "Permission": "READ",
                        }
                    ],
                    "TargetObjectKeyFormat": {
                        "PartitionedPrefix": {"PartitionDateSource": "EventTime"}
                    },
                }
            },
        ),
        (
            "GetBucketLogging",
            {
                "LoggingEnabled": {
                    "TargetBucket": "logs",
                    "TargetPrefix": "",
                    "TargetObjectKeyFormat": {"SimplePrefix": {}},
                }
            },
        ),
        (
            "GetBucketWebsite",
            {
                "IndexDocument": {"Suffix": "index.html"},
                "RoutingRules": [
                    {"Condition": {"KeyPrefixEquals": "a/"}, "Redirect": {"ReplaceKeyWith": "b"}}
                ],
            },
        ),
        ("GetBucketAccelerateConfiguration", {"Status": "Suspended"}),
        ("GetBucketAccelerateConfiguration", {}),
    ],
)
def test_answers_read_back(operation: str, result: dict[str, Any]) -> None:
    assert response_roundtrip("rest-xml", S3.operation_model(operation), result) == result
