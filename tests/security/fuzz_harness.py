"""In-process fuzzing of the wire layer: the real request pipeline over a real store.

Requests go through `Chain.handle` the way the ASGI server hands them over (S3 bodies as a
stream), signed with botocore's own SigV4 signer so that fuzzed input reaches the parsers
behind authentication. `Pipeline.send` returns the answer after checking what every answer
must satisfy, whatever was sent:

- `handle` does not raise, nothing is logged at ERROR (an exception swallowed on the way);
- the status is below 500 (but S3's deliberate 501 NotImplemented), and no error is AWS's
  InternalFailure/InternalError;
- an error answer has a body in the service's protocol that parses (XML, JSON or CBOR), except
  for HEAD, whose answers carry none;
- every response header can be written by the server (a token name; a latin-1 value without
  control characters, so no CR/LF starts a header of the sender's choosing).

The hypothesis profile "mallee-fuzz" bounds the time CI spends: each test runs its own modest
number of examples; MALLEE_FUZZ_EXAMPLES=<n> runs every test with n examples instead, for long
local runs (`MALLEE_FUZZ_EXAMPLES=5000 pytest -m fuzz tests/security`). Failures print
hypothesis' reproduction blob; each one fixed stays as an explicit @example.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import logging
import os
import re
import string
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cbor2
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.model import Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from defusedxml.ElementTree import fromstring as parse_xml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mallee.api.errors import entity_too_large
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.gateway.chain import Chain
from mallee.services.base import Runtime
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store

REGION = "eucalyptus"
HOST = "127.0.0.1:8773"
ENDPOINT = f"http://{HOST}"
BUCKET = "fuzz-bucket"
# The owner's bucket whose CORS rules a test rewrites (no other test sends it requests).
CORS_BUCKET = "fuzz-cors"
OBJECT_KEY = "some/object.txt"

settings.register_profile(
    "mallee-fuzz",
    deadline=None,
    # Failures are kept as explicit @example regressions, not in a directory in the checkout.
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz_settings(examples: int) -> settings:
    """The profile with this test's share of the CI budget (or MALLEE_FUZZ_EXAMPLES)."""
    wanted = os.environ.get("MALLEE_FUZZ_EXAMPLES", "")
    count = int(wanted) if wanted.isascii() and wanted.isdigit() and int(wanted) > 0 else examples
    return settings(settings.get_profile("mallee-fuzz"), max_examples=count)


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _described(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


class AnswerError(AssertionError):
    """An answer that breaks the properties above."""


# -- signing ---------------------------------------------------------------------------------


class _DeclaredPayloadSigner(S3SigV4Auth):
    """S3 SigV4 with a chosen x-amz-content-sha256 (an aws-chunked mode, UNSIGNED-PAYLOAD)."""

    def __init__(self, credentials: Credentials, declared: str) -> None:
        super().__init__(credentials, "s3", REGION)
        self._declared = declared

    def payload(self, request: AWSRequest) -> str:
        return self._declared


def sign(
    aws: AWSRequest, keys: Keys | None, service: str, *, declared_payload: str | None = None
) -> HttpRequest:
    """The request as the server would receive it, signed with botocore's SigV4 signer."""
    aws.headers["host"] = urlsplit(aws.url).netloc
    if keys is not None:
        credentials = Credentials(keys.access_key, keys.secret_key)
        signer: SigV4Auth
        if declared_payload is not None:
            signer = _DeclaredPayloadSigner(credentials, declared_payload)
        elif service == "s3":
            signer = S3SigV4Auth(credentials, service, REGION)
        else:
            signer = SigV4Auth(credentials, service, REGION)
        signer.add_auth(aws)
    prepared = aws.prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = body.read()
    # Repeated headers (which preparing the request drops) joined with "," as the server
    # joins them and botocore signs them; then what preparing added (Content-Length).
    headers: dict[str, str] = {}
    for name, value in aws.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else str(value)
    for name, value in prepared.headers.items():
        headers.setdefault(name.lower(), str(value))
    return HttpRequest(prepared.method, url.path or "/", url.query, headers, body)


def raw_request(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    keys: Keys | None,
    service: str,
    *,
    declared_payload: str | None = None,
) -> HttpRequest:
    """A hand-built request (path and query exactly as given), signed when `keys` are given."""
    url = f"{ENDPOINT}{path}" + (f"?{query}" if query else "")
    aws = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    return sign(aws, keys, service, declared_payload=declared_payload)


def model_request(
    service: str, operation: str, params: dict[str, Any], *, validate: bool = False
) -> AWSRequest:
    """What a botocore client puts on the wire for this call (before signing)."""
    model = load_service_model(service)
    protocol = str(model.metadata["protocol"])
    serializer = create_serializer(protocol, include_validation=validate)
    request_dict = serializer.serialize_to_request(params, model.operation_model(operation))
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    aws: AWSRequest = create_request_object(request_dict)
    return aws


# -- the pipeline ----------------------------------------------------------------------------


class Pipeline:
    """One Chain over one store, with the keys the fuzz tests sign with."""

    def __init__(self, data_dir: Path, db_url: str) -> None:
        self.settings = Settings(data_dir=data_dir, db_url=db_url)
        self.store = Store(db_url)
        self.store.migrate()
        self.chain = Chain(Runtime(settings=self.settings, store=self.store))
        admin = ensure_system_account(self.store)
        self.admin = Keys(*admin)
        # The root of an ordinary account (the fuzz buckets' owner), and a user of it whose
        # policy allows only reads: fuzzed reads run their handlers on hostile (but parsed)
        # values, fuzzed writes stop at AccessDenied after parsing, so the fuzzing changes no
        # state the next example depends on.
        self.call("iam", "CreateAccount", {"AccountName": "fuzz"}, self.admin)
        root = self.call("iam", "CreateAccessKey", {"DelegateAccount": "fuzz"}, self.admin)
        self.owner = Keys(root["AccessKey"]["AccessKeyId"], root["AccessKey"]["SecretAccessKey"])
        self.reader = self._reader()
        self.call("s3", "CreateBucket", {"Bucket": BUCKET}, self.owner)
        self.call("s3", "CreateBucket", {"Bucket": CORS_BUCKET}, self.owner)
        self.call(
            "s3", "PutObject", {"Bucket": CORS_BUCKET, "Key": OBJECT_KEY, "Body": b"hi"}, self.owner
        )
        self.call(
            "s3", "PutObject", {"Bucket": BUCKET, "Key": OBJECT_KEY, "Body": b"hi"}, self.owner
        )
        # An upload in progress, for the multipart listings to find.
        self.call("s3", "CreateMultipartUpload", {"Bucket": BUCKET, "Key": OBJECT_KEY}, self.owner)

    def close(self) -> None:
        self.store.dispose()

    def _reader(self) -> Keys:
        self.call("iam", "CreateUser", {"UserName": "reader"}, self.owner)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "iam:Get*",
                        "iam:List*",
                        "sts:Get*",
                        "ec2:Describe*",
                        "s3:Get*",
                        "s3:List*",
                    ],
                    "Resource": "*",
                }
            ],
        }
        self.call(
            "iam",
            "PutUserPolicy",
            {"UserName": "reader", "PolicyName": "read", "PolicyDocument": json.dumps(policy)},
            self.owner,
        )
        key = self.call("iam", "CreateAccessKey", {"UserName": "reader"}, self.owner)
        return Keys(key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])

    def call(self, service: str, operation: str, params: dict[str, Any], keys: Keys) -> Any:
        """A well-formed call through the pipeline (setup), its result parsed by botocore."""
        model = load_service_model(service)
        signing = str(model.metadata.get("signingName") or model.metadata["endpointPrefix"])
        request = sign(model_request(service, operation, params, validate=True), keys, signing)
        response = self.send(request)
        raw = {"status_code": response.status, "headers": response.headers, "body": response.body}
        parsed = create_parser(str(model.metadata["protocol"])).parse(
            raw, model.operation_model(operation).output_shape
        )
        if response.status >= 300:
            raise AssertionError(f"{operation} failed: {response.status} {response.body!r}")
        return parsed

    def send(self, request: HttpRequest) -> HttpResponse:
        """The answer to `request`, checked against the properties in the module docstring."""
        collect = _Collect()
        logger = logging.getLogger("mallee")
        logger.addHandler(collect)
        try:
            response = self._handle(request)
            body = response.body
            if response.stream is not None:
                body = b"".join(response.stream)
        except Exception as exc:
            raise AnswerError(f"handle raised for {_shown(request)}") from exc
        finally:
            logger.removeHandler(collect)
        _check(request, response, body, collect.records)
        return response

    def _handle(self, request: HttpRequest) -> HttpResponse:
        # As App._http: a streamed service (S3) reads its body from a stream, every other
        # request is buffered up to max_body.
        streamed = self.chain.streaming_route(request)
        if streamed is not None:
            routed, spec = streamed
            routed.stream = io.BytesIO(routed.body)
            routed.body = b""
            return self.chain.handle(routed, spec=spec)
        too_large = len(request.body) > self.settings.max_body
        if too_large:
            request.body = b""
        return self.chain.handle(request, refused=entity_too_large() if too_large else None)


