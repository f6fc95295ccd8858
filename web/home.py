"""The staff home page (a clerk's work of the day), where each role lands, and the service catalogue as the
waiting-hall screens show it.

A clerk's home is today's work at the window: the files registered today, the files returned for completion (the
citizen comes back with the missing papers) and the files whose scanned pages are still waiting to be read or could
not be read. The other roles land on the page where their work is (:func:`landing_for`): the officials' inbox, the
auditor's archive search, the governance dashboard, the administrator's users; their home page links there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from flask import Blueprint, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, case, func, select

from archive.models import Application, ApplicationStatus, Centre, Document, OcrStatus, Page, Service
from archive.roles import ROLE_LABELS, Permission, Role
from intake.national_id import EGYPT, today_in_egypt
from web.auth.principal import StaffPrincipal
from web.permissions import current_principal, requires
from web.runtime import db_session

bp = Blueprint("home", __name__)

LIST_LIMIT = 25


@dataclass(frozen=True)
class PagesWaiting:
    application: Application
    waiting: int
    failed: int


def landing_for(principal: StaffPrincipal) -> str:
    """Where a role's work is: the clerk's home, the officials' inbox, search, the dashboard, the users."""
    roles = principal.roles
    if Role.CLERK in roles:
        return url_for("home.index")
    if Role.REVIEWER in roles or Role.SIGNER in roles:
        return url_for("decisions.inbox_page")
    if Role.MONITOR in roles:
        return url_for("governance.dashboard")
    if Role.AUDITOR in roles:
        return url_for("search.page")
    if Role.ADMIN in roles:
        return url_for("admin.users")
    return url_for("home.index")


def _at_centre(query: Select[Any], principal: StaffPrincipal) -> Select[Any]:
    if principal.centre_code is None:
        return query
    return query.join(Centre, Centre.id == Application.centre_id).where(Centre.code == principal.centre_code)


@bp.route("/")
@requires(Permission.ACCOUNT_SELF)
def index() -> ResponseReturnValue:
    principal = current_principal()
    assert principal is not None
    roles = sorted(principal.roles)
    work = _todays_work(principal) if principal.can(Permission.APPLICATION_CREATE) else None
    return render_template("home.html", principal=principal, roles=roles, role_labels=ROLE_LABELS, work=work,
                           landing=landing_for(principal))


def _todays_work(principal: StaffPrincipal) -> dict[str, object]:
    session = db_session()
    midnight = datetime.combine(today_in_egypt(), time.min, tzinfo=EGYPT)
    today = session.scalars(_at_centre(select(Application), principal).where(Application.created_at >= midnight)
                            .order_by(Application.created_at.desc()).limit(LIST_LIMIT)).all()
    today_count = session.scalar(_at_centre(select(func.count(Application.id)), principal)
                                 .where(Application.created_at >= midnight)) or 0
    returned_query = _at_centre(select(Application), principal).where(
        Application.status == ApplicationStatus.RETURNED.value)
    returned = session.scalars(returned_query.order_by(Application.updated_at).limit(LIST_LIMIT)).all()
    returned_count = session.scalar(_at_centre(select(func.count(Application.id)), principal).where(
        Application.status == ApplicationStatus.RETURNED.value)) or 0
    waiting_expr = func.sum(case((Page.status.in_([OcrStatus.PENDING.value, OcrStatus.RUNNING.value]), 1), else_=0))
    failed_expr = func.sum(case((Page.status == OcrStatus.FAILED.value, 1), else_=0))
    # Count per application id only, then load those applications: grouping a query that loads whole Application
    # rows (with their eagerly joined centre) is refused by PostgreSQL's GROUP BY rules.
    counts = session.execute(
        _at_centre(select(Application.id, waiting_expr, failed_expr), principal)
        .join(Document, Document.application_id == Application.id).join(Page, Page.document_id == Document.id)
        .where(Page.status != OcrStatus.DONE.value)
        .group_by(Application.id, Application.created_at).order_by(Application.created_at.desc()).limit(LIST_LIMIT)
    ).all()
    by_id = {app.id: app for app in session.scalars(select(Application).where(
        Application.id.in_([row[0] for row in counts])))}
    pages = [PagesWaiting(by_id[app_id], int(w or 0), int(f or 0)) for app_id, w, f in counts if app_id in by_id]
    return {"today": today, "today_count": today_count, "returned": returned, "returned_count": returned_count,
            "pages": pages}


@bp.route("/services")
@requires(Permission.CATALOGUE_READ)
def services() -> ResponseReturnValue:
    rows = db_session().scalars(select(Service).where(Service.active).order_by(Service.code)).all()
    return render_template("services.html", services=rows)
