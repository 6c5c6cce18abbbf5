"""The date formats the signing schemes use, to and from epoch seconds (UTC)."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from email.utils import parsedate_tz


def parse_amz_date(value: str) -> float | None:
    """`20150830T123600Z` (SigV4 basic ISO 8601) to epoch seconds; None if malformed."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    digits = value[:8] + value[9:15]
    if not (digits.isascii() and digits.isdigit()):
        return None
    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:8])
    hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
    # Year 0 passes the digit checks but no datetime (which timegm uses) can hold it.
    if year < 1 or not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def format_amz_date(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def parse_http_date(value: str) -> float | None:
    """An HTTP Date header (RFC 1123, RFC 850 or asctime) to epoch seconds; None if malformed."""
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    offset = parsed[9] or 0
    try:
        return float(calendar.timegm((*parsed[:6], 0, 0, 0))) - offset
    except (ValueError, OverflowError):
        return None


def parse_iso8601(value: str) -> float | None:
    """`2015-08-30T12:36:00Z` (optionally with fraction or offset), as SigV2 sends; or None."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_iso8601(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
