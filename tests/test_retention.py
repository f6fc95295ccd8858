"""Retention: originals and signed permits held by S3 object lock on the real S3 server (SeaweedFS).

What must hold: records get a retention period (noted in the ledger), a held object cannot be deleted through the
store (nor by the sweeper), an administrator can end a governance period early and that is in the audit trail, a
compliance period cannot be shortened by anyone, and the hourly job is idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.audit import verify_chain
from archive.db import Database
from archive.models import (
    Application,
    AuditEvent,
    Centre,
    Document,
    Permit,
    Service,
    StoredObject,
    WorkflowStep,
    utcnow,
)
from archive.retention import ReleaseRefused, apply_retention, record_keys, release
from archive.roles import Role
from archive.store import ObjectLocked, ObjectStore, RetentionUnsupported, S3Store, open_store
from archive.sweeper import sweep_unreferenced
from archive.users import create_user
from sijill.settings import Settings, SettingsError
from tests.fixtures.s3 import S3Server
from tests.sijill_process import run_sijill, sijill_env


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone (they are stored in UTC)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@pytest.fixture
def locked(s3_locked_store_url: str) -> ObjectStore:
    return open_store(s3_locked_store_url)


def _records(database: Database, store: ObjectStore) -> dict[str, str]:
    """One application with an original, a signed step and an issued permit, plus a draft that is not a record."""
    keys = {name: store.put(f"{name} {utcnow().isoformat()}".encode())
            for name in ("original", "draft", "signed", "other_draft")}
    now = utcnow()
    with database.session() as s:
        centre = Centre(code="SOH-01", name_ar="مركز", name_en="Centre", governorate_code="26")
        service = Service(code="VALIDITY", name_ar="بيان صلاحية", name_en="Validity", legal_days=7,
                          catalogue_version="t")
        application = Application(
            tracking_number="SOH01-2026-000001-X", centre=centre, service=service, service_code="VALIDITY",
            catalogue_version="t", applicant_name="أحمد علي", national_id="29001012601234",
            applicant_phone="01012345678", channel="window", due_at=now + timedelta(days=7),
            documents=[Document(requirement="ID_COPY", filename="id.png", media_type="image/png",
                                sha256=keys["original"], size_bytes=1, page_count=1)],
        )
        s.add(application)
        s.flush()
        s.add(WorkflowStep(application_id=application.id, position=0, step="approve", role="signer",
                           department="eng", title_ar="اعتماد", title_en="Approve", signs=True, status="done",
                           signed_pdf_sha256=keys["signed"]))
        s.add(Permit(application_id=application.id, permit_number="P-1", token_sha256="0" * 64, status="issued",
                     draft_pdf_sha256=keys["draft"], current_pdf_sha256=keys["signed"]))
        create_user(s, "admin", "a long admin password", [Role.ADMIN], "Admin")
        create_user(s, "clerk", "a long clerk password", [Role.CLERK], "Clerk")
        s.commit()
    return keys


def test_store_url_bucket_reports_lock_support(locked: ObjectStore, s3_store_url: str) -> None:
    assert locked.supports_retention
    plain = open_store(s3_store_url)
    assert not plain.supports_retention
    key = plain.put(b"not lockable")
    with pytest.raises(RetentionUnsupported, match="has no S3 object lock"):
        plain.retain(key, utcnow() + timedelta(days=1), "governance")


def test_held_object_cannot_be_deleted_through_the_store(locked: ObjectStore, s3_locked_bucket: str,
                                                         s3_server: S3Server) -> None:
    key = locked.put(b"a signed permit")
    held = locked.retain(key, utcnow() + timedelta(days=2), "governance")
    assert held.mode == "governance"
    assert locked.retention(key) == held
    with pytest.raises(ObjectLocked, match="retention period until"):
        locked.delete(key)
    assert locked.get_bytes(key) == b"a signed permit"
    # Nothing was hidden behind a delete marker either: one version, still current.
    assert isinstance(locked, S3Store)
    name = locked.object_name(key)
    versions = [o for o in s3_server.client().list_objects(s3_locked_bucket, prefix=name, include_version=True)]
    assert [v.is_delete_marker for v in versions] == [False]


def test_unheld_object_in_versioned_bucket_is_deleted_with_all_versions(
        locked: ObjectStore, s3_locked_bucket: str, s3_server: S3Server) -> None:
    key = locked.put(b"an orphan scan")
    locked.rewrite(b"an orphan scan")  # a second version, as a repair writes
    locked.delete(key)
    assert not locked.exists(key)
    assert isinstance(locked, S3Store)
    name = locked.object_name(key)
    assert list(s3_server.client().list_objects(s3_locked_bucket, prefix=name, include_version=True)) == []


def test_repair_of_a_held_object_keeps_it_held(locked: ObjectStore) -> None:
    key = locked.put(b"an original")
    held = locked.retain(key, utcnow() + timedelta(days=3), "governance")
    locked.rewrite(b"an original")
    assert locked.retention(key) == held


def test_apply_retention_holds_originals_and_signed_permits_once(database: Database, locked: ObjectStore) -> None:
    keys = _records(database, locked)
    now = datetime.now(UTC).replace(microsecond=0)
    with database.session() as s:
        assert record_keys(s) == {keys["original"], keys["signed"]}
        run = apply_retention(s, locked, years=1, mode="governance", now=now)
    assert sorted(run.retained) == sorted([keys["original"], keys["signed"]]) and run.missing == []
    for name in ("original", "signed"):
        held = locked.retention(keys[name])
        assert held is not None and held.mode == "governance"
        assert held.until == now + timedelta(days=365)
        with pytest.raises(ObjectLocked):
            locked.delete(keys[name])
    assert locked.retention(keys["draft"]) is None
    with database.session() as s:
        rows = {r.key: r for r in s.scalars(select(StoredObject))}
        assert _utc(rows[keys["original"]].retained_until) == now + timedelta(days=365)
        assert rows[keys["signed"]].retention_mode == "governance"
        again = apply_retention(s, locked, years=1, mode="governance", now=now + timedelta(hours=1))
    assert again.retained == [] and again.missing == []


def test_apply_retention_is_off_at_zero_years_and_refuses_a_store_without_lock(
        database: Database, s3_store_url: str, locked: ObjectStore) -> None:
    _records(database, locked)
    with database.session() as s:
        assert apply_retention(s, locked, years=0, mode="governance").retained == []
        with pytest.raises(RetentionUnsupported, match="SIJILL_RETENTION_YEARS"):
            apply_retention(s, open_store(s3_store_url), years=30, mode="governance")


def test_sweeper_reports_a_held_orphan_instead_of_crashing(database: Database, locked: ObjectStore) -> None:
    key = locked.put(b"an orphan somebody held by hand")
    locked.retain(key, utcnow() + timedelta(days=1), "governance")
    with database.session() as s:
        report = sweep_unreferenced(s, locked, timedelta(0), now=utcnow() + timedelta(hours=1))
    assert report.deleted == [] and report.held == [key]
    assert locked.exists(key)


def test_admin_release_of_governance_is_audited(database: Database, locked: ObjectStore) -> None:
    keys = _records(database, locked)
    with database.session() as s:
        apply_retention(s, locked, years=1, mode="governance")
        with pytest.raises(ReleaseRefused, match="administrator"):
            release(s, locked, keys["original"], actor="clerk", reason="court order 12/2026")
        with pytest.raises(ReleaseRefused, match="reason"):
            release(s, locked, keys["original"], actor="admin", reason="  ")
        released = release(s, locked, keys["original"], actor="admin", reason="court order 12/2026")
    assert released.until < utcnow() + timedelta(minutes=1)
    assert locked.retention(keys["original"]) == released
    with database.session() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.release")))
        assert len(events) == 1
        assert events[0].actor == "admin" and events[0].subject == f"object:{keys['original']}"
        assert events[0].details["reason"] == "court order 12/2026" and events[0].details["mode"] == "governance"
        assert verify_chain(s).intact
        row = s.get(StoredObject, keys["original"])
        assert row is not None and _utc(row.retained_until) == released.until
        # The hourly job does not hold a released record again.
        assert apply_retention(s, locked, years=1, mode="governance").retained == []
    assert locked.get_bytes(keys["original"]).startswith(b"original")  # released, not deleted


def test_compliance_cannot_be_released(database: Database, locked: ObjectStore) -> None:
    keys = _records(database, locked)
    with database.session() as s:
        apply_retention(s, locked, years=1, mode="compliance")
        before = locked.retention(keys["signed"])
        assert before is not None and before.mode == "compliance"
        with pytest.raises(ObjectLocked, match="compliance mode"):
            release(s, locked, keys["signed"], actor="admin", reason="asked to")
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "retention.release")) is None
    assert locked.retention(keys["signed"]) == before


def test_retention_settings(tmp_path: Path) -> None:
    base = {"SIJILL_DATA_DIR": str(tmp_path)}
    default = Settings.from_env(base)
    assert default.retention_years == 0 and default.retention_mode == "governance"
    s3 = {**base, "SIJILL_STORAGE_URL": "s3://k:s@minio:9000/sijill"}
    held = Settings.from_env({**s3, "SIJILL_RETENTION_YEARS": "30", "SIJILL_RETENTION_MODE": "Compliance"})
    assert held.retention_years == 30 and held.retention_mode == "compliance"
    with pytest.raises(SettingsError, match="file:// store cannot hold records"):
        Settings.from_env({**base, "SIJILL_RETENTION_YEARS": "30"})
    with pytest.raises(SettingsError, match="SIJILL_RETENTION_MODE must be one of governance, compliance"):
        Settings.from_env({**s3, "SIJILL_RETENTION_MODE": "forever"})
    with pytest.raises(SettingsError, match="SIJILL_RETENTION_YEARS must be a whole number of years"):
        Settings.from_env({**s3, "SIJILL_RETENTION_YEARS": "thirty"})


@pytest.mark.slow
def test_cli_apply_show_and_release(tmp_path: Path, s3_locked_store_url: str) -> None:
    from archive.migrate import upgrade

    db_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(db_url)
    database = Database(db_url)
    keys = _records(database, open_store(s3_locked_store_url))
    env = sijill_env(tmp_path / "data", database_url=db_url, storage_url=s3_locked_store_url, retention_years="2")

    applied = run_sijill(env, "retention", "apply")
    assert applied.returncode == 0, applied.stderr
    assert "held 2 records for 2 years (governance)" in applied.stdout
    shown = run_sijill(env, "retention", "show", keys["signed"])
    assert shown.stdout.startswith("governance until ")

    refused = run_sijill(env, "retention", "release", keys["signed"], "--reason", "x", "--user", "clerk")
    assert refused.returncode == 1 and "Only an active administrator" in refused.stderr
    released = run_sijill(env, "retention", "release", keys["signed"], "--reason", "court order", "--user", "admin",
                          "--admin-store-url", s3_locked_store_url)
    assert released.returncode == 0, released.stderr
    assert "recorded in the audit trail" in released.stdout
    with database.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "retention.release"))
        assert event is not None and event.actor == "admin" and event.details["reason"] == "court order"

    compliance = {**env, "SIJILL_RETENTION_MODE": "compliance"}
    with database.session() as s:  # a new record arrives; the compliance job holds it
        s.add(Document(application_id=1, requirement="DEED", filename="deed.png", media_type="image/png",
                       sha256=open_store(s3_locked_store_url).put(b"a deed"), size_bytes=6, page_count=1))
        s.commit()
    assert run_sijill(compliance, "retention", "apply").returncode == 0
    deed = open_store(s3_locked_store_url).put(b"a deed")
    no = run_sijill(compliance, "retention", "release", deed, "--reason", "asked", "--user", "admin")
    assert no.returncode == 2
    assert no.stderr.strip().startswith("sijill: Object") and "compliance mode" in no.stderr
    database.dispose()


def test_health_check_names_a_bucket_without_object_lock(
        tmp_path: Path, database: Database, s3_store_url: str, s3_locked_store_url: str) -> None:
    from sijill.health import _retention_probe

    _records(database, open_store(s3_locked_store_url))
    base = {"SIJILL_DATA_DIR": str(tmp_path), "SIJILL_RETENTION_YEARS": "30"}
    good = Settings.from_env({**base, "SIJILL_STORAGE_URL": s3_locked_store_url})
    assert _retention_probe(good, database)() == (
        "object lock on; 0 objects held, 2 records waiting for the hourly job")
    bad = Settings.from_env({**base, "SIJILL_STORAGE_URL": s3_store_url})
    with pytest.raises(RetentionUnsupported, match="has no object lock"):
        _retention_probe(bad, database)()


def test_retain_never_shortens_nor_weakens(locked: ObjectStore) -> None:
    key = locked.put(b"a permit held in compliance mode")
    long = locked.retain(key, utcnow() + timedelta(days=10), "compliance")
    again = locked.retain(key, utcnow() + timedelta(days=2), "governance")
    assert again == long and locked.retention(key) == long
    longer = locked.retain(key, utcnow() + timedelta(days=20), "governance")
    assert longer.mode == "compliance" and longer.until > long.until
    assert locked.retention(key) == longer


def test_a_bucket_sijill_creates_has_object_lock(s3_server: S3Server) -> None:
    store = open_store(s3_server.url(bucket="sijill-created-locked") + "?create_bucket=true")
    key = store.put(b"first object creates the bucket")
    assert store.supports_retention
    assert s3_server.client().get_bucket_versioning("sijill-created-locked").status == "Enabled"
    assert store.retain(key, utcnow() + timedelta(days=1), "governance").mode == "governance"


def test_deleting_a_missing_object_in_a_locked_bucket_is_a_no_op(locked: ObjectStore) -> None:
    locked.delete("ab" * 32)
    assert not locked.exists("ab" * 32)


def test_hourly_task_holds_records(monkeypatch: pytest.MonkeyPatch, database: Database, locked: ObjectStore,
                                   tmp_path: Path) -> None:
    from types import SimpleNamespace

    from worker.celery_app import BEAT_SCHEDULE
    from worker.tasks import retention

    assert BEAT_SCHEDULE["hold-records"] == {"task": retention.name, "schedule": 3600.0}
    keys = _records(database, locked)
    settings = SimpleNamespace(retention_years=5, retention_mode="governance")
    monkeypatch.setattr("worker.tasks.worker_runtime",
                        lambda: SimpleNamespace(database=database, store=locked, settings=settings))
    assert retention() == {"retained": 2, "missing": [], "remaining": 0}
    held = locked.retention(keys["original"])
    assert held is not None and held.until > utcnow() + timedelta(days=4 * 365)
    assert retention() == {"retained": 0, "missing": [], "remaining": 0}


def test_missing_records_are_reported_and_batches_continue(database: Database, locked: ObjectStore) -> None:
    keys = _records(database, locked)
    absent = "cd" * 32
    with database.session() as s:
        s.add(Document(application_id=1, requirement="DEED", filename="deed.png", media_type="image/png",
                       sha256=absent, size_bytes=6, page_count=1))
        s.commit()
        first = apply_retention(s, locked, years=1, mode="governance", batch=1)
        assert len(first.retained) + len(first.missing) == 1 and first.remaining == 2
        rest = apply_retention(s, locked, years=1, mode="governance", batch=10)
        done = set(first.retained) | set(rest.retained)
        assert done == {keys["original"], keys["signed"]}
        # Keys are taken in sorted order, so the missing one may come in the first batch and be tried again in
        # the second (it stays waiting): it is reported by each run that reached it, and never counted as held.
        assert set(first.missing + rest.missing) == {absent} and absent in rest.missing
        # A missing record stays waiting: it is held once fixity brings it back.
        assert apply_retention(s, locked, years=1, mode="governance").missing == [absent]
