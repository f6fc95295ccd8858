"""Keeping the index in step with the archive (archive_search.indexing), on SQLite and PostgreSQL, embedded engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import Application, Centre, Document, Page, Service, User, WorkflowStep
from archive_search.indexing import (
    build_document,
    catch_up,
    index_applications,
    index_lag,
    reindex,
    watch,
)
from search.embedded import EmbeddedEngine
from search.model import Filters, Query

OCR_TEXT = "محضر معاينة: قطعة الأرض المذكورة بالمحافظة، مساحتها ٢٥٠ متر مربع."
NOW = datetime.now(UTC)
"""Reset for each test (below): "changed just now" must be now, not when a long suite imported this module."""


@pytest.fixture(autouse=True)
def _now() -> None:
    global NOW
    NOW = datetime.now(UTC)


def make_application(session: Session, n: int, *, centre_code: str = "SOH-01", text: str | None = OCR_TEXT,
                     national_id: str = "29001011234567", created: datetime | None = None) -> Application:
    centre = session.scalar(select(Centre).where(Centre.code == centre_code))
    if centre is None:
        centre = Centre(code=centre_code, name_ar="مركز سوهاج", name_en="Sohag centre",
                        governorate_code="26" if centre_code.startswith("SOH") else "01")
        session.add(centre)
    service = session.scalar(select(Service).where(Service.code == "BUILD-PERMIT"))
    if service is None:
        service = Service(code="BUILD-PERMIT", name_ar="ترخيص أعمال بناء", name_en="Building works permit",
                          legal_days=30, catalogue_version="t", definition={})
        session.add(service)
    session.flush()
    created = created or NOW
    app = Application(
        tracking_number=f"T-{n:06d}", centre_id=centre.id, service_id=service.id, service_code="BUILD-PERMIT",
        catalogue_version="t", applicant_name="منى السيد", national_id=national_id, applicant_phone="01012345678",
        details={"street": "شارع الجمهورية", "plot_number": "12/ب"}, channel="window", created_at=created,
        updated_at=created, due_at=created + timedelta(days=30),
    )
    session.add(app)
    session.flush()
    doc = Document(application_id=app.id, requirement="OTHER", filename="scan.png", media_type="image/png",
                   sha256="0" * 64, size_bytes=1, page_count=1)
    session.add(doc)
    session.flush()
    session.add(Page(document_id=doc.id, index=0, status="done" if text else "pending", text=text,
                     finished_at=created if text else None))
    session.flush()
    set_updated_at(session, app, created)
    return app


def set_updated_at(session: Session, app: Application, moment: datetime) -> None:
    """Date a change in the past (a bare UPDATE: archive.manifest's hook moves ``updated_at`` on every ORM change)."""
    session.execute(update(Application).where(Application.id == app.id).values(updated_at=moment)
                    .execution_options(synchronize_session=False))
    session.expire(app, ["updated_at"])


@pytest.fixture
def engine(tmp_path: Path) -> EmbeddedEngine:
    eng = EmbeddedEngine(tmp_path / "search.sqlite3")
    eng.setup()
    return eng


def test_the_document_holds_data_pages_and_signers(database: Database) -> None:
    with database.session() as s:
        app = make_application(s, 1)
        signer = User(username="head", full_name="م. سامي حسن", password_hash="x")
        s.add(signer)
        s.flush()
        s.add(WorkflowStep(application_id=app.id, position=0, step="approve_council", role="signer",
                           department="council", title_ar="رئيس المجلس", title_en="Head", signs=True,
                           status="done", decision="sign", decided_by_id=signer.id, decided_at=NOW))
        app_id = app.id
    with database.session() as s:
        doc = build_document(s, app_id)
    assert doc is not None
    assert doc.governorate == "26" and doc.centre == "SOH-01" and doc.service == "BUILD-PERMIT"
    assert doc.pages[0].text == OCR_TEXT and doc.signers == ("م. سامي حسن",)
    assert "شارع الجمهورية" in doc.data_text and "ترخيص أعمال بناء" in doc.data_text
    assert doc.source_version >= NOW - timedelta(seconds=1)
    with database.session() as s:
        assert build_document(s, 999) is None


def test_indexed_applications_are_found_by_any_spelling_and_id(database: Database, engine: EmbeddedEngine) -> None:
    with database.session() as s:
        a = make_application(s, 1).id
        b = make_application(s, 2, text="خطاب بدون كلمات البحث", national_id="29505051234567").id
        assert index_applications(s, engine, [a, b]) == 2
    for spelling in ("محافظه", "والمحافظة", "الارض", "أرض", "مُعَايَنَة"):
        assert [h.id for h in engine.search(Query(text=spelling)).hits] == [a], spelling
    assert [h.id for h in engine.search(Query(text="٢٩٥٠٥٠٥١٢٣٤٥٦٧")).hits] == [b]
    assert [h.id for h in engine.search(Query(filters=Filters(national_id="٢٩٥٠٥٠٥١٢٣٤٥٦٧"))).hits] == [b]
    with database.session() as s:
        s.delete(s.get(Application, b))  # documents and pages go with it (cascade)
    with database.session() as s:
        index_applications(s, engine, [b])
    assert engine.get(b) is None


def test_watch_reports_committed_changes_only(database: Database) -> None:
    seen: list[set[int]] = []
    watch(database.sessions, seen.append)
    watch(database.sessions, seen.append)  # installed once
    with database.session() as s:
        app_id = make_application(s, 1).id
    assert seen == [{app_id}]
    with pytest.raises(RuntimeError), database.session() as s:
        s.get(Application, app_id).status = "rejected"  # type: ignore[union-attr]
        s.flush()
        raise RuntimeError("rolled back")
    assert seen == [{app_id}]
    with database.session() as s:
        s.get(Application, app_id).status = "in_review"  # type: ignore[union-attr]
    assert seen == [{app_id}, {app_id}]


def test_reindex_counts_progress_and_drops_what_is_gone(database: Database, engine: EmbeddedEngine) -> None:
    engine.index([d for d in [_stray()] if d])
    with database.session() as s:
        for n in range(5):
            make_application(s, n)
    ticks: list[int] = []
    with database.session() as s:
        assert reindex(s, engine, progress=ticks.append) == 5
    assert len(ticks) == 5
    assert engine.stats().count == 5
    assert engine.get(424242) is None


def _stray() -> object:
    from search.model import SearchDocument

    return SearchDocument(id=424242, tracking_number="X", applicant_name="", national_id="", governorate="",
                          centre="", centre_id=0, service="", status="", created_at=NOW, source_version=NOW)


def test_lag_is_visible_and_catch_up_repairs_it(database: Database, engine: EmbeddedEngine) -> None:
    old = NOW - timedelta(hours=2)
    with database.session() as s:
        first = make_application(s, 1, created=old).id
        index_applications(s, engine, [first])
        late = make_application(s, 2, created=old).id  # never indexed: its message was lost
        make_application(s, 3)  # changed just now: within the grace period, not yet lag
    with database.session() as s:
        lag = index_lag(s, engine)
    assert lag.lagging and lag.stale == [late] and (lag.in_database, lag.in_index) == (3, 1)
    assert "1 of 3" in lag.describe()
    with database.session() as s:
        assert sorted(catch_up(s, engine)) == sorted([late, first + 2])
        lag = index_lag(s, engine)
    assert not lag.lagging, lag.describe()
    with database.session() as s:  # a status change after indexing is lag again once the grace period is over
        app = s.get(Application, first)
        assert app is not None
        app.status = "issued"
        s.flush()
        set_updated_at(s, app, old + timedelta(hours=1))
    with database.session() as s:
        assert index_lag(s, engine).stale == [first]
