"""Legal holds from the application page (auditor) and the API (auditor, admin): placed, refused, released."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.db import Database
from archive.models import Application, AuditEvent, Centre, Document, Service
from archive.roles import Role
from archive.store import open_store
from intake.tracking import format_tracking
from sijill.settings import Settings
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from

TRACKING = format_tracking("SOH-01", 2026, 777)


def _case(app: Flask, database: Database, settings: Settings) -> str:
    store = open_store(settings.with_overrides(database_url=database.url).storage_url)
    key = store.put("صورة عقد الملكية — قطعة ١٢".encode())
    with database.session() as s:
        centre = s.scalars(select(Centre).where(Centre.code == "SOH-01")).one()
        service = Service(code="VALIDITY", name_ar="بيان صلاحية", name_en="Validity statement", legal_days=7,
                          catalogue_version="t", definition={})
        now = datetime.now(UTC)
        s.add(Application(tracking_number=TRACKING, centre=centre, service=service, service_code="VALIDITY",
                          catalogue_version="t", applicant_name="سامية فؤاد", national_id="29208012601245",
                          applicant_phone="01123456789", channel="window", due_at=now + timedelta(days=7),
                          documents=[Document(requirement="DEED", filename="deed.png", media_type="image/png",
                                              sha256=key, size_bytes=10, page_count=1)]))
        s.commit()
    return key


def _token(client: FlaskClient, role: Role) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[role], "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def test_an_auditor_places_and_releases_a_hold_on_the_page(app: Flask, database: Database, settings: Settings,
                                                           login: Callable[[Role], FlaskClient]) -> None:
    key = _case(app, database, settings)
    store = open_store(settings.storage_url)
    auditor = login(Role.AUDITOR)
    page = auditor.get(f"/applications/{TRACKING}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="place-hold-form"' in html
    token = csrf_token_from(html)
    refused = auditor.post(f"/applications/{TRACKING}/legal-hold", data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 400 and "اكتب سبب التحفظ القانوني" in refused.get_data(as_text=True)
    assert not store.legal_hold(key)
    placed = auditor.post(f"/applications/{TRACKING}/legal-hold",
                          data={"csrf_token": token, "reason": "بلاغ رقم ٣٣ للرقابة الإدارية"})
    assert placed.status_code == 303
    assert store.legal_hold(key)
    html = auditor.get(f"/applications/{TRACKING}").get_data(as_text=True)
    assert 'id="legal-hold-banner"' in html and "بلاغ رقم ٣٣" in html and 'id="release-hold-form"' in html
    released = auditor.post(f"/applications/{TRACKING}/legal-hold/release",
                            data={"csrf_token": token, "reason": "حُفظ البلاغ"})
    assert released.status_code == 303 and not store.legal_hold(key)
    with database.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(
            AuditEvent.subject == f"application:{TRACKING}").order_by(AuditEvent.seq))]
    assert actions.count("legal_hold.place") == 1 and actions.count("legal_hold.release") == 1


def test_a_clerk_may_not_hold(app: Flask, database: Database, settings: Settings,
                              login: Callable[[Role], FlaskClient]) -> None:
    _case(app, database, settings)
    clerk = login(Role.CLERK)
    html = clerk.get(f"/applications/{TRACKING}").get_data(as_text=True)
    assert 'id="place-hold-form"' not in html
    answer = clerk.post(f"/applications/{TRACKING}/legal-hold",
                        data={"csrf_token": csrf_token_from(html), "reason": "سبب"})
    assert answer.status_code == 403


def test_the_api_places_lists_refuses_and_releases(app: Flask, client: FlaskClient, database: Database,
                                                   settings: Settings) -> None:
    key = _case(app, database, settings)
    store = open_store(settings.storage_url)
    admin = _token(client, Role.ADMIN)
    placed = client.post(f"/api/v1/applications/{TRACKING}/legal-hold", headers=admin,
                         json={"reason": "court order 12/2026 — أمر المحكمة"})
    assert placed.status_code == 201, placed.get_json()
    body = placed.get_json()
    assert body["active"] and body["placed_by"] == ROLE_USERS[Role.ADMIN] and body["objects"] >= 1
    assert store.legal_hold(key)
    again = client.post(f"/api/v1/applications/{TRACKING}/legal-hold", headers=_token(client, Role.AUDITOR),
                        json={"reason": "again"})
    assert again.status_code == 409 and again.get_json()["code"] == "already_held" and again.get_json()["error_ar"]
    listed = client.get(f"/api/v1/applications/{TRACKING}/legal-holds", headers=admin).get_json()
    assert listed["held"] and len(listed["holds"]) == 1
    clerk = client.post(f"/api/v1/applications/{TRACKING}/legal-hold/release", headers=_token(client, Role.CLERK),
                        json={"reason": "x"})
    assert clerk.status_code == 403
    released = client.post(f"/api/v1/applications/{TRACKING}/legal-hold/release", headers=admin,
                           json={"reason": "lifted by the court"})
    assert released.status_code == 200 and not released.get_json()["active"]
    assert not store.legal_hold(key)
    unknown = format_tracking("SOH-01", 2026, 999)
    missing = client.post(f"/api/v1/applications/{unknown}/legal-hold", headers=admin, json={"reason": "x"})
    assert missing.status_code == 404
    with database.session() as s:
        assert s.scalars(select(Application)).one().tracking_number == TRACKING
