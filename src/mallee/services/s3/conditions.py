"""Range and conditional requests (RFC 9110 as S3 applies them), as pure functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mallee.services.s3 import errors

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) for a single-range Range header; None for the whole object.

    Malformed or multi-range headers are ignored (S3 serves the whole object); a range that
    starts past the end is InvalidRange.
    """
    if not header:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None or (not found.group(1) and not found.group(2)):
        return None
    first, last = found.group(1), found.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            raise errors.invalid_range(size)
        return max(0, size - n), size
    start = int(first)
    end = size if not last else min(size, int(last) + 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise errors.invalid_range(size)
    return start, end


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive UTC datetimes.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _etags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]


def check_conditions(
    etag: str,
    last_modified: datetime,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
    read: bool = True,
) -> None:
    """Raise PreconditionFailed or NotModified as S3 does for GET/HEAD (and copy sources).

    If-Match wins over If-Unmodified-Since, and If-None-Match over If-Modified-Since, when
    both of a pair are given (S3's documented precedence).
    """
    tag = etag.strip('"')
    moment = _aware(last_modified).replace(microsecond=0)
    if_modified_since = _aware(if_modified_since) if if_modified_since else None
    if_unmodified_since = _aware(if_unmodified_since) if if_unmodified_since else None
    if if_match is not None:
        if "*" not in _etags(if_match) and tag not in _etags(if_match):
            raise errors.precondition_failed("If-Match")
    elif if_unmodified_since is not None and moment > if_unmodified_since:
        raise errors.precondition_failed("If-Unmodified-Since")
    if if_none_match is not None:
        if "*" in _etags(if_none_match) or tag in _etags(if_none_match):
            if read:
                raise errors.not_modified()
            raise errors.precondition_failed("If-None-Match")
    elif if_modified_since is not None and moment <= if_modified_since and read:
        raise errors.not_modified()
