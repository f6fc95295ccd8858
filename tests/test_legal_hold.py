"""Legal holds on a case file: every object of the case held by the store (the real S3 server's object-lock legal hold,
or the local store's marker), nothing held deleted or released by retention, holds audited and searchable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.audit import verify_chain
from archive.db import Database
from archive.legal_hold import HoldRefused, case_record_names, place_hold, reapply_holds, release_hold
from archive.manifest import write_application_manifest
from archive.models import (
    Application,
    AuditEvent,
    Centre,
    Document,
    LegalHold,
    Page,
    Permit,
    Service,
    User,
    WorkflowStep,
    utcnow,
)
from archive.retention import ReleaseRefused, apply_retention, release
from archive.roles import Role
from archive.store import LocalStore, ObjectLocked, ObjectStore, open_store
from archive.sweeper import sweep_unreferenced
from archive.users import create_user
from archive_search.indexing import build_document

TRACKING = "SOH01-2026-000042-K"


def _case(database: Database, store: ObjectStore) -> dict[str, str]:
    """One case file: an original scan, its page's OCR outputs, a signed step and an issued permit; three staff."""
    keys = {name: store.put(f"{name} of {TRACKING} {utcnow().isoformat()}".encode())
            for name in ("original", "page_pdf", "preview", "words", "searchable", "draft", "signed")}
    now = utcnow()
    with database.session() as s:
        centre = Centre(code="SOH-01", name_ar="مركز سوهاج", name_en="Sohag", governorate_code="26")
        service = Service(code="BUILD-PERMIT", name_ar="ترخيص بناء", name_en="Building permit", legal_days=30,
                          catalogue_version="t")
        application = Application(
            tracking_number=TRACKING, centre=centre, service=service, service_code="BUILD-PERMIT",
            catalogue_version="t", applicant_name="هدى عبد الرحمن", national_id="29503152601236",
            applicant_phone="01098765432", channel="window", due_at=now + timedelta(days=30),
            documents=[Document(requirement="DEED", filename="عقد.png", media_type="image/png",
                                sha256=keys["original"], searchable_pdf_sha256=keys["searchable"], size_bytes=1,
                                page_count=1,
                                pages=[Page(index=0, status="done", pdf_sha256=keys["page_pdf"],
                                            preview_sha256=keys["preview"], words_sha256=keys["words"])])],
        )
        s.add(application)
        s.flush()
        s.add(WorkflowStep(application_id=application.id, position=0, step="approve", role="signer",
                           department="eng", title_ar="اعتماد", title_en="Approve", signs=True, status="done",
                           signed_pdf_sha256=keys["signed"]))
        s.add(Permit(application_id=application.id, permit_number="P-42", token_sha256="1" * 64, status="issued",
                     draft_pdf_sha256=keys["draft"], current_pdf_sha256=keys["signed"]))
        create_user(s, "admin", "a long admin password", [Role.ADMIN], "مسؤول النظام")
        create_user(s, "auditor", "a long auditor password", [Role.AUDITOR], "جهة رقابية")
        create_user(s, "clerk", "a long clerk password", [Role.CLERK], "موظف الشباك")
        s.commit()
        write_application_manifest(s, store, application)
        s.commit()
    return keys


def _app(s: object) -> Application:
    return s.scalars(select(Application).where(Application.tracking_number == TRACKING)).one()  # type: ignore[attr-defined]


def _user(s: object, name: str) -> User:
    return s.scalars(select(User).where(User.username == name)).one()  # type: ignore[attr-defined]


def _place(database: Database, store: ObjectStore, who: str = "auditor",
           reason: str = "تحقيق النيابة الإدارية رقم ٧ لسنة ٢٠٢٦") -> int:
    with database.session() as s:
        run = place_hold(s, store, _app(s), _user(s, who), reason)
        s.commit()
        return run.held


