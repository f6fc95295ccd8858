"""Periodic monitoring reports: monthly, quarterly and annual, as an Arabic PDF (with charts), CSV and XLSX.

:func:`generate` computes the period's figures (:mod:`governance.figures`, no filters: the whole country), renders the
three files, puts them into the object store *first* and then adds one :class:`~archive.models.GovernanceReport` row
per file to the caller's transaction (flushed, not committed: the intake write order — a crash in between leaves only
unreferenced blobs for the sweeper, whose ``KEY_COLUMNS`` list ``GovernanceReport.sha256``).

:func:`generate_due` is the scheduled job's work: for each kind, the last *complete* period (last month, last quarter,
last year, in Cairo) gets its files unless a scheduled run already made them. On-demand generation (a monitor's
request) always makes a new set; the newest one of a period is the one shown first.

The PDF is HTML and CSS through WeasyPrint, which shapes Arabic (HarfBuzz) and applies the bidi algorithm, as for
the receipt and the permit; the charts are the dashboard's inline SVG (codes and numbers only). The CSV is UTF-8 with
a byte-order mark, so spreadsheet programs read the Arabic names; the XLSX has one right-to-left sheet per table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session
from weasyprint import HTML

from archive.labels import APPLICATION_STATUS, DECISIONS, REPORT_KINDS
from archive.models import GovernanceReport, User, utcnow
from archive.store import ObjectStore
from governance.charts import dashboard_charts
from governance.figures import CAIRO, Figures, Period, compute, month_period, quarter_period, year_period
from intake.national_id import GOVERNORATES

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

KINDS = ("monthly", "quarterly", "annual")
FORMATS = ("pdf", "csv", "xlsx")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv",  # the web adds "; charset=utf-8" once
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
KIND_AR = {kind: names[0] for kind, names in REPORT_KINDS.items()}
MONTHS_AR = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()
CSV_COLUMNS = ("section", "key", "name_ar", "name_en", "received", "completed", "on_time", "on_time_share", "overdue",
               "median_days", "p90_days", "mean_days", "days_late", "decisions")


@dataclass(frozen=True)
class ReportFile:
    file_format: str
    data: bytes


def period_for(kind: str, year: int, number: int = 1) -> Period:
    """The period of a report: ``number`` is the month (1-12) or the quarter (1-4); ignored for annual reports."""
    if kind == "monthly":
        if not 1 <= number <= 12:
            raise ValueError(f"A month is 1 to 12, not {number}.")
        return month_period(year, number)
    if kind == "quarterly":
        return quarter_period(year, number)
    if kind == "annual":
        return year_period(year)
    raise ValueError(f"Unknown report kind {kind!r}; use one of {', '.join(KINDS)}.")


def period_title(kind: str, period: Period) -> str:
    """``نوفمبر 2026``, ``الربع 4 من 2026``, ``عام 2026``."""
    if kind == "monthly":
        return f"{MONTHS_AR[period.start.month - 1]} {period.start.year}"
    if kind == "quarterly":
        return f"الربع {(period.start.month - 1) // 3 + 1} من {period.start.year}"
    return f"عام {period.start.year}"


def filename(kind: str, period: Period, file_format: str) -> str:
    return f"sijill-{kind}-{period.start.isoformat()}.{file_format}"


def render(figures: Figures, kind: str, *, generated_at: datetime) -> list[ReportFile]:
    """The PDF, CSV and XLSX of ``figures`` (pure: nothing stored)."""
    return [
        ReportFile("pdf", render_pdf(figures, kind, generated_at=generated_at)),
        ReportFile("csv", render_csv(figures)),
        ReportFile("xlsx", render_xlsx(figures, kind)),
    ]


def render_pdf(figures: Figures, kind: str, *, generated_at: datetime) -> bytes:
    charts = {k: Markup(v) for k, v in dashboard_charts(figures, rtl=True).items()}  # noqa: S704 - our own SVG
    html = _env.get_template("report.html").render(
        f=figures, kind_ar=KIND_AR[kind], title=period_title(kind, figures.period), charts=charts,
        generated=_local(generated_at), as_of=_local(figures.as_of), governorates=GOVERNORATES, local=_local,
        period_from=figures.period.start.isoformat(),
        period_to=(figures.period.end - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf


def csv_rows(figures: Figures) -> list[dict[str, Any]]:
    """Every figure as one flat table (the CSV and the XLSX summary sheet)."""
    rows: list[dict[str, Any]] = []

    def stats_row(section: str, key: str, name_ar: str, name_en: str, s: Any) -> dict[str, Any]:
        return {"section": section, "key": key, "name_ar": name_ar, "name_en": name_en, "received": s.received,
                "completed": s.completed, "on_time": s.on_time, "on_time_share": _round(s.on_time_share),
                "overdue": s.overdue, "median_days": _round(s.median_days), "p90_days": _round(s.p90_days)}

    rows.append(stats_row("total", "", "الإجمالي", "Total", figures.total))
    for section, groups in (("governorate", figures.by_governorate), ("centre", figures.by_centre),
                            ("service", figures.by_service)):
        for g in groups:
            name_ar, name_en = (GOVERNORATES.get(g.key, (g.name_ar, g.name_en)) if section == "governorate"
                                else (g.name_ar, g.name_en))
            rows.append(stats_row(section, g.key, name_ar, name_en, g.stats))
    for o in figures.overdue:
        rows.append({"section": "overdue", "key": o.tracking_number, "name_ar": o.service_ar, "name_en": o.centre_code,
                     "days_late": o.days_late})
    for st in figures.steps:
        rows.append({"section": "step", "key": st.step, "name_ar": st.title_ar, "name_en": st.title_en,
                     "completed": st.decided, "median_days": _round(st.median_days), "p90_days": _round(st.p90_days),
                     "mean_days": _round(st.mean_days)})
    for off in figures.officials:
        rows.append({"section": "official", "key": off.username, "name_ar": off.full_name, "name_en": "",
                     "median_days": _round(off.median_step_days), "decisions": off.decisions})
    return rows


def render_csv(figures: Figures) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(figures):
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in CSV_COLUMNS})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


SECTIONS_AR = {"total": "الإجمالي", "governorate": "محافظة", "centre": "مركز", "service": "خدمة"}
DAYS_FORMAT, SHARE_FORMAT, COUNT_FORMAT, DATE_FORMAT = "0.0", "0%", "0", "dd/mm/yyyy"


def render_xlsx(figures: Figures, kind: str) -> bytes:
    """One right-to-left sheet per table, Arabic sheet names and headers, column widths and number formats.

    Days are numbers with one decimal, shares percentages, dates real dates shown dd/mm/yyyy; codes (tracking
    numbers, centre and service codes) stay in their own column for sorting and look-ups.
    """
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "الملخص"
    summary_columns = [("القسم", None), ("الرمز", None), ("الاسم", None), ("Name", None), ("المستلم", COUNT_FORMAT),
                       ("المنجز", COUNT_FORMAT), ("أُنجز في المدة القانونية", COUNT_FORMAT),
                       ("نسبة الإنجاز في المدة", SHARE_FORMAT), ("المتأخر المفتوح", COUNT_FORMAT),
                       ("وسيط مدة الإنجاز (يوم)", DAYS_FORMAT), ("المئين 90 (يوم)", DAYS_FORMAT)]
    summary_rows = [
        [SECTIONS_AR[r["section"]], r["key"], r["name_ar"], r["name_en"], r["received"], r["completed"], r["on_time"],
         r["on_time_share"], r["overdue"], r["median_days"], r["p90_days"]]
        for r in csv_rows(figures) if r["section"] in SECTIONS_AR
    ]
    _fill(summary, summary_columns, summary_rows)
    actions = sorted({a for o in figures.officials for a in o.by_action})
    sheets: list[tuple[str, list[tuple[str, str | None]], Iterable[list[Any]]]] = [
        ("المتأخرات", [("رقم المتابعة", None), ("المركز", None), ("الخدمة", None), ("الحالة", None),
                       ("موعد الإنجاز القانوني", DATE_FORMAT), ("أيام التأخير", COUNT_FORMAT)],
         ([o.tracking_number, o.centre_code, o.service_code, APPLICATION_STATUS.get(o.status, (o.status,))[0],
           o.due_at.astimezone(CAIRO).date(), o.days_late] for o in figures.overdue)),
        ("الخطوات", [("الرمز", None), ("الخطوة", None), ("عدد القرارات", COUNT_FORMAT), ("المتوسط (يوم)", DAYS_FORMAT),
                     ("الوسيط (يوم)", DAYS_FORMAT), ("المئين 90 (يوم)", DAYS_FORMAT)],
         ([s.step, s.title_ar, s.decided, _round(s.mean_days), _round(s.median_days), _round(s.p90_days)]
          for s in figures.steps)),
        ("الموظفون", [("اسم المستخدم", None), ("الاسم", None), ("عدد القرارات", COUNT_FORMAT),
                      *[(DECISIONS.get(a, (a,))[0], COUNT_FORMAT) for a in actions],
                      ("وسيط زمن الخطوة (يوم)", DAYS_FORMAT)],
         ([o.username, o.full_name, o.decisions, *[o.by_action.get(a, 0) for a in actions],
           _round(o.median_step_days)] for o in figures.officials)),
    ]
    for title, columns, rows in sheets:
        _fill(book.create_sheet(title), columns, list(rows))
    book.properties.title = f"تقرير سجل {KIND_AR[kind]} {figures.period.start.isoformat()}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def generate(
    session: Session, store: ObjectStore, kind: str, period: Period, *, by: User | None = None,
    now: datetime | None = None,
) -> list[GovernanceReport]:
    """Compute, render, store, then record one row per file (flushed; the caller commits)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown report kind {kind!r}; use one of {', '.join(KINDS)}.")
    now = now or utcnow()
    figures = compute(session, period, now=now, governorate_names=GOVERNORATES)
    files = render(figures, kind, generated_at=now)
    keys = [(f, store.put(f.data)) for f in files]  # the blobs before the rows that point at them
    rows = [
        GovernanceReport(kind=kind, period_start=period.start, period_end=period.end, file_format=f.file_format,
                         sha256=key, size_bytes=len(f.data), generated_at=now,
                         generated_by_id=by.id if by is not None else None)
        for f, key in keys
    ]
    session.add_all(rows)
    session.flush()
    return rows


