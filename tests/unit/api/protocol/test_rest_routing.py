"""Every S3 operation, called with only its required members, is routed back to itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.model import Shape

from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for
from tests.unit.api.protocol.wire import to_http_request

S3 = load_service_model("s3")
# Pairs the wire cannot tell apart: the deprecated operation and its replacement, and S3
# Express's directory-bucket listing (same GET /, told apart by endpoint only).
INDISTINGUISHABLE = {
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
    "ListDirectoryBuckets": "ListBuckets",
}


def minimal(shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        names = list(shape.required_members)
        if not names and getattr(shape, "is_tagged_union", False):
            names = [next(iter(shape.members))]
        return {name: minimal(shape.members[name]) for name in names}
    if kind == "list":
        return [minimal(shape.member)]
    if kind == "map":
        return {"k": minimal(shape.value)}
    if kind == "string":
        enum = shape.enum
        return enum[0] if enum else "v" * max(6, int(shape.metadata.get("min", 0)))
    values: dict[str, Any] = {
        "integer": 1,
        "long": 1,
        "boolean": True,
        "blob": b"data",
        "timestamp": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "double": 1.5,
        "float": 1.5,
    }
    return values[kind]


@pytest.mark.parametrize("operation", S3.operation_names)
def test_each_operation_routes_to_itself(operation: str) -> None:
    op = S3.operation_model(operation)
    params = minimal(op.input_shape) if op.input_shape is not None else {}
    request = to_http_request(S3, operation, params, "rest-xml")
    parsed = parser_for("rest-xml").parse(request, S3)
    assert parsed.operation.name == INDISTINGUISHABLE.get(operation, operation)
    if parsed.operation.name == operation:
        for name, value in params.items():
            assert parsed.params[name] == value
