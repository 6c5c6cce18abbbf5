"""Helpers the S3 end-to-end tests share (their fixtures `s3` and `bucket` are in conftest)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def new_bucket(s3: Any, prefix: str = "bk", **kwargs: Any) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, **kwargs)
    return name


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a failed call."""
    r = err.value.response
    return str(r["Error"]["Code"]), int(r["ResponseMetadata"]["HTTPStatusCode"])
