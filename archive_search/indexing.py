"""Keeping the search index in step with the archive: what an application looks like to search, and when it changes.

- :func:`build_document` turns one application (data, signers, every page's OCR text) into a
  :class:`search.model.SearchDocument`; :func:`iter_documents` does it in batches for ``sijill reindex``.
- :func:`watch` hooks a session factory so that every committed change to an application, its steps, transitions,
  documents or permit calls back with the application ids; the web app and the workers pass a callback that enqueues
  ``search.index`` (indexing never runs inside a web request, so a search outage cannot fail a clerk's work).
  OCR completion is reported by the OCR task itself (page rows change outside any application row).
- :func:`index_lag` compares recent changes in the database with the versions in the index, for ``/healthz``;
  :func:`catch_up` (beat) indexes whatever a lost message left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archive.legal_hold import SEARCH_WORDS
from archive.models import Application, Document, LegalHold, Page, Permit, StepDecision, Transition, WorkflowStep
from search.model import Engine, PageText, SearchDocument

LAG_GRACE = timedelta(minutes=5)
"""A change not in the index after this long means indexing is behind (a queue backlog or a lost message)."""
LAG_WINDOW = timedelta(days=1)
"""How far back the lag check and the catch-up task compare database and index application by application."""


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _load_options() -> list[Any]:
    return [
        selectinload(Application.documents).selectinload(Document.pages),
        selectinload(Application.steps).selectinload(WorkflowStep.decided_by),
    ]


SIGNED_ATTACHMENTS_TERM = "sijillsignedpdf"
"""The word an application's search document carries when one of its PDFs bears signatures (``signing.attachments``
recorded them): the archive search's "has signed attachments" filter requires it (``archive_search.queries``)."""
SIGNED_ATTACHMENTS_WORDS = f"مرفقات موقعة signed attachments {SIGNED_ATTACHMENTS_TERM}"
_UNSIGNED = (None, "none", "too_large")


def _document(app: Application, permit_number: str | None, hold: str = "") -> SearchDocument:
    pages = tuple(
        PageText(page.id, f"{doc.filename} · {page.index + 1}", page.text)
        for doc in app.documents
        for page in doc.pages
        if page.text
    )
    signers = tuple(
        step.decided_by.full_name
        for step in app.steps
        if step.signs and step.decision == StepDecision.SIGN.value and step.decided_by is not None
    )
    details = " ".join(str(v) for v in (app.details or {}).values() if isinstance(v, str | int | float))
    data = " ".join(
        part for part in (
            app.service.name_ar, app.service.name_en, app.centre.name_ar, app.centre.name_en, details,
            permit_number or "", " ".join(signers), hold,
            SIGNED_ATTACHMENTS_WORDS if any(d.signature_check not in _UNSIGNED for d in app.documents) else "",
        ) if part
    )
    changes = [_utc(app.updated_at), _utc(app.created_at)]
    changes += [_utc(p.finished_at) for d in app.documents for p in d.pages]
    changes += [_utc(s.decided_at) for s in app.steps]
    created = _utc(app.created_at)
    assert created is not None
    return SearchDocument(
        id=app.id,
        tracking_number=app.tracking_number,
        applicant_name=app.applicant_name,
        national_id=app.national_id,
        governorate=app.centre.governorate_code,
        centre=app.centre.code,
        centre_id=app.centre_id,
        service=app.service_code,
        status=app.status,
        created_at=created,
        source_version=max(c for c in changes if c is not None),
        signers=signers,
        data_text=data,
        pages=pages,
    )


def build_document(session: Session, application_id: int) -> SearchDocument | None:
    """The search document of one application, or ``None`` if it no longer exists."""
    app = session.scalar(select(Application).where(Application.id == application_id).options(*_load_options()))
    if app is None:
        return None
    permit = session.scalar(select(Permit.permit_number).where(Permit.application_id == application_id))
    return _document(app, permit, hold_words(session, [application_id]).get(application_id, ""))


def iter_documents(session: Session, batch: int = 200) -> Iterator[SearchDocument]:
    """Every application's document in id order, a batch of applications at a time (memory stays flat)."""
    last = 0
    while True:
        apps = session.scalars(
            select(Application).where(Application.id > last).order_by(Application.id).limit(batch)
            .options(*_load_options())
        ).all()
        if not apps:
            return
        ids = [a.id for a in apps]
        permits = dict(session.execute(
            select(Permit.application_id, Permit.permit_number).where(Permit.application_id.in_(ids))
        ).tuples().all())
        holds = hold_words(session, ids)
        for app in apps:
            yield _document(app, permits.get(app.id), holds.get(app.id, ""))
        last = ids[-1]
        session.expunge_all()


def hold_words(session: Session, application_ids: list[int]) -> dict[int, str]:
    """The words a held file's document carries (``archive.legal_hold``): "تحفظ قانوني legal hold" and the reason."""
    rows = session.execute(select(LegalHold.application_id, LegalHold.reason).where(
        LegalHold.application_id.in_(application_ids), LegalHold.released_at.is_(None)))
    return {int(app_id): f"{SEARCH_WORDS} {reason}" for app_id, reason in rows}


def count_applications(session: Session) -> int:
    return int(session.scalar(select(func.count(Application.id))) or 0)


