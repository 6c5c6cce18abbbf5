"""The console's SVG line charts as text: parsed as XML, their lines, gaps, ticks, threshold,
legend and empty state read back from the elements."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from mallee.console.svg_chart import (
    Chart,
    Series,
    format_value,
    line_chart,
    nice_step,
    time_ticks,
    unit_scale,
    value_ticks,
)

pytestmark = pytest.mark.nodb

NS = {"s": "http://www.w3.org/2000/svg"}
HOUR = 3600.0
# 2026-12-07 12:00:00 UTC
NOON = 1796644800.0


def _parsed(chart: Chart) -> ElementTree.Element:
    return ElementTree.fromstring(line_chart(chart))


def _texts(root: ElementTree.Element, group: str) -> list[str]:
    return [t.text or "" for t in root.findall(f".//s:g[@class='{group}']/s:text", NS)]


def _path_points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", d)]


def test_a_series_is_one_line_across_the_plot_with_its_ticks_and_legend() -> None:
    points = [(NOON + m * 60, float(m)) for m in range(61)]
    root = _parsed(
        Chart("CPU utilization", NOON, NOON + HOUR, 60, [Series("cpu", points)], "Percent")
    )
    assert root.get("class") == "chart" and root.get("role") == "img"
    assert root.findtext("s:title", namespaces=NS) == "CPU utilization"
    [path] = root.findall(".//s:g[@class='series series-0']/s:path", NS)
    drawn = _path_points(path.get("d", ""))
    assert len(drawn) == 61
    xs = [x for x, _ in drawn]
    ys = [y for _, y in drawn]
    # Left to right in time, upward as the value grows (SVG's y points down).
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)
    assert xs[0] == 70.0 and xs[-1] == 624.0
    # Value ticks: round numbers from 0 past the largest value, in the unit's sign.
    assert _texts(root, "value-ticks") == ["0%", "20%", "40%", "60%"]
    # Time ticks on whole ten minutes, in UTC.
    assert _texts(root, "time-ticks") == [
        "12:00", "12:10", "12:20", "12:30", "12:40", "12:50", "13:00"
    ]  # fmt: skip
    assert _texts(root, "legend") == ["cpu"]
    assert root.find(".//s:text[@class='no-data']", NS) is None


def test_missing_data_breaks_the_line_and_a_lone_point_is_a_dot() -> None:
    minutes = [*range(0, 10), 20, *range(30, 40)]
    points = [(NOON + m * 60, 5.0) for m in minutes]
    # Outside the range, or not a number: not drawn.
    points += [(NOON - 600, 1.0), (NOON + 45 * 60, float("nan"))]
    root = _parsed(Chart("net", NOON, NOON + HOUR, 60, [Series("in", points)], "Bytes"))
    group = root.find(".//s:g[@class='series series-0']", NS)
    assert group is not None
    paths = group.findall("s:path", NS)
    assert [len(_path_points(p.get("d", ""))) for p in paths] == [10, 10]
    [dot] = group.findall("s:circle", NS)
    assert float(dot.get("cx", 0)) == pytest.approx(70 + 554 * 20 / 60, abs=0.1)


def test_a_basic_monitoring_series_is_not_cut_at_its_own_period() -> None:
    points = [(NOON + m * 300, float(m)) for m in range(13)]
    root = _parsed(Chart("cpu", NOON, NOON + HOUR, 300, [Series("cpu", points)]))
    assert len(root.findall(".//s:path", NS)) == 1


def test_several_series_get_their_own_colour_and_the_threshold_is_dashed() -> None:
    a = Series("NetworkIn", [(NOON + m * 60, 2_000_000.0) for m in range(60)])
    b = Series("NetworkOut", [(NOON + m * 60, 500_000.0) for m in range(60)])
    root = _parsed(Chart("net", NOON, NOON + HOUR, 60, [a, b], "Bytes", threshold=3_000_000))
    first = root.find(".//s:g[@class='series series-0']", NS)
    second = root.find(".//s:g[@class='series series-1']", NS)
    assert first is not None and second is not None
    assert first.get("stroke") != second.get("stroke")
    threshold = root.find(".//s:g[@class='threshold']", NS)
    assert threshold is not None
    line = threshold.find("s:line", NS)
    assert line is not None and line.get("stroke-dasharray")
    assert threshold.findtext("s:text", namespaces=NS) == "threshold 3 MB"
    # The scale reaches the threshold though no value does.
    ticks = _texts(root, "value-ticks")
    assert ticks == ["0 MB", "1 MB", "2 MB", "3 MB"]
    assert _texts(root, "legend") == ["NetworkIn", "NetworkOut"]


def test_no_data_draws_the_frame_and_says_so() -> None:
    root = _parsed(Chart("disk", NOON, NOON + HOUR, 60, [Series("read", [])], "Bytes"))
    assert root.get("class") == "chart empty"
    assert root.findtext(".//s:text[@class='no-data']", namespaces=NS) == "No data for this range"
    assert not root.findall(".//s:path", NS)
    assert _texts(root, "time-ticks")[0] == "12:00"


def test_every_text_is_escaped() -> None:
    evil = "<script>alert(1)</script>&"
    text = line_chart(Chart(evil, NOON, NOON + HOUR, 60, [Series(evil, [(NOON, 1.0)])]))
    assert "<script>" not in text
    root = ElementTree.fromstring(text)
    assert root.findtext("s:title", namespaces=NS) == evil
    assert root.get("aria-label") == evil


def test_a_flat_line_is_drawn_on_a_scale() -> None:
    points = [(NOON + m * 60, 0.0) for m in range(10)]
    root = _parsed(Chart("cpu", NOON, NOON + HOUR, 60, [Series("cpu", points)], "Percent"))
    [path] = root.findall(".//s:path", NS)
    assert {y for _, y in _path_points(path.get("d", ""))} == {216.0}  # the bottom
    assert _texts(root, "value-ticks")[-1] == "1%"


def test_ticks_and_numbers() -> None:
    assert nice_step(0.7) == 1 and nice_step(1.1) == 2 and nice_step(2.2) == 2.5
    assert nice_step(3) == 5 and nice_step(7) == 10 and nice_step(130) == 200
    assert value_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert value_ticks(-3, 3) == [-4, -2, 0, 2, 4]
    assert value_ticks(5, 5) == [5, 6, 7, 8, 9, 10]
    assert unit_scale(2_500_000, "Bytes") == (1e6, " MB")
    assert unit_scale(900, "Bytes") == (1.0, " B")
    assert unit_scale(12_000, "Count") == (1e3, "k")
    assert unit_scale(250, "Percent") == (1.0, "%")
    assert format_value(2.5e6, (1e6, " MB"), [0, 5e5, 1e6]) == "2.5 MB"
    assert format_value(0.25, (1.0, ""), [0, 0.25, 0.5]) == "0.25"
    assert format_value(40, (1.0, "%"), [0, 20, 40]) == "40%"
    # A week: a tick a day, labelled by date; a day: every few hours.
    week = time_ticks(NOON, NOON + 7 * 86400)
    assert len(week) == 7 and week[0][1] == "Dec 08"
    assert [label for _, label in time_ticks(NOON, NOON + 86400)] == [
        "12:00", "18:00", "00:00", "06:00", "12:00"
    ]  # fmt: skip