def last_complete_periods(today: date) -> dict[str, Period]:
    """The most recent finished month, quarter and year before ``today`` (a Cairo date)."""
    previous_month = today.replace(day=1) - timedelta(days=1)
    this_quarter = (today.month - 1) // 3 + 1
    q_year, q = (today.year, this_quarter - 1) if this_quarter > 1 else (today.year - 1, 4)
    return {
        "monthly": month_period(previous_month.year, previous_month.month),
        "quarterly": quarter_period(q_year, q),
        "annual": year_period(today.year - 1),
    }


def generate_due(session: Session, store: ObjectStore, *, now: datetime | None = None) -> list[GovernanceReport]:
    """The scheduled job: the last complete month, quarter and year get their files once (idempotent)."""
    now = now or utcnow()
    made: list[GovernanceReport] = []
    for kind, period in last_complete_periods(now.astimezone(CAIRO).date()).items():
        exists = session.scalar(
            select(GovernanceReport.id).where(GovernanceReport.kind == kind,
                                              GovernanceReport.period_start == period.start,
                                              GovernanceReport.generated_by_id.is_(None)).limit(1)
        )  # fmt: skip
        if exists is None:
            made += generate(session, store, kind, period, now=now)
    return made


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _local(value: datetime) -> str:
    return value.astimezone(CAIRO).strftime("%Y-%m-%d %H:%M")


def _fill(sheet: Worksheet, columns: list[tuple[str, str | None]], rows: list[list[Any]]) -> None:
    """Header row (bold, shaded, frozen), the rows, a number format per column and widths that fit the text."""
    sheet.sheet_view.rightToLeft = True
    sheet.append([name for name, _ in columns])
    for values in rows:
        sheet.append(values)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E3EFE9")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    sheet.freeze_panes = "A2"
    for index, (name, number_format) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        width = len(name)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if number_format:
                cell.number_format = number_format
            width = max(width, len(str(cell.value)) if cell.value is not None else 0)
        sheet.column_dimensions[letter].width = min(60, width + 4)
