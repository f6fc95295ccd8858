"""Archive search pages: the search form with facets and snippets, CSV export, and the record view.

A thin adapter over :mod:`archive_search.queries`, which holds the scope rule and writes the audit events; each view
commits the request's session so the event is stored with the answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from archive.models import ApplicationStatus, Centre, Service
from archive.roles import Permission
from archive_search.queries import (
    BadSearch,
    Searcher,
    export_csv,
    open_record,
    page_in_scope,
    parse_request,
    search,
    subject_of,
)
from intake.dates import INPUT_PATTERN as DATE_INPUT_PATTERN
from intake.dates import parse_day, show_day
from intake.national_id import GOVERNORATES
from search.model import FACETS, Query, Results, SearchError
from web import audit_trail
from web.audit import audit
from web.auth.principal import StaffPrincipal
from web.errors import N_, ExplainedError
from web.intake.common import pick, send_object
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime

bp = Blueprint("search", __name__)

UNAVAILABLE = (N_("البحث غير متاح الآن. لم يفقد أي شيء؛ حاول بعد قليل."),
               "Search is not available right now; nothing was lost, try again shortly.")


def searcher_of(principal: StaffPrincipal) -> Searcher:
    return Searcher(principal.username, principal.centre_code, principal.can(Permission.ARCHIVE_SEARCH))


def _principal() -> StaffPrincipal:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal


def unavailable(exc: SearchError) -> ExplainedError:
    return ExplainedError(503, UNAVAILABLE[0], UNAVAILABLE[1], "search_unavailable")


def facet_labels() -> dict[str, dict[str, str]]:
    """Display names of the facet values (codes in the index, names on the page)."""
    session = db_session()
    return {
        "governorate": {code: pick(*names) for code, names in GOVERNORATES.items()},
        "centre": {c.code: pick(c.name_ar, c.name_en) for c in session.scalars(select(Centre))},
        "service": {s.code: pick(s.name_ar, s.name_en) for s in session.scalars(select(Service))},
        "status": {},
    }


def _shown_dates(args: Any) -> dict[str, str]:
    """The date fields as typed, or as dd/mm/yyyy when they name a day (a link's ISO date is shown day first)."""
    shown: dict[str, str] = {}
    for name in ("from", "to"):
        typed = str(args.get(name) or "")
        try:
            shown[name] = show_day(parse_day(typed))
        except ValueError:
            shown[name] = typed
    return shown


@bp.route("/search")
@requires(Permission.APPLICATION_VIEW)
def page() -> ResponseReturnValue:
    principal = _principal()
    args = request.args
    wanted = any(args.get(k) for k in ("q", "signer", "signed", "national_id", "from", "to", *FACETS))
    error: str | None = None
    error_field: str | None = None
    results: Results | None = None
    query = Query()
    status = 200
    try:
        query = parse_request(args)
        if wanted:
            session = db_session()
            results = search(session, runtime().search, searcher_of(principal), query)
            session.commit()
    except BadSearch as exc:
        error, error_field, status = pick(exc.message_ar, exc.message_en), exc.field, 400
    except SearchError as exc:
        raise unavailable(exc) from None
    base = {k: v for k, v in args.items(multi=True) if k != "page"}
    pages = _pages(results, query) if results else []
    body = render_template(
        "search/search.html", args=args, query=query, results=results, error=error, wanted=wanted,
        error_field=error_field, shown_dates=_shown_dates(args), date_pattern=DATE_INPUT_PATTERN,
        labels=facet_labels(), facets=FACETS, statuses=[s.value for s in ApplicationStatus],
        pages=pages, page_url=lambda n: "?" + urlencode([*_pairs(base), ("page", str(n))]),
        filter_url=lambda name, value: "?" + urlencode([*_pairs(base), (name, value)]),
        export_url=url_for("search.export") + "?" + urlencode(_pairs(base)),  # absolute: /search has no slash
        scope_all=principal.can(Permission.ARCHIVE_SEARCH) or principal.centre_code is None,
        principal=principal,
    )
    return body, status


def _pairs(args: Any) -> list[tuple[str, str]]:
    return list(args.items(multi=True)) if hasattr(args, "items") and not isinstance(args, dict) else [
        (k, v) for k, v in args.items()
    ]


def _pages(results: Results, query: Query) -> list[int]:
    last = max(1, -(-results.total // query.per_page))
    return [n for n in range(1, last + 1) if n in (1, last) or abs(n - query.page) <= 2]


@bp.route("/search/export.csv")
@requires(Permission.APPLICATION_VIEW)
def export() -> ResponseReturnValue:
    principal = _principal()
    try:
        query = parse_request(request.args)
        session = db_session()
        text, _rows = export_csv(session, runtime().search, searcher_of(principal), query)
        session.commit()
    except BadSearch as exc:
        raise ExplainedError(400, exc.message_ar, exc.message_en, "bad_search") from None
    except SearchError as exc:
        raise unavailable(exc) from None
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="sijill-search.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/search/records/<tracking>")
@requires(Permission.APPLICATION_VIEW)
def record(tracking: str) -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    text = request.args.get("q", "")
    view = open_record(session, searcher_of(principal), tracking, text)
    if view is None:
        abort(404)
    session.commit()
    trail = audit_trail.build(session, view.audit, request.args.get("trail", 1, type=int) or 1)
    return render_template("search/record.html", view=view, q=text, app=view.application,
                           labels=facet_labels(), title=_("سجل الطلب"), trail=trail, trail_clock=audit_trail.clock,
                           trail_url=lambda n: url_for("search.record", tracking=tracking, q=text or None, trail=n))


@bp.route("/search/pages/<int:page_id>/preview.jpg")
@requires(Permission.APPLICATION_VIEW)
def page_image(page_id: int) -> ResponseReturnValue:
    """A page image for the record view, within the search scope (an auditor tied to a centre sees every centre)."""
    page = page_in_scope(db_session(), searcher_of(_principal()), page_id)
    if page is None or not page.preview_sha256:
        abort(404)
    audit("page.view", subject_of(page.document.application), commit=True, document=page.document_id,
          page=page.index)
    name = f"page-{page.id}.jpg"
    return send_object(page.preview_sha256, media_type="image/jpeg", filename=name, fallback=name, disposition="inline")
