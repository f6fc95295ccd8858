"""The case file through the web app and the API (Flask test client, real database, object store and PDFs): a file
returned for two missing papers is completed at the window, goes back to its step, cannot be signed before and ends in
an issued permit; documents added after registration (versions, refusals, who may); the head's override; the API."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select

from archive.models import Application, CompletionItem, Document, Notification, Page
from archive.roles import Role
from intake.service import Upload, register_application
from ocr.limits import Limits
from signing.dev_pki import DemoPki
from tests import clock
from tests.fixtures.app import PASSWORD, ROLE_USERS
from tests.intake_files import png_bytes
from tests.test_web_routing import (
    CLERK,
    COUNCIL,
    HEAD,
    NAME,
    NATIONAL_ID,
    PHONE,
    PKI_PASSWORD,
    PROPERTY,
    REVIEWER,
    World,
    count,
    decide,
    inbox_of,
    page,
    post,
    sign_with_pkcs12,
    text_of,
    trust_demo_pki,
)
from tests.test_web_routing import demo_pki as demo_pki  # the module-scoped fixture
from tests.test_web_routing import world as world  # the fixture

PDF_PAGE = b"%PDF-1.7 broken on purpose"


def register_without(world: World, missing: tuple[str, ...]) -> str:
    """A building permit registered at the window with every required document except ``missing`` (and a reason)."""
    codes = [c for c in ("ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT") if c not in missing]
    with world.session() as s:
        from archive.models import User

        result = register_application(
            s, world.rt.store, centre_code="SOH-01", service_code="BUILD-PERMIT", applicant_name=NAME,
            national_id=NATIONAL_ID, applicant_phone=PHONE, details=PROPERTY,
            uploads=[Upload(c, f"{c.lower()}.png", io.BytesIO(png_bytes())) for c in codes],
            created_by=s.scalar(select(User).where(User.username == CLERK)), channel="window",
            incomplete_reason="يحضر المواطن الباقي لاحقًا", limits=Limits(), now=clock.NOW,
        )  # fmt: skip
        from workflow.routing import ensure_workflow

        ensure_workflow(s, result.application, now=clock.NOW)
        return result.tracking_number


def add_scans(client: Any, tracking: str, files: dict[str, list[tuple[bytes, str]]]) -> Any:
    """The application page's drop zones: one multipart POST with doc.<CODE> fields."""
    data = {f"doc.{code}": [(io.BytesIO(body), name) for body, name in items] for code, items in files.items()}
    return post(client, f"/applications/{tracking}/documents", data, multipart=True,
                form_page=f"/applications/{tracking}")


def documents_of(world: World, tracking: str) -> list[tuple[str, int, str]]:
    with world.session() as s:
        app = s.scalar(select(Application).where(Application.tracking_number == tracking))
        assert app is not None
        return [(d.requirement, d.version, d.filename) for d in app.documents]


