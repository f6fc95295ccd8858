"""Small server-rendered SVG bar charts for the dashboard and the PDF reports (no JavaScript, no library).

Each row is named as people name it (the centre's or service's name in the page's language, shortened with "…" and
given in full in the row's ``<title>``), never by its code. Every series has its own lane tall enough for its value
label, so labels never overlap bars or each other; a zero is drawn as zero (a hairline at the axis and "0"), a
missing value as "—". Bars grow from the right in RTL pages (``rtl=True``) so they read in the page's direction.
Presentation attributes only (no ``style``), which the pages' Content-Security-Policy allows; browsers and
WeasyPrint both shape the Arabic names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

LANE = 16
"""Height of one series' bar and its value label."""
LABEL_WIDTH = 170
VALUE_WIDTH = 64
LABEL_CHARS = 26
COLOURS = ("#1f6f5c", "#8a6d00")


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[float | None, ...]
    """One value per series (None: no data, drawn as an empty row with "—")."""
    texts: tuple[str, ...]
    """How each value is printed next to its bar."""


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def bar_chart(bars: Sequence[Bar], *, maximum: float | None = None, width: int = 560, rtl: bool = True,
              title: str = "") -> str:
    """A horizontal bar chart: one row per bar, one lane per series, the printed value beside its bar."""
    series = max((len(b.values) for b in bars), default=1)
    top = max([v for b in bars for v in b.values if v is not None] + [maximum or 0.0, 0.0])
    scale_max = top if top > 0 else 1.0
    plot = width - LABEL_WIDTH - VALUE_WIDTH
    row = series * LANE + 10
    height = max(1, len(bars)) * row + 8
    axis_x = width - LABEL_WIDTH if rtl else LABEL_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" font-family="Noto Sans Arabic, DejaVu Sans, '
        f'sans-serif" font-size="12">',
        f'<line x1="{axis_x}" y1="2" x2="{axis_x}" y2="{height - 2}" stroke="#9aa5b1" stroke-width="1"/>',
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * row
        label_x = width - 4 if rtl else 4
        anchor = "end" if rtl else "start"
        parts.append(f'<g><title>{escape(bar.label)}</title><text x="{label_x}" y="{y + row / 2 + 4:.1f}" '
                     f'text-anchor="{anchor}" fill="#222">{escape(_short(bar.label))}</text></g>')
        for j, value in enumerate(bar.values):
            by = y + 5 + j * LANE
            length = 0.0 if value is None else max(0.0, plot * value / scale_max)
            if rtl:
                x = axis_x - length
                text_x, text_anchor = x - 4, "end"
            else:
                x = axis_x
                text_x, text_anchor = x + length + 4, "start"
            parts.append(f'<rect x="{x:.1f}" y="{by:.1f}" width="{length:.1f}" height="{LANE - 3}" '
                         f'fill="{COLOURS[j % len(COLOURS)]}" data-value="{"" if value is None else value}"/>')
            text = bar.texts[j] if j < len(bar.texts) else ""
            parts.append(f'<text x="{text_x:.1f}" y="{by + LANE - 5:.1f}" text-anchor="{text_anchor}" '
                         f'fill="#333" font-size="11" direction="ltr">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} d"


def dashboard_charts(figures: object, *, rtl: bool = True) -> dict[str, str]:
    """The three charts of the dashboard and the reports, keyed by name, for a :class:`governance.figures.Figures`.

    Rows are named in Arabic on right-to-left pages and in English otherwise.
    """
    from governance.figures import Figures

    assert isinstance(figures, Figures)

    def name(r: Any) -> str:
        return str(r.name_ar if rtl else r.name_en or r.name_ar)

    return {
        "on_time_by_centre": bar_chart(
            [Bar(name(r), (r.stats.on_time_share,), (percent(r.stats.on_time_share),)) for r in figures.by_centre],
            maximum=1.0, rtl=rtl, title="on-time share by centre"),
        "volume_by_service": bar_chart(
            [Bar(name(r), (float(r.stats.received), float(r.stats.completed)),
                 (str(r.stats.received), str(r.stats.completed))) for r in figures.by_service],
            rtl=rtl, title="received and completed by service"),
        "turnaround_by_service": bar_chart(
            [Bar(name(r), (r.stats.median_days, r.stats.p90_days), (days(r.stats.median_days), days(r.stats.p90_days)))
             for r in figures.by_service],
            rtl=rtl, title="median and 90th percentile turnaround by service"),
    }
