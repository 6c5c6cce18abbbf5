"""Fuzzing S3 browser POST uploads: multipart/form-data framing, fields and policy documents.

Through the pipeline: `POST /bucket` forms signed with SigV4 (as the bucket's owner, whose
forms are stored, or as the read-only user, refused after the policy checks) whose fields,
file name, policy document and framing are hostile: boundaries that never come or come
broken, parts without headers, policies that are not base64, not JSON, or hold conditions of
every wrong shape, redirects carrying CR/LF. Directly: the streaming form reader on bodies of
any bytes, read in any pieces.
"""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mallee.api.auth.signing import sign_hex, signing_key
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.services.s3.form_data import FormDataReader, boundary_of
from tests.security.fuzz_harness import (
    BUCKET,
    HOST,
    NASTY,
    REGION,
    Keys,
    Pipeline,
    fuzz_settings,
    header_text,
    nasty_text,
    raw_request,
)

pytestmark = pytest.mark.fuzz

BOUNDARY = "----fuzzBoundary7MA4YWxkTrZu0gW"
VALID_EXPIRATION = "2100-01-01T00:00:00.000Z"
FIELD_NAMES = (
    "key",
    "acl",
    "content-type",
    "success_action_status",
    "success_action_redirect",
    "redirect",
    "expires",
    "x-amz-meta-a",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-ignore-me",
    "x-amz-security-token",
    "cache-control",
)
field_values = st.one_of(
    nasty_text,
    st.sampled_from(["201", "200", "204", "public-read", "private", "STANDARD", "GLACIER"]),
    st.sampled_from(["uploads/${filename}", "", "a/../b", "${filename}${filename}"]),
    nasty_text.map(lambda text: "http://example.com/" + text),
    st.sampled_from(["http://a/\r\nSet-Cookie: x=y", "https://a/é", "javascript:alert(1)"]),
)
conditions = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["bucket", "key", "acl"]) | nasty_text, nasty_text, max_size=2
        ),
        st.tuples(
            st.sampled_from(["eq", "starts-with", "EQ", "other"]), nasty_text, nasty_text
        ).map(list),
        st.sampled_from(["content-length-range", "Content-Length-Range"]).flatmap(
            lambda op: st.lists(
                st.integers(-5, 10**20) | st.sampled_from(["1", "²", True]), max_size=3
            ).map(lambda bounds: [op, *bounds])
        ),
        st.sampled_from([None, 1, "x", [], [1, 2], {"a": 1}]),
    ),
    max_size=4,
)


def signed_form(
    keys: Keys, fields: dict[str, str], extra: list[Any], expiration: str
) -> dict[str, str]:
    """`fields` with a SigV4 policy that admits every one of them (and the signature's own
    fields), plus the drawn (often broken) conditions."""
    date = time.strftime("%Y%m%d", time.gmtime())
    form = fields | {
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": f"{keys.access_key}/{date}/{REGION}/s3/aws4_request",
        "x-amz-date": f"{date}T000000Z",
    }
    admitted: list[Any] = [{"bucket": BUCKET}]
    admitted += [["starts-with", f"${name}", ""] for name in form]
    document = {"expiration": expiration, "conditions": admitted + extra}
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    key = signing_key(keys.secret_key, date, REGION, "s3")
    return form | {"policy": policy, "x-amz-signature": sign_hex(key, policy)}


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


FRAMING = (
    "whole",
    "no-end",
    "truncated",
    "no-file",
    "bare-part",
    "lf-only",
    "preamble",
    "two-files",
)