def test_a_file_returned_for_two_missing_papers_is_completed_at_the_window_and_issued(
    world: World, demo_pki: DemoPki
) -> None:
    trust_demo_pki(world, demo_pki)
    tracking = register_without(world, ("SURVEY", "ENGINEER_CERT"))
    reviewer, clerk, head, council = (world.client(n) for n in (REVIEWER, CLERK, HEAD, COUNCIL))

    # the reviewer is warned and cannot recommend while two required papers are missing
    html = page(reviewer, tracking)
    assert 'id="missing-guard"' in html and "الرفع المساحي" in html and "شهادة الإشراف الهندسي" in html
    response = decide(reviewer, tracking, "recommend")
    assert response.status_code == 409 and "الرفع المساحي" in text_of(response)
    assert world.transitions(tracking) == ["open"]

    # ... so returns it, naming the two papers from the checklist
    response = post(reviewer, f"/applications/{tracking}/decision", {
        "action": "return", "reason": "ينقص الملف الرفع المساحي وشهادة الإشراف", "item.SURVEY": "missing",
        "item.ENGINEER_CERT": "missing", "item.ID_COPY": ""})
    assert response.status_code == 303, text_of(response)
    assert world.application(tracking).status == "returned"
    with world.session() as s:
        sms = s.scalars(select(Notification).where(Notification.event == "returned",
                                                   Notification.channel == "sms")).one()
        assert "الرفع المساحي" in sms.body and "شهادة الإشراف الهندسي" in sms.body and "صورة بطاقة" not in sms.body

    # the window's returned list names them; nobody can sign a returned file
    inbox_html = text_of(clerk.get("/inbox"))
    row = inbox_html[inbox_html.index(f'data-tracking="{tracking}"'):]
    row = row[:row.index("</tr>")]
    assert "الرفع المساحي" in row and "شهادة الإشراف الهندسي" in row
    assert sign_with_pkcs12(head, tracking, demo_pki.signer(HEAD).pkcs12_path.read_bytes(), PKI_PASSWORD,
                            seen="0" * 64).status_code in (403, 409)

    # resubmitting with nothing uploaded is refused, naming both
    response = post(clerk, f"/applications/{tracking}/resubmit", {"note": "تم"}, form_page=f"/applications/{tracking}")
    assert response.status_code == 400
    assert "لم تُستكمل هذه المستندات" in text_of(response) and "الرفع المساحي" in text_of(response)

    # the clerk drops the two scans on the page; one is not a document: nothing at all is stored
    html = page(clerk, tracking)
    assert 'id="add-documents-form"' in html and 'id="add-SURVEY"' in html
    before = (documents_of(world, tracking), sorted(world.rt.store.list()))
    response = add_scans(clerk, tracking, {"SURVEY": [(png_bytes(), "الرفع المساحي.png")],
                                           "ENGINEER_CERT": [(PDF_PAGE, "شهادة.pdf")]})
    assert response.status_code == 400
    assert "شهادة.pdf" in text_of(response)
    assert (documents_of(world, tracking), sorted(world.rt.store.list())) == before
    response = add_scans(clerk, tracking, {"SURVEY": [(png_bytes(), "الرفع المساحي.png")],
                                           "ENGINEER_CERT": [(png_bytes(), "شهادة الإشراف.png")]})
    assert response.status_code == 303, text_of(response)
    assert {("SURVEY", 1, "الرفع المساحي.png"), ("ENGINEER_CERT", 1, "شهادة الإشراف.png")} <= set(
        documents_of(world, tracking))
    assert world.application(tracking).missing_documents == []

    # resubmitted: back to the step that returned it (the reviewer's), who now recommends
    response = post(clerk, f"/applications/{tracking}/resubmit", {"note": "أحضر المواطن المستندين"},
                    form_page=f"/applications/{tracking}")
    assert response.status_code == 303, text_of(response)
    assert world.steps(tracking) == [("active", None), ("waiting", None), ("waiting", None)]
    assert tracking in inbox_of(reviewer)
    assert decide(reviewer, tracking, "recommend", "مكتمل").status_code == 303

    # and it ends in an issued permit
    assert sign_with_pkcs12(head, tracking, demo_pki.signer(HEAD).pkcs12_path.read_bytes(),
                            PKI_PASSWORD).status_code == 303
    response = sign_with_pkcs12(council, tracking, demo_pki.signer(COUNCIL).pkcs12_path.read_bytes(), PKI_PASSWORD)
    assert response.status_code == 303, text_of(response)
    assert world.application(tracking).status == "issued"
    assert world.transitions(tracking) == ["open", "return", "resubmit", "recommend", "sign", "sign", "issue"]
    with world.session() as s:
        items = s.scalars(select(CompletionItem).order_by(CompletionItem.id)).all()
        assert [(i.code, i.document_id is not None, i.closed_at is not None) for i in items] == [
            ("SURVEY", True, True), ("ENGINEER_CERT", True, True)]


def test_a_rescan_is_a_new_version_listed_beside_the_earlier_one(world: World) -> None:
    tracking = world.register()
    clerk = world.client(CLERK)
    response = add_scans(clerk, tracking, {"ID_COPY": [(png_bytes(), "بطاقة أوضح.png")]})
    assert response.status_code == 303
    assert [(r, v) for r, v, _ in documents_of(world, tracking) if r == "ID_COPY"] == [("ID_COPY", 1), ("ID_COPY", 2)]
    html = page(clerk, tracking)
    assert "النسخة 2" in html and "نسخة سابقة" in html and "بطاقة أوضح.png" in html
    with world.session() as s:
        new = s.scalar(select(Document).where(Document.filename == "بطاقة أوضح.png"))
        assert new is not None and new.supersedes_id is not None and new.added_by is not None
        assert [p.status for p in s.scalars(select(Page).where(Page.document_id == new.id))] == ["pending"]


def test_only_the_window_adds_documents(world: World) -> None:
    tracking = world.register()
    for user in (REVIEWER, HEAD):
        response = add_scans(world.client(user), tracking, {"SURVEY": [(png_bytes(), "x.png")]})
        assert response.status_code == 403, user
    assert [r for r, _, _ in documents_of(world, tracking)].count("SURVEY") == 1


