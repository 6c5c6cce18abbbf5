"""Eucalyptus' GetAccessToken: a console password buys temporary credentials for the API."""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from defusedxml import ElementTree

from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

_NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
PASSWORD = "Sign-in:@with 9 odd chars"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def sign_in(
    cloud: Any, account: str, user: str, password: str, **params: str
) -> tuple[int, ElementTree.Element]:
    basic = _b64(f"{_b64(user)}@{_b64(account)}:{_b64(password)}")
    body = urllib.parse.urlencode(
        {"Action": "GetAccessToken", "Version": "2011-06-15", **params}
    ).encode()
    request = urllib.request.Request(
        cloud.endpoint + "/services/Tokens",
        data=body,
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, ElementTree.fromstring(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, ElementTree.fromstring(err.read())


def _error_code(doc: ElementTree.Element) -> str | None:
    return doc.findtext(".//{*}Code")


def test_password_sign_in_gives_working_temporary_credentials(cloud: Any, tmp_path: Path) -> None:
    acct, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    iam.create_user(UserName="alice", Path="/ops/")
    iam.create_login_profile(UserName="alice", Password=PASSWORD)
    name = iam.list_account_aliases()["AccountAliases"] or [acct]

    status, doc = sign_in(cloud, name[0], "Alice", PASSWORD)
    assert status == 200, ElementTree.tostring(doc)
    creds = doc.find(".//sts:GetAccessTokenResult/sts:Credentials", _NS)
    assert creds is not None
    key = creds.findtext("sts:AccessKeyId", namespaces=_NS)
    secret = creds.findtext("sts:SecretAccessKey", namespaces=_NS)
    token = creds.findtext("sts:SessionToken", namespaces=_NS)
    assert key and key.startswith("ASIA") and secret and token
    assert creds.findtext("sts:Expiration", namespaces=_NS)

    who = cloud.client(
        "sts", access_key=key, secret_key=secret, session_token=token
    ).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{acct}:user/ops/alice"
    # The session acts as the user: alice has no policy, so IAM refuses her.
    with pytest.raises(ClientError) as exc:
        cloud.client("iam", access_key=key, secret_key=secret, session_token=token).list_users()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_account_by_id_and_the_admin_is_root(cloud: Any, tmp_path: Path) -> None:
    acct, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    iam.create_login_profile(UserName="admin", Password=PASSWORD)
    status, doc = sign_in(cloud, acct, "admin", PASSWORD)
    assert status == 200
    key = doc.findtext(".//sts:AccessKeyId", namespaces=_NS)
    secret = doc.findtext(".//sts:SecretAccessKey", namespaces=_NS)
    token = doc.findtext(".//sts:SessionToken", namespaces=_NS)
    root = cloud.client("iam", access_key=key, secret_key=secret, session_token=token)
    assert any(u["UserName"] == "admin" for u in root.list_users()["Users"])
    # The account's administrator signs in as root: at most an hour, as GetSessionToken.
    status, doc = sign_in(cloud, acct, "admin", PASSWORD, DurationSeconds="7200")
    assert (status, _error_code(doc)) == (400, "ValidationError")


def test_failed_sign_ins_say_nothing_about_what_exists(cloud: Any, tmp_path: Path) -> None:
    acct, ak, sk = new_account(cloud, tmp_path)
    iam = cloud.client("iam", access_key=ak, secret_key=sk)
    iam.create_user(UserName="bob")
    iam.create_user(UserName="carol")
    iam.create_login_profile(UserName="bob", Password=PASSWORD)
    answers = {
        sign_in(cloud, acct, "bob", PASSWORD + "x"),  # wrong password
        sign_in(cloud, acct, "carol", PASSWORD),  # no login profile
        sign_in(cloud, acct, "nobody", PASSWORD),  # no such user
        sign_in(cloud, "no-such-account", "bob", PASSWORD),
    }
    seen = {(status, _error_code(doc), doc.findtext(".//{*}Message")) for status, doc in answers}
    assert len(seen) == 1
    status, code, message = seen.pop()
    assert (status, code) == (403, "AccessDenied") and message

    iam.update_login_profile(UserName="bob", PasswordResetRequired=True)
    status, doc = sign_in(cloud, acct, "bob", PASSWORD)
    assert (status, _error_code(doc)) == (403, "PasswordResetRequired")


def test_basic_credentials_authenticate_nothing_else(cloud: Any) -> None:
    garbled = urllib.request.Request(
        cloud.endpoint + "/services/Tokens",
        data=b"Action=GetAccessToken&Version=2011-06-15",
        headers={"Authorization": "Basic !!!", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(garbled, timeout=30)
    assert exc.value.code == 403
    assert _error_code(ElementTree.fromstring(exc.value.read())) == "AccessDenied"

    basic = _b64(f"{_b64('admin')}@{_b64('eucalyptus')}:{_b64('whatever')}")
    other = urllib.request.Request(
        cloud.endpoint + "/services/Tokens",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(other, timeout=30)
    assert exc.value.code in (401, 403)
    assert _error_code(ElementTree.fromstring(exc.value.read())) == "MissingAuthenticationToken"