@contextmanager
def pipeline_at(data_dir: Path, db_url: str) -> Iterator[Pipeline]:
    pipeline = Pipeline(data_dir, db_url)
    try:
        yield pipeline
    finally:
        pipeline.close()


def _shown(request: HttpRequest) -> str:
    return (
        f"{request.method} {request.path!r} query={request.query[:300]!r}"
        f" headers={request.headers!r} body={request.body[:300]!r}"
    )


def error_code(response: HttpResponse) -> str | None:
    """The AWS error code of an error answer in any protocol (None for a success)."""
    if response.status < 300 or not response.body:
        return None
    kind = response.headers.get("Content-Type") or response.headers.get("content-type") or ""
    if "json" in kind:
        data = json.loads(response.body)
        return str(data.get("__type", "")).rpartition("#")[2] or None
    if "cbor" in kind:
        data = cbor2.loads(response.body)
        return str(data.get("__type", "")).rpartition("#")[2] or None
    root = parse_xml(response.body)
    found = root.find(".//{*}Code")
    return found.text if found is not None else None


# What the server (uvicorn, as RFC 9110) refuses to write: a header name that is not a token; a
# value with a control character but tab (CR/LF would start a header of the sender's choosing)
# or a character latin-1, the wire encoding, cannot carry.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")


