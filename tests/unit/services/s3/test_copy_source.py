"""Copy sources: the x-amz-copy-source header, source ranges and source conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.s3.copy import (
    CopySource,
    copy_range,
    directive,
    parse_copy_source,
    source_conditions,
)
from mallee.store.tables.s3 import S3Object

WHEN = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

pytestmark = pytest.mark.nodb


def code(err: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return err.value.code, err.value.status


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("bkt/a/b.txt", CopySource("bkt", "a/b.txt")),
        ("/bkt/a/b.txt", CopySource("bkt", "a/b.txt")),
        ("bkt/sp%20ace%3F/%C3%A9", CopySource("bkt", "sp ace?/é")),
        ("bkt/k?versionId=v1", CopySource("bkt", "k", "v1")),
        ("bkt/k%3FversionId%3Dv1", CopySource("bkt", "k?versionId=v1")),
    ],
)
def test_parse_copy_source(header: str, want: CopySource) -> None:
    assert parse_copy_source(header) == want


@pytest.mark.parametrize("header", ["", "bkt", "/bkt/", "bkt/k?versionId="])
def test_bad_copy_sources(header: str) -> None:
    with pytest.raises(ServiceError) as err:
        parse_copy_source(header)
    assert code(err) == ("InvalidArgument", 400)


def test_copy_range() -> None:
    assert copy_range(None, 10) == (0, 10)
    assert copy_range("bytes=0-9", 10) == (0, 10)
    assert copy_range("bytes=3-3", 10) == (3, 4)
    for bad in ("bytes=0-10", "bytes=5-4", "bytes=-3", "bytes=3-", "0-3"):
        with pytest.raises(ServiceError) as err:
            copy_range(bad, 10)
        assert code(err) == ("InvalidArgument", 400)


def test_directive() -> None:
    assert directive({}, "MetadataDirective") == "COPY"
    assert directive({"TaggingDirective": "REPLACE"}, "TaggingDirective") == "REPLACE"
    with pytest.raises(ServiceError) as err:
        directive({"MetadataDirective": "MOVE"}, "MetadataDirective")
    assert code(err) == ("InvalidArgument", 400)


def source() -> S3Object:
    # As SQLite gives it back: naive UTC.
    return S3Object(etag='"abc"', last_modified=WHEN.replace(tzinfo=None, microsecond=0))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"CopySourceIfMatch": '"abc"'},
        {"CopySourceIfNoneMatch": '"other"'},
        {"CopySourceIfModifiedSince": WHEN - timedelta(seconds=1)},
        {"CopySourceIfUnmodifiedSince": WHEN},
        # If-Match holds, so If-Unmodified-Since is not asked (S3's precedence).
        {"CopySourceIfMatch": '"abc"', "CopySourceIfUnmodifiedSince": WHEN - timedelta(days=1)},
        # If-None-Match holds, so If-Modified-Since is not asked.
        {"CopySourceIfNoneMatch": '"x"', "CopySourceIfModifiedSince": WHEN + timedelta(days=1)},
    ],
)
def test_source_conditions_hold(params: dict[str, Any]) -> None:
    source_conditions(source(), params)


@pytest.mark.parametrize(
    "params",
    [
        {"CopySourceIfMatch": '"other"'},
        {"CopySourceIfNoneMatch": '"abc"'},
        {"CopySourceIfModifiedSince": WHEN},
        {"CopySourceIfUnmodifiedSince": WHEN - timedelta(seconds=1)},
    ],
)
def test_source_conditions_fail_with_412(params: dict[str, Any]) -> None:
    with pytest.raises(ServiceError) as err:
        source_conditions(source(), params)
    assert code(err) == ("PreconditionFailed", 412)
