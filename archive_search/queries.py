"""Archive search for auditors and staff: role scope, request parsing, the audit trail, CSV export, the record view.

The web page and the JSON API are thin adapters over these functions, so the rules live in one place:

- an auditor (``archive.search``) and staff without a centre see every centre; a centre's staff see only theirs;
- every search, export and record opened through search is an audit event (who, what, when), written in the
  caller's transaction by :func:`archive.audit.record_event`;
- filters arrive as strings (query string or JSON) and are checked here; a bad value is a :class:`BadSearch` with an
  Arabic and an English sentence.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive.audit import record_event
from archive.models import Application, AuditEvent, Centre, Document, Page, Transition, WorkflowStep
from archive_search.indexing import SIGNED_ATTACHMENTS_TERM
from intake.dates import parse_day
from search.highlight import hit_spans, mark
from search.model import MAX_QUERY_CHARS, SORTS, BadQuery, Engine, Filters, Fragment, Query, Results
from search.query import fuzzy_set, parse, prefix_set, term_set

EXPORT_LIMIT = 10_000
"""Rows in one CSV export; a wider export asks the auditor to narrow the filters."""
FILTER_FIELDS = ("governorate", "centre", "service", "status")


class BadSearch(ValueError):
    """A search that cannot be run; ``field`` names the form field at fault (``from``, ``to``) when there is one."""

    def __init__(self, message_ar: str, message_en: str, field: str | None = None) -> None:
        super().__init__(message_en)
        self.message_ar, self.message_en, self.field = message_ar, message_en, field


@dataclass(frozen=True)
class Searcher:
    """Who is searching: their username (for the audit trail) and how far they may see."""

    username: str
    centre_code: str | None
    sees_every_centre: bool


def scope(session: Session, searcher: Searcher) -> frozenset[int] | None:
    """Centre ids the searcher may see; ``None`` means all of them."""
    if searcher.sees_every_centre or searcher.centre_code is None:
        return None
    centre_id = session.scalar(select(Centre.id).where(Centre.code == searcher.centre_code))
    return frozenset({centre_id}) if centre_id is not None else frozenset()


def _day(value: str, name_ar: str, name_en: str, field: str) -> date:
    try:
        return parse_day(value)
    except ValueError:
        raise BadSearch(f"{name_ar} غير صحيح: اكتبه يومًا/شهرًا/سنة، مثل 05/12/2026.",
                        f"The {name_en} is not a date: write it as dd/mm/yyyy, for example 05/12/2026.",
                        field) from None


def parse_request(args: Mapping[str, Any]) -> Query:
    """A :class:`Query` from a query string or JSON object; repeated filters (``status=a&status=b``) are OR-ed."""

    def many(name: str) -> tuple[str, ...]:
        getlist = getattr(args, "getlist", None)
        raw = getlist(name) if getlist else args.get(name) or []
        values = [raw] if isinstance(raw, str) else list(raw)
        return tuple(str(v).strip() for v in values if str(v).strip())

    def one(name: str) -> str:
        value = args.get(name)
        return str(value).strip() if value is not None else ""

    sort = one("sort") or "relevance"
    if sort not in SORTS:  # narrows the type for Query below
        raise BadSearch("طريقة الترتيب غير معروفة.", f"Sort must be one of {', '.join(SORTS)}.")
    try:
        page = int(one("page") or 1)
        per_page = int(one("per_page") or 20)
    except (ValueError, OverflowError):
        raise BadSearch("رقم الصفحة غير صحيح.", "page and per_page must be whole numbers.") from None
    filters = Filters(
        governorate=many("governorate"), centre=many("centre"), service=many("service"), status=many("status"),
        signer=one("signer") or None, national_id=one("national_id") or None,
        date_from=_day(one("from"), "تاريخ البداية", "start date", "from") if one("from") else None,
        date_to=_day(one("to"), "تاريخ النهاية", "end date", "to") if one("to") else None,
    )
    text = one("q")
    if one("signed").lower() in ("1", "true", "yes", "on"):  # has signed attachments (see archive_search.indexing)
        text = f"{text} {SIGNED_ATTACHMENTS_TERM}".strip()
    query = Query(text=text, filters=filters, sort=sort, page=page, per_page=per_page)
    try:
        query.check()
        parse(query.text)  # too many clauses is refused here, before the audit trail records the search
    except BadQuery as exc:
        raise BadSearch(exc.message_ar, str(exc)) from None
    return query


def _described(query: Query) -> dict[str, Any]:
    f = query.filters
    filters: dict[str, Any] = {name: list(getattr(f, name)) for name in FILTER_FIELDS if getattr(f, name)}
    for name in ("signer", "national_id"):
        if getattr(f, name):
            filters[name] = getattr(f, name)
    if f.date_from:
        filters["from"] = f.date_from.isoformat()
    if f.date_to:
        filters["to"] = f.date_to.isoformat()
    text = query.text
    if text.split()[-1:] == [SIGNED_ATTACHMENTS_TERM]:
        filters["signed_attachments"] = True
        text = text[: -len(SIGNED_ATTACHMENTS_TERM)].strip()
    return {"q": text, "filters": filters, "sort": query.sort, "page": query.page}


def search(session: Session, engine: Engine, searcher: Searcher, query: Query) -> Results:
    """Run the query within the searcher's scope and record it in the audit trail (the caller commits)."""
    scoped = Query(text=query.text, filters=query.filters, centre_ids=scope(session, searcher), sort=query.sort,
                   page=query.page, per_page=query.per_page, snippets=query.snippets)
    results = engine.search(scoped)
    record_event(session, actor=searcher.username, action="search.query", subject="search:archive",
                 details={**_described(query), "total": results.total,
                          **({"total_is_lower_bound": True} if results.total_is_lower_bound else {})})
    return results