def test_a_head_overrides_missing_papers_with_a_reason_shown_on_the_page(world: World) -> None:
    tracking = register_without(world, ("ENGINEER_CERT",))
    reviewer, head, clerk = world.client(REVIEWER), world.client(HEAD), world.client(CLERK)
    assert 'id="override-form"' not in page(reviewer, tracking)
    assert 'id="override-form"' in page(head, tracking)
    response = post(head, f"/applications/{tracking}/override", {"reason": " "},
                    form_page=f"/applications/{tracking}")
    assert response.status_code == 400 and world.application(tracking).override_at is None
    assert post(clerk, f"/applications/{tracking}/override", {"reason": "x"},
                form_page=f"/applications/{tracking}").status_code == 403
    response = post(head, f"/applications/{tracking}/override", {"reason": "تُقدَّم الشهادة عند بدء التنفيذ"},
                    form_page=f"/applications/{tracking}")
    assert response.status_code == 303, text_of(response)
    html = page(reviewer, tracking)
    assert 'id="override-note"' in html and "تُقدَّم الشهادة عند بدء التنفيذ" in html
    assert 'id="missing-guard"' not in html
    assert decide(reviewer, tracking, "recommend").status_code == 303
    assert world.transitions(tracking) == ["open", "override", "recommend"]


