"""Fuzzing the rest-xml protocol (S3) through the pipeline.

Every S3 operation as botocore sends it, with hostile labels, query members and headers, and
its XML payload replaced by documents that are deep, truncated, not UTF-8, or carry DTDs and
entities; then requests of any method, path and query to the S3 root. Signed as the
read-only user (its reads run, its writes are refused after parsing) or sent anonymously.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from urllib.parse import quote

import pytest
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from hypothesis import example, given, reject
from hypothesis import strategies as st

from mallee.api.models import load_service_model
from mallee.api.protocol.shapes import members
from mallee.services.s3.provider import S3Provider
from tests.security.fuzz_harness import (
    BUCKET,
    CORS_BUCKET,
    OBJECT_KEY,
    Pipeline,
    assert_authenticated,
    fuzz_settings,
    header_text,
    model_request,
    nasty_text,
    params_for,
    query_piece,
    raw_request,
    sign,
    xml_document,
    xml_escape,
)

pytestmark = pytest.mark.fuzz

S3 = load_service_model("s3")
# Headers S3 reads whatever the operation (conditions, ranges, copy sources, checksums, SSE).
HEADER_NAMES = (
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "content-md5",
    "content-type",
    "x-amz-copy-source",
    "x-amz-copy-source-range",
    "x-amz-copy-source-if-modified-since",
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-tagging",
    "x-amz-meta-a",
    "x-amz-checksum-crc32",
    "x-amz-checksum-sha256",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-server-side-encryption",
    "x-amz-object-lock-retain-until-date",
    "x-amz-expected-bucket-owner",
    "x-amz-mfa",
    "x-amz-bypass-governance-retention",
    "origin",
    "access-control-request-method",
)
SUBRESOURCES = (
    "acl",
    "tagging",
    "versioning",
    "cors",
    "lifecycle",
    "policy",
    "uploads",
    "uploadId",
    "partNumber",
    "versionId",
    "delete",
    "location",
    "list-type",
    "max-keys",
    "continuation-token",
    "encoding-type",
    "response-content-type",
    "prefix",
    "delimiter",
    "marker",
    "start-after",
    "attributes",
    "restore",
    "select",
)


# Element names of the XML documents S3 reads (tagging, CORS, lifecycle, delete, ACL, ...).
PAYLOAD_TAGS = (
    "Tagging",
    "TagSet",
    "Tag",
    "Key",
    "Value",
    "CORSConfiguration",
    "CORSRule",
    "AllowedMethod",
    "MaxAgeSeconds",
    "LifecycleConfiguration",
    "Rule",
    "Expiration",
    "Days",
    "Date",
    "Delete",
    "Object",
    "Quiet",
    "CompleteMultipartUpload",
    "Part",
    "PartNumber",
    "ETag",
    "AccessControlPolicy",
    "Grant",
    "Grantee",
    "Status",
)


@functools.cache
def _implemented() -> list[str]:
    return sorted(n for n in S3.operation_names if n in S3Provider.operations)


def _tags(shape: Shape, depth: int = 0) -> set[str]:
    """Element names a payload of `shape` may hold, to build hostile documents from."""
    found: set[str] = set()
    if depth > 4:
        return found
    found.add(str(shape.serialization.get("name", shape.name)))
    if shape.type_name == "structure":
        for member in members(shape):
            if not member.location:
                found.add(member.xml_key)
                found |= _tags(member.shape, depth + 1)
    elif shape.type_name == "list":
        found.add(str(shape.member.serialization.get("name", "member")))
        found |= _tags(shape.member, depth + 1)
    elif shape.type_name == "map":
        found |= {"entry", "key", "value"}
    return found


# What an HTTP/1.1 server passes on: a token name; a latin-1 value without control characters
# but tab. (botocore puts metadata names and values into headers as they are.)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _valid_header(name: str, value: str) -> bool:
    return bool(_TOKEN.fullmatch(name) and _VALUE.fullmatch(value))


bucket_label = st.one_of(
    st.just(BUCKET),
    st.just(BUCKET),
    st.sampled_from(["missing-bucket", "B", "a" * 64, "xn--a", "192.168.1.1", "a..b", ".a"]),
    nasty_text.filter(lambda t: "/" not in t and t not in (".", "..")),
)
key_label = st.one_of(st.just(OBJECT_KEY), st.just("some/"), nasty_text)


@st.composite
def s3_operations(draw: st.DrawFn) -> AWSRequest:
    """An S3 operation as botocore serializes it, then with hostile parts swapped in."""
    pick_any = draw(st.integers(0, 4)) == 0
    name = draw(st.sampled_from(sorted(S3.operation_names) if pick_any else _implemented()))
    operation = S3.operation_model(name)
    shape = operation.input_shape
    params = draw(params_for(shape)) if shape is not None else {}
    if shape is not None and "Bucket" in shape.members:
        params["Bucket"] = draw(bucket_label)
    if shape is not None and "Key" in shape.members:
        params["Key"] = draw(key_label)
    try:
        aws = model_request("s3", name, params)
    except ParamValidationError:
        # botocore checks host-prefix labels (WriteGetObjectResponse) even unvalidated.
        reject()
    payload = shape.serialization.get("payload") if shape is not None else None
    body_shape = shape.members[payload] if payload and shape is not None else shape
    if body_shape is not None and draw(st.booleans()):
        aws.data = draw(xml_document(tuple(sorted(_tags(body_shape)))))
    for header, value in draw(
        st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_text), max_size=3)
    ):
        aws.headers[header] = value
    extra = draw(st.lists(st.tuples(st.sampled_from(SUBRESOURCES), query_piece), max_size=3))
    if extra:
        # No empty pairs ("a&&b"): botocore signs them as "=", servers (and mallee) drop them.
        pairs = "&".join(f"{k}={v}" if v else k for k, v in extra).split("&")
        aws.url += ("&" if "?" in aws.url else "?") + "&".join(p for p in pairs if p)
    for header in [h for h, v in aws.headers.items() if not _valid_header(h, str(v))]:
        del aws.headers[header]
    return aws


@fuzz_settings(300)
@given(s3_operations(), st.booleans())
def test_s3_operations_with_hostile_parts(
    fuzz_pipeline: Pipeline, aws: AWSRequest, signed: bool
) -> None:
    request = sign(aws, fuzz_pipeline.reader if signed else None, "s3")
    response = fuzz_pipeline.send(request)
    if signed:
        assert_authenticated(request, response)


path_piece = st.one_of(
    st.text(max_size=12).map(lambda t: quote(t, safe="")),
    st.sampled_from(["", "/", "//", ".", "..", "%2F", "%00", "%ff", "%", "%zz", BUCKET]),
    st.binary(max_size=6).map(lambda raw: "".join(f"%{b:02X}" for b in raw)),
)


@st.composite
def s3_raw_requests(draw: st.DrawFn) -> tuple[str, str, str, dict[str, str], bytes]:
    method = draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"]))
    path = "/" + "/".join(draw(st.lists(path_piece, max_size=4)))
    query = "&".join(
        f"{k}={v}" if has else k
        for k, has, v in draw(
            st.lists(
                st.tuples(st.sampled_from(SUBRESOURCES) | query_piece, st.booleans(), query_piece),
                max_size=4,
            )
        )
    )
    headers = dict(
        draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_text), max_size=4))
    )
    body = draw(st.one_of(st.just(b""), xml_document(("Tagging", "TagSet", "Tag", "Key"))))
    return method, path, query, headers, body


LONG_PREFIX = "prefix=" + "a" * 60_000
NUL_FORM = (
    b'--x\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--x\r\n'
    b'Content-Disposition: form-data; name="file"; filename="f"\r\n\r\ndata\r\n--x--\r\n'
)


@fuzz_settings(300)
@given(s3_raw_requests(), st.booleans())
# Listing prefixes past SQLite's 50,000-byte LIKE pattern limit: a 500 from the database.
@example(("GET", "/", LONG_PREFIX, {}, b""), True)
@example(("GET", f"/{BUCKET}", f"list-type=2&{LONG_PREFIX}", {}, b""), True)
@example(("GET", f"/{BUCKET}", f"uploads&{LONG_PREFIX}", {}, b""), True)
# A timestamp header whose offset moves it before year 1 in UTC: astimezone overflowed, a 500.
@example(
    ("GET", f"/{BUCKET}/x", "", {"if-modified-since": "0001-01-01T00:00:00+00:01"}, b""), False
)
# An RFC 822 date with a year datetime cannot take: parsedate_to_datetime overflowed, a 500.
@example(("GET", f"/{BUCKET}/x", "", {"if-modified-since": "0 JAN 3000000000 0:0"}, b""), False)
# U+0000 in a bucket name or query member reached PostgreSQL, which refuses it in text: a 500
# (on the PostgreSQL pass) from the lookups of the parsed operation, the CORS headers of any
# cross-origin answer, a preflight and a browser POST upload.
@example(("GET", "/%00", "prefix=%00", {}, b""), False)
@example(("GET", "/%00", "", {"origin": "o"}, b""), False)
@example(
    ("OPTIONS", "/%00/k", "", {"origin": "o", "access-control-request-method": "GET"}, b""), False
)
@example(("POST", "/%00", "", {"content-type": "multipart/form-data; boundary=x"}, NUL_FORM), False)
def test_s3_requests_of_any_shape(
    fuzz_pipeline: Pipeline,
    drawn: tuple[str, str, str, dict[str, str], bytes],
    signed: bool,
) -> None:
    method, path, query, headers, body = drawn
    keys = fuzz_pipeline.reader if signed else None
    fuzz_pipeline.send(raw_request(method, path, query, headers, body, keys, "s3"))


@fuzz_settings(150)
@given(
    st.sampled_from(
        [
            ("PUT", f"/{BUCKET}", "tagging"),
            ("PUT", f"/{BUCKET}", "cors"),
            ("PUT", f"/{BUCKET}", "lifecycle"),
            ("PUT", f"/{BUCKET}", "acl"),
            ("PUT", f"/{BUCKET}", "versioning"),
            ("POST", f"/{BUCKET}", "delete"),
            ("PUT", f"/{BUCKET}/{OBJECT_KEY}", "tagging"),
            ("POST", f"/{BUCKET}/{OBJECT_KEY}", "uploadId=x"),
        ]
    ),
    xml_document(PAYLOAD_TAGS),
)
# An XML declaration naming an unknown encoding: expat's LookupError escaped as a 500.
@example(("PUT", f"/{BUCKET}", "tagging"), b'<?xml version="1.0" encoding="bogus"?><Tagging/>')
def test_s3_xml_payloads(
    fuzz_pipeline: Pipeline, target: tuple[str, str, str], body: bytes
) -> None:
    method, path, query = target
    request = raw_request(method, path, query, {}, body, fuzz_pipeline.reader, "s3")
    response = fuzz_pipeline.send(request)
    assert_authenticated(request, response)


CORS_TAGS = (
    "AllowedOrigin",
    "AllowedMethod",
    "AllowedHeader",
    "ExposeHeader",
    "ID",
    "MaxAgeSeconds",
)
cors_text = st.one_of(
    st.sampled_from(["*", "http://x", "GET", "a", "x-amz-*", "b&#13;&#10;Set-Cookie: y"]),
    nasty_text.map(xml_escape),
)


@st.composite
def cors_documents(draw: st.DrawFn) -> bytes:
    """A CORS configuration whose origins, methods and headers are hostile (as the owner)."""
    rules = []
    for _ in range(draw(st.integers(1, 2))):
        parts = ["<AllowedOrigin>*</AllowedOrigin>", "<AllowedMethod>GET</AllowedMethod>"]
        for tag in draw(
            st.lists(
                st.sampled_from(CORS_TAGS),
                max_size=4,
            )
        ):
            parts.append(f"<{tag}>{draw(cors_text)}</{tag}>")
        rules.append(f"<CORSRule>{''.join(parts)}</CORSRule>")
    return f"<CORSConfiguration>{''.join(rules)}</CORSConfiguration>".encode()


@fuzz_settings(100)
@given(cors_documents(), header_text, st.sampled_from(["GET", "PUT", "DELETE"]), header_text)
# An ExposeHeader holding CR/LF went into every cross-origin answer's headers as it came.
@example(
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET"
    b"</AllowedMethod><ExposeHeader>b&#13;&#10;Set-Cookie: y</ExposeHeader></CORSRule>"
    b"</CORSConfiguration>",
    "http://x",
    "GET",
    "a",
)
def test_s3_cors_rules_echoed_in_headers(
    fuzz_pipeline: Pipeline, document: bytes, origin: str, method: str, asked: str
) -> None:
    md5 = base64.b64encode(hashlib.md5(document).digest()).decode()
    put = raw_request(
        "PUT", f"/{CORS_BUCKET}", "cors", {"content-md5": md5}, document, fuzz_pipeline.owner, "s3"
    )
    fuzz_pipeline.send(put)
    path = f"/{CORS_BUCKET}/{OBJECT_KEY}"
    fuzz_pipeline.send(
        raw_request("GET", path, "", {"origin": origin}, b"", fuzz_pipeline.owner, "s3")
    )
    preflight = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": asked,
    }
    fuzz_pipeline.send(raw_request("OPTIONS", path, "", preflight, b"", None, "s3"))
