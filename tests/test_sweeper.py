"""The orphan sweeper: unreferenced blobs go after the grace period, referenced ones never."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from archive.db import Database
from archive.models import Application, Centre, Document, Page, Service, utcnow
from archive.store import LocalStore, ObjectStore, open_store
from archive.sweeper import KEY_COLUMNS, referenced_keys, register_key_column, sweep_unreferenced

GRACE = timedelta(hours=24)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return open_store((tmp_path / "objects").as_uri())


def _application_with_keys(database: Database, document_key: str, page_keys: dict[str, str]) -> None:
    """One application whose document and page point at the given keys."""
    now = utcnow()
    with database.session() as s:
        centre = Centre(code="SOH-01", name_ar="مركز", name_en="Centre", governorate_code="26")
        service = Service(
            code="VALIDITY", name_ar="بيان صلاحية", name_en="Validity", legal_days=7, catalogue_version="t"
        )
        s.add_all([centre, service])
        s.flush()
        document = Document(
            requirement="ID_COPY",
            filename="id.png",
            media_type="image/png",
            sha256=document_key,
            size_bytes=1,
            page_count=1,
            pages=[Page(index=0, **page_keys)],
        )
        s.add(
            Application(
                tracking_number="SOH01-2026-000001-X",
                centre=centre,
                service=service,
                service_code="VALIDITY",
                catalogue_version="t",
                applicant_name="أحمد علي",
                national_id="29001012601234",
                applicant_phone="01012345678",
                channel="window",
                due_at=now + timedelta(days=7),
                documents=[document],
            )
        )


def test_referenced_keys_cover_every_registered_column(database: Database, store: ObjectStore) -> None:
    keys = {name: store.put(name.encode()) for name in ("original", "pdf", "preview", "words")}
    _application_with_keys(
        database,
        keys["original"],
        {"pdf_sha256": keys["pdf"], "preview_sha256": keys["preview"], "words_sha256": keys["words"]},
    )
    with database.session() as s:
        assert referenced_keys(s) == set(keys.values())


def test_orphan_removed_after_grace_but_not_before(database: Database, store: ObjectStore) -> None:
    orphan = store.put(b"a scan whose application was never committed")
    with database.session() as s:
        early = sweep_unreferenced(s, store, GRACE, now=utcnow() + timedelta(hours=1))
    assert early.examined == 1 and early.deleted == [] and early.kept_recent == 1
    assert store.exists(orphan)
    with database.session() as s:
        late = sweep_unreferenced(s, store, GRACE, now=utcnow() + GRACE + timedelta(minutes=1))
    assert late.deleted == [orphan] and late.kept_recent == 0
    assert not store.exists(orphan)


def test_referenced_blobs_are_never_removed(database: Database, store: ObjectStore) -> None:
    original = store.put(b"original scan")
    pdf = store.put(b"searchable page")
    orphan = store.put(b"left behind")
    _application_with_keys(database, original, {"pdf_sha256": pdf})
    with database.session() as s:
        report = sweep_unreferenced(s, store, GRACE, now=utcnow() + timedelta(days=3650))
    assert report.examined == 3
    assert report.deleted == [orphan]
    assert store.exists(original) and store.exists(pdf) and not store.exists(orphan)


def test_dry_run_deletes_nothing(database: Database, store: ObjectStore) -> None:
    orphan = store.put(b"left behind")
    with database.session() as s:
        report = sweep_unreferenced(s, store, GRACE, now=utcnow() + 2 * GRACE, dry_run=True)
    assert report.deleted == [orphan]
    assert store.exists(orphan)


def test_rewritten_orphan_counts_as_recent(database: Database, store: ObjectStore) -> None:
    """A local store refreshes the modification time when the same content is put again: that blob is in use."""
    assert isinstance(store, LocalStore)
    key = store.put(b"content re-uploaded by a new application")
    old = (utcnow() - 3 * GRACE).timestamp()
    os.utime(store.path_for(key), (old, old))
    store.put(b"content re-uploaded by a new application")
    with database.session() as s:
        report = sweep_unreferenced(s, store, GRACE)
    assert report.deleted == [] and report.kept_recent == 1


def test_negative_grace_is_refused(database: Database, store: ObjectStore) -> None:
    with database.session() as s, pytest.raises(ValueError):
        sweep_unreferenced(s, store, timedelta(seconds=-1))


def test_register_key_column_is_idempotent() -> None:
    before = list(KEY_COLUMNS)
    register_key_column(Document.sha256)
    assert KEY_COLUMNS == before
