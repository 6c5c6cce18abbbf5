"""Line charts drawn on the server as SVG text: a pure function of the series, so a graph needs
no script in the browser (the console's policy allows only its own files) and is tested as
text.

Colours are presentation attributes, not `style`: the page's Content-Security-Policy refuses
inline styles. Every text in the SVG is escaped here, since pages insert it as markup.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Distinct on white and for the common kinds of colour blindness (Okabe-Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
THRESHOLD_COLOUR = "#b3261e"
# Time steps a tick may fall on (seconds), so ticks land on whole minutes, hours or days.
TIME_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800)
MAX_TIME_TICKS = 7
VALUE_TICKS = 5
# Points further apart than this many periods have a gap between them (missing data).
GAP_PERIODS = 1.5
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 30, 44
LEGEND_ROW = 18
CHAR_WIDTH = 7  # an estimate of a label character's width at the chart's font size

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_UNIT_SUFFIX = {"Percent": "%", "Bytes": "B", "Bytes/Second": "B/s", "Seconds": "s"}


@dataclass(frozen=True)
class Series:
    label: str
    # (epoch seconds, value), in any order; a value that is not finite counts as missing.
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Chart:
    title: str
    start: float
    end: float
    # The spacing datapoints are expected at (seconds): a longer space is a gap.
    period: float
    series: Sequence[Series]
    # A CloudWatch unit name (Percent, Bytes, Count, ...) or "" for plain numbers.
    unit: str = ""
    threshold: float | None = None
    width: int = 640
    height: int = 260


def line_chart(chart: Chart) -> str:
    """The chart as one <svg> element: axes with time (UTC) and value ticks, a line per
    series broken where data is missing, a legend, and the threshold as a dashed line; with
    no datapoint at all, the frame and a note saying so."""
    runs = [_runs(s.points, chart) for s in chart.series]
    values = [v for series in runs for run in series for _, v in run]
    legend_rows = _legend_rows(chart)
    plot = _Plot(chart, values, legend_rows)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart{"" if values else " empty"}" '
        f'role="img" width="{chart.width}" height="{plot.total_height}" '
        f'viewBox="0 0 {chart.width} {plot.total_height}" aria-label="{escape(chart.title)}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(chart.title)}</title>",
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="600" fill="#1d2327">'
        f"{escape(chart.title)}</text>",
    ]
    out += plot.grid()
    if values:
        for n, series in enumerate(runs):
            out += plot.lines(series, PALETTE[n % len(PALETTE)], n)
        if chart.threshold is not None and math.isfinite(chart.threshold):
            out += plot.threshold(chart.threshold)
    else:
        out.append(
            f'<text class="no-data" x="{plot.x0 + plot.w / 2:.1f}" y="{plot.y0 + plot.h / 2:.1f}" '
            'text-anchor="middle" fill="#6b7580">No data for this range</text>'
        )
    out += _legend(chart, legend_rows, plot.y0 + plot.h + 34)
    out.append("</svg>")
    return "\n".join(out)


def _runs(points: Sequence[tuple[float, float]], chart: Chart) -> list[list[tuple[float, float]]]:
    """The series' points in the chart's time range, in order, cut where one is missing."""
    inside = sorted(
        (float(t), float(v))
        for t, v in points
        if chart.start <= t <= chart.end and math.isfinite(v)
    )
    runs: list[list[tuple[float, float]]] = []
    limit = chart.period * GAP_PERIODS
    for point in inside:
        if runs and point[0] - runs[-1][-1][0] <= limit:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


class _Plot:
    """Where things go: the plotting area and the scales of both axes."""

    def __init__(self, chart: Chart, values: list[float], legend_rows: int) -> None:
        self.chart = chart
        self.x0, self.y0 = LEFT, TOP
        self.w = max(chart.width - LEFT - RIGHT, 10)
        self.h = max(chart.height - TOP - BOTTOM, 10)
        self.total_height = chart.height + legend_rows * LEGEND_ROW
        shown = list(values)
        if chart.threshold is not None and math.isfinite(chart.threshold):
            shown.append(chart.threshold)
        self.ticks = value_ticks(min([0.0, *shown]), max([0.0, *shown]))
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.scale = unit_scale(max(abs(self.low), abs(self.high)), chart.unit)

    def x(self, t: float) -> float:
        span = max(self.chart.end - self.chart.start, 1.0)
        return self.x0 + (t - self.chart.start) / span * self.w

    def y(self, v: float) -> float:
        return self.y0 + self.h - (v - self.low) / (self.high - self.low) * self.h

    def grid(self) -> list[str]:
        bottom, right = self.y0 + self.h, self.x0 + self.w
        out = ['<g class="axes" stroke="#c9ced4" stroke-width="1">']
        for v in self.ticks:
            y = self.y(v)
            out.append(f'<line x1="{self.x0}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>')
        out.append(f'<line x1="{self.x0}" y1="{self.y0}" x2="{self.x0}" y2="{bottom}"/>')
        out.append("</g>")
        out.append('<g class="value-ticks" fill="#4a545e" text-anchor="end">')
        for v in self.ticks:
            label = escape(format_value(v, self.scale, self.ticks))
            out.append(f'<text x="{self.x0 - 6}" y="{self.y(v) + 4:.1f}">{label}</text>')
        out.append("</g>")
        out.append('<g class="time-ticks" fill="#4a545e" text-anchor="middle">')
        for t, label in time_ticks(self.chart.start, self.chart.end):
            x = self.x(t)
            out.append(
                f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                'stroke="#8a96a3"/>'
            )
            out.append(f'<text x="{x:.1f}" y="{bottom + 16}">{escape(label)}</text>')
        out.append("</g>")
        out.append(
            f'<text class="time-axis" x="{right}" y="18" text-anchor="end" '
            'fill="#6b7580">times in UTC</text>'
        )
        return out

    def lines(self, runs: list[list[tuple[float, float]]], colour: str, n: int) -> list[str]:
        out = [f'<g class="series series-{n}" stroke="{colour}" fill="{colour}">']
        for run in runs:
            if len(run) == 1:
                # A datapoint alone between gaps: a dot, or it would not show at all.
                t, v = run[0]
                out.append(f'<circle cx="{self.x(t):.1f}" cy="{self.y(v):.1f}" r="2.5"/>')
                continue
            d = " ".join(
                f"{'M' if i == 0 else 'L'}{self.x(t):.1f},{self.y(v):.1f}"
                for i, (t, v) in enumerate(run)
            )
            out.append(f'<path class="line" d="{d}" fill="none" stroke-width="1.8"/>')
        out.append("</g>")
        return out

    def threshold(self, value: float) -> list[str]:
        y = self.y(value)
        label = escape(f"threshold {format_value(value, self.scale, [value])}")
        return [
            f'<g class="threshold" stroke="{THRESHOLD_COLOUR}" fill="{THRESHOLD_COLOUR}">',
            f'<line x1="{self.x0}" y1="{y:.1f}" x2="{self.x0 + self.w}" y2="{y:.1f}" '
            'stroke-dasharray="6 4" stroke-width="1.5"/>',
            f'<text x="{self.x0 + self.w - 4}" y="{y - 4:.1f}" text-anchor="end" '
            f'stroke="none">{label}</text>',
            "</g>",
        ]


def _legend_rows(chart: Chart) -> int:
    rows, used = 1, 0
    room = chart.width - LEFT - RIGHT
    for series in chart.series:
        wide = _legend_width(series.label)
        if used and used + wide > room:
            rows, used = rows + 1, 0
        used += wide
    return rows if chart.series else 0


def _legend_width(label: str) -> int:
    return 22 + CHAR_WIDTH * len(label) + 16


def _legend(chart: Chart, rows: int, top: float) -> list[str]:
    if not rows:
        return []
    out = ['<g class="legend" fill="#1d2327">']
    x, y = LEFT, top
    room = chart.width - LEFT - RIGHT
    for n, series in enumerate(chart.series):
        wide = _legend_width(series.label)
        if x > LEFT and x - LEFT + wide > room:
            x, y = LEFT, y + LEGEND_ROW
        colour = PALETTE[n % len(PALETTE)]
        out.append(
            f'<rect x="{x}" y="{y - 9:.1f}" width="14" height="4" fill="{colour}"/>'
            f'<text x="{x + 20}" y="{y:.1f}">{escape(series.label)}</text>'
        )
        x += wide
    out.append("</g>")
    return out


def nice_step(rough: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `rough`."""
    if rough <= 0 or not math.isfinite(rough):
        return 1.0
    power = 10.0 ** math.floor(math.log10(rough))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= rough * (1 - 1e-9):
            return m * power
    return 10 * power


