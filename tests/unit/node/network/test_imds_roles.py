"""Instance profile credentials in the metadata tree, and how often they are issued."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mallee.node.network.imds import answer
from mallee.node.network.imds_roles import InstanceRole, RoleCache, view_of
from tests.unit.node.network.test_imds import MD, SEEN

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PROFILE = "arn:aws:iam::000000000001:instance-profile/web"


def role(n: int = 1, expires: datetime = T0 + timedelta(hours=6)) -> InstanceRole:
    return InstanceRole(PROFILE, "AIPA1", "webrole", f"ASIA{n}", f"secret{n}", f"token{n}", expires)


def test_credentials_in_the_tree() -> None:
    seen = replace(SEEN, iam=view_of(role(), T0))
    assert answer(f"{MD}/iam/", seen) == (200, b"info\nsecurity-credentials/")
    assert answer(f"{MD}/iam/security-credentials/", seen) == (200, b"webrole")
    status, body = answer(f"{MD}/iam/security-credentials/webrole", seen)
    creds = json.loads(body)
    assert status == 200
    assert creds == {
        "Code": "Success",
        "LastUpdated": "2026-01-02T03:04:05Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIA1",
        "SecretAccessKey": "secret1",
        "Token": "token1",
        "Expiration": "2026-01-02T09:04:05Z",
    }
    info = json.loads(answer(f"{MD}/iam/info", seen)[1])
    assert info["Code"] == "Success" and info["InstanceProfileArn"] == PROFILE
    assert "iam/" in answer(MD, seen)[1].decode().splitlines()


def test_untrusted_role_gets_no_credentials() -> None:
    untrusted = InstanceRole(PROFILE, "AIPA1", "webrole")
    seen = replace(SEEN, iam=view_of(untrusted, T0))
    assert json.loads(answer(f"{MD}/iam/info", seen)[1])["Code"] == "AssumeRoleUnauthorizedAccess"
    assert answer(f"{MD}/iam/security-credentials/", seen)[0] == 404
    assert answer(f"{MD}/iam/", SEEN)[0] == 404  # no profile: no iam at all


def test_cache_reuses_credentials_until_refresh_is_due() -> None:
    clock = [T0]
    issued: list[tuple[str, str]] = []

    def issue(profile_id: str, instance_id: str) -> InstanceRole:
        issued.append((profile_id, instance_id))
        return role(len(issued), clock[0] + timedelta(hours=6))

    cache = RoleCache(issue, clock=lambda: clock[0])
    first = cache.view("i-1", "AIPA1")
    clock[0] = T0 + timedelta(minutes=50)
    assert cache.view("i-1", "AIPA1") == first
    assert cache.view("i-2", "AIPA1") != first  # another instance has its own session
    clock[0] = T0 + timedelta(hours=1, minutes=1)
    renewed = cache.view("i-1", "AIPA1")
    assert renewed is not None and renewed != first
    assert issued == [("AIPA1", "i-1"), ("AIPA1", "i-2"), ("AIPA1", "i-1")]


def test_cache_rechecks_profiles_without_credentials() -> None:
    clock = [T0]
    answers = [InstanceRole(PROFILE, "AIPA1", None), role()]
    cache = RoleCache(lambda p, i: answers.pop(0), clock=lambda: clock[0])
    assert cache.view("i-1", "AIPA1").credentials is None  # type: ignore[union-attr]
    clock[0] = T0 + timedelta(seconds=31)
    assert cache.view("i-1", "AIPA1").credentials is not None  # type: ignore[union-attr]