def _body(fields: dict[str, str], filename: str, data: bytes, framing: str) -> bytes:
    parts = [_part(name, value.encode()) for name, value in fields.items()]
    if framing == "bare-part":
        parts.append(f"--{BOUNDARY}\r\n\r\nno headers\r\n".encode())
    if framing != "no-file":
        parts.append(_part("file", data, filename))
    if framing == "two-files":
        parts.append(_part("file", data, filename))
    body = b"".join(parts)
    if framing != "no-end":
        body += f"--{BOUNDARY}--\r\n".encode()
    if framing == "truncated":
        body = body[: len(body) * 2 // 3]
    elif framing == "lf-only":
        body = body.replace(b"\r\n", b"\n")
    elif framing == "preamble":
        body = b"x" * 30_000 + b"\r\n" + body
    return body


@fuzz_settings(300)
@given(
    st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=5),
    conditions,
    st.sampled_from([VALID_EXPIRATION, "2000-01-01T00:00:00Z", "bogus", "2100-01-01"])
    | st.sampled_from(NASTY),
    st.sampled_from(["owner", "reader", "unsigned", "garbled"]),
    nasty_text.map(lambda text: text.replace('"', "")),
    st.binary(max_size=64),
    st.sampled_from(FRAMING),
    st.sampled_from([f"multipart/form-data; boundary={BOUNDARY}", "multipart/form-data"])
    | header_text,
    st.booleans(),
)
# A redirect with CR/LF after an accepted upload went into the Location header as it came.
@example(
    {"key": "k", "success_action_redirect": "http://a/\r\nSet-Cookie: x=y"},
    [],
    VALID_EXPIRATION,
    "owner",
    "f.txt",
    b"data",
    "whole",
    f"multipart/form-data; boundary={BOUNDARY}",
    False,
)
# A content-length-range bound of a digit int() does not read ("²"): a 500.
@example(
    {},
    [["content-length-range", "²", "5"]],
    VALID_EXPIRATION,
    "owner",
    "f.txt",
    b"data",
    "whole",
    f"multipart/form-data; boundary={BOUNDARY}",
    False,
)
# Stored fields come back as headers: a CR/LF added a header, a character latin-1 cannot
# carry failed the answer.
@example({"x-amz-meta-a": "a\r\nSet-Cookie: b"}, [], "", "", "f", b"", "whole", "", True)
@example({"content-type": "text/€"}, [], "", "", "f", b"", "whole", "", True)
@example({"x-amz-website-redirect-location": "/a\r\nb"}, [], "", "", "f", b"", "whole", "", True)
def test_post_uploads(
    fuzz_pipeline: Pipeline,
    fields: dict[str, str],
    extra: list[Any],
    expiration: str,
    signer: str,
    filename: str,
    data: bytes,
    framing: str,
    content_type: str,
    pristine: bool,
) -> None:
    if pristine:
        # Only the fields, file name and data are hostile: the form is stored, and what it
        # stored is read back.
        extra, expiration, signer, framing = [], VALID_EXPIRATION, "owner", "whole"
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
    form = dict(fields)
    form.setdefault("key", "posted/${filename}")
    if signer != "unsigned":
        keys = fuzz_pipeline.owner if signer == "owner" else fuzz_pipeline.reader
        form = signed_form(keys, form, extra, expiration)
        if signer == "garbled":
            form["x-amz-signature"] = form["x-amz-signature"][::-1]
    body = _body(form, filename, data, framing)
    headers = {"host": HOST, "content-type": content_type, "content-length": str(len(body))}
    response = fuzz_pipeline.send(HttpRequest("POST", f"/{BUCKET}", "", headers, body))
    if response.status < 400:
        # What the form stored (metadata, content type, ...) comes back as headers: read it.
        key = form["key"].replace("${filename}", filename)
        for method in ("HEAD", "GET"):
            read = raw_request(
                method, f"/{BUCKET}/{quote(key)}", "", {}, b"", fuzz_pipeline.owner, "s3"
            )
            fuzz_pipeline.send(read)


class _Pieces:
    """A body handed out in the drawn piece sizes (then whatever is left)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = io.BytesIO(data)
        self._sizes = sizes

    def read(self, size: int = -1) -> bytes:
        step = self._sizes.pop(0) if self._sizes else size
        return self._data.read(step if size < 0 else min(size, step))


@pytest.mark.nodb  # the parser alone: the PostgreSQL pass would find nothing more
@fuzz_settings(400)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(
            _body,
            st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=3),
            nasty_text,
            st.binary(max_size=100),
            st.sampled_from(FRAMING),
        ),
    ),
    st.sampled_from([BOUNDARY, "a", " ", "--", BOUNDARY[:-1]]),
    st.lists(st.integers(1, 64), max_size=10),
)
def test_form_reader_directly(body: bytes, boundary: str, sizes: list[int]) -> None:
    reader = FormDataReader(_Pieces(body, sizes), boundary)
    try:
        form = reader.read_form()
        if form.file is not None:
            for _ in form.file.pieces:
                pass
        reader.drain()
    except ServiceError as error:
        assert 400 <= error.status < 500, error


@pytest.mark.nodb  # the parser alone: the PostgreSQL pass would find nothing more
@fuzz_settings(300)
@given(
    header_text
    | st.sampled_from(["multipart/form-data; boundary=", 'multipart/form-data; boundary="'])
)
def test_boundaries_of_any_content_type(content_type: str) -> None:
    boundary = boundary_of(content_type)
    assert boundary is None or 0 < len(boundary) <= 200
