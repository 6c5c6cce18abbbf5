"""The XML writer's inlined scalars write what the scalar converters write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mallee.api.models.loader import load_service_model
from mallee.api.protocol.query_serializer import QueryResponseSerializer


def _datapoint_xml(point: dict[str, object]) -> str:
    operation = load_service_model("cloudwatch").operation_model("GetMetricStatistics")
    answer = QueryResponseSerializer().serialize(
        operation, {"Label": "x", "Datapoints": [point]}, "rid"
    )
    body = answer.body.decode()
    return body[body.index("<member>") : body.index("</member>") + len("</member>")]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (3, "3.0"),
        (Decimal("2.25"), "2.25"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (1e300, "1e+300"),
    ],
)
def test_a_double_member_is_written_as_float_text(value: object, text: str) -> None:
    assert f"<Sum>{text}</Sum>" in _datapoint_xml({"Sum": value})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2026, 12, 7, 16, 0, tzinfo=dt.UTC), "2026-12-07T16:00:00Z"),
        # Naive means UTC.
        (dt.datetime(2026, 12, 7, 16, 0), "2026-12-07T16:00:00Z"),
        (dt.datetime(2026, 12, 7, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
         "2026-12-07T16:00:00Z"),
        (dt.datetime(2026, 12, 7, 16, 0, 0, 250000, tzinfo=dt.UTC), "2026-12-07T16:00:00.250Z"),
        (dt.datetime(2026, 12, 7, 16, 0, 0, 250001), "2026-12-07T16:00:00.250001Z"),
        (dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "0999-01-02T03:04:05Z"),
        (1_800_000_000, "2027-01-15T08:00:00Z"),
    ],
)  # fmt: skip
def test_a_timestamp_member_is_iso8601_in_utc(value: object, text: str) -> None:
    assert f"<Timestamp>{text}</Timestamp>" in _datapoint_xml({"Timestamp": value})


def test_members_are_written_in_model_order_and_absent_ones_skipped() -> None:
    xml = _datapoint_xml({"Unit": "Percent", "Maximum": 2.0, "Minimum": None, "Average": 1.0})
    assert (
        xml == "<member><Average>1.0</Average><Maximum>2.0</Maximum><Unit>Percent</Unit></member>"
    )
