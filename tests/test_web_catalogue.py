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
from intake.catalogue import (
    CatalogueError,
    apply_catalogue,
    catalogue_of,
    load_catalogue,
    parse_catalogue,
    service_entry,
    sync_catalogue,
)
from tests.fixtures.app import csrf_token_from
from tests.test_web_intake import full_form, register
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
    for name, value in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)" value="([^"]+)"[^>]*\schecked>',
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


# --- the "the service is offered" box: withdrawing a service and offering it again ----------------------------------


def _last_event(app: Flask, action: str) -> AuditEvent:
    with _db(app) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.seq.desc())).first()
        assert event is not None
        session.expunge(event)
        return event


def _offered_at_the_window(client: FlaskClient) -> list[str]:
    page = client.get("/applications/new").get_data(as_text=True)
    return re.findall(r'<option value="([A-Z-]+)"', page)


def test_admin_withdraws_a_service_and_offers_it_again(app: Flask, login: Login, catalogue: None) -> None:
    clerk = login(Role.CLERK)
    tracking = register(clerk)  # an application of VALIDITY, registered while the service is offered
    assert "VALIDITY" in _offered_at_the_window(clerk)

    admin = login(Role.ADMIN)
    page = admin.get("/admin/catalogue/services/VALIDITY").get_data(as_text=True)
    assert "الخدمة متاحة" in page and 'id="withdrawn"' not in page
    form = _form(page)
    assert form["offered"] == ["1"]
    before = {s.code: s for s in _services(app)}["VALIDITY"]
    withdraw = {k: v for k, v in form.items() if k != "offered"}  # the box unticked: a browser posts nothing
    saved = admin.post("/admin/catalogue/services/VALIDITY", data=withdraw)
    assert saved.status_code == 303, _summary_links(saved.get_data(as_text=True))
    after = admin.get(saved.headers["Location"]).get_data(as_text=True)
    assert 'id="withdrawn"' in after and "أُوقفت خدمة «طلب بيان صلاحية»" in after
    assert "offered" not in _form(after)  # the box shows the service as withdrawn
    validity = {s.code: s for s in _services(app)}["VALIDITY"]
    assert not validity.active and validity.definition == before.definition  # its own content untouched
    assert validity.catalogue_version == before.catalogue_version
    assert {s.catalogue_version for s in _services(app) if s.active} == {form["version"]}  # the new edition
    assert {s.code for s in _services(app) if s.active} == {s.code for s in load_catalogue().services} - {"VALIDITY"}
    event = _last_event(app, "admin.catalogue.service")
    assert event.subject == "service:VALIDITY"
    assert event.details == {"version": form["version"], "created": False, "offered": False, "was_offered": True}
    listing = admin.get("/admin/catalogue").get_data(as_text=True)
    row = re.search(r'<tr data-code="VALIDITY">.*?</tr>', listing, re.S)
    assert row and "موقوف" in row.group() and 'href="/admin/catalogue/services/VALIDITY"' in row.group()
    assert "code: VALIDITY" not in admin.get("/admin/catalogue.yaml").get_data(as_text=True)

    clerk = login(Role.CLERK)
    offered = _offered_at_the_window(clerk)
    assert "VALIDITY" not in offered and "BUILD-PERMIT" in offered
    refused = clerk.post("/applications/new", data=full_form(clerk), content_type="multipart/form-data")
    assert refused.status_code == 400 and "هذه الخدمة غير متاحة حاليًا." in refused.get_data(as_text=True)
    opened = clerk.get(f"/applications/{tracking}")  # what was registered under it is untouched and still opens
    assert opened.status_code == 200 and "طلب بيان صلاحية" in opened.get_data(as_text=True)

    admin = login(Role.ADMIN)
    form = _form(admin.get("/admin/catalogue/services/VALIDITY").get_data(as_text=True))
    assert form["version"] != validity.catalogue_version  # a new edition again
    again = admin.post("/admin/catalogue/services/VALIDITY", data={**form, "offered": "1"})
    assert again.status_code == 303
    assert "متاحة من جديد" in admin.get(again.headers["Location"]).get_data(as_text=True)
    validity = {s.code: s for s in _services(app)}["VALIDITY"]
    assert validity.active and validity.catalogue_version == form["version"]
    assert validity.definition == before.definition
    event = _last_event(app, "admin.catalogue.service")
    assert event.details == {"version": form["version"], "created": False, "offered": True, "was_offered": False}
    assert "VALIDITY" in _offered_at_the_window(login(Role.CLERK))


