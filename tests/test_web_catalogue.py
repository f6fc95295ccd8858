"""The catalogue edited one service at a time in a validated form (Arabic and English), YAML import kept.

The checks are intake.catalogue's own (``validate_service``, the YAML file's check): these tests drive the real form
(CSRF token from the page) on SQLite and PostgreSQL and read back the stored service, its version and the audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.models import AuditEvent, Service
from archive.roles import Role
from intake.catalogue import CatalogueError, load_catalogue, parse_catalogue, sync_catalogue
from tests.fixtures.app import csrf_token_from
from web.runtime import Runtime

Login = Callable[[Role], FlaskClient]


def _db(app: Flask):  # type: ignore[no-untyped-def]
    runtime: Runtime = app.extensions["sijill"]
    return runtime.db.session()


@pytest.fixture
def catalogue(app: Flask) -> None:
    with _db(app) as session:
        sync_catalogue(session, load_catalogue())
        session.commit()


def _form(body: str) -> dict[str, Any]:
    """The form's fields as the browser would post them (text inputs, textareas, selected options, ticked boxes)."""
    fields: dict[str, Any] = {}
    for name, value in re.findall(r'<input type="text" id="[^"]+" name="([^"]+)" value="([^"]*)"', body):
        fields[name] = value.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', body):
        fields[name] = value
    for name, options in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options) or re.search(r'<option value="([^"]*)"',
                                                                                          options)
        assert chosen is not None
        fields[name] = chosen.group(1)
    for name, value in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)" value="([^"]+)" ?checked>',
                                  body):
        fields.setdefault(name, []).append(value)
    fields["csrf_token"] = csrf_token_from(body)
    return fields


def _summary_links(body: str) -> list[str]:
    summary = re.search(r'<div class="error-summary".*?</div>', body, re.S)
    assert summary, "no error summary at the top of the form"
    return re.findall(r'<a href="#([^"]+)">', summary.group())


def test_the_yaml_check_reports_every_problem_with_its_field() -> None:
    text = """version: t
services:
  - code: X
    name_ar: خدمة
    name_en: ""
    legal_days: ten
    departments: [engineering, secret_police]
    required_documents: [{code: A, name_ar: أ, name_en: A}, {code: A, name_ar: ب}]
    signing_chain: [{step: s, role: root, department: engineering, title_ar: ر, title_en: H}]
    permit: {works_ar: أعمال}
"""
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text)
    paths = [p.path for p in caught.value.problems]
    assert paths == [("name_en",), ("legal_days",), ("departments",), ("required_documents", 1, "code"),
                     ("required_documents", 1, "name_en"), ("signing_chain", 0, "role"), ("permit", "title_ar")]
    assert all(p.service == "X" and p.message_ar and p.message_en for p in caught.value.problems)
    assert "Service X, legal_days: The legal duration is a positive whole number of days." in str(caught.value)
    assert "Service X, signing_chain[1].role: Step 1 is done by a reviewer or a signer." in str(caught.value)


def test_admin_changes_a_service_in_its_form(app: Flask, login: Login, catalogue: None) -> None:
    client = login(Role.ADMIN)
    listing = client.get("/admin/catalogue").get_data(as_text=True)
    assert 'href="/admin/catalogue/services/VALIDITY"' in listing and 'id="catalogue-text"' in listing
    assert "نص الدليل للاستيراد (YAML)" in listing  # the import is the second way, with its label
    page = client.get("/admin/catalogue/services/VALIDITY").get_data(as_text=True)
    assert 'value="طلب بيان صلاحية"' in page and "المهندس المراجع" in page
    assert "الإدارة الهندسية" in page and "صاحب التوقيع" in page  # departments and roles by name, not code
    form = _form(page)
    suggested = form["version"]
    assert suggested not in {s.catalogue_version for s in _services(app)}
    form.update({
        "legal_days": "١٠",  # Arabic-Indic digits are read as digits
        "doc-3-code": "TAX", "doc-3-name_ar": "شهادة الضريبة العقارية", "doc-3-name_en": "Property tax certificate",
        "step-1-role": "signer", "step-1-department": "council", "step-0-legal_days": "٣", "step-1-legal_days": "",
        "permit-conditions": form["permit-conditions"] + "\nيُجدد البيان عند تغير خطوط التنظيم.",
    })
    saved = client.post("/admin/catalogue/services/VALIDITY", data=form)
    assert saved.status_code == 303, _summary_links(saved.get_data(as_text=True))
    services = {s.code: s for s in _services(app)}
    validity = services["VALIDITY"]
    assert validity.legal_days == 10 and validity.catalogue_version == suggested
    documents = [d["code"] for d in validity.definition["required_documents"]]
    assert documents == ["ID_COPY", "OWNERSHIP", "SITE_PLAN", "TAX"]
    assert validity.definition["signing_chain"][1]["department"] == "council"
    # a step's own legal duration (issue 13), or none: then the step is due when the application is
    assert validity.definition["signing_chain"][0]["legal_days"] == 3
    assert "legal_days" not in validity.definition["signing_chain"][1]
    assert validity.definition["permit"]["conditions"][-1] == "يُجدد البيان عند تغير خطوط التنظيم."
    before = {s.code: s for s in load_catalogue().services}
    assert services["BUILD-PERMIT"].definition == before["BUILD-PERMIT"].definition_json()  # the others unchanged
    with _db(app) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "admin.catalogue.service"))
        assert event is not None and event.subject == "service:VALIDITY"
        assert event.details["version"] == suggested

    # removing a document: its row emptied
    form = _form(client.get("/admin/catalogue/services/VALIDITY").get_data(as_text=True))
    for key in ("code", "name_ar", "name_en"):
        form[f"doc-2-{key}"] = ""
    assert client.post("/admin/catalogue/services/VALIDITY", data=form).status_code == 303
    validity = {s.code: s for s in _services(app)}["VALIDITY"]
    assert [d["code"] for d in validity.definition["required_documents"]] == ["ID_COPY", "OWNERSHIP", "TAX"]

    assert client.get("/admin/catalogue/services/NO-SUCH").status_code == 404
    assert login(Role.CLERK).get("/admin/catalogue/services/VALIDITY").status_code == 403


