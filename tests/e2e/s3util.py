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


def remove_bucket(s3: Any, name: str) -> None:
    """Delete a test's bucket with every version and upload in it, so the e2e suite's shared
    account stays below its bucket limit; a bucket a test left undeletable is left."""
    try:
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=name)
        for page in pages:
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                s3.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})
        s3.delete_bucket(Bucket=name)
    except ClientError:
        pass


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a failed call."""
    r = err.value.response
    return str(r["Error"]["Code"]), int(r["ResponseMetadata"]["HTTPStatusCode"])