def index_applications(session: Session, engine: Engine, application_ids: list[int]) -> int:
    """Index (or remove, if gone) these applications; returns how many were indexed."""
    docs, gone = [], []
    for app_id in application_ids:
        doc = build_document(session, app_id)
        if doc is None:
            gone.append(app_id)
        else:
            docs.append(doc)
    engine.index(docs)
    if gone:
        engine.delete(gone)
    return len(docs)


def reindex(session: Session, engine: Engine, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the database (searches keep answering from the old data meanwhile)."""

    def counted() -> Iterator[SearchDocument]:
        for doc in iter_documents(session):
            yield doc
            if progress is not None:
                progress(1)

    return engine.rebuild(counted())


def application_of_page(session: Session, page_id: int) -> int | None:
    return session.scalar(
        select(Document.application_id).join(Page, Page.document_id == Document.id).where(Page.id == page_id)
    )


# --- what changed, and is the index behind ------------------------------------------------------------------------


def recent_versions(session: Session, since: datetime) -> dict[int, datetime]:
    """Applications with a change after ``since`` and the time of their newest change."""
    versions: dict[int, datetime] = {}

    def note(rows: Any) -> None:
        for app_id, moment in rows:
            at = _utc(moment)
            if at is not None and (app_id not in versions or at > versions[app_id]):
                versions[app_id] = at

    note(session.execute(select(Application.id, Application.updated_at).where(Application.updated_at > since)))
    # One row per recent change, the newest kept by note(): a GROUP BY here lets SQLite walk a whole table in
    # application order instead of the time index (bench/index_lag.py).
    note(session.execute(
        select(Document.application_id, Page.finished_at).join(Page, Page.document_id == Document.id)
        .where(Page.finished_at > since)
    ))
    note(session.execute(
        select(WorkflowStep.application_id, WorkflowStep.decided_at).where(WorkflowStep.decided_at > since)
    ))
    # a change elsewhere may be older than the application's own newest change
    if versions:
        for app_id, updated in session.execute(
            select(Application.id, Application.updated_at).where(Application.id.in_(list(versions)))
        ):
            at = _utc(updated)
            if at is not None and at > versions[app_id]:
                versions[app_id] = at
    return versions


def _versions_in_index(engine: Engine, ids: list[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        for app_id, version in engine.versions(ids[start:start + 500]).items():
            found[app_id] = _utc(version) or version
    return found


def stale_applications(session: Session, engine: Engine, *, now: datetime, older_than: timedelta) -> list[int]:
    """Applications changed within :data:`LAG_WINDOW` (and at least ``older_than`` ago) that the index misses."""
    versions = {i: v for i, v in recent_versions(session, now - LAG_WINDOW).items() if v <= now - older_than}
    indexed = _versions_in_index(engine, sorted(versions))
    # Elasticsearch keeps dates to the millisecond
    return [i for i, v in versions.items() if i not in indexed or indexed[i] < v - timedelta(milliseconds=1)]


@dataclass(frozen=True)
class Lag:
    in_database: int
    in_index: int
    stale: list[int]

    @property
    def lagging(self) -> bool:
        return bool(self.stale) or self.in_index < self.in_database

    def describe(self) -> str:
        text = f"{self.in_index} of {self.in_database} applications indexed"
        if self.stale:
            text += f"; {len(self.stale)} changed more than {int(LAG_GRACE.total_seconds() // 60)} min ago not indexed"
        return text


def index_lag(session: Session, engine: Engine, *, now: datetime | None = None) -> Lag:
    now = now or datetime.now(UTC)
    stale = stale_applications(session, engine, now=now, older_than=LAG_GRACE)
    return Lag(in_database=count_applications(session), in_index=engine.stats().count, stale=stale)


def catch_up(session: Session, engine: Engine, *, now: datetime | None = None) -> list[int]:
    """Index every recent change the index misses (a message lost while the broker was down); returns the ids."""
    ids = stale_applications(session, engine, now=now or datetime.now(UTC), older_than=timedelta(0))
    for start in range(0, len(ids), 200):
        index_applications(session, engine, ids[start:start + 200])
    return ids


# --- hooks ----------------------------------------------------------------------------------------------------------

_PENDING = "sijill_index_pending"
_WATCHED: tuple[type, ...] = (Application, WorkflowStep, Transition, Document, Permit)


def _application_id(obj: object) -> int | None:
    if isinstance(obj, Application):
        return obj.id
    value = getattr(obj, "application_id", None)
    return int(value) if value is not None else None


def watch(sessions: sessionmaker[Session], on_commit: Callable[[set[int]], object]) -> None:
    """Call ``on_commit(application_ids)`` after each commit that changed applications made by ``sessions``.

    Installed once per session factory (two apps sharing one database in tests would otherwise queue twice).
    """
    if getattr(sessions, _PENDING, False):
        return
    setattr(sessions, _PENDING, True)

    def after_flush(session: Session, _context: Any) -> None:
        pending: set[int] = session.info.setdefault(_PENDING, set())
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, _WATCHED):
                app_id = _application_id(obj)
                if app_id is not None:
                    pending.add(app_id)

    def after_commit(session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending:
            on_commit(set(pending))

    def after_rollback(session: Session) -> None:
        session.info.pop(_PENDING, None)

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", after_rollback)
