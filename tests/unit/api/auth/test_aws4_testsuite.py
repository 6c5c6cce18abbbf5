"""AWS's published SigV4 test suite: every vector verifies, every tampered copy is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mallee.api.auth import AuthError, authenticate
from mallee.api.auth.common import skew_message
from mallee.api.auth.sigv4 import describe
from mallee.api.auth.timefmt import parse_amz_date
from mallee.api.credentials import Credential
from mallee.api.http import HttpRequest
from tests.unit.api.auth.helpers import lookup_of, make_credential

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = parse_amz_date("20150830T123600Z") or 0.0

SIGNATURE_MISMATCH = ("SignatureDoesNotMatch", 403)
TOKEN_INVALID = ("InvalidClientTokenId", 403)
NO_DATE = ("IncompleteSignature", 400)
# IAM and STS answer a request signed too far from now as AWS does (SDKs match this code).
SKEWED = ("SignatureDoesNotMatch", 403)


@dataclass
class Vector:
    name: str
    request: HttpRequest
    creq: str
    sts: str
    credential: Credential


def _parse_raw(text: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return method, target, headers, body.encode()


def _http(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> HttpRequest:
    path, _, query = target.partition("?")
    merged: dict[str, str] = {}
    for name, value in headers:
        key, value = name.lower(), value.strip()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return HttpRequest(method, path, query, merged, body)


def load_vectors(suite: Path) -> list[Vector]:
    vectors = []
    for req in sorted(suite.rglob("*.req")):
        base = req.with_suffix("")

        def read(ext: str, base: Path = base) -> str:
            return base.with_suffix(ext).read_text(encoding="utf-8").replace("\r", "")

        _m, _t, _h, body = _parse_raw(read(".req"))
        method, target, headers, _b = _parse_raw(read(".sreq"))
        request = _http(method, target, headers, body)
        # The .authz is authoritative: one .sreq (get-vanilla-with-session-token) carries a
        # signature that does not match its own .sts.
        request.headers["authorization"] = read(".authz").strip()
        creq = read(".creq")
        match = re.search(r"^x-amz-security-token:(.*)$", creq, re.MULTILINE)
        token = match.group(1) if match else request.headers.get("x-amz-security-token")
        credential = make_credential(ACCESS_KEY, SECRET_KEY, token=token)
        name = str(base.parent.relative_to(suite))
        vectors.append(Vector(name, request, creq, read(".sts"), credential))
    return vectors


@pytest.fixture(scope="module")
def vectors(aws4_suite: Path) -> list[Vector]:
    found = load_vectors(aws4_suite)
    assert len(found) >= 30, f"only {len(found)} vectors in {aws4_suite}"
    return found


def _check(vector: Vector, request: HttpRequest, now: float = NOW) -> tuple[str, int] | None:
    try:
        authenticate(request, lookup_of(vector.credential), now=now, style="query")
    except AuthError as err:
        return (err.code, err.status)
    return None


def test_every_vector_matches_canonical_request_and_string_to_sign(vectors: list[Vector]) -> None:
    for v in vectors:
        creq, sts = describe(v.request)
        assert creq == v.creq, v.name
        assert sts == v.sts, v.name


def test_every_vector_verifies(vectors: list[Vector]) -> None:
    failures = {v.name: _check(v, v.request) for v in vectors}
    assert {k: r for k, r in failures.items() if r is not None} == {}
    for v in vectors:
        result = authenticate(v.request, lookup_of(v.credential), now=NOW)
        assert result is not None and result.signature_version == "v4"
        assert (result.region, result.service) == ("us-east-1", "service")


def _flip(value: str) -> str:
    """Change one character so the value stays well-formed: the last digit, else a letter."""
    for i in range(len(value) - 1, -1, -1):
        if value[i].isdigit():
            return value[:i] + str((int(value[i]) + 1) % 10) + value[i + 1 :]
    for i in range(len(value) - 1, -1, -1):
        if value[i].isascii() and value[i].isalpha():
            return value[:i] + ("b" if value[i] == "a" else "a") + value[i + 1 :]
    return value + "x"


def _signed_headers(request: HttpRequest) -> list[str]:
    match = re.search(r"SignedHeaders=([^,\s]+)", request.headers["authorization"])
    assert match
    return match.group(1).split(";")


Mutation = tuple[str, HttpRequest, tuple[str, int]]


def mutations(request: HttpRequest) -> Iterator[Mutation]:
    for name in _signed_headers(request):
        if name not in request.headers:
            continue
        headers = dict(request.headers)
        headers[name] = _flip(headers[name])
        expected = TOKEN_INVALID if name == "x-amz-security-token" else SIGNATURE_MISMATCH
        yield f"flip header {name}", replace(request, headers=headers), expected
        dropped = {k: v for k, v in request.headers.items() if k != name}
        expected = {"x-amz-security-token": TOKEN_INVALID, "x-amz-date": NO_DATE}.get(
            name, SIGNATURE_MISMATCH
        )
        yield f"drop header {name}", replace(request, headers=dropped), expected
    method = "POST" if request.method == "GET" else "GET"
    yield "method", replace(request, method=method), SIGNATURE_MISMATCH
    path = request.path + "x" if request.path.endswith("/") else request.path[:-1] + "x"
    yield "path", replace(request, path=path), SIGNATURE_MISMATCH
    query = _flip(request.query) if request.query else "x=y"
    yield "query", replace(request, query=query), SIGNATURE_MISMATCH
    body = request.body[:-1] + bytes([request.body[-1] ^ 1]) if request.body else b"x"
    yield "body", replace(request, body=body), SIGNATURE_MISMATCH


def test_every_mutation_of_every_vector_is_refused(vectors: list[Vector]) -> None:
    wrong: dict[str, object] = {}
    count = 0
    for v in vectors:
        for label, request, expected in mutations(v.request):
            count += 1
            got = _check(v, request)
            if got != expected:
                wrong[f"{v.name}: {label}"] = got
    assert wrong == {}
    assert count > 5 * len(vectors)


@pytest.mark.parametrize(
    ("offset", "verb"), [(901, "Signature expired"), (-901, "Signature not yet current")]
)
def test_every_vector_refused_beyond_skew(vectors: list[Vector], offset: int, verb: str) -> None:
    for v in vectors:
        assert _check(v, v.request, NOW + offset) == SKEWED, v.name
        assert _check(v, v.request, NOW + offset - (1 if offset > 0 else -1) * 2) is None, v.name
    with pytest.raises(AuthError) as info:
        authenticate(vectors[0].request, lookup_of(vectors[0].credential), now=NOW + offset)
    assert info.value.message.startswith(verb)
    assert "20150830T123600Z" in info.value.message and "15 min." in info.value.message


def test_expected_message_wording() -> None:
    fixed = NOW + 1800
    assert skew_message(NOW, fixed, 900) == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T125100Z"
        " (20150830T130600Z - 15 min.)"
    )
