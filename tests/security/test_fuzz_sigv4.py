"""Fuzzing authentication: SigV4 headers and presigned queries, SigV2, aws-chunked bodies.

Through the pipeline: a properly signed request of each wire style (IAM, EC2, S3) with its
Authorization header rebuilt wrong (parts missing, repeated, reordered, garbled) and its date,
payload hash and token headers replaced; presigned URLs with every parameter mutated; SigV2
forms and S3 SigV2 headers and queries; S3 uploads in aws-chunked framing with a valid seed
signature and a broken body. Directly: `authenticate` on requests of any shape, the aws-chunked
decoder on bytes fed in any pieces. Nothing raises but an auth ServiceError, nothing is 5xx.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode, urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import example, given
from hypothesis import strategies as st

from mallee.api import auth
from mallee.api.auth.sigv2 import sign as sign_v2
from mallee.api.auth.sigv2 import string_to_sign as v2_string_to_sign
from mallee.api.auth.streaming import MODES, ChunkedPayloadDecoder, ChunkSigner
from mallee.api.context import Principal
from mallee.api.credentials import Credential
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from tests.security.fuzz_harness import (
    BUCKET,
    ENDPOINT,
    HOST,
    NASTY,
    OBJECT_KEY,
    REGION,
    Keys,
    Pipeline,
    fuzz_settings,
    header_text,
    query_piece,
    raw_request,
)

pytestmark = pytest.mark.fuzz

FORM = "application/x-www-form-urlencoded; charset=utf-8"
# (signing name, method, path, query, body): one authenticated read per wire style.
Target = tuple[str, str, str, str, bytes]
IAM: Target = ("iam", "POST", "/", "", b"Action=ListUsers&Version=2010-05-08")
EC2: Target = ("ec2", "POST", "/", "", b"Action=DescribeRegions&Version=2016-11-15")
S3_LIST: Target = ("s3", "GET", f"/{BUCKET}", "list-type=2", b"")
S3_GET: Target = ("s3", "GET", f"/{BUCKET}/{OBJECT_KEY}", "", b"")
targets = st.sampled_from([IAM, EC2, S3_LIST, S3_GET])
# The nasty values an HTTP server would hand over in a header.
nasty_header = st.sampled_from(
    [n for n in NASTY if n.isprintable() and n.isascii() and len(n) < 200] + ["²", "٣", "é"]
)
any_header = nasty_header | header_text
AMZ_DATES = [
    "19700101T000000Z",
    "99991231T235959Z",
    "20150230T000000Z",
    "00000101T000000Z",
    "20240229T246060Z",
    "2015-08-30T12:36:00Z",
    "20150830T123600",
]
HTTP_DATES = [
    "Mon, 01 Jan 99999999999 00:00:00 GMT",
    "Mon, 01 Jan 0000 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 +9999",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "Mon, 99 Foo 2015 99:99:99 GMT",
]
# Placeholders for the parts of the real signature, filled in after signing: the drawn value is
# a plain string, so a failure is kept as an @example.
CREDENTIAL_PARTS = ("{akid}", "{date}", "{region}", "{service}", "aws4_request")


def _signed(pipeline: Pipeline, target: Target, keys: Keys | None = None) -> HttpRequest:
    service, method, path, query, body = target
    headers = {"content-type": FORM} if body else {}
    return raw_request(method, path, query, headers, body, keys or pipeline.reader, service)


@st.composite
def authorization_templates(draw: st.DrawFn) -> str:
    """An Authorization header built wrong, over placeholders for the real parts."""
    credential = list(CREDENTIAL_PARTS)
    for _ in range(draw(st.integers(0, 2))):
        credential[draw(st.integers(0, 4))] = draw(any_header)
    credential = draw(
        st.sampled_from([credential, credential[:-1], [*credential, "x"], credential[::-1]])
    )
    signed = draw(
        st.sampled_from(["{signed}", "", ";", "host", "x-amz-date", "HOST;X-AMZ-DATE"])
        | st.sampled_from(["host;host;x-amz-date", "{signed};x-amz-security-token"])
        | header_text
    )
    signature = draw(
        st.sampled_from(["{sig}", "{SIG}", "{sig}0", "", "g" * 64, "0" * 4096]) | any_header
    )
    fields = [f"Credential={'/'.join(credential)}", f"SignedHeaders={signed}"]
    fields.append(f"Signature={signature}")
    fields += draw(st.lists(st.sampled_from(fields) | header_text | st.just("a=b=c"), max_size=2))
    fields = draw(st.permutations(fields))
    fields = fields[: draw(st.integers(0, len(fields)))] if draw(st.booleans()) else fields
    prefix = draw(st.sampled_from(["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256x", "aws4-hmac-sha256"]))
    separator = draw(st.sampled_from([" ", "", "\t", "  "]))
    joiner = draw(st.sampled_from([", ", ",", " , ", ";", ",,"]))
    return f"{prefix}{separator}{joiner.join(fields)}".strip()


def _fill(template: str, real: str) -> str:
    _, _, rest = real.partition(" ")
    parts = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    akid, date, region, service, _ = parts["Credential"].split("/")
    values = {
        "{akid}": akid,
        "{date}": date,
        "{region}": region,
        "{service}": service,
        "{signed}": parts["SignedHeaders"],
        "{sig}": parts["Signature"],
        "{SIG}": parts["Signature"].upper(),
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


# Header edits: a new value, or None to remove the header.
header_edits = st.dictionaries(
    st.sampled_from(["x-amz-date", "date", "x-amz-content-sha256", "x-amz-security-token"]),
    st.none() | any_header | st.sampled_from(AMZ_DATES + HTTP_DATES),
    max_size=3,
)


def _edit(request: HttpRequest, edits: dict[str, str | None]) -> None:
    for name, value in edits.items():
        if value is None:
            request.headers.pop(name, None)
        else:
            request.headers[name] = value


@fuzz_settings(300)
@given(targets, authorization_templates() | st.just("{keep}"), header_edits)
# Year 0 in x-amz-date passed the digit checks and broke timegm: a 500.
@example(IAM, "{keep}", {"x-amz-date": "00000101T000000Z"})
def test_authorization_headers(
    fuzz_pipeline: Pipeline, target: Target, template: str, edits: dict[str, str | None]
) -> None:
    request = _signed(fuzz_pipeline, target)
    if template != "{keep}":
        request.headers["authorization"] = _fill(template, request.headers["authorization"])
    _edit(request, edits)
    fuzz_pipeline.send(request)


# -- presigned queries -----------------------------------------------------------------------

PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
)
query_value = st.one_of(
    query_piece,
    st.sampled_from(NASTY).map(lambda text: quote(text[:5000], safe="")),
    st.sampled_from(AMZ_DATES).map(quote),
)
# Query edits: (parameter, new raw value or None to remove it, whether to repeat it instead).
query_edits = st.lists(
    st.tuples(st.sampled_from(PRESIGN_PARAMS), st.none() | query_value, st.booleans()),
    max_size=3,
)


def _presigned(pipeline: Pipeline, target: Target) -> HttpRequest:
    service, method, path, query, body = target
    url = f"{ENDPOINT}{path}" + (f"?{query}" if query else "")
    if body:  # the query protocols' parameters go in the URL of a presigned GET
        method, url = "GET", f"{url}?{body.decode()}"
    aws = AWSRequest(method=method, url=url, headers={"host": urlsplit(url).netloc})
    credentials = Credentials(pipeline.reader.access_key, pipeline.reader.secret_key)
    signer = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
    signer(credentials, service, REGION, expires=300).add_auth(aws)
    split = urlsplit(aws.url)
    return HttpRequest(method, split.path, split.query, {"host": split.netloc})


def _apply(query: str, edits: list[tuple[str, str | None, bool]]) -> str:
    pairs = [part.partition("=")[::2] for part in query.split("&") if part]
    for name, value, repeat in edits:
        if repeat:
            pairs.append((name, value or ""))
            continue
        pairs = [(k, v) for k, v in pairs if k != name]
        if value is not None:
            pairs.append((name, value))
    return "&".join(f"{k}={v}" for k, v in pairs)


@fuzz_settings(300)
@given(targets, query_edits)
# X-Amz-Expires of a digit int() does not read ("²" is a digit to str.isdigit): a 500.
@example(S3_GET, [("X-Amz-Expires", "%C2%B2", False)])
@example(IAM, [("X-Amz-Expires", "%C2%B2", False)])
@example(S3_GET, [("X-Amz-Expires", "9" * 5000, False)])
@example(S3_GET, [("X-Amz-Date", "00000101T000000Z", False)])
def test_presigned_queries(
    fuzz_pipeline: Pipeline, target: Target, edits: list[tuple[str, str | None, bool]]
) -> None:
    request = _presigned(fuzz_pipeline, target)
    request.query = _apply(request.query, edits)
    fuzz_pipeline.send(request)


# -- SigV2 -----------------------------------------------------------------------------------

V2_PARAMS = ("AWSAccessKeyId", "SignatureVersion", "SignatureMethod", "Timestamp", "Expires")
v2_values = st.one_of(
    st.sampled_from(["2", "1", "HmacSHA256", "HmacSHA1", "{akid}"]),
    st.sampled_from(["2015-08-30T12:36:00Z", "0001-01-01T00:00:00+01:00"]),
    st.sampled_from(["9999-12-31T23:59:59-01:00", "{now}"]),
    st.sampled_from(NASTY).map(lambda text: text[:5000]),
)


@fuzz_settings(200)
@given(
    st.sampled_from([IAM, EC2]),
    st.dictionaries(st.sampled_from(V2_PARAMS), v2_values, max_size=5),
    st.sampled_from(["{sig}", "", "x", "{sig}="]) | st.sampled_from(NASTY),
    st.booleans(),
)
def test_sigv2_forms(
    fuzz_pipeline: Pipeline, target: Target, params: dict[str, str], signature: str, get: bool
) -> None:
    _, _, path, _, body = target
    form = dict(pair.split("=") for pair in body.decode().split("&"))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name, value in params.items():
        form[name] = value.replace("{akid}", fuzz_pipeline.reader.access_key).replace("{now}", now)
    method = "GET" if get else "POST"
    text = v2_string_to_sign(method, HOST, path, form)
    valid = sign_v2(fuzz_pipeline.reader.secret_key, text, "sha256")
    form["Signature"] = signature.replace("{sig}", valid)
    encoded = urlencode(form)
    headers = {"host": HOST}
    if get:
        request = HttpRequest("GET", path, encoded, headers)
    else:
        headers["content-type"] = FORM
        request = HttpRequest("POST", path, "", headers, encoded.encode())
    fuzz_pipeline.send(request)


@fuzz_settings(200)
@given(
    st.sampled_from([S3_LIST, S3_GET]),
    st.sampled_from(["AWS {akid}:{sig}", "AWS {akid}:", "AWS :{sig}", "AWS {akid}", "AWS "])
    | any_header.map(lambda text: "AWS " + text),
    st.one_of(st.none(), st.sampled_from(HTTP_DATES), any_header),
)
def test_s3_sigv2_headers(
    fuzz_pipeline: Pipeline, target: Target, authorization: str, date: str | None
) -> None:
    _, method, path, query, _ = target
    headers = {"host": HOST}
    if date is not None:
        headers["date"] = date
    value = authorization.replace("{akid}", fuzz_pipeline.reader.access_key)
    headers["authorization"] = value.replace("{sig}", "c2lnbmF0dXJl")
    fuzz_pipeline.send(HttpRequest(method, path, query, headers))


@fuzz_settings(200)
@given(
    st.sampled_from([S3_LIST, S3_GET]),
    st.dictionaries(
        st.sampled_from(["AWSAccessKeyId", "Expires", "Signature", "x-amz-security-token"]),
        query_value | st.just("{akid}"),
        max_size=4,
    ),
)
# Expires that str.isdigit() accepts but int() does not read, or reads past 4300 digits: a 500.
@example(S3_GET, {"AWSAccessKeyId": "{akid}", "Expires": "%C2%B2", "Signature": "x"})
@example(S3_GET, {"AWSAccessKeyId": "{akid}", "Expires": "9" * 5000, "Signature": "x"})
def test_s3_sigv2_queries(fuzz_pipeline: Pipeline, target: Target, params: dict[str, str]) -> None:
    _, method, path, query, _ = target
    pairs = [
        f"{k}={v.replace('{akid}', fuzz_pipeline.reader.access_key)}" for k, v in params.items()
    ]
    full = "&".join(([query] if query else []) + pairs)
    fuzz_pipeline.send(HttpRequest(method, path, full, {"host": HOST}))


# -- aws-chunked uploads ---------------------------------------------------------------------

chunk_size_text = st.one_of(
    st.integers(0, 40).map(lambda n: f"{n:x}"),
    st.sampled_from(["", "-1", "g", "0x10", "ffffffffffffffff", "1" * 17, "²", " 5", "5 "]),
)
chunk_extension = st.sampled_from(
    [";chunk-signature={sig}", ";chunk-signature=", "", ";chunk-signature={sig};x=y", ";x"]
)


@st.composite
def chunked_bodies(draw: st.DrawFn) -> bytes:
    """aws-chunked framing with sizes, signatures, CRLFs and trailers drawn wrong."""
    pieces: list[bytes] = []
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.binary(max_size=40))
        size = draw(st.just(f"{len(data):x}") | chunk_size_text)
        extension = draw(chunk_extension)
        end = draw(st.sampled_from([b"\r\n", b"\n", b"", b"\r\n\r\n"]))
        pieces.append(f"{size}{extension}".encode() + b"\r\n" + data + end)
    if draw(st.booleans()):
        pieces.append(f"0{draw(chunk_extension)}\r\n".encode())
        trailers = draw(
            st.lists(
                st.sampled_from(
                    [
                        b"x-amz-checksum-crc32:AAAAAA==\r\n",
                        b"x-amz-checksum-sha256:bad\r\n",
                        b"x-amz-trailer-signature:00\r\n",
                        b"no-colon\r\n",
                        b"\xff\xfe:\r\n",
                    ]
                ),
                max_size=2,
            )
        )
        pieces.extend(trailers)
        pieces.append(draw(st.sampled_from([b"\r\n", b"", b"\r\nextra"])))
    body = b"".join(pieces)
    return draw(st.sampled_from([body, body[: len(body) // 2], body + b"\x00"]))


@fuzz_settings(250)
@given(
    st.sampled_from(sorted(MODES)),
    chunked_bodies() | st.binary(max_size=80),
    st.dictionaries(
        st.sampled_from(["x-amz-decoded-content-length", "x-amz-trailer", "content-encoding"]),
        st.sampled_from(["0", "5", "²", "-1", "9" * 30, "", "x-amz-checksum-crc32", "aws-chunked"])
        | header_text,
        max_size=3,
    ),
)
# x-amz-decoded-content-length of a digit int() does not read: a 500 before the upload.
@example("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", b"0\r\n\r\n", {"x-amz-decoded-content-length": "²"})
def test_aws_chunked_uploads(
    fuzz_pipeline: Pipeline, mode: str, body: bytes, headers: dict[str, str]
) -> None:
    # As the bucket's owner: the upload is authorized, so its body is decoded (and stored).
    sent = {"content-encoding": "aws-chunked", **headers}
    request = raw_request(
        "PUT",
        f"/{BUCKET}/fuzz-upload",
        "",
        sent,
        body,
        fuzz_pipeline.owner,
        "s3",
        declared_payload=mode,
    )
    fuzz_pipeline.send(request)


@pytest.mark.nodb  # the parser alone: the PostgreSQL pass would find nothing more
@fuzz_settings(300)
@given(
    st.sampled_from(["signed", "signed-trailer", "unsigned-trailer"]),
    chunked_bodies() | st.binary(max_size=80),
    st.lists(st.integers(1, 16), max_size=8),
    st.none() | st.integers(0, 100),
    st.lists(st.sampled_from(["x-amz-checksum-crc32", "x-amz-checksum-sha1", "", "x"]), max_size=2),
)
def test_chunked_decoder_directly(
    mode: str, body: bytes, cuts: list[int], decoded_length: int | None, trailers: list[str]
) -> None:
    signer = (
        None
        if mode == "unsigned-trailer"
        else ChunkSigner(b"k" * 32, "20150830T123600Z", "s", "0" * 64)
    )
    decoder = ChunkedPayloadDecoder(
        mode,  # type: ignore[arg-type]
        signer=signer,
        decoded_length=decoded_length,
        trailer_names=trailers,
    )
    at = 0
    try:
        for cut in cuts:
            decoder.feed(body[at : at + cut])
            at += cut
        decoder.feed(body[at:])
        decoder.finish()
    except auth.AuthError as error:
        assert 400 <= error.status < 500


# -- authenticate() on requests of any shape --------------------------------------------------

PRINCIPAL = Principal("000000000000", "arn:aws:iam::000000000000:user/u", "AIDA", "user", "u")


def _lookup(key: str) -> Credential | None:
    return Credential(key, "secret", PRINCIPAL) if key.startswith("AK") else None


AUTH_HEADER_NAMES = (
    "authorization",
    "x-amz-date",
    "date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "host",
    "content-type",
)
AUTH_HEADER_VALUES = (
    "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/iam/aws4_request, SignedHeaders=host",
    "AWS AK:x",
    "Basic eDp5",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "UNSIGNED-PAYLOAD",
    *AMZ_DATES,
    *HTTP_DATES,
)
auth_headers = st.dictionaries(
    st.sampled_from(AUTH_HEADER_NAMES),
    any_header | st.sampled_from(AUTH_HEADER_VALUES),
    max_size=5,
)
auth_query = st.lists(
    st.tuples(
        st.sampled_from(PRESIGN_PARAMS + V2_PARAMS + ("Signature", "Action")) | query_piece,
        query_value | st.sampled_from(["AK%2F20150830%2Fus-east-1%2Fs3%2Faws4_request", "AK"]),
    ),
    max_size=6,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@pytest.mark.nodb  # the parser alone: the PostgreSQL pass would find nothing more
@fuzz_settings(600)
@given(
    st.sampled_from(["GET", "POST", "PUT"]),
    auth_query,
    auth_headers,
    st.binary(max_size=40),
    st.sampled_from(["query", "ec2", "s3"]),
    st.booleans(),
)
def test_authenticate_directly(
    method: str, query: str, headers: dict[str, str], body: bytes, style: str, verify: bool
) -> None:
    request = HttpRequest(method, "/b/k", query, headers, body)
    try:
        result = auth.authenticate(
            request, _lookup, now=time.time(), style=style, verify_body=verify
        )
    except ServiceError as error:
        assert 400 <= error.status < 500, error
        return
    if result is not None and result.payload is not None:
        try:
            result.payload.feed(body)
            result.payload.finish()
        except ServiceError as error:
            assert 400 <= error.status < 500, error
    auth.credential_scope(request)
