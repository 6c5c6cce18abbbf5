"""Scalar conversions shared by all protocols: text <-> int, float, bool, timestamp, blob.

Parsing functions raise ValueError on bad input; the protocol code turns that into its own
AWS error code.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
# Year 9999: beyond it datetime cannot go, and huge exponents would be slow to expand.
_MAX_EPOCH = Decimal(253_402_300_799)
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity|NaN|[+-]?inf|nan",
)
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INT_RANGES = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
}


def check_int(value: int, type_name: str) -> int:
    low, high = INT_RANGES.get(type_name, INT_RANGES["long"])
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range for {type_name}")
    return value


def parse_int(text: str, type_name: str = "integer") -> int:
    text = text.strip()
    if not _INT_RE.fullmatch(text):
        raise ValueError(f"not an integer: {text!r}")
    return check_int(int(text), type_name)


def parse_float(text: str) -> float:
    text = text.strip()
    if not _FLOAT_RE.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_blob(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not valid base64") from exc


def from_epoch(value: int | float | str | Decimal) -> dt.datetime:
    """Epoch seconds to an aware UTC datetime, exact to the microsecond.

    Going through Decimal avoids float rounding: 1700000000.123456 stays .123456.
    """
    try:
        seconds = (
            value
            if isinstance(value, Decimal)
            else Decimal(repr(value) if isinstance(value, float) else str(value))
        )
        if not seconds.is_finite() or abs(seconds) > _MAX_EPOCH:
            raise ValueError("timestamp out of range")
        micros = int((seconds * 1_000_000).to_integral_value())
        return _EPOCH + dt.timedelta(microseconds=micros)
    except (InvalidOperation, OverflowError, ArithmeticError) as exc:
        raise ValueError(f"not a timestamp: {value!r}") from exc


def parse_timestamp(text: str) -> dt.datetime:
    """A timestamp in any of the wire forms (ISO 8601, epoch seconds, RFC 822)."""
    text = text.strip()
    if not text:
        raise ValueError("empty timestamp")
    if _NUMBER_RE.fullmatch(text):
        return from_epoch(text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = _parse_rfc822(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 at +00:01 is still year 0 in UTC
        raise ValueError(f"not a timestamp: {text!r}") from exc


def _parse_rfc822(text: str) -> dt.datetime:
    try:
        return parsedate_to_datetime(text)
    # OverflowError: a year past what datetime's C constructor takes (99999999999).
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise ValueError(f"not a timestamp: {text!r}") from exc


def to_datetime(value: Any) -> dt.datetime:
    """Whatever a provider put in a timestamp member, as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return from_epoch(value)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise TypeError(f"cannot serialize {type(value).__name__} as a timestamp")


def iso8601(value: dt.datetime) -> str:
    """`value` (in UTC) as 2026-12-07T16:00:00Z, with milli- or microseconds when it has them."""
    # isoformat, not strftime: it zero-pads years below 1000 on every libc, and is C-speed
    # (a 1440-datapoint answer formats 1440 of these).
    micro = value.microsecond
    spec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    text = value.isoformat("T", spec)
    # An aware value ends in "+00:00" (callers pass UTC); cutting it beats replace(tzinfo=None).
    return (text[:-6] if value.tzinfo is not None else text) + "Z"


def epoch(value: dt.datetime) -> int | float:
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if micros % 1_000_000 == 0:
        return micros // 1_000_000
    return micros / 1_000_000


def rfc822(value: dt.datetime) -> str:
    return format_datetime(value.replace(microsecond=0), usegmt=True)


def format_timestamp(value: Any, fmt: str) -> str | int | float:
    moment = to_datetime(value)
    if fmt == "unixtimestamp":
        return epoch(moment)
    if fmt == "rfc822":
        return rfc822(moment)
    return iso8601(moment)


def iso8601_text(value: Any) -> str:
    """A timestamp member's text in the default (iso8601) format."""
    # What providers mostly hand over: an aware UTC datetime, or a naive one (UTC by
    # convention), whose isoformat is twice as fast.
    if type(value) is dt.datetime and (value.tzinfo is None or value.tzinfo is UTC):
        return iso8601(value)
    return iso8601(to_datetime(value))


def timestamp_text(value: Any, fmt: str) -> str:
    formatted = format_timestamp(value, fmt)
    return formatted if isinstance(formatted, str) else repr(formatted)


def float_text(value: Any) -> str:
    number = float(value)
    if number - number == 0.0:  # finite (inf - inf and NaN - NaN are NaN)
        return repr(number)
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def blob_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    read = getattr(value, "read", None)
    if read is not None:
        data = read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    raise TypeError(f"cannot serialize {type(value).__name__} as a blob")


def blob_text(value: Any) -> str:
    return base64.b64encode(blob_bytes(value)).decode("ascii")


def bool_text(value: Any) -> str:
    return "true" if value else "false"


def int_text(value: Any) -> str:
    return str(int(value))