def _services(app: Flask) -> list[Service]:
    with _db(app) as session:
        rows = list(session.scalars(select(Service)))
        for row in rows:
            session.expunge(row)
        return rows


def test_every_problem_is_listed_at_the_top_and_shown_beside_its_field(app: Flask, login: Login,
                                                                         catalogue: None) -> None:
    client = login(Role.ADMIN)
    form = _form(client.get("/admin/catalogue/services/BUILD-PERMIT").get_data(as_text=True))
    bad = {**form, "name_en": "", "legal_days": "thirty", "doc-1-name_ar": "", "step-1-legal_days": "0",
           "step-2-title_en": "", "permit-title_ar": "", "permit-validity_days": "-5"}
    response = client.post("/admin/catalogue/services/BUILD-PERMIT", data=bad)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    expected = ["name_en", "legal_days", "doc-1-name_ar", "step-1-legal_days", "step-2-title_en", "permit-title_ar",
                "permit-validity_days"]
    assert _summary_links(body) == expected
    for field in expected:
        assert f'id="{field}-error"' in body and f'{field}-error"' in body.split(f'id="{field}"')[1][:400]
    assert "أدخل اسم الخدمة بالإنجليزية." in body and "المدة القانونية عدد صحيح موجب من الأيام." in body
    assert 'value="thirty"' in body  # what was typed is kept
    before = {s.code: s for s in load_catalogue().services}["BUILD-PERMIT"]
    stored = {s.code: s for s in _services(app)}["BUILD-PERMIT"]
    assert stored.definition == before.definition_json() and stored.name_en == before.name_en  # nothing saved

    # a version already used by a different catalogue is refused on the version field
    reused = client.post("/admin/catalogue/services/BUILD-PERMIT",
                         data={**form, "legal_days": "31", "version": load_catalogue().version})
    assert reused.status_code == 400 and _summary_links(reused.get_data(as_text=True)) == ["version"]

    client.get("/lang/en", headers={"Referer": "http://localhost/admin/catalogue"})
    english = client.post("/admin/catalogue/services/BUILD-PERMIT", data=bad).get_data(as_text=True)
    assert "There is a problem" in english and _summary_links(english) == expected
    assert "Enter the service&#39;s name in English." in english


def test_admin_adds_a_service_and_its_code_is_unique(app: Flask, login: Login, catalogue: None) -> None:
    client = login(Role.ADMIN)
    form = _form(client.get("/admin/catalogue/new").get_data(as_text=True))
    form.update({
        "code": "KIOSK-LICENCE", "name_ar": "ترخيص كشك", "name_en": "Kiosk licence", "legal_days": "14",
        "fee_egp": "150.50", "departments": ["licensing"],
        "doc-0-code": "ID_COPY", "doc-0-name_ar": "صورة بطاقة الرقم القومي", "doc-0-name_en": "Copy of ID card",
        "doc-0-holds_national_id": "1",
        "step-0-step": "approve", "step-0-role": "signer", "step-0-department": "licensing",
        "step-0-title_ar": "مدير التراخيص", "step-0-title_en": "Head of licensing",
    })
    created = client.post("/admin/catalogue/new", data=form)
    assert created.status_code == 303
    assert created.headers["Location"].endswith("/admin/catalogue/services/KIOSK-LICENCE")
    kiosk = {s.code: s for s in _services(app)}["KIOSK-LICENCE"]
    assert kiosk.active and kiosk.fee_piastres == 15050 and kiosk.legal_days == 14
    assert kiosk.definition["required_documents"][0]["holds_national_id"] is True
    assert "permit" not in kiosk.definition  # nothing typed in the permit's text: the service issues none

    again = client.post("/admin/catalogue/new", data={**form, "version": form["version"] + "-b"})
    assert again.status_code == 400 and _summary_links(again.get_data(as_text=True)) == ["code"]
    no_steps = {k: v for k, v in form.items() if not k.startswith("step-")}
    refused = client.post("/admin/catalogue/new", data={**no_steps, "code": "OTHER-ONE"})
    assert _summary_links(refused.get_data(as_text=True)) == ["step-0-step"]


def test_the_yaml_import_answers_with_each_problem_and_its_place(app: Flask, login: Login, catalogue: None) -> None:
    client = login(Role.ADMIN)
    page = client.get("/admin/catalogue").get_data(as_text=True)
    exported = client.get("/admin/catalogue.yaml").get_data(as_text=True)
    broken = exported.replace("legal_days: 7", "legal_days: -7", 1).replace("title_en: Reviewing engineer", "x: y", 1)
    response = client.post("/admin/catalogue", data={"csrf_token": csrf_token_from(page), "text": broken})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and _summary_links(body) == ["catalogue-text", "catalogue-text",
                                                                    "catalogue-text"]
    assert '<bdi dir="ltr" class="data">VALIDITY · legal_days</bdi>: المدة القانونية عدد صحيح موجب من الأيام.' in body
    assert '<bdi dir="ltr" class="data">BUILD-PERMIT · signing_chain[1]</bdi>' in body  # an unknown field "x"
    assert 'aria-describedby="catalogue-text-hint catalogue-text-error" aria-invalid="true"' in body
    assert {s.code: s.legal_days for s in _services(app)}["VALIDITY"] == 7  # nothing saved