def test_the_api_adds_documents_with_the_same_rules(world: World) -> None:
    tracking = register_without(world, ("SURVEY",))
    client = world.client()

    def token(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    def send(headers: dict[str, str], files: dict[str, tuple[bytes, str]], number: str = tracking) -> Any:
        data = {f"doc.{code}": (io.BytesIO(body), name) for code, (body, name) in files.items()}
        return client.post(f"/api/v1/applications/{number}/documents", data=data, headers=headers,
                           content_type="multipart/form-data")

    clerk = token(CLERK)
    response = send(token(ROLE_USERS[Role.REVIEWER]), {"SURVEY": (png_bytes(), "s.png")})
    assert response.status_code == 403 and response.get_json()["error_ar"]  # officials ask, the window receives
    response = send(clerk, {"SURVEY": (png_bytes(), "s.png"), "DRAWINGS": (PDF_PAGE, "d.pdf"),
                            "PASSPORT": (png_bytes(), "p.png")})
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "invalid" and body["error_ar"]
    assert {f.get("field") for f in body["fields"].values()} == {"doc.DRAWINGS", "doc.PASSPORT"}
    assert count(world, Document) == 4
    response = send(clerk, {"SURVEY": (png_bytes(), "survey.png"), "DRAWINGS": (png_bytes(), "drawings-v2.png")})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["missing_documents"] == []
    assert [(d["requirement"], d["version"], d["supersedes"] is not None) for d in body["documents"]] == [
        ("SURVEY", 1, False), ("DRAWINGS", 2, True)]
    assert send(clerk, {"SURVEY": (png_bytes(), "s.png")}, "SOH01-2026-999999-X").status_code == 404
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/applications/{tracking}/documents"]["post"]
    assert {"201", "400", "403", "409", "503"} <= set(operation["responses"])


def test_the_window_form_keeps_the_chosen_files_when_another_field_fails(world: World) -> None:
    """The clerk chose five scans and mistyped the national ID: the form comes back with the ID marked and the five
    files kept (ticked); correcting the ID is all it takes. The kept files never reach the archive before that."""
    import re

    from tests.fixtures.app import csrf_token_from
    from tests.test_web_routing import CLERK_REVIEWER

    codes = ("ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT")

    def form(client: Any, **overrides: Any) -> dict[str, Any]:
        token = csrf_token_from(client.get("/applications/new?service=BUILD-PERMIT").get_data(as_text=True))
        return {"csrf_token": token, "service_code": "BUILD-PERMIT", "applicant_name": NAME,
                "national_id": NATIONAL_ID, "applicant_phone": PHONE, "details.plot_number": "٤٥",
                "details.district": "حي الكوثر", "details.area_m2": "180", **overrides}

    clerk = world.client(CLERK)
    chosen = {f"doc.{c}": [(io.BytesIO(png_bytes()), f"مسح {c.lower()}.png")] for c in codes}
    response = clerk.post("/applications/new", data=form(clerk, national_id="2900101260123", **chosen),
                          content_type="multipart/form-data")
    html = text_of(response)
    assert response.status_code == 400 and "الرقم القومي 14 رقمًا" in html
    tokens = re.findall(r'name="kept" value="([^"]+)"', html)
    assert len(tokens) == 5 and html.count("مسح ") >= 5 and "محفوظ من المحاولة السابقة" in html
    assert count(world, Document) == 0 and list(world.rt.store.list()) == []  # nothing in the archive

    # another clerk's session, or a token altered by hand, gets nothing from them
    other = world.client(CLERK_REVIEWER)
    response = other.post("/applications/new", data=form(other, kept=tokens), content_type="multipart/form-data")
    assert response.status_code == 400 and "لم يُرفع أي مستند" in text_of(response)
    assert 'name="kept"' not in text_of(response)
    forged = [t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB") for t in tokens]
    response = clerk.post("/applications/new", data=form(clerk, kept=forged), content_type="multipart/form-data")
    assert response.status_code == 400 and count(world, Document) == 0

    # the clerk corrects the ID and sends the form with the kept files ticked: registered, with all five
    response = clerk.post("/applications/new", data=form(clerk, kept=tokens), content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)
    tracking = response.headers["Location"].rsplit("/", 1)[-1]
    assert sorted(documents_of(world, tracking)) == sorted((c, 1, f"مسح {c.lower()}.png") for c in codes)
    # used once: the same tokens register nothing a second time
    response = clerk.post("/applications/new", data=form(clerk, kept=tokens), content_type="multipart/form-data")
    assert response.status_code == 400 and count(world, Document) == 5


def test_the_api_detail_lists_every_version_of_each_checklist_item(world: World) -> None:
    """GET /api/v1/applications/<tracking>: the case file as the page shows it, per checklist item and version."""
    import hashlib

    tracking = register_without(world, ("SURVEY",))
    client = world.client()

    def token(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    clerk, reviewer = token(CLERK), token(REVIEWER)
    returned = client.post(f"/api/v1/applications/{tracking}/decisions", headers=reviewer, json={
        "action": "return", "reason": "ينقص الرفع المساحي", "items": [{"code": "SURVEY", "problem": "missing"}]})
    assert returned.status_code == 200, returned.get_json()

    def detail() -> dict[str, Any]:
        response = client.get(f"/api/v1/applications/{tracking}", headers=reviewer)
        assert response.status_code == 200
        return {e["code"]: e for e in response.get_json()["checklist"]}

    before = detail()
    assert list(before) == ["ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT"]  # the catalogue's order
    assert before["SURVEY"]["provided"] is False and before["SURVEY"]["requested"] == "missing"
    assert before["SURVEY"]["versions"] == [] and before["DRAWINGS"]["requested"] is None
    assert before["ID_COPY"]["name_ar"] and before["ID_COPY"]["required"] is True

    rescan, survey = png_bytes("الرسومات المعدلة"), png_bytes("الرفع المساحي")
    added = client.post(f"/api/v1/applications/{tracking}/documents", headers=clerk, content_type="multipart/form-data",
                        data={"doc.SURVEY": (io.BytesIO(survey), "survey.png"),
                              "doc.DRAWINGS": (io.BytesIO(rescan), "drawings-v2.png"),
                              "doc.OTHER": (io.BytesIO(png_bytes("خطاب")), "letter.png")})
    assert added.status_code == 201, added.get_json()

    after = detail()
    assert list(after) == ["ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT", "OTHER"]
    drawings = after["DRAWINGS"]
    assert [(v["version"], v["current"], v["added_after_registration"]) for v in drawings["versions"]] == [
        (1, False, False), (2, True, True)]
    first, second = drawings["versions"]
    (old,), (new,) = first["files"], second["files"]
    assert old["filename"] == "drawings.png" and new["filename"] == "drawings-v2.png"
    assert new["supersedes"] == old["id"] and new["current"] is True and old["current"] is False
    assert new["sha256"] == hashlib.sha256(rescan).hexdigest() and new["size_bytes"] == len(rescan)
    assert new["media_type"] == "image/png" and new["page_count"] == 1 and new["ocr_status"] == "pending"
    assert [(p["index"], p["status"]) for p in new["pages"]] == [(0, "pending")]
    assert new["uploaded_by"]["username"] == CLERK and new["uploaded_at"] and second["uploaded_by"]["username"] == CLERK
    assert old["uploaded_by"]["username"] == CLERK  # the registering clerk for the registration's own files
    assert new["signature_report"] is None  # not a PDF
    assert after["SURVEY"]["provided"] is True and after["SURVEY"]["requested"] == "missing"  # open until resubmit
    survey_files = [f["sha256"] for v in after["SURVEY"]["versions"] for f in v["files"]]
    assert survey_files == [hashlib.sha256(survey).hexdigest()]
    assert after["OTHER"]["required"] is False and after["OTHER"]["versions"][0]["files"][0]["filename"] == "letter.png"

    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "checklist" in schemas["ApplicationDetail"]["properties"]
    version_fields = set(schemas["DocumentVersion"]["properties"])
    assert {"version", "current", "uploaded_at", "uploaded_by", "files"} <= version_fields
    assert {"sha256", "size_bytes", "media_type", "uploaded_at", "uploaded_by", "pages", "signature_report"} <= set(
        schemas["DocumentFile"]["properties"])
    assert {"check", "valid", "invalid", "indeterminate", "signatures"} <= set(schemas["SignatureReport"]["properties"])
