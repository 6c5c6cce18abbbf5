"""ACL and bucket-policy parsing: grant headers, canned ACLs, AccessControlPolicy documents,
what an ACL grants a caller, and the wire round trip of the ACL operations through botocore."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mallee.api.context import ANONYMOUS, Principal
from mallee.api.errors import ServiceError
from mallee.api.models import load_service_model
from mallee.services.s3.acl import policy_grants
from mallee.services.s3.common import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    acl_allows,
    canned_acl,
    canned_grants,
    canonical_id,
    grants,
    header_grants,
    new_object_acl,
    permissions_for,
)
from mallee.services.s3.policy import _check_actions, _check_resources, is_public
from tests.unit.api.protocol.wire import parse_with_mallee, response_roundtrip

OWNER, OTHER, THIRD = "111111111111", "222222222222", "333333333333"


def principal(account: str, kind: Any = "root") -> Principal:
    return Principal(account, f"arn:aws:iam::{account}:root", account, kind, "root")


def codes(err: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return err.value.code, err.value.status


def test_canonical_ids_are_stable_hex() -> None:
    cid = canonical_id(OWNER)
    assert len(cid) == 64 and int(cid, 16) >= 0
    assert cid == canonical_id(OWNER) != canonical_id(OTHER)


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        (None, []),
        ("private", []),
        ("public-read", [(ALL_USERS, "READ")]),
        ("public-read-write", [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")]),
        ("authenticated-read", [(AUTHENTICATED_USERS, "READ")]),
        ("log-delivery-write", [(LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")]),
    ],
)
def test_canned_acls(name: str | None, extra: list[tuple[str, str]]) -> None:
    out = canned_grants(name, OWNER)
    assert out[0] == {
        "grantee": {"type": "CanonicalUser", "id": canonical_id(OWNER)},
        "permission": "FULL_CONTROL",
    }
    assert [(g["grantee"]["uri"], g["permission"]) for g in out[1:]] == extra


def test_bucket_owner_canned_acls_name_the_bucket_owner() -> None:
    read = canned_grants("bucket-owner-read", OTHER, OWNER)
    assert read[1] == {
        "grantee": {"type": "CanonicalUser", "id": canonical_id(OWNER)},
        "permission": "READ",
    }
    full = canned_grants("bucket-owner-full-control", OTHER, OWNER)
    assert full[1]["permission"] == "FULL_CONTROL"
    # Written by the bucket owner itself: nothing to add.
    assert len(canned_grants("bucket-owner-full-control", OWNER, OWNER)) == 1


def test_unknown_canned_acl_is_invalid_argument() -> None:
    with pytest.raises(ServiceError) as err:
        canned_acl("public", OWNER)
    assert codes(err) == ("InvalidArgument", 400)
    assert err.value.extra == {"ArgumentName": "x-amz-acl", "ArgumentValue": "public"}


def test_grant_headers() -> None:
    cid = canonical_id(OTHER)
    out = header_grants(
        {
            "GrantRead": f'id="{cid}", uri="{ALL_USERS}"',
            "GrantWriteACP": f"id={cid}",
            "GrantFullControl": f'ID="{canonical_id(OWNER)}"',
        }
    )
    assert out == [
        {
            "grantee": {"type": "CanonicalUser", "id": canonical_id(OWNER)},
            "permission": "FULL_CONTROL",
        },
        {"grantee": {"type": "CanonicalUser", "id": cid}, "permission": "READ"},
        {"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ"},
        {"grantee": {"type": "CanonicalUser", "id": cid}, "permission": "WRITE_ACP"},
    ]
    assert header_grants({"ACL": "private"}) is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"GrantRead": "nonsense"}, "InvalidArgument"),
        ({"GrantRead": 'name="x"'}, "InvalidArgument"),
        ({"GrantRead": 'id="not-a-canonical-id"'}, "InvalidArgument"),
        ({"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/Nobody"'}, "InvalidArgument"),
        ({"GrantRead": 'emailAddress="a@example.com"'}, "UnresolvableGrantByEmailAddress"),
        ({"GrantRead": f'uri="{ALL_USERS}"', "ACL": "private"}, "InvalidRequest"),
    ],
)
def test_bad_grant_headers(params: dict[str, Any], code: str) -> None:
    with pytest.raises(ServiceError) as err:
        header_grants(params)
    assert codes(err) == (code, 400)


def test_new_object_acl_honours_grants_and_bucket_owner() -> None:
    acl = json.loads(new_object_acl({"GrantRead": f'uri="{AUTHENTICATED_USERS}"'}, OTHER))
    assert acl["owner"] == OTHER
    assert acl["grants"] == [
        {"grantee": {"type": "Group", "uri": AUTHENTICATED_USERS}, "permission": "READ"}
    ]
    params = {"ACL": "bucket-owner-full-control", "@bucket_owner": OWNER}
    ids = [g["grantee"]["id"] for g in grants(new_object_acl(params, OTHER))]
    assert ids == [canonical_id(OTHER), canonical_id(OWNER)]


def document(*grant_list: dict[str, Any], owner: str = OWNER) -> dict[str, Any]:
    return {"Owner": {"ID": canonical_id(owner)}, "Grants": list(grant_list)}


def test_access_control_policy_documents() -> None:
    doc = document(
        {"Grantee": {"Type": "CanonicalUser", "ID": canonical_id(OTHER)}, "Permission": "READ"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"},
    )
    assert policy_grants(doc, OWNER) == [
        {"grantee": {"type": "CanonicalUser", "id": canonical_id(OTHER)}, "permission": "READ"},
        {"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ_ACP"},
    ]
    assert policy_grants(document(), OWNER) == []


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"Grants": []}, ("MalformedACLError", 400)),
        (document(owner=OTHER), ("AccessDenied", 403)),
        (document({"Grantee": {"Type": "Group", "URI": ALL_USERS}}), ("MalformedACLError", 400)),
        (
            document({"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "ALL"}),
            ("MalformedACLError", 400),
        ),
        (document({"Permission": "READ"}), ("MalformedACLError", 400)),
        (
            document({"Grantee": {"Type": "CanonicalUser"}, "Permission": "READ"}),
            ("MalformedACLError", 400),
        ),
        (
            document({"Grantee": {"Type": "Group", "URI": "urn:x"}, "Permission": "READ"}),
            ("InvalidArgument", 400),
        ),
        (
            document({"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "READ"}),
            ("InvalidArgument", 400),
        ),
        (
            document(
                {
                    "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@b.c"},
                    "Permission": "READ",
                }
            ),
            ("UnresolvableGrantByEmailAddress", 400),
        ),
    ],
)
def test_bad_access_control_policies(doc: dict[str, Any], code: tuple[str, int]) -> None:
    with pytest.raises(ServiceError) as err:
        policy_grants(doc, OWNER)
    assert codes(err) == code


def test_what_an_acl_grants_a_caller() -> None:
    acl = json.dumps(
        {
            "owner": OWNER,
            "grants": [
                {
                    "grantee": {"type": "CanonicalUser", "id": canonical_id(OWNER)},
                    "permission": "FULL_CONTROL",
                },
                {
                    "grantee": {"type": "CanonicalUser", "id": canonical_id(OTHER)},
                    "permission": "WRITE",
                },
                {"grantee": {"type": "Group", "uri": AUTHENTICATED_USERS}, "permission": "READ"},
                {"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ_ACP"},
            ],
        }
    )
    assert permissions_for(acl, principal(OTHER)) == {
        "WRITE": False,
        "READ": True,
        "READ_ACP": True,
    }
    assert permissions_for(acl, ANONYMOUS) == {"READ_ACP": True}
    assert acl_allows(acl, principal(OWNER), "WRITE_ACP") is False  # FULL_CONTROL, by id
    assert acl_allows(acl, principal(OTHER), "WRITE") is False
    assert acl_allows(acl, principal(THIRD), "READ") is True  # through AuthenticatedUsers
    assert acl_allows(acl, principal(THIRD), "WRITE") is None
    assert acl_allows(acl, ANONYMOUS, "READ") is None
    assert acl_allows("", ANONYMOUS, "READ") is None


def test_policy_resources_must_name_the_bucket() -> None:
    _check_resources("bk", {"Resource": ["arn:aws:s3:::bk", "arn:aws:s3:::bk/*"]})
    for bad in ("arn:aws:s3:::other/*", "arn:aws:s3:::bk2", "*", "arn:aws:s3:::bk*"):
        with pytest.raises(ServiceError) as err:
            _check_resources("bk", {"Resource": bad})
        assert err.value.code == "MalformedPolicy"
        assert err.value.message == "Policy has invalid resource"


def test_policy_actions() -> None:
    _check_actions({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk/*"})
    _check_actions({"Action": "s3:*", "Resource": "arn:aws:s3:::bk"})
    cases = [
        ({"Action": "iam:CreateUser", "Resource": "arn:aws:s3:::bk"}, "Policy has invalid action"),
        (
            {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk"},
            "Action does not apply to any resource(s) in statement",
        ),
        (
            {"Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::bk/*"},
            "Action does not apply to any resource(s) in statement",
        ),
    ]
    for statement, message in cases:
        with pytest.raises(ServiceError) as err:
            _check_actions(statement)
        assert (err.value.code, err.value.message) == ("MalformedPolicy", message)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_policy_status() -> None:
    base = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk/*"}
    assert is_public(policy(base | {"Principal": "*"}))
    assert is_public(policy(base | {"Principal": {"AWS": "*"}}))
    assert not is_public(policy(base | {"Principal": {"AWS": OTHER}}))
    assert not is_public(policy(base | {"Principal": "*", "Effect": "Deny"}))
    narrowed = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert not is_public(policy(base | {"Principal": "*", "Condition": narrowed}))
    wide = {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}
    assert is_public(policy(base | {"Principal": "*", "Condition": wide}))


# The wire: botocore writes the requests, mallee parses them; mallee answers, botocore reads.


def test_put_bucket_acl_document_parses() -> None:
    s3 = load_service_model("s3")
    cid = canonical_id(OTHER)
    parsed = parse_with_mallee(
        s3,
        "PutBucketAcl",
        {
            "Bucket": "bk",
            "AccessControlPolicy": {
                "Owner": {"ID": canonical_id(OWNER), "DisplayName": "o"},
                "Grants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": cid}, "Permission": "READ"},
                    {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "WRITE"},
                ],
            },
        },
        "rest-xml",
    )
    assert policy_grants(parsed.params["AccessControlPolicy"], OWNER) == [
        {"grantee": {"type": "CanonicalUser", "id": cid}, "permission": "READ"},
        {"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "WRITE"},
    ]


def test_grant_headers_parse() -> None:
    s3 = load_service_model("s3")
    cid = canonical_id(OTHER)
    parsed = parse_with_mallee(
        s3,
        "PutObjectAcl",
        {"Bucket": "bk", "Key": "k", "GrantRead": f'id="{cid}",uri="{ALL_USERS}"'},
        "rest-xml",
    )
    out = header_grants(parsed.params)
    assert out is not None and [g["permission"] for g in out] == ["READ", "READ"]


def test_get_bucket_acl_answer_reads_back() -> None:
    op = load_service_model("s3").operation_model("GetBucketAcl")
    result = {
        "Owner": {"ID": canonical_id(OWNER), "DisplayName": "o"},
        "Grants": [
            {
                "Grantee": {"Type": "CanonicalUser", "ID": canonical_id(OWNER), "DisplayName": "o"},
                "Permission": "FULL_CONTROL",
            },
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
        ],
    }
    assert response_roundtrip("rest-xml", op, result) == result