def test_a_held_case_file_survives_a_retention_release_attempt_on_s3(database: Database,
                                                                     s3_locked_store_url: str) -> None:
    store = open_store(s3_locked_store_url)
    keys = _case(database, store)
    with database.session() as s:
        apply_retention(s, store, years=1, mode="governance")
    held = _place(database, store)
    assert held == len(keys) + 1  # every object of the case and its manifest
    assert all(store.legal_hold(k) for k in keys.values())
    with database.session() as s:
        names = case_record_names(store, _app(s))
    assert names and all(store.named_legal_hold(n) for n in names)

    with database.session() as s, pytest.raises(ReleaseRefused, match="legal hold"):
        release(s, store, keys["original"], actor="admin", reason="انتهت مدة الحفظ")
    assert store.retention(keys["original"]) is not None  # the period still runs
    for name in ("preview", "original", "signed"):  # a preview has no retention: the hold alone keeps it
        with pytest.raises(ObjectLocked):
            store.delete(keys[name])
    assert all(store.exists(k) for k in keys.values())

    with database.session() as s:
        release_hold(s, store, _app(s), _user(s, "admin"), "حُفظ التحقيق")
        s.commit()
    assert not store.legal_hold(keys["preview"])
    with database.session() as s:
        events = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert "legal_hold.place" in events and "legal_hold.release" in events
        assert verify_chain(s).intact


def test_the_local_store_refuses_to_delete_a_held_object_until_release(database: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    keys = _case(database, store)
    _place(database, store)
    assert store.legal_hold(keys["words"])
    with pytest.raises(ObjectLocked):
        store.delete(keys["words"])
    with database.session() as s:  # the sweeper keeps held objects even if their rows were gone
        report = sweep_unreferenced(s, store, grace=timedelta(0), now=utcnow() + timedelta(days=2))
    assert not report.deleted
    with database.session() as s:
        run = release_hold(s, store, _app(s), _user(s, "auditor"), "انتهى التحقيق")
        s.commit()
    assert run.held >= len(keys) and not store.legal_hold(keys["words"])
    store.delete(keys["words"])
    assert not store.exists(keys["words"])


def test_who_may_hold_and_the_refusals(database: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    _case(database, store)
    with database.session() as s:
        for user, reason, code in (("clerk", "سبب", "not_permitted"), ("auditor", "  ", "reason_required"),
                                   ("admin", "x" * 2001, "reason_too_long")):
            with pytest.raises(HoldRefused) as refused:
                place_hold(s, store, _app(s), _user(s, user), reason)
            assert refused.value.code == code and refused.value.message_ar
            s.rollback()
        with pytest.raises(HoldRefused) as refused:
            release_hold(s, store, _app(s), _user(s, "admin"), "لا يوجد")
        assert refused.value.code == "not_held" and refused.value.status == 409
    _place(database, store, "admin")
    with database.session() as s, pytest.raises(HoldRefused) as refused:
        place_hold(s, store, _app(s), _user(s, "auditor"), "مرة ثانية")
    assert refused.value.code == "already_held"
    with database.session() as s:
        holds = s.scalars(select(LegalHold)).all()
        assert len(holds) == 1 and holds[0].placed_by.username == "admin"


def test_a_held_file_is_searchable_and_later_objects_are_held(database: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    _case(database, store)
    _place(database, store, reason="أمر المحكمة ١٢/٢٠٢٦")
    with database.session() as s:
        document = build_document(s, _app(s).id)
        assert document is not None and "تحفظ قانوني" in document.data_text and "legal hold" in document.data_text
        assert "أمر المحكمة" in document.data_text
        application = _app(s)
        application.applicant_phone = "01000000000"  # a later change: a new manifest version
        s.commit()
        newest = write_application_manifest(s, store, application)
        s.commit()
    assert not store.named_legal_hold(newest)
    with database.session() as s:
        reapply_holds(s, store)
    assert store.named_legal_hold(newest)
    with database.session() as s:
        release_hold(s, store, _app(s), _user(s, "admin"), "رفع التحفظ")
        s.commit()
        document = build_document(s, _app(s).id)
        assert document is not None and "تحفظ قانوني" not in document.data_text
