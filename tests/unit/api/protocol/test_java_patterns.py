"""Model patterns read as Java reads them: \\w, \\d and \\s are ASCII, \\p{L} is every letter."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for
from mallee.api.protocol.constraints import java_source

IAM = load_service_model("iam")


def _iam(action: str, **params: str) -> HttpRequest:
    body = urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    return HttpRequest("POST", "/", "", {"content-type": "application/x-www-form-urlencoded"}, body)


@pytest.mark.parametrize(
    ("action", "member", "params"),
    [
        ("CreateUser", "userName", {"UserName": "jösé"}),
        ("CreateUser", "userName", {"UserName": "bob٣"}),  # an Arabic-Indic digit is \d to Python
        ("CreateGroup", "groupName", {"GroupName": "Ωmega"}),
        ("CreateRole", "roleName", {"RoleName": "rôle", "AssumeRolePolicyDocument": "{}"}),
        ("CreateInstanceProfile", "instanceProfileName", {"InstanceProfileName": "prof_é"}),
        (
            "PutUserPolicy",
            "policyName",
            {"UserName": "b", "PolicyName": "pé", "PolicyDocument": "{}"},
        ),
        ("CreateUser", "path", {"UserName": "bob", "Path": "/é/"}),
    ],
)
def test_non_ascii_iam_names_are_refused(action: str, member: str, params: dict[str, str]) -> None:
    with pytest.raises(ServiceError) as caught:
        parser_for("query").parse(_iam(action, **params), IAM)
    assert (caught.value.code, caught.value.status) == ("ValidationError", 400)
    assert f"at '{member}' failed to satisfy constraint: Member must satisfy regular" in (
        caught.value.message
    )


def test_ascii_names_and_unicode_tags_still_pass() -> None:
    parsed = parser_for("query").parse(_iam("CreateUser", UserName="Bob_1+=,.@-"), IAM)
    assert parsed.params["UserName"] == "Bob_1+=,.@-"
    # \p{L} in the tag pattern stays every letter.
    tagged = _iam(
        "TagUser", UserName="b", **{"Tags.member.1.Key": "日本", "Tags.member.1.Value": "é"}
    )
    assert parser_for("query").parse(tagged, IAM).params["Tags"] == [{"Key": "日本", "Value": "é"}]


def test_java_source_spells_classes_as_ascii() -> None:
    assert java_source(r"[\w+=,.@-]+") == r"[a-zA-Z0-9_+=,.@-]+"
    assert java_source(r"\d{12}") == r"[0-9]{12}"
    assert java_source(r"\W\S") == r"[^a-zA-Z0-9_][^ \t\n\x0B\f\r]"
    # Escaped backslashes and property classes are left alone.
    assert java_source(r"a\\w\p{L}") == r"a\\w\p{L}"
