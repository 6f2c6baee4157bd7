"""An SVG dot-and-whisker chart: each unit's SIPAS with its 95% interval as an error bar.

Drawn by hand (no plotting library): units top to bottom by rank, a dot at the value,
a horizontal bar from the lower to the upper bound, the rounded value at the right. The
axis starts at a round number below the lowest bound so differences stay visible; the
axis range is printed, so the zoom cannot mislead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

ROW = 20
LABEL_WIDTH = 190
VALUE_WIDTH = 52
TOP = 26
BOTTOM = 8
FONT = "DejaVu Sans"


@dataclass(frozen=True)
class Bar:
    """One unit on the chart."""

    name: str
    value: float
    low: float
    high: float
    display: str


def _axis(bars: list[Bar]) -> tuple[float, float]:
    lowest = min(b.low for b in bars)
    start = max(0.0, math.floor((lowest - 2) / 10) * 10)
    return start, 100.0


def error_bar_chart(bars: list[Bar], *, width: int = 640, caption: str = "") -> str:
    """The chart as an inline SVG document (empty string when there is nothing to draw)."""
    if not bars:
        return ""
    start, end = _axis(bars)
    plot_left, plot_right = LABEL_WIDTH, width - VALUE_WIDTH
    height = TOP + ROW * len(bars) + BOTTOM

    def x(value: float) -> float:
        return plot_left + (value - start) / (end - start) * (plot_right - plot_left)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10" role="img">'
        ),
        f"<title>{escape(caption)}</title>",
    ]
    step = 5 if end - start <= 40 else 10  # noqa: PLR2004
    tick = start
    while tick <= end + 1e-9:
        px = x(tick)
        parts.append(
            f'<line x1="{px:.1f}" y1="{TOP - 4}" x2="{px:.1f}" y2="{height - BOTTOM}" '
            'stroke="#d0d7de" stroke-width="0.6"/>'
            f'<text x="{px:.1f}" y="{TOP - 8}" text-anchor="middle" fill="#57606a">'
            f"{tick:g}</text>"
        )
        tick += step
    for i, bar in enumerate(bars):
        cy = TOP + ROW * i + ROW / 2
        parts.append(
            f'<text x="{plot_left - 6}" y="{cy + 3.5:.1f}" text-anchor="end">'
            f"{escape(bar.name)}</text>"
            f'<line x1="{x(bar.low):.1f}" y1="{cy:.1f}" x2="{x(bar.high):.1f}" y2="{cy:.1f}" '
            'stroke="#0969da" stroke-width="2"/>'
            f'<line x1="{x(bar.low):.1f}" y1="{cy - 4:.1f}" x2="{x(bar.low):.1f}" '
            f'y2="{cy + 4:.1f}" stroke="#0969da" stroke-width="1.2"/>'
            f'<line x1="{x(bar.high):.1f}" y1="{cy - 4:.1f}" x2="{x(bar.high):.1f}" '
            f'y2="{cy + 4:.1f}" stroke="#0969da" stroke-width="1.2"/>'
            f'<circle cx="{x(bar.value):.1f}" cy="{cy:.1f}" r="3.6" fill="#cf222e"/>'
            f'<text x="{plot_right + 6}" y="{cy + 3.5:.1f}">{escape(bar.display)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
