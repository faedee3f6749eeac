"""Charts drawn on the server as accessible SVG (no JavaScript chart library): a horizontal bar
chart for counts by category and a line chart for a share over periods. Pure functions of their
data: each returns the markup, with a <title> and a <desc> that say in words what it shows, the
labels and values in Vietnamese number format."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from web.kit import number, percent

WIDTH = 400  # the viewBox width; the chart scales to its container (svg.chart in app.css)
LABEL_CHARS = 50  # a label longer than this is cut, in full in its <title>
NO_DATA = "Chưa có số liệu"

_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


@dataclass(frozen=True)
class Point:
    label: str
    share: float | None  # 0..1, None when there was nothing to count


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _frame(title: str, desc: str, height: int, body: str, css_class: str) -> Markup:
    ident = f"chart-{next(_ids)}"
    return Markup(
        f'<svg class="chart {css_class}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>{body}</svg>'
    )


def _no_data(title: str, css_class: str) -> Markup:
    return _frame(title, NO_DATA, 40, f'<text x="0" y="24" class="empty">{NO_DATA}</text>', css_class)


def bar_chart(title: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, the largest first as given, each with its label above it and its value at
    its end; the largest value spans the width."""
    if not bars:
        return _no_data(title, "bars")
    row, bar_height, value_room = 34, 14, 56
    largest = max(bar.value for bar in bars) or 1
    parts = []
    for i, bar in enumerate(bars):
        top = i * row
        length = max(bar.value / largest * (WIDTH - value_room), 2 if bar.value else 0)
        parts.append(
            f"<g><title>{escape(bar.label)}: {number(bar.value)}</title>"
            f'<text x="0" y="{top + 12}">{escape(_short(bar.label))}</text>'
            f'<rect x="0" y="{top + 16}" width="{length:.1f}" height="{bar_height}" rx="3"></rect>'
            f'<text x="{length + 6:.1f}" y="{top + 28}" class="value">{number(bar.value)}</text></g>'
        )
    desc = "; ".join(f"{bar.label}: {number(bar.value)}" for bar in bars)
    return _frame(title, desc, len(bars) * row + 4, "".join(parts), "bars")


def line_chart(title: str, points: Sequence[Point]) -> Markup:
    """A share (0–100 %) over periods: a line through the periods that have a figure, each point
    with its value; a period with nothing to count shows '—' and breaks the line."""
    if not points:
        return _no_data(title, "line")
    height, top, bottom, left, right = 180, 16, 150, 44, 12
    first, last = left + 28, WIDTH - right - 28  # room for a point's value and label either side
    step = (last - first) / (len(points) - 1) if len(points) > 1 else 0

    def x(i: int) -> float:
        return first + i * step if len(points) > 1 else (first + last) / 2

    def y(share: float) -> float:
        return bottom - min(max(share, 0.0), 1.0) * (bottom - top)

    grid = "".join(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(level):.1f}" y2="{y(level):.1f}" class="grid"></line>'
        f'<text x="{left - 4}" y="{y(level) + 4:.1f}" class="axis" text-anchor="end">{percent(level)}</text>'
        for level in (0, 0.5, 1)
    )
    segments: list[list[str]] = []
    current: list[str] = []
    for i, point in enumerate(points):
        if point.share is None:
            segments.append(current)
            current = []
        else:
            current.append(f"{x(i):.1f},{y(point.share):.1f}")
    segments.append(current)
    lines = "".join(f'<polyline points="{" ".join(s)}"></polyline>' for s in segments if len(s) > 1)
    marks = []
    for i, point in enumerate(points):
        label = f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle">{escape(point.label)}</text>'
        if point.share is None:
            marks.append(label + f'<text x="{x(i):.1f}" y="{bottom - 4}" text-anchor="middle" class="value">—</text>')
            continue
        marks.append(
            label + f'<circle cx="{x(i):.1f}" cy="{y(point.share):.1f}" r="4"></circle>'
            f'<text x="{x(i):.1f}" y="{y(point.share) - 8:.1f}" text-anchor="middle" class="value">'
            f"{percent(point.share)}</text>"
        )
    desc = "; ".join(f"{point.label}: {percent(point.share)}" for point in points)
    return _frame(title, desc, height, grid + lines + "".join(marks), "line")
