"""Fuzzing the query and ec2 protocols through the pipeline.

Every operation of IAM, STS, Empyrean and EC2, as a botocore client would send it, with hostile
values, then with its form broken (values of the wrong type, list indices that are not indices,
members dropped or added), signed as the read-only user (reads run their handlers on what
parsed, writes are refused after parsing) or, for reads, as the cloud admin. Every answer is
4xx (or a 2xx read).
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.serialize import create_serializer
from hypothesis import given
from hypothesis import strategies as st

from mallee.api.models import load_service_model
from mallee.gateway.catalog import SERVICES
from tests.security.fuzz_harness import (
    Pipeline,
    assert_authenticated,
    fuzz_settings,
    nasty_text,
    params_for,
    raw_request,
)

pytestmark = pytest.mark.fuzz

FORM = "application/x-www-form-urlencoded; charset=utf-8"
INDEX = st.one_of(
    st.integers(0, 4).map(str),
    st.sampled_from(["-1", "01", "²", "٣", "1.5", "", "99999999999", "9" * 30, "member"]),
)


def _form(service: str, operation: str, params: dict[str, Any]) -> dict[str, str]:
    model = load_service_model(service)
    serializer = create_serializer(str(model.metadata["protocol"]), include_validation=False)
    body = serializer.serialize_to_request(params, model.operation_model(operation))["body"]
    return {str(k): str(v) for k, v in body.items()}


@functools.cache
def _implemented(service: str) -> list[str]:
    provider = next(spec for spec in SERVICES if spec.name == service).provider
    names = load_service_model(service).operation_names
    return sorted(name for name in names if name in provider.operations)


def _reindex(key: str, index: str) -> str:
    """`key` with its last numeric part (a list or map index) replaced."""
    parts = key.split(".")
    for at in range(len(parts) - 1, -1, -1):
        if parts[at].isdigit():
            parts[at] = index
            return ".".join(parts)
    return f"{key}.{index}"


MUTATION = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 999), nasty_text),
    st.tuples(st.just("index"), st.integers(0, 999), INDEX),
    st.tuples(st.just("drop"), st.integers(0, 999), st.just("")),
    st.tuples(
        st.just("add"),
        st.sampled_from(["Action", "Version", "member.1", "Filter.1.Value.1", "x.entry.1.key"]),
        nasty_text,
    ),
)


@st.composite
def forms(draw: st.DrawFn, services: tuple[str, ...]) -> tuple[str, list[tuple[str, str]]]:
    """(service, form pairs) for a drawn operation of one of `services`, then mutated."""
    service = draw(st.sampled_from(services))
    model = load_service_model(service)
    # Mostly operations the provider implements (the others stop at InvalidAction once parsed).
    every = sorted(model.operation_names)
    pick_any = draw(st.integers(0, 4)) == 0
    operation = draw(st.sampled_from(every if pick_any else _implemented(service)))
    shape = model.operation_model(operation).input_shape
    params = draw(params_for(shape)) if shape is not None else {}
    form = _form(service, operation, params)
    head = [(k, form.pop(k)) for k in ("Action", "Version")]
    pairs = list(form.items())
    for kind, where, text in draw(st.lists(MUTATION, max_size=4)):
        if kind == "add":
            pairs.append((str(where), text))
            continue
        if not pairs:
            continue
        at = int(where) % len(pairs)
        key, value = pairs[at]
        if kind == "value":
            pairs[at] = (key, text)
        elif kind == "index":
            pairs[at] = (_reindex(key, text), value)
        else:
            del pairs[at]
    return service, head + pairs


READS = ("Describe", "List", "Get")


def _send(
    fuzz_pipeline: Pipeline, service: str, pairs: list[tuple[str, str]], get: bool, admin: bool
) -> None:
    # The cloud admin runs the reads (Empyrean's, and every account's) on what parsed; any
    # other operation is signed by the read-only user, refused once parsed.
    action = dict(pairs).get("Action", "")
    keys = fuzz_pipeline.admin if admin and action.startswith(READS) else fuzz_pipeline.reader
    encoded = urlencode(pairs)
    if get:
        request = raw_request("GET", "/", encoded, {}, b"", keys, service)
    else:
        headers = {"content-type": FORM}
        request = raw_request("POST", "/", "", headers, encoded.encode(), keys, service)
    response = fuzz_pipeline.send(request)
    assert_authenticated(request, response)


@fuzz_settings(400)
@given(forms(("iam", "sts", "empyrean")), st.booleans(), st.booleans())
def test_query_protocol_forms(
    fuzz_pipeline: Pipeline, drawn: tuple[str, list[tuple[str, str]]], get: bool, admin: bool
) -> None:
    service, pairs = drawn
    _send(fuzz_pipeline, service, pairs, get, admin)


@fuzz_settings(300)
@given(forms(("ec2",)), st.booleans(), st.booleans())
def test_ec2_protocol_forms(
    fuzz_pipeline: Pipeline, drawn: tuple[str, list[tuple[str, str]]], get: bool, admin: bool
) -> None:
    _, pairs = drawn
    _send(fuzz_pipeline, "ec2", pairs, get, admin)


@fuzz_settings(200)
@given(
    st.sampled_from(["iam", "sts", "ec2", "empyrean"]),
    st.sampled_from(
        [FORM, "application/x-www-form-urlencoded", "", "text/plain", "application/json"]
    ),
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=40).map(lambda raw: b"Action=ListUsers&Version=2010-05-08&" + raw),
        st.just(b"Action=DescribeRegions&Version=2016-11-15&RegionName.1=\xff\xfe"),
    ),
)
def test_form_bodies_of_any_bytes(
    fuzz_pipeline: Pipeline, service: str, content_type: str, body: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    request = raw_request("POST", "/", "", headers, body, fuzz_pipeline.reader, service)
    response = fuzz_pipeline.send(request)
    assert_authenticated(request, response)