def value_ticks(low: float, high: float) -> list[float]:
    """Round values from at or below `low` to at or above `high` (about VALUE_TICKS steps);
    a flat range gets a unit's height so its line is drawn on a scale."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    step = nice_step((high - low) / VALUE_TICKS)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    count = round((last - first) / step)
    return [round(first + i * step, 12) for i in range(count + 1)]


def unit_scale(biggest: float, unit: str) -> tuple[float, str]:
    """The divisor and suffix a value is shown with: SI prefixes for bytes and counts (as the
    AWS console shows them), the unit's sign for percentages."""
    suffix = _UNIT_SUFFIX.get(unit, "")
    if unit not in ("Percent", "Seconds"):
        for size, prefix in _SI:
            if biggest >= size:
                return size, f" {prefix}{suffix}" if suffix else prefix
    if unit == "Percent":
        return 1.0, "%"
    return 1.0, f" {suffix}" if suffix else ""


def format_value(value: float, scale: tuple[float, str], ticks: Sequence[float]) -> str:
    """`value` in the scale, with as many decimals as the ticks' step needs."""
    size, suffix = scale
    step = min((abs(b - a) for a, b in itertools.pairwise(ticks) if b != a), default=0)
    scaled_step = step / size if step else abs(value) / size
    digits = 0
    if scaled_step and scaled_step < 1:
        digits = min(6, math.ceil(-math.log10(scaled_step) - 1e-9) + 1)
    elif scaled_step and scaled_step % 1:
        digits = 1
    text = f"{value / size:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text + suffix


def time_ticks(start: float, end: float) -> list[tuple[float, str]]:
    """Ticks on whole minutes, hours or days (UTC) across the range, with their labels."""
    span = max(end - start, 1.0)
    step = next((s for s in TIME_STEPS if span / s <= MAX_TIME_TICKS), TIME_STEPS[-1])
    fmt = "%b %d" if step >= 86400 else ("%b %d %H:%M" if span > 86400 else "%H:%M")
    first = math.ceil(start / step) * step
    out = []
    t = first
    while t <= end:
        out.append((float(t), time.strftime(fmt, time.gmtime(t))))
        t += step
    return out
