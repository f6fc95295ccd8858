"""Small server-rendered SVG bar charts for the dashboard and the PDF reports (no JavaScript, no library).

Labels inside the charts are codes and numbers only (centre and service codes, percentages, days): Latin text that
needs no shaping, so the same SVG renders identically in a browser and in WeasyPrint. The Arabic titles and legends
live in the surrounding HTML, where the browser or WeasyPrint shapes them. Bars grow from the right in RTL pages
(``rtl=True``) so they read in the page's direction. Presentation attributes only (no ``style``), which the pages'
Content-Security-Policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

ROW = 26
LABEL_WIDTH = 90
VALUE_WIDTH = 70
COLOURS = ("#1f6f5c", "#c9a227")


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[float | None, ...]
    """One value per series (None: no data, drawn as an empty row with "—")."""
    texts: tuple[str, ...]
    """How each value is printed next to its bar."""


def bar_chart(bars: Sequence[Bar], *, maximum: float | None = None, width: int = 560, rtl: bool = True,
              title: str = "") -> str:
    """A horizontal bar chart: one row per bar, one thin bar per series, the printed value beside it."""
    series = max((len(b.values) for b in bars), default=1)
    top = max([v for b in bars for v in b.values if v is not None] + [maximum or 0.0, 0.0])
    scale_max = top if top > 0 else 1.0
    plot = width - LABEL_WIDTH - VALUE_WIDTH
    height = max(1, len(bars)) * ROW + 8
    thickness = (ROW - 8) / series
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" font-family="DejaVu Sans, sans-serif" '
        f'font-size="12">'
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * ROW
        label_x = width - 4 if rtl else 4
        anchor = "end" if rtl else "start"
        parts.append(f'<text x="{label_x}" y="{y + ROW / 2 + 4:.1f}" text-anchor="{anchor}" fill="#222" '
                     f'direction="ltr" unicode-bidi="embed">{escape(bar.label)}</text>')
        for j, value in enumerate(bar.values):
            by = y + 2 + j * thickness
            length = 0.0 if value is None else plot * value / scale_max
            if rtl:
                x = width - LABEL_WIDTH - length
                text_x, text_anchor = x - 4, "end"
            else:
                x = LABEL_WIDTH
                text_x, text_anchor = x + length + 4, "start"
            parts.append(f'<rect x="{x:.1f}" y="{by:.1f}" width="{length:.1f}" height="{thickness - 1:.1f}" '
                         f'fill="{COLOURS[j % len(COLOURS)]}" data-value="{"" if value is None else value}"/>')
            text = bar.texts[j] if j < len(bar.texts) else ""
            parts.append(f'<text x="{text_x:.1f}" y="{by + thickness - 2:.1f}" text-anchor="{text_anchor}" '
                         f'fill="#444" font-size="10">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} d"


def dashboard_charts(figures: object, *, rtl: bool = True) -> dict[str, str]:
    """The three charts of the dashboard and the reports, keyed by name, for a :class:`governance.figures.Figures`."""
    from governance.figures import Figures

    assert isinstance(figures, Figures)
    return {
        "on_time_by_centre": bar_chart(
            [Bar(r.key, (r.stats.on_time_share,), (percent(r.stats.on_time_share),)) for r in figures.by_centre],
            maximum=1.0, rtl=rtl, title="on-time share by centre"),
        "volume_by_service": bar_chart(
            [Bar(r.key, (float(r.stats.received), float(r.stats.completed)),
                 (str(r.stats.received), str(r.stats.completed))) for r in figures.by_service],
            rtl=rtl, title="received and completed by service"),
        "turnaround_by_service": bar_chart(
            [Bar(r.key, (r.stats.median_days, r.stats.p90_days), (days(r.stats.median_days), days(r.stats.p90_days)))
             for r in figures.by_service],
            rtl=rtl, title="median and 90th percentile turnaround by service"),
    }