def test_withdrawing_is_an_edition_with_its_own_version_and_keeps_the_form(app: Flask, login: Login,
                                                                           catalogue: None) -> None:
    admin = login(Role.ADMIN)
    form = _form(admin.get("/admin/catalogue/services/SHOP-LICENCE").get_data(as_text=True))
    del form["offered"]
    used = load_catalogue().version
    reused = admin.post("/admin/catalogue/services/SHOP-LICENCE", data={**form, "version": used})
    assert reused.status_code == 400 and _summary_links(reused.get_data(as_text=True)) == ["version"]
    assert {s.code: s for s in _services(app)}["SHOP-LICENCE"].active  # refused: still offered

    # withdrawn with a change typed in the same form: the change is kept for the day it is offered again
    saved = admin.post("/admin/catalogue/services/SHOP-LICENCE", data={**form, "legal_days": "٢١"})
    assert saved.status_code == 303
    shop = {s.code: s for s in _services(app)}["SHOP-LICENCE"]
    assert not shop.active and shop.legal_days == 21 and shop.catalogue_version == form["version"]
    page = admin.get("/admin/catalogue/services/SHOP-LICENCE").get_data(as_text=True)
    assert 'value="21"' in page
    # a withdrawn service changed again still needs a version nobody used
    form = _form(page)
    again = admin.post("/admin/catalogue/services/SHOP-LICENCE",
                       data={**form, "legal_days": "30", "version": shop.catalogue_version})
    assert again.status_code == 400 and _summary_links(again.get_data(as_text=True)) == ["version"]
    assert {s.code: s for s in _services(app)}["SHOP-LICENCE"].legal_days == 21

    # a new service may be added withdrawn (prepared before it is offered)
    new = _form(admin.get("/admin/catalogue/new").get_data(as_text=True))
    assert new["offered"] == ["1"]  # a new service starts offered
    del new["offered"]
    new.update({
        "code": "STREET-WORKS", "name_ar": "تصريح حفر في الطريق", "name_en": "Street works permit", "legal_days": "10",
        "departments": ["engineering"],
        "doc-0-code": "ID_COPY", "doc-0-name_ar": "صورة بطاقة الرقم القومي", "doc-0-name_en": "Copy of ID card",
        "step-0-step": "approve", "step-0-role": "signer", "step-0-department": "engineering",
        "step-0-title_ar": "مدير الإدارة الهندسية", "step-0-title_en": "Head of engineering",
    })
    assert admin.post("/admin/catalogue/new", data=new).status_code == 303
    street = {s.code: s for s in _services(app)}["STREET-WORKS"]
    assert not street.active and street.legal_days == 10
    assert _last_event(app, "admin.catalogue.service").details["created"] is True
    assert "STREET-WORKS" not in _offered_at_the_window(login(Role.CLERK))


def test_the_last_offered_service_cannot_be_withdrawn(app: Flask, login: Login, catalogue: None) -> None:
    file = load_catalogue()
    with _db(app) as session:  # an edition that offers one service only
        row = session.scalar(select(Service).where(Service.code == "DEMOLITION"))
        assert row is not None
        apply_catalogue(session, catalogue_of(f"{file.version}-one", [service_entry(row)]))
        session.commit()
    admin = login(Role.ADMIN)
    form = _form(admin.get("/admin/catalogue/services/DEMOLITION").get_data(as_text=True))
    del form["offered"]
    response = admin.post("/admin/catalogue/services/DEMOLITION", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and _summary_links(body) == ["offered"]
    assert 'id="offered-error"' in body and "هذه هي الخدمة الوحيدة المتاحة" in body
    assert 'aria-describedby="offered-hint offered-error" aria-invalid="true"' in body
    assert {s.code for s in _services(app) if s.active} == {"DEMOLITION"}

    admin.get("/lang/en", headers={"Referer": "http://localhost/admin/catalogue"})
    english = admin.post("/admin/catalogue/services/DEMOLITION", data=form).get_data(as_text=True)
    assert "This is the only service offered" in english and "The service is offered (the window lists it)" in english