CSV_COLUMNS = ("tracking_number", "applicant_name", "national_id", "governorate", "centre", "service", "status",
               "created_at", "snippet")


def export_csv(session: Session, engine: Engine, searcher: Searcher, query: Query) -> tuple[str, int]:
    """Every matching row (up to :data:`EXPORT_LIMIT`) as CSV text with a BOM (Excel reads Arabic correctly)."""
    scoped = scope(session, searcher)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows, page = 0, 1
    while rows < EXPORT_LIMIT:
        batch = engine.search(Query(text=query.text, filters=query.filters, centre_ids=scoped, sort=query.sort,
                                    page=page, per_page=200, snippets=1))
        if page == 1 and (batch.total > EXPORT_LIMIT or batch.total_is_lower_bound):
            raise BadSearch(
                f"النتائج أكثر من {EXPORT_LIMIT} طلب: ضيّق البحث قبل التصدير.",
                f"More than {EXPORT_LIMIT} results: narrow the search before exporting.",
            )
        for hit in batch.hits:
            snippet = "".join(text for s in hit.snippets[:1] for text, _ in s.fragments)
            writer.writerow([hit.tracking_number, hit.applicant_name, hit.national_id, hit.governorate, hit.centre,
                             hit.service, hit.status, hit.created_at.isoformat(), " ".join(snippet.split())])
            rows += 1
        if len(batch.hits) < 200:
            break
        page += 1
    record_event(session, actor=searcher.username, action="search.export", subject="search:archive",
                 details={**_described(query), "rows": rows})
    return out.getvalue(), rows


# --- the record view ------------------------------------------------------------------------------------------------


@dataclass
class PageView:
    page_id: int
    document: str
    index: int
    has_preview: bool
    fragments: tuple[Fragment, ...]
    hits: int


@dataclass
class RecordView:
    application: Application
    pages: list[PageView]
    signatures: list[WorkflowStep]
    transitions: list[Transition]
    audit: list[AuditEvent] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return sum(p.hits for p in self.pages)


def page_in_scope(session: Session, searcher: Searcher, page_id: int) -> Page | None:
    """A page of an application the searcher may see through search (the record view's images), else ``None``."""
    page = session.get(Page, page_id)
    if page is None:
        return None
    allowed = scope(session, searcher)
    if allowed is not None and page.document.application.centre_id not in allowed:
        return None
    return page


def subject_of(application: Application) -> str:
    return f"application:{application.tracking_number}"


def open_record(session: Session, searcher: Searcher, tracking_number: str, text: str = "") -> RecordView | None:
    """The record with its pages' OCR text (hits of ``text`` marked), signatures and audit trail.

    ``None`` if it does not exist or lies outside the searcher's scope (its existence stays private). Opening it is
    an audit event.
    """
    app = session.scalar(
        select(Application).where(Application.tracking_number == tracking_number).options(
            selectinload(Application.documents).selectinload(Document.pages),
            selectinload(Application.steps).selectinload(WorkflowStep.decided_by),
        )
    )
    allowed = scope(session, searcher)
    if app is None or (allowed is not None and app.centre_id not in allowed):
        return None
    try:
        clauses = parse(text[:MAX_QUERY_CHARS])
    except BadQuery:  # too many words to highlight: show the record unmarked rather than refuse it
        clauses = []
    terms, prefixes, fuzzy = term_set(clauses), prefix_set(clauses), fuzzy_set(clauses)
    pages = []
    for doc in app.documents:
        for page in doc.pages:
            body = page.text or ""
            spans = hit_spans(body, terms, prefixes, fuzzy) if clauses else []
            pages.append(PageView(page.id, doc.filename, page.index, page.preview_sha256 is not None,
                                  mark(body, spans), len(spans)))
    signatures = [s for s in app.steps if s.signs and s.decided_at is not None]
    transitions = list(session.scalars(
        select(Transition).where(Transition.application_id == app.id).order_by(Transition.at, Transition.id)
    ))
    record_event(session, actor=searcher.username, action="search.record_opened", subject=subject_of(app),
                 details={"q": text} if text else {})
    audit = list(session.scalars(
        select(AuditEvent).where(AuditEvent.subject == subject_of(app)).order_by(AuditEvent.seq)
    ))
    return RecordView(app, pages, signatures, transitions, audit)


def hit_json(hit: Any) -> dict[str, Any]:
    """A search hit for the JSON API."""
    return {
        "id": hit.id, "tracking_number": hit.tracking_number, "applicant_name": hit.applicant_name,
        "national_id": hit.national_id, "governorate": hit.governorate, "centre": hit.centre,
        "service": hit.service, "status": hit.status, "created_at": hit.created_at.isoformat(),
        "snippets": [
            {"page_id": s.page_id, "label": s.label,
             "fragments": [{"text": t, "hit": h} for t, h in s.fragments]}
            for s in hit.snippets
        ],
    }


def results_json(results: Results, query: Query) -> dict[str, Any]:
    return {
        "total": results.total, "total_relation": "gte" if results.total_is_lower_bound else "eq",
        "page": query.page, "per_page": query.per_page,
        "hits": [hit_json(h) for h in results.hits],
        "facets": {name: [{"value": v, "count": c} for v, c in values] for name, values in results.facets.items()},
    }