# Codes that mean a request never got past authentication: a properly signed request that
# gets one did not reach the parser a test fuzzes.
AUTH_FAILURES = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "AuthFailure",
        "IncompleteSignature",
    }
)


def assert_authenticated(request: HttpRequest, response: HttpResponse) -> None:
    """A request signed with valid keys was not refused by authentication."""
    code = error_code(response)
    if code in AUTH_FAILURES:
        raise AnswerError(
            f"a properly signed request was refused: {code}\nrequest: {_shown(request)}"
            f"\nanswer: {response.body[:1500]!r}"
        )


def _check(
    request: HttpRequest, response: HttpResponse, body: bytes, logged: list[logging.LogRecord]
) -> None:
    where = f"\nrequest: {_shown(request)}\nanswer: {response.status} {body[:600]!r}"
    if logged:
        raise AnswerError(f"the pipeline logged an error:\n{_described(logged)}{where}")
    for name, value in response.headers.items():
        if not _HEADER_NAME.fullmatch(name) or _BAD_HEADER_VALUE.search(value):
            raise AnswerError(f"header {name!r} cannot be sent: {value!r}{where}")
    if response.status < 400:
        return
    if not body:
        if request.method.upper() == "HEAD" and response.status < 500:
            return
        raise AnswerError(f"an error answer without a body{where}")
    try:
        code = error_code(HttpResponse(response.status, response.headers, body))
    except Exception as exc:
        raise AnswerError(f"the error body does not parse in its protocol: {exc}{where}") from exc
    if not code:
        raise AnswerError(f"the error body names no code{where}")
    if code in ("InternalFailure", "InternalError", "ServiceUnavailable"):
        raise AnswerError(f"an internal error answered with status {response.status}{where}")
    # The one 5xx AWS answers on purpose: S3's NotImplemented for what the cloud lacks.
    if response.status >= 500 and (response.status, code) != (501, "NotImplemented"):
        raise AnswerError(f"status {response.status}{where}")


