"""Intake through the web and the API: real requests against the app on SQLite and PostgreSQL, real files.

The scans are drawn with Pillow at test time (Arabic text, a PNG, a two-page TIFF and a PDF), the originals go to the
real local object store, and OCR is queued on the real embedded broker (no worker consumes it here).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archive.models import Application, Document, OcrStatus, Page
from archive.roles import Role
from archive.store import IntegrityError, LocalStore
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from
from tests.intake_files import jpeg_bytes, pdf_bytes, png_bytes, tiff_bytes
from web.runtime import Runtime

Login = Callable[[Role], FlaskClient]

NATIONAL_ID = "29001012601235"
NATIONAL_ID_ARABIC = "٢٩٠٠١٠١٢٦٠١٢٣٥"
PHONE = "01012345678"
NAME = "محمد أحمد عبد الله السيد"
SERVICE = "VALIDITY"  # required: ID_COPY, OWNERSHIP, SITE_PLAN; needs property details
DETAILS = {"details.plot_number": "١٢٣", "details.district": "حي الكوثر", "details.area_m2": "250"}
PDF_MAGIC = b"%PDF-"


# --- helpers -----------------------------------------------------------------------------------------------


def upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["sijill"]
    with runtime.db.session() as session:
        sync_catalogue(session, load_catalogue())
    return runtime


def form_token(client: FlaskClient) -> str:
    page = client.get(f"/applications/new?service={SERVICE}")
    assert page.status_code == 200, page.get_data(as_text=True)
    return csrf_token_from(page.get_data(as_text=True))


def full_form(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": form_token(client),
        "service_code": SERVICE,
        "applicant_name": NAME,
        "national_id": NATIONAL_ID_ARABIC,
        "applicant_phone": PHONE,
        **DETAILS,
        "doc.ID_COPY": [upload(png_bytes(), "بطاقة الرقم القومي.png")],
        "doc.OWNERSHIP": [upload(tiff_bytes(), "ownership.tiff")],
        "doc.SITE_PLAN": [upload(pdf_bytes(), "site plan.pdf")],
    }
    data.update(overrides)
    return data


def register(client: FlaskClient, **overrides: Any) -> str:
    response = client.post("/applications/new", data=full_form(client, **overrides),
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith("/applications/")
    return location.rsplit("/", 1)[-1]


def store_keys(rt: Runtime) -> list[str]:
    return list(rt.store.list())


def count(rt: Runtime, model: type) -> int:
    with rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def queued_messages(rt: Runtime, queue: str = "ocr") -> int:
    path = Path(rt.settings.broker_url.removeprefix("sqla+sqlite:///"))
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id "
                                "WHERE q.name = ?", (queue,)).fetchone()[0])


def queued_tasks(rt: Runtime, queue: str) -> set[str]:
    """The names of the tasks waiting in ``queue`` on the embedded broker."""
    import json

    path = Path(rt.settings.broker_url.removeprefix("sqla+sqlite:///"))
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT m.payload FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id "
                            "WHERE q.name = ?", (queue,)).fetchall()
    return {json.loads(payload)["headers"]["task"] for (payload,) in rows}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the one-stop window -----------------------------------------------------------------------------------


def test_clerk_registers_an_application_with_png_tiff_and_pdf(rt: Runtime, login: Login) -> None:
    client = login(Role.CLERK)
    form = client.get("/applications/new?service=validity").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'name="doc.ID_COPY"' in form and 'name="doc.OTHER"' in form
    assert "صورة بطاقة الرقم القومي" in form and "كروكي الموقع" in form and 'name="details.plot_number"' in form
    assert 'capture="environment"' in form and "intake.js" in form

    tracking = register(client)
    page = client.get(f"/applications/{tracking}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<bdi dir="ltr" class="tracking">{tracking}</bdi>' in html  # the flash, with the receipt link
    assert f"/applications/{tracking}/receipt.pdf" in html
    assert NAME in html and NATIONAL_ID in html and "بطاقة الرقم القومي.png" in html
    assert "في الانتظار" in html and 'data-status-url="' in html

    with rt.db.session() as session:
        application = session.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None
        assert application.national_id == NATIONAL_ID and application.channel == "window"
        assert application.details == {"plot_number": "123", "district": "حي الكوثر", "area_m2": 250}
        assert application.missing_documents == []
        documents = {d.requirement: d for d in application.documents}
        assert {k: (d.media_type, d.page_count) for k, d in documents.items()} == {
            "ID_COPY": ("image/png", 1), "OWNERSHIP": ("image/tiff", 2), "SITE_PLAN": ("application/pdf", 1),
        }
        assert all(rt.store.exists(d.sha256) for d in documents.values())
        pages = [p for d in application.documents for p in d.pages]
        assert len(pages) == 4 and {p.status for p in pages} == {OcrStatus.PENDING}
        assert application.created_by is not None and application.created_by.username == ROLE_USERS[Role.CLERK]
    assert queued_messages(rt) == 4  # one OCR task per page on the embedded broker
    # within the dispatch window: its manifest written in the archive by the web process, its indexing queued
    deadline = time.monotonic() + 30
    while True:
        with rt.db.session() as s:
            described = s.scalar(select(Application.manifest_at).where(Application.tracking_number == tracking))
        if described is not None and "search.index" in queued_tasks(rt, "celery"):
            break
        assert time.monotonic() < deadline, (described, queued_tasks(rt, "celery"))
        time.sleep(0.1)

    receipt = client.get(f"/applications/{tracking}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert receipt.data.startswith(PDF_MAGIC)
    assert receipt.headers["Content-Disposition"].startswith("inline")

    status = client.get(f"/applications/{tracking}/status.json").get_json()
    assert status["ocr"] == {"pages": 4, "done": 0, "failed": 0, "pending": 4, "running": 0, "complete": False}

    listing = client.get("/applications").get_data(as_text=True)
    assert tracking in listing and NAME in listing
    # A tracking number typed in another form opens the same page.
    typed = client.get("/applications?q=" + tracking.lower().replace("-", " "))
    assert typed.status_code == 302 and typed.headers["Location"].endswith(f"/applications/{tracking}")


def test_invalid_national_id_and_corrupt_pdf_are_refused_in_arabic_and_nothing_is_stored(
    rt: Runtime, login: Login
) -> None:
    client = login(Role.CLERK)
    data = full_form(
        client,
        national_id="2900101260123",
        **{"doc.SITE_PLAN": [upload(b"%PDF-1.7\n1 0 obj <<garbage", "broken.pdf")]},
    )
    response = client.post("/applications/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "لم يُسجَّل الطلب" in html
    assert "الرقم القومي 14 رقمًا، والمدخل 13 رقمًا." in html
    assert "broken.pdf: الملف تالف أو غير مكتمل" in html
    assert "اختر مرة أخرى الملفات المرفوضة فقط" in html and "محفوظ من المحاولة السابقة" in html
    # What was typed is kept; the error sits next to its field.
    assert f'value="{NAME}"' in html and 'value="2900101260123"' in html
    assert 'id="national_id" name="national_id"' in html and 'aria-invalid="true"' in html
    assert count(rt, Application) == 0 and count(rt, Document) == 0
    assert store_keys(rt) == []


def test_english_interface_shows_english_errors(rt: Runtime, login: Login) -> None:
    client = login(Role.CLERK)
    client.get("/lang/en")
    response = client.post("/applications/new", data=full_form(client, applicant_phone="123"),
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The mobile number is not valid" in html and "رقم المحمول غير صحيح" not in html


def test_missing_documents_need_a_reason(rt: Runtime, login: Login) -> None:
    client = login(Role.CLERK)
    only_id = {"doc.OWNERSHIP": [], "doc.SITE_PLAN": []}
    refused = client.post("/applications/new", data=full_form(client, **only_id), content_type="multipart/form-data")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "مستندات مطلوبة ناقصة: مستند الملكية، كروكي الموقع" in html
    # The server-side checklist says what was handed in and what is missing.
    assert 'data-requirement="ID_COPY" class="provided"' in html
    assert 'data-requirement="OWNERSHIP" class="missing"' in html
    assert count(rt, Application) == 0 and store_keys(rt) == []

    reason = "المواطن سيحضر مستند الملكية غدا"
    tracking = register(client, incomplete_reason=reason, **only_id)
    with rt.db.session() as session:
        application = session.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None
        assert application.missing_documents == ["OWNERSHIP", "SITE_PLAN"]
        assert application.incomplete_reason == reason
    html = client.get(f"/applications/{tracking}").get_data(as_text=True)
    assert reason in html and "مستندات ناقصة عند الاستلام" in html


def test_reviewer_views_but_cannot_register(rt: Runtime, client: FlaskClient, login: Login) -> None:
    tracking = register(login(Role.CLERK))
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})
    reviewer = login(Role.REVIEWER)
    assert reviewer.get("/applications/new").status_code == 403
    token = csrf_token_from(reviewer.get("/applications").get_data(as_text=True))
    assert reviewer.post("/applications/new", data={"csrf_token": token}).status_code == 403
    assert reviewer.get(f"/applications/{tracking}").status_code == 200
    assert reviewer.get(f"/applications/{tracking}/receipt.pdf").status_code == 200
    nav = reviewer.get("/").get_data(as_text=True)
    assert 'href="/applications"' in nav and 'href="/applications/new"' not in nav


def test_the_application_page_shows_only_labelled_details(rt: Runtime, login: Login) -> None:
    """A marker in ``details`` that is not a form field (the DEMO year's ``demo_history``) is not shown as a raw key."""
    clerk = login(Role.CLERK)
    tracking = register(clerk)
    with rt.db.session() as session:
        application = session.scalars(select(Application).where(Application.tracking_number == tracking)).one()
        application.details = {**(application.details or {}), "demo_history": True}
    for lang in ("ar", "en"):
        html = clerk.get(f"/applications/{tracking}?lang={lang}").get_data(as_text=True)
        assert "demo_history" not in html
    assert "Plot number" in html  # the labelled fields are still there


def test_staff_of_another_centre_cannot_see_the_application(rt: Runtime, app: Flask, login: Login) -> None:
    tracking = register(login(Role.CLERK))
    with rt.db.session() as session:
        create_user(session, "other.clerk", PASSWORD, {Role.CLERK}, "موظف مركز أخميم", "SOH-02")
        document_id = session.scalar(select(Document.id))
        page_id = session.scalar(select(Page.id))
    other = app.test_client()
    token = csrf_token_from(other.get("/login").get_data(as_text=True))
    assert other.post("/login", data={"username": "other.clerk", "password": PASSWORD,
                                      "csrf_token": token}).status_code == 302
    for url in (f"/applications/{tracking}", f"/applications/{tracking}/receipt.pdf",
                f"/applications/{tracking}/status.json", f"/documents/{document_id}/original",
                f"/pages/{page_id}/preview.jpg"):
        assert other.get(url).status_code == 404, url
    assert tracking not in other.get("/applications").get_data(as_text=True)
    # Staff without a centre (the auditor here is tied to none) see every centre.
    with rt.db.session() as session:
        create_user(session, "free.auditor", PASSWORD, {Role.AUDITOR}, "جهة رقابية", None)
    auditor = app.test_client()
    token = csrf_token_from(auditor.get("/login").get_data(as_text=True))
    auditor.post("/login", data={"username": "free.auditor", "password": PASSWORD, "csrf_token": token})
    assert auditor.get(f"/applications/{tracking}").status_code == 200


def test_public_tracking_page_shows_status_and_nothing_private(rt: Runtime, app: Flask, login: Login) -> None:
    """The receipt's QR link (any spelling of the number) is the inquiry form; the receipt's access code opens the
    status."""
    clerk = login(Role.CLERK)
    tracking = register(clerk)
    receipt = subprocess.run(["pdftotext", "-", "-"], input=clerk.get(f"/applications/{tracking}/receipt.pdf").data,
                             capture_output=True, check=True, timeout=60).stdout.decode()
    codes = re.findall(r"\b[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}\b", receipt)
    assert len(codes) == 1, receipt  # printed once, on the receipt
    citizen = app.test_client()
    arabic_digits = tracking.lower().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for variant in (tracking, tracking.lower(), arabic_digits, tracking.replace("-", " ")):
        page = citizen.get("/track/" + variant)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, variant
        assert f'value="{tracking}"' in html and 'name="access_code"' in html
        assert "تم استلام الطلب" not in html
        assert page.headers["Cache-Control"] == "no-store"
    token = csrf_token_from(citizen.get("/track").get_data(as_text=True))
    refused = citizen.post("/track", data={"csrf_token": token, "number": arabic_digits,
                                           "access_code": NATIONAL_ID_ARABIC[-4:]})
    assert refused.status_code == 400  # the last ID digits are printed on the permit: no longer the secret
    answer = citizen.post("/track", data={"csrf_token": token, "number": arabic_digits,
                                          "access_code": codes[0].lower()})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "تم استلام الطلب" in html and "طلب بيان صلاحية" in html and tracking in html
    assert "موعد الإنجاز القانوني" in html
    for private in (NAME, "محمد", NATIONAL_ID, NATIONAL_ID[-4:] + "<", PHONE, "بطاقة الرقم القومي.png",
                    "/documents/", "/pages/"):
        assert private not in html, private

    form = citizen.get("/track")
    assert form.status_code == 200 and 'name="number"' in form.get_data(as_text=True)


def test_downloads_stream_with_types_and_safe_names(rt: Runtime, login: Login) -> None:
    client = login(Role.CLERK)
    png = png_bytes()
    tracking = register(client, **{"doc.ID_COPY": [upload(png, "بطاقة الرقم القومي.png")]})
    with rt.db.session() as session:
        document = session.scalar(select(Document).where(Document.requirement == "ID_COPY"))
        assert document is not None
        page = document.pages[0]
        # What a worker would have produced for the page and the document.
        preview, words = jpeg_bytes(), json.dumps([{"text": "بطاقة", "conf": 91.0}], ensure_ascii=False).encode()
        page.preview_sha256 = rt.store.put(preview)
        page.words_sha256 = rt.store.put(words)
        page.status, page.text = OcrStatus.DONE, "بطاقة الرقم القومي"
        page.mean_confidence, page.low_confidence = 41.5, True
        document.searchable_pdf_sha256 = rt.store.put(pdf_bytes())
        document_id, page_id = document.id, page.id

    original = client.get(f"/documents/{document_id}/original")
    assert original.status_code == 200 and original.mimetype == "image/png" and original.data == png
    disposition = original.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%D8%A8%D8%B7%D8%A7%D9%82%D8%A9" in disposition
    assert f'filename=document-{document_id}.png' in disposition
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/documents/{document_id}/original",
                      headers={"If-None-Match": original.headers["ETag"]}).status_code == 304

    searchable = client.get(f"/documents/{document_id}/searchable.pdf")
    assert searchable.status_code == 200 and searchable.mimetype == "application/pdf"
    assert searchable.data.startswith(PDF_MAGIC) and searchable.headers["Content-Disposition"].startswith("inline")
    image = client.get(f"/pages/{page_id}/preview.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data == preview
    boxes = client.get(f"/pages/{page_id}/words.json")
    assert boxes.status_code == 200 and boxes.mimetype == "application/json" and boxes.get_json()[0]["text"] == "بطاقة"

    html = client.get(f"/applications/{tracking}").get_data(as_text=True)
    assert f"/pages/{page_id}/preview.jpg" in html and f"/documents/{document_id}/searchable.pdf" in html
    assert '<div class="ocr-text" dir="auto">بطاقة الرقم القومي</div>' in html
    assert "ثقة منخفضة — أعد المسح الضوئي" in html

    # Other documents have no searchable PDF yet, no page has a preview yet.
    with rt.db.session() as session:
        pending_doc = session.scalar(select(Document.id).where(Document.requirement == "OWNERSHIP"))
    assert client.get(f"/documents/{pending_doc}/searchable.pdf").status_code == 404


def test_tampered_blob_gives_the_integrity_error_page(
    rt: Runtime, login: Login, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = login(Role.CLERK)
    register(client)
    with rt.db.session() as session:
        document = session.scalar(select(Document).where(Document.requirement == "ID_COPY"))
        assert document is not None
        document_id, key = document.id, document.sha256
    store = rt.store.primary  # type: ignore[attr-defined] - the ArchiveStore's primary, without a replica here
    assert isinstance(store, LocalStore)
    path = store.path_for(key)
    os.chmod(path, 0o644)
    path.write_bytes(b"\x89PNG tampered " + os.urandom(64))

    with caplog.at_level(logging.ERROR):
        response = client.get(f"/documents/{document_id}/original")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "لم تجتز فحص السلامة" in html and "أُبلغ مسؤول النظام" in html
    assert "tampered" not in html and "Traceback" not in html
    assert response.mimetype == "text/html"
    assert any(r.levelno == logging.ERROR and key in r.getMessage() for r in caplog.records)

    # A large object is streamed; the damage shows as a download cut short, never as a complete file.
    monkeypatch.setattr("web.intake.common.SMALL_OBJECT_BYTES", 0)
    with pytest.raises(IntegrityError):
        client.get(f"/documents/{document_id}/original", buffered=False).get_data()


def test_large_objects_stream_intact(rt: Runtime, login: Login, monkeypatch: pytest.MonkeyPatch) -> None:
    client = login(Role.CLERK)
    tiff = tiff_bytes(3)
    register(client, **{"doc.OWNERSHIP": [upload(tiff, "ownership.tif")]})
    with rt.db.session() as session:
        document_id = session.scalar(select(Document.id).where(Document.requirement == "OWNERSHIP"))
    monkeypatch.setattr("web.intake.common.SMALL_OBJECT_BYTES", 0)
    monkeypatch.setattr("archive.store.base.CHUNK_SIZE", 4096)
    response = client.get(f"/documents/{document_id}/original", buffered=False)
    assert response.headers["Content-Length"] == str(len(tiff))
    assert response.get_data() == tiff and response.mimetype == "image/tiff"


def test_too_large_upload_is_answered_on_the_form_in_both_languages(rt: Runtime, app: Flask, login: Login) -> None:
    client = login(Role.CLERK)
    data = full_form(client, **{"doc.OTHER": [upload(b"%PDF-1.7\n" + os.urandom(200_000), "big.pdf")]})
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    rt.settings = rt.settings.with_overrides(max_upload_mb=7)
    response = client.post(f"/applications/new?service={SERVICE}", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    # the window's form again (its service chosen), the limit in the error summary, linked to the documents
    assert 'id="intake-form"' in html and f'name="service_code" value="{SERVICE}"' in html
    summary = error_summary(html)
    assert "يوجد خطأ في البيانات" in summary and "(7 ميجابايت للطلب كله)" in summary
    assert summary_links(html) == ["documents"] and 'id="documents"' in html

    client.get("/lang/en")
    data = full_form(client, **{"doc.OTHER": [upload(os.urandom(200_000), "big.pdf")]})
    english = client.post(f"/applications/new?service={SERVICE}", data=data, content_type="multipart/form-data")
    summary = error_summary(english.get_data(as_text=True))
    assert english.status_code == 413 and "There is a problem" in summary and "(7 MB for the whole" in summary

    api = client.post("/api/v1/applications", data=api_form(**{"doc.OTHER": [upload(os.urandom(200_000), "x.pdf")]}),
                      headers=api_token(client, Role.CLERK), content_type="multipart/form-data")
    assert api.status_code == 413 and api.get_json()["error"] == "The upload is larger than the allowed limit."
    assert api.get_json()["error_ar"] == "الملف المرفوع أكبر من الحد المسموح به."
    assert count(rt, Application) == 0


def error_summary(html: str) -> str:
    """The error summary box of a page (the GOV.UK pattern every form shares)."""
    match = re.search(r'<div class="error-summary" id="error-summary" role="alert".*?</div>', html, re.S)
    assert match, "no error summary on the page"
    return match.group(0)


def summary_links(html: str) -> list[str]:
    """The ids the summary links to, each checked to exist and to point back at its message."""
    ids = re.findall(r'<a href="#([^"]+)">', error_summary(html))
    for field_id in ids:
        assert f'id="{field_id}"' in html
    return ids


def test_the_error_summary_links_to_each_field_and_each_field_names_its_message(rt: Runtime, login: Login) -> None:
    client = login(Role.CLERK)
    data = full_form(client, national_id="١٢٣", applicant_phone="٠١٢", applicant_name="",
                     **{"doc.SITE_PLAN": [upload(b"plain text, not a scan", "plan.pdf")]})
    response = client.post("/applications/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    links = summary_links(html)
    assert {"applicant_name", "national_id", "applicant_phone", "f-SITE_PLAN"} <= set(links)
    assert len(links) == len(set(links))
    for field_id in ("national_id", "applicant_phone", "f-SITE_PLAN"):
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true" aria-describedby="{field_id}-error"', html)
        assert f'<p class="error field-error" id="{field_id}-error">' in html
    assert html.index('id="error-summary"') < html.index('id="intake-form"')


def test_broker_down_does_not_stop_registration(
    rt: Runtime, login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    rt.settings = rt.settings.with_overrides(broker_url=f"redis://127.0.0.1:{closed_port()}/0")
    client = login(Role.CLERK)
    with caplog.at_level(logging.WARNING, logger="web.intake.common"):
        tracking = register(client)
    assert client.get(f"/applications/{tracking}").status_code == 200
    assert any("could not queue OCR for 4 pages" in r.getMessage() for r in caplog.records)
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Page)) == 4


def test_archive_down_keeps_the_form_and_registers_nothing(rt: Runtime, login: Login) -> None:
    client = login(Role.CLERK)
    data = full_form(client)
    rt.settings = rt.settings.with_overrides(storage_url="file:///proc/sijill-cannot-write-here")
    response = client.post("/applications/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "تعذر حفظ المستندات في الأرشيف الآن، ولم يُسجَّل الطلب." in html and f'value="{NAME}"' in html
    assert count(rt, Application) == 0
    api = client.post("/api/v1/applications", data=api_form(), headers=api_token(client, Role.CLERK),
                      content_type="multipart/form-data")
    assert api.status_code == 503 and api.get_json()["code"] == "store_unavailable"


# --- API ---------------------------------------------------------------------------------------------------


def api_token(client: FlaskClient, role: Role) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[role], "password": PASSWORD})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def api_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service_code": SERVICE,
        "applicant_name": NAME,
        "national_id": NATIONAL_ID,
        "applicant_phone": "+201012345678",
        **DETAILS,
        "doc.ID_COPY": [upload(png_bytes(), "id.png")],
        "doc.OWNERSHIP": [upload(tiff_bytes(), "deed-1.tiff"), upload(pdf_bytes("عقد"), "deed-2.pdf")],
        "doc.SITE_PLAN": [upload(pdf_bytes(), "site.pdf")],
    }
    data.update(overrides)
    return data


def test_api_registers_an_application(rt: Runtime, client: FlaskClient) -> None:
    headers = api_token(client, Role.CLERK)
    response = client.post("/api/v1/applications", data=api_form(), headers=headers,
                           content_type="multipart/form-data")
    body = response.get_json()
    assert response.status_code == 201, body
    tracking = body["tracking_number"]
    assert body["status"] == "received" and body["missing_documents"] == []
    assert body["receipt_url"].endswith(f"/api/v1/applications/{tracking}/receipt")
    assert body["status_url"].endswith(f"/api/v1/applications/{tracking}")
    assert body["track_url"] == f"{rt.settings.base_url}/track/{tracking}"
    assert response.headers["Location"] == body["status_url"]
    assert [(d["requirement"], d["filename"], d["page_count"]) for d in body["documents"]] == [
        ("ID_COPY", "id.png", 1), ("OWNERSHIP", "deed-1.tiff", 2), ("OWNERSHIP", "deed-2.pdf", 1),
        ("SITE_PLAN", "site.pdf", 1),
    ]
    with rt.db.session() as session:
        application = session.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None and application.channel == "api" and application.applicant_phone == PHONE

    status = client.get(f"/api/v1/applications/{tracking.lower()}", headers=headers)
    data = status.get_json()
    assert status.status_code == 200, data
    assert data["tracking_number"] == tracking and data["ocr"]["pages"] == 5 and data["ocr"]["complete"] is False
    assert [len(d["pages"]) for d in data["documents"]] == [1, 2, 1, 1]
    page = data["documents"][1]["pages"][1]
    assert page["index"] == 1 and page["status"] == "pending" and page["text"] is None
    assert page["low_confidence"] is False

    receipt = client.get(f"/api/v1/applications/{tracking}/receipt", headers=headers)
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf" and receipt.data.startswith(PDF_MAGIC)


def test_api_errors(rt: Runtime, client: FlaskClient) -> None:
    assert client.post("/api/v1/applications", data=api_form(), content_type="multipart/form-data").status_code == 401
    reviewer = api_token(client, Role.REVIEWER)
    forbidden = client.post("/api/v1/applications", data=api_form(), headers=reviewer,
                            content_type="multipart/form-data")
    assert forbidden.status_code == 403 and forbidden.is_json

    headers = api_token(client, Role.CLERK)
    response = client.post(
        "/api/v1/applications",
        data=api_form(national_id="123", **{"doc.SITE_PLAN": [upload(b"not a scan", "site.pdf")],
                                            "details.colour": "blue"}),
        headers=headers,
        content_type="multipart/form-data",
    )
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["code"] == "invalid" and body["status"] == 400 and body["error"] and body["error_ar"]
    fields = body["fields"]
    assert fields["national_id"]["code"] == "wrong_length"
    assert fields["national_id"]["message_ar"].startswith("الرقم القومي 14 رقمًا")
    assert fields["details.colour"]["code"] == "unknown_field"
    upload_error = fields["uploads[3]"]
    assert upload_error["field"] == "doc.SITE_PLAN" and upload_error["filename"] == "site.pdf"
    assert upload_error["code"] == "unsupported_type"
    assert count(rt, Application) == 0 and store_keys(rt) == []

    missing = client.get("/api/v1/applications/SOH01-2026-000001-X", headers=headers)
    assert missing.status_code == 404 and missing.is_json


def test_openapi_documents_the_application_endpoints(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert {"/api/v1/applications", "/api/v1/applications/{tracking}",
            "/api/v1/applications/{tracking}/receipt"} <= set(paths)
    post = paths["/api/v1/applications"]["post"]
    body = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["doc.OTHER"]["items"]["format"] == "binary"
    assert "details.plot_number" in body["properties"] and "national_id" in body["required"]
    assert {"201", "400"} <= set(post["responses"])
    assert "application/pdf" in paths["/api/v1/applications/{tracking}/receipt"]["get"]["responses"]["200"]["content"]
    assert "ApplicationDetail" in doc["components"]["schemas"]


def test_the_window_form_takes_an_optional_email_for_notifications(rt: Runtime, login: Login) -> None:
    from archive.models import Notification

    client = login(Role.CLERK)
    bad = client.post("/applications/new", data=full_form(client, applicant_email="not-an-address"),
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "عنوان البريد الإلكتروني غير صحيح" in bad.get_data(as_text=True)
    assert count(rt, Notification) == 0
    tracking = register(client, applicant_email="Citizen@Example.ORG")
    with rt.db.session() as session:
        rows = session.scalars(select(Notification).join(Application)
                               .where(Application.tracking_number == tracking).order_by(Notification.id)).all()
        assert [(n.event, n.channel, n.recipient) for n in rows] == [
            ("received", "sms", PHONE), ("received", "email", "Citizen@example.org")]
