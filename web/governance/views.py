"""The governance dashboard (``/governance``): figures per governorate, centre and service for a period, with charts.

Thin: the query string is parsed into a :class:`governance.figures.Period` and :class:`~governance.figures.Filters`,
:func:`governance.figures.compute` does the work, the template renders it. Bad dates are said so (400) and the
default period (this month so far) is shown instead.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from archive.models import Centre, GovernanceReport, Service, User
from archive.roles import Permission
from governance.charts import dashboard_charts
from governance.figures import Filters, Period, compute
from governance.reports import KINDS, MEDIA_TYPES, generate, period_for, period_title
from governance.reports import filename as report_filename
from intake.dates import INPUT_PATTERN as DATE_INPUT_PATTERN
from intake.dates import parse_day, show_day
from intake.national_id import GOVERNORATES, today_in_egypt
from web.errors import N_
from web.intake.common import is_arabic, pick, send_object
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime

bp = Blueprint("governance", __name__)

BAD_PERIOD = ("التاريخ غير صحيح أو نهاية المدة قبل بدايتها؛ عُرض الشهر الحالي.",
              "The dates are not valid or the period ends before it starts; this month is shown.")


def parse_period(args: dict[str, str], today: date) -> tuple[Period, bool]:
    """The period of ``from``/``to`` (inclusive Cairo dates), or this month so far; and whether the input was bad."""
    default = Period(today.replace(day=1), today + timedelta(days=1))
    raw_from, raw_to = args.get("from", "").strip(), args.get("to", "").strip()
    if not raw_from and not raw_to:
        return default, False
    try:
        start = parse_day(raw_from) if raw_from else default.start
        end = parse_day(raw_to) + timedelta(days=1) if raw_to else default.end
        return Period(start, end), False
    except ValueError:
        return default, True


def presets(today: date) -> list[tuple[str, str, str]]:
    """(label msgid, from, to) for the quick period links."""
    month_start = today.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return [
        (N_("هذا الشهر"), month_start.isoformat(), today.isoformat()),
        (N_("الشهر الماضي"), last_month_end.replace(day=1).isoformat(), last_month_end.isoformat()),
        (N_("هذا الربع"), quarter_start.isoformat(), today.isoformat()),
        (N_("هذا العام"), date(today.year, 1, 1).isoformat(), today.isoformat()),
    ]


@bp.route("/governance")
@requires(Permission.REPORTS_VIEW)
def dashboard() -> ResponseReturnValue:
    session = db_session()
    today = today_in_egypt()
    args = {k: v for k, v in request.args.items()}
    period, bad = parse_period(args, today)
    filters = Filters(
        governorate=args.get("governorate") or None,
        centre=args.get("centre") or None,
        service=args.get("service") or None,
    )
    figures = compute(session, period, filters, governorate_names=GOVERNORATES)
    charts = {k: Markup(v) for k, v in dashboard_charts(figures, rtl=is_arabic()).items()}  # noqa: S704 - our own SVG
    centres = session.scalars(select(Centre).order_by(Centre.code)).all()
    services = session.scalars(select(Service).order_by(Service.code)).all()
    governorates = sorted({c.governorate_code for c in centres})
    body = render_template(
        "governance/dashboard.html", f=figures, charts=charts, error=BAD_PERIOD if bad else None,
        period_from=show_day(period.start), period_to=show_day(period.end - timedelta(days=1)),
        date_pattern=DATE_INPUT_PATTERN,
        presets=presets(today), centres=centres, services=services, governorates=governorates,
        governorate_names=GOVERNORATES, args=args,
        centre_names={c.code: pick(c.name_ar, c.name_en) for c in centres},
        service_names={s.code: pick(s.name_ar, s.name_en) for s in services},
    )  # fmt: skip
    return body, 400 if bad else 200


# --- periodic reports -----------------------------------------------------------------------------------------


@bp.route("/governance/reports")
@requires(Permission.REPORTS_VIEW)
def reports() -> ResponseReturnValue:
    rows = db_session().scalars(
        select(GovernanceReport).order_by(GovernanceReport.period_start.desc(), GovernanceReport.kind,
                                          GovernanceReport.generated_at.desc(), GovernanceReport.id)
    ).all()
    today = today_in_egypt()
    last_month = today.replace(day=1) - timedelta(days=1)  # the last finished period the form suggests
    return render_template("governance/reports.html", rows=rows, kinds=KINDS, this_year=today.year,
                           default_year=last_month.year, default_number=last_month.month,
                           titles={r.id: period_title(r.kind, Period(r.period_start, r.period_end)) for r in rows})


@bp.route("/governance/reports", methods=["POST"])
@requires(Permission.REPORTS_VIEW)
def generate_report() -> ResponseReturnValue:
    """On demand: the monitor picks a kind and a period; the files are made now, in this request."""
    form = request.form
    try:
        kind = form.get("kind", "")
        period = period_for(kind, int(form.get("year", "")), int(form.get("number") or 1))
    except ValueError:
        flash(pick(*BAD_REPORT), "error")
        return redirect(url_for(".reports")), 303
    rt = runtime()
    principal = current_principal()
    assert principal is not None
    with rt.db.session() as session:
        user = session.get(User, principal.id)
        generate(session, rt.store, kind, period, by=user)
    flash(pick("أُعد التقرير وحُفظ في الأرشيف.", "The report was generated and stored in the archive."), "success")
    return redirect(url_for(".reports")), 303


@bp.route("/governance/reports/<int:report_id>")
@requires(Permission.REPORTS_VIEW)
def download(report_id: int) -> ResponseReturnValue:
    row = db_session().get(GovernanceReport, report_id)
    if row is None:
        abort(404)
    name = report_filename(row.kind, Period(row.period_start, row.period_end), row.file_format)
    return send_object(row.sha256, media_type=MEDIA_TYPES[row.file_format], filename=name, fallback=name)


BAD_REPORT = ("اختر نوع التقرير وسنة صحيحة ورقم الشهر (1-12) أو الربع (1-4).",
              "Choose the kind of report, a valid year and the month (1-12) or quarter (1-4).")
