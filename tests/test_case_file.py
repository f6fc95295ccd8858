"""The case file after registration, at the service level: documents added at the window (versions, refusals, who),
the completion loop (return naming papers, resubmission answering each, back to the returning step) and the
missing-document guard with a head's override. SQLite and PostgreSQL, a real object store, real PDFs signed."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archive.audit import trail_for
from archive.models import Application, CompletionItem, Document, Notification, Page, Permit, Transition
from archive.sweeper import referenced_keys
from intake.errors import IntakeInvalid
from intake.service import Upload, add_documents, current_documents
from ocr.limits import Limits
from signing.dev_pki import DemoPki
from signing.signers import open_signer
from tests import clock
from tests.test_routing import (
    BASE_URL,
    World,
    build_world,
    credential,
    get_app,
    inbox_ids,
    png,
    refused,
    register_demo_certificates,
)
from tests.test_routing import demo_pki as demo_pki  # the module-scoped fixture
from workflow.routing import (
    ReturnItem,
    decide,
    missing_documents,
    open_completion_items,
    override_missing,
    prepare_permit,
    resubmit,
    sign_step,
)

LIMITS = Limits()


@pytest.fixture
def world(database, tmp_path, monkeypatch) -> World:  # type: ignore[no-untyped-def]
    return build_world(database, tmp_path, monkeypatch)


def scan(code: str, name: str | None = None, data: bytes | None = None) -> Upload:
    return Upload(code, name or f"{code.lower()}.png", io.BytesIO(data if data is not None else png()))


def pdf_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(out, format="PDF")
    return out.getvalue()


def count(s, model) -> int:  # type: ignore[no-untyped-def]
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


# --- documents after registration ---------------------------------------------------------------------------------


def test_the_window_adds_scans_and_a_new_scan_is_a_new_version(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s, complete=False)
        app_id = app.id
        assert app.missing_documents == ["OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT"]
        first_id = app.documents[0].id
        added = add_documents(s, world.store, app, [scan("SURVEY", "الرفع المساحي.pdf", pdf_bytes()),
                                                      scan("ID_COPY", "بطاقة-أوضح.png"), scan("OTHER")],
                              added_by=world.user(s, "clerk"), limits=LIMITS, now=clock.NOW + timedelta(hours=1))
        assert [(d.requirement, d.version, d.supersedes_id) for d in added.documents] == [
            ("SURVEY", 1, None), ("ID_COPY", 2, first_id), ("OTHER", 1, None)]
        assert len(added.page_ids) == 3
        assert app.missing_documents == ["OWNERSHIP", "DRAWINGS", "ENGINEER_CERT"]
        # the earlier version stays, and is no longer the current one
        assert {d.id for d in current_documents(app.documents)} == {d.id for d in added.documents}
        assert first_id in {d.id for d in app.documents}
        keys = referenced_keys(s)
        assert all(d.sha256 in keys and world.store.exists(d.sha256) for d in app.documents)
        assert all(s.get(Page, p).status == "pending" for p in added.page_ids)
        # a third scan of the ID card supersedes the second
        again = add_documents(s, world.store, app, [scan("id_copy")], added_by=world.user(s, "clerk"),
                              limits=LIMITS, now=clock.NOW + timedelta(hours=2))
        assert (again.documents[0].version, again.documents[0].supersedes_id) == (3, added.documents[1].id)
    with world.database.session() as s:
        events = [e for e in trail_for(s, f"application:{get_app(s, app_id).tracking_number}")
                  if e.action == "application.add_documents"]
        assert [e.actor for e in events] == ["clerk", "clerk"]
        assert [d["requirement"] for d in events[0].details["documents"]] == ["SURVEY", "ID_COPY", "OTHER"]


def test_only_the_window_of_the_centre_adds_and_bad_files_store_nothing(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s, complete=False)
        app_id = app.id
    for who, code in (("reviewer", "not_allowed"), ("head.eng", "not_allowed"), ("auditor", "not_allowed"),
                      ("clerk.qen", "wrong_centre")):
        with world.database.session() as s:
            app = get_app(s, app_id)
            with pytest.raises(IntakeInvalid) as info:
                add_documents(s, world.store, app, [scan("SURVEY")], added_by=world.user(s, who), limits=LIMITS)
            assert info.value.codes["added_by"] == code, who
            assert info.value.errors["added_by"][0]
    before = set(world.store.list())
    with world.database.session() as s:
        app = get_app(s, app_id)
        with pytest.raises(IntakeInvalid) as info:
            add_documents(s, world.store, app, [
                scan("SURVEY", "ok.png"),                                    # fine on its own...
                scan("SURVEY", "fake.pdf", b"%PDF-1.7 this is not a pdf"),  # ...but this one is not a document
                scan("NOT_A_PAPER_OF_THIS_SERVICE"),
                scan("DRAWINGS", "big.png", b"\x89PNG" + b"\0" * 2048),
            ], added_by=world.user(s, "clerk"), limits=Limits(max_bytes=1024))
        codes = info.value.codes
        assert "uploads[0]" not in codes
        assert codes["uploads[2]"] == "unknown_requirement"
        assert codes["uploads[3]"] == "too_large"
        assert "uploads[1]" in codes and info.value.errors["uploads[1]"][0]
        with pytest.raises(IntakeInvalid) as info:
            add_documents(s, world.store, app, [], added_by=world.user(s, "clerk"), limits=LIMITS)
        assert info.value.codes["uploads"] == "no_documents"
    with world.database.session() as s:
        assert count(s, Document) == 1  # the registration's ID card only
        assert get_app(s, app_id).missing_documents == ["OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT"]
    assert set(world.store.list()) == before  # nothing stored, not even the good file


def test_a_decided_file_takes_no_more_documents(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        decide(s, app, world.user(s, "reviewer"), "reject", reason="مخالف لخط التنظيم", now=clock.NOW)
        with pytest.raises(IntakeInvalid) as info:
            add_documents(s, world.store, app, [scan("SURVEY")], added_by=world.user(s, "clerk"), limits=LIMITS)
        assert info.value.codes == {"status": "closed"}


# --- the completion loop ------------------------------------------------------------------------------------------


def test_return_names_papers_and_resubmission_answers_each(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
        reviewer, head = world.user(s, "reviewer"), world.user(s, "head.eng")
        decide(s, app, reviewer, "recommend", now=clock.NOW)
        refused("unknown_item", decide, s, app, head, "return", reason="ناقص", items=[ReturnItem("PASSPORT")])
        refused("unknown_item", decide, s, app, head, "return", reason="ناقص",
                items=[ReturnItem("SURVEY", "torn")])
        refused("wrong_state", decide, s, app, head, "reject", reason="x", items=[ReturnItem("SURVEY")])
        t = decide(s, app, head, "return", reason="الرفع المساحي غير موقع من المكتب الهندسي، وشهادة الإشراف غير واضحة",
                   items=[ReturnItem("engineer_cert", "unreadable"), ReturnItem("SURVEY")],
                   now=clock.NOW + timedelta(hours=1))
        assert [(i.code, i.problem, i.transition_id) for i in open_completion_items(s, app)] == [
            ("SURVEY", "missing", t.id), ("ENGINEER_CERT", "unreadable", t.id)]
        sms = s.scalars(select(Notification).where(Notification.event == "returned",
                                                   Notification.channel == "sms")).one()
        assert "الرفع المساحي" in sms.body and "شهادة الإشراف الهندسي (غير مقروء)" in sms.body
        assert sms.body.index("الرفع المساحي") < sms.body.index("شهادة الإشراف")  # the checklist's order

    with world.database.session() as s:
        app = get_app(s, app_id)
        # nothing answered yet: refused, naming both, and nothing changes
        error = refused("items_outstanding", resubmit, s, app, world.user(s, "clerk"))
        assert "الرفع المساحي" in error.message_ar and "Engineering supervision certificate" in error.message_en
        add_documents(s, world.store, app, [scan("SURVEY", "survey-signed.pdf", pdf_bytes())],
                      added_by=world.user(s, "clerk"), limits=LIMITS, now=clock.NOW + timedelta(days=1))
        error = refused("items_outstanding", resubmit, s, app, world.user(s, "clerk"), answers={"ENGINEER_CERT": " "})
        assert "الرفع المساحي" not in error.message_ar and "شهادة الإشراف" in error.message_ar
        t = resubmit(s, app, world.user(s, "clerk"), note="أحضر المواطن الرفع المساحي",
                     answers={"engineer_cert": "الشهادة الأصلية لدى النقابة؛ الصورة المرفقة هي الوحيدة المتاحة"},
                     now=clock.NOW + timedelta(days=1, hours=1))
        assert (t.from_status, t.to_status, t.step_position) == ("returned", "awaiting_signature", 1)
        assert [st.status for st in app.steps] == ["done", "active", "waiting"]
        assert open_completion_items(s, app) == []
        items = s.scalars(select(CompletionItem).order_by(CompletionItem.id)).all()
        assert [(i.code, i.document is not None, i.answer_reason is not None) for i in items] == [
            ("SURVEY", True, False), ("ENGINEER_CERT", False, True)]
        assert items[0].document is not None and items[0].document.filename == "survey-signed.pdf"
    assert inbox_ids(world, "head.eng") == [app_id]
    assert inbox_ids(world, "reviewer") == []


def test_a_return_after_a_signature_restarts_at_the_first_signature(world: World, demo_pki: DemoPki) -> None:
    register_demo_certificates(world, demo_pki)
    with world.database.session() as s, open_signer(credential(demo_pki, "head.eng")) as signer:
        app = world.register(s)
        app_id = app.id
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        sign_step(s, world.store, app, world.user(s, "head.eng"), signer, now=clock.NOW, revocation="off",
                  base_url=BASE_URL)
        decide(s, app, world.user(s, "council.head"), "return", reason="الرسومات غير مقروءة",
               items=[ReturnItem("DRAWINGS", "unreadable")], now=clock.NOW)
        assert [st.status for st in app.steps] == ["done", "waiting", "returned"]
        assert s.scalar(select(Permit).where(Permit.application_id == app_id)) is None  # the draft went with it
        add_documents(s, world.store, app, [scan("DRAWINGS")], added_by=world.user(s, "clerk"), limits=LIMITS)
        t = resubmit(s, app, world.user(s, "clerk"), now=clock.NOW)
        assert t.step_position == 1
        assert [st.status for st in app.steps] == ["done", "active", "waiting"]


# --- the missing-document guard -----------------------------------------------------------------------------------


def test_nothing_is_approved_prepared_or_signed_while_a_paper_is_missing(world: World, demo_pki: DemoPki) -> None:
    register_demo_certificates(world, demo_pki)
    with world.database.session() as s:
        app = world.register(s, complete=False)
        app_id = app.id
        error = refused("documents_missing", decide, s, app, world.user(s, "reviewer"), "recommend")
        assert "الرفع المساحي" in error.message_ar and "Survey plan" in error.message_en
        assert count(s, Transition) == 1  # only "open"
        # the window adds three of the four; still refused, naming the last one only
        add_documents(s, world.store, app, [scan(c) for c in ("OWNERSHIP", "SURVEY", "DRAWINGS")],
                      added_by=world.user(s, "clerk"), limits=LIMITS)
        error = refused("documents_missing", decide, s, app, world.user(s, "reviewer"), "recommend")
        assert "شهادة الإشراف الهندسي" in error.message_ar and "الرفع المساحي" not in error.message_ar
        # an override needs a head of a department of the chain, not the clerk, and a reason
        refused("not_permitted", override_missing, s, app, world.user(s, "reviewer"), reason="x")
        refused("not_permitted", override_missing, s, app, world.user(s, "admin"), reason="x")
        refused("not_permitted", override_missing, s, app, world.user(s, "head.eng.qen"), reason="x")
        own = world.register(s, "clerk.signer", complete=False)
        refused("one_stop", override_missing, s, own, world.user(s, "clerk.signer"), reason="x")
        refused("reason_required", override_missing, s, app, world.user(s, "head.eng"), reason="  ")
        t = override_missing(s, app, world.user(s, "head.eng"), reason="المهندس المشرف سيقدم الشهادة عند بدء التنفيذ",
                             now=clock.NOW + timedelta(hours=3))
        assert (t.action, t.from_status, t.to_status) == ("override", "received", "received")
        assert app.override_codes == ["ENGINEER_CERT"] and app.override_by_id == world.ids["head.eng"]
        assert missing_documents(app) == []
        refused("nothing_missing", override_missing, s, app, world.user(s, "council.head"), reason="مرة أخرى")
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        permit = prepare_permit(s, world.store, app, base_url=BASE_URL, now=clock.NOW)
        assert permit.status == "draft"
        # the permit's text comes from the catalogue's entry for the service, not from the application's name
        assert permit.facts["permit_title_ar"] == "ترخيص أعمال بناء"
        assert "119 لسنة 2008" in permit.facts["legal_basis_ar"] and permit.facts["works_ar"]
        assert len(permit.facts["conditions"]) == 4
        assert "national_id" not in permit.facts and permit.facts["national_id_masked"].endswith("1234")
    with world.database.session() as s:
        app = get_app(s, app_id)
        trail = trail_for(s, f"application:{app.tracking_number}")
        event = next(e for e in trail if e.action == "application.override")
        assert event.actor == "head.eng" and event.details["documents"] == ["ENGINEER_CERT"]
        assert event.details["reason"] == "المهندس المشرف سيقدم الشهادة عند بدء التنفيذ"


def test_the_signature_step_is_guarded_too(world: World, demo_pki: DemoPki) -> None:
    """A file that reached its signer step complete, then a catalogue-listed paper is found missing (the data says
    so, e.g. a file registered before the guard): no permit is prepared and nothing is signed."""
    register_demo_certificates(world, demo_pki)
    with world.database.session() as s, open_signer(credential(demo_pki, "head.eng")) as signer:
        app = world.register(s)
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        app.missing_documents = ["SURVEY"]
        s.flush()
        refused("documents_missing", prepare_permit, s, world.store, app, base_url=BASE_URL)
        refused("documents_missing", sign_step, s, world.store, app, world.user(s, "head.eng"), signer,
                revocation="off", base_url=BASE_URL)
        assert s.scalar(select(Permit.id)) is None
        assert isinstance(app, Application)


def test_the_catalogue_checks_each_service_permit_text() -> None:
    from intake.catalogue import CatalogueError, load_catalogue, parse_catalogue

    entries = {s.code: s.permit for s in load_catalogue().services}
    assert all(p is not None and p.title_ar and p.legal_basis_ar and p.works_ar for p in entries.values())
    assert entries["SHOP-LICENCE"] is not None and "154 لسنة 2019" in entries["SHOP-LICENCE"].legal_basis_ar
    base = """version: t
services:
  - code: X
    name_ar: خدمة
    name_en: Service
    legal_days: 3
    required_documents: [{code: A, name_ar: أ, name_en: A}]
    signing_chain: [{step: s, role: signer, department: engineering, title_ar: ر, title_en: H}]
"""
    assert parse_catalogue(base).services[0].permit is None
    for bad in ("    permit: just text\n", "    permit: {title_en: only English}\n",
                "    permit: {title_ar: ت, conditions: [1, 2]}\n", "    permit: {title_ar: ت, validity_days: -3}\n",
                "    permit: {title_ar: ت, stamp: yes}\n"):
        with pytest.raises(CatalogueError):
            parse_catalogue(base + bad)