# -- strategies ------------------------------------------------------------------------------

# Values that broke (or nearly broke) wire parsers somewhere: numbers past every integer type,
# digits int() reads but str.isdigit() and the regexes disagree on, dates past datetime's range,
# XML's special characters and constructs, percent-escapes of invalid UTF-8.
NASTY = (
    "",
    " ",
    "\t",
    "0",
    "-0",
    "-1",
    "01",
    "²",
    "٣",
    "\uff11\uff12",  # fullwidth digits: str.isdigit() and int() accept them
    "1_000",
    "0x10",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "-9223372036854775809",
    "9" * 40,
    "1e308",
    "1e309",
    "-1e999999",
    "1e-999999",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "true",
    "TRUE",
    "null",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "10000-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2015-02-30T00:00:00Z",
    "20150830T123600Z",
    "99999999T999999Z",
    "Mon, 01 Jan 99999999999 00:00:00 GMT",
    "Thu, 01 Jan 1970 00:00:00 +9999",
    "253402300800",
    "-62135596801",
    "AAAA",
    "AAA",
    "====",
    "!@#$",
    "&amp;",
    "&unknown;",
    "<a>",
    "]]>",
    "<!DOCTYPE a [<!ENTITY b 'c'>]>",
    "%",
    "%zz",
    "%ff%fe",
    "%00",
    "../../etc/passwd",
    "a/../../b",
    "${filename}",
    "\u2028",
    "\ufeff",
    "\U0001f600",
    "é",
)

# What an HTTP/1.1 parser hands over as a header value: visible latin-1 text, spaces, tabs.
HEADER_CHARS = st.characters(codec="latin-1", exclude_categories=("Cc",), include_characters=" \t")
header_text = st.one_of(
    st.text(HEADER_CHARS, max_size=40),
    st.sampled_from([n for n in NASTY if n.isprintable() and n.isascii() and len(n) < 200]),
).map(str.strip)
# Past length limits and int()'s 4300-digit cap (built, not listed: hypothesis shows a
# failing example's strategy, and a 70 kB literal would swamp it).
long_text = st.tuples(st.sampled_from("9a<é"), st.sampled_from([300, 5000, 70000])).map(
    lambda p: p[0] * p[1]
)
nasty_text = st.one_of(st.text(max_size=30), st.sampled_from(NASTY), long_text)
short_nasty_text = st.one_of(st.text(max_size=12), st.sampled_from(NASTY[:40]))
# Query string pieces as they arrive: printable ASCII and percent-escapes of any byte.
query_piece = st.one_of(
    st.text(string.ascii_letters + string.digits + "-_.~%+=/:,;*!$'()", max_size=20),
    st.binary(max_size=8).map(lambda raw: "".join(f"%{b:02X}" for b in raw)),
    st.sampled_from(["", "=", "&", "%", "%zz", "a=b=c", "X-Amz-Credential=", "Action="]),
)


@functools.cache
def xml_document(tags: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Well-formed-looking XML over the given element names, and every way to break it."""
    element_text = st.one_of(nasty_text.map(xml_escape), st.sampled_from(["", "&amp;", "&#0;"]))
    leaf = st.tuples(st.sampled_from(tags), element_text).map(lambda p: f"<{p[0]}>{p[1]}</{p[0]}>")
    tree = st.recursive(
        leaf,
        lambda inner: st.tuples(st.sampled_from(tags), st.lists(inner, max_size=4)).map(
            lambda p: f"<{p[0]}>{''.join(p[1])}</{p[0]}>"
        ),
        max_leaves=12,
    )
    wellformed = st.tuples(st.sampled_from(tags), st.lists(tree, max_size=5)).map(
        lambda p: f'<?xml version="1.0" encoding="UTF-8"?><{p[0]}>{"".join(p[1])}</{p[0]}>'.encode()
    )
    hostile = st.sampled_from(
        [
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">'
            b"]><x>&b;</x>",
            b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1/">]><x>&e;</x>',
            b"<x>" * 100 + b"</x>" * 100,
            b"<x>" * 10000,
            b'<?xml version="1.0" encoding="UTF-16"?><x/>',
            b'<?xml version="1.0" encoding="bogus"?><x/>',
            b"\xff\xfe<\x00x\x00/\x00>\x00",
            b"<x>\xc3\x28</x>",
            b"<x>&#0;</x>",
            b"<x>&#xD800;</x>",
            b"<x a='1' a='2'/>",
            b"<x:y xmlns:x=''/>",
            b"<?xml-stylesheet href='x'?><x/>",
            b"<![CDATA[x]]>",
            b"<x><![CDATA[<y>]]></x>",
            b"",
            b" ",
            b"<",
            b"\x00",
        ]
    )
    return st.one_of(
        wellformed,
        hostile,
        # Cut short, or with a few bytes thrown in, anywhere.
        st.tuples(wellformed, st.integers(0, 1 << 16)).map(lambda p: p[0][: p[1] % len(p[0])]),
        st.tuples(wellformed, st.integers(0, 1 << 16), st.binary(min_size=1, max_size=4)).map(
            lambda p: p[0][: p[1] % len(p[0])] + p[2] + p[0][p[1] % len(p[0]) :]
        ),
        st.binary(max_size=64),
    )


# Integers at and past the edges of every wire integer type.
EDGE_INTEGERS = st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**40])
_PARAMS: dict[tuple[int, int], st.SearchStrategy[Any]] = {}


def params_for(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """botocore params for `shape`: the right types, hostile values (strings from NASTY,
    integers past their range, NaN, dates at datetime's ends); optional members may be
    missing."""
    key = (id(shape), depth)
    found = _PARAMS.get(key)
    if found is None:
        found = _PARAMS[key] = _params_for(shape, depth)
    return found


def _params_for(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        # Required members are always there: a fuzz test drops some on purpose.
        required = set(shape.required_members)
        values = {
            name: st.deferred(lambda m=member: params_for(m, depth + 1))
            for name, member in shape.members.items()
        }
        return st.fixed_dictionaries(
            {k: v for k, v in values.items() if k in required},
            optional={k: v for k, v in values.items() if k not in required},
        )
    if kind == "list":
        return st.lists(st.deferred(lambda: params_for(shape.member, depth + 1)), max_size=3)
    if kind == "map":
        values = st.deferred(lambda: params_for(shape.value, depth + 1))
        return st.dictionaries(short_nasty_text, values, max_size=2)
    if kind in ("string", "character"):
        enum = shape.metadata.get("enum")
        return st.one_of(st.sampled_from(enum), nasty_text) if enum else nasty_text
    if kind in ("integer", "long", "short", "byte"):
        return st.one_of(st.integers(-5, 1000), EDGE_INTEGERS, st.integers())
    if kind in ("float", "double"):
        return st.floats()
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(timezones=st.just(dt.UTC))
    if kind == "blob":
        return st.binary(max_size=16)
    return st.none()


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = [
    "AUTH_FAILURES",
    "BUCKET",
    "CORS_BUCKET",
    "ENDPOINT",
    "HOST",
    "NASTY",
    "OBJECT_KEY",
    "REGION",
    "AnswerError",
    "Keys",
    "Pipeline",
    "assert_authenticated",
    "error_code",
    "fuzz_settings",
    "header_text",
    "model_request",
    "nasty_text",
    "params_for",
    "pipeline_at",
    "query_piece",
    "raw_request",
    "short_nasty_text",
    "sign",
    "xml_document",
    "xml_escape",
]
