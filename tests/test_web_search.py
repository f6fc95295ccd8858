"""The archive search page, CSV export, record view and API: spellings, scope, snippets, audit trail, errors."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urljoin

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.db import Database
from archive.models import Application, AuditEvent
from archive.roles import Role
from archive_search.indexing import index_applications
from tests.fixtures.app import PASSWORD, ROLE_USERS, _csrf_token
from tests.test_indexing import make_application

Login = Callable[[Role], FlaskClient]


@pytest.fixture
def archive(app: Flask, database: Database) -> dict[str, str]:
    """Two indexed applications in two centres of Sohag; returns their tracking numbers by centre."""
    with database.session() as s:
        here = make_application(s, 1, centre_code="SOH-01")
        there = make_application(s, 2, centre_code="SOH-02", national_id="29505051234567",
                                 text="خطاب إلى رئيس الحي بشأن الموافقة على الترخيص")
        ids = [here.id, there.id]
        numbers = {"SOH-01": here.tracking_number, "SOH-02": there.tracking_number}
    with database.session() as s:
        index_applications(s, app.extensions["sijill"].search, ids)
    return numbers


def events(database: Database, action: str) -> list[AuditEvent]:
    with database.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


@pytest.mark.parametrize("spelling", ["محافظه", "المحافظة", "والمحافظة", "المُحَافَظَة", "الارض", "إرض"])
def test_an_auditor_finds_any_spelling_with_the_hit_highlighted(
    login: Login, archive: dict[str, str], spelling: str
) -> None:
    client = login(Role.AUDITOR)
    html = client.get("/search", query_string={"q": spelling}).get_data(as_text=True)
    assert archive["SOH-01"] in html and archive["SOH-02"] not in html
    assert "<mark>بالمحافظة</mark>" in html or "<mark>الأرض</mark>" in html
    assert 'dir="rtl"' in html


def test_national_id_in_either_digit_set_and_filters(login: Login, archive: dict[str, str]) -> None:
    client = login(Role.AUDITOR)
    for text in ("29505051234567", "٢٩٥٠٥٠٥١٢٣٤٥٦٧"):
        html = client.get("/search", query_string={"q": text}).get_data(as_text=True)
        assert archive["SOH-02"] in html and archive["SOH-01"] not in html
    html = client.get("/search", query_string={"national_id": "٢٩٥٠٥٠٥١٢٣٤٥٦٧"}).get_data(as_text=True)
    assert archive["SOH-02"] in html and archive["SOH-01"] not in html
    html = client.get("/search", query_string={"centre": "SOH-01"}).get_data(as_text=True)
    assert archive["SOH-01"] in html and archive["SOH-02"] not in html
    today = datetime.now(UTC).date()
    html = client.get("/search", query_string={"status": "received", "from": str(today - timedelta(days=1)),
                                               "to": str(today + timedelta(days=1))}).get_data(as_text=True)
    assert archive["SOH-01"] in html and archive["SOH-02"] in html
    html = client.get("/search", query_string={"status": "issued"}).get_data(as_text=True)
    assert archive["SOH-01"] not in html


def test_centre_staff_see_only_their_centre(login: Login, archive: dict[str, str]) -> None:
    client = login(Role.CLERK)  # the test users work at SOH-01
    html = client.get("/search", query_string={"q": "ترخيص"}).get_data(as_text=True)
    assert archive["SOH-01"] in html and archive["SOH-02"] not in html
    assert client.get(f"/search/records/{archive['SOH-02']}").status_code == 404
    assert client.get(f"/search/records/{archive['SOH-01']}").status_code == 200


def test_searches_and_opened_records_are_in_the_audit_trail(
    login: Login, archive: dict[str, str], database: Database
) -> None:
    client = login(Role.AUDITOR)
    client.get("/search", query_string={"q": "محافظه", "status": "received"})
    [searched] = events(database, "search.query")
    assert searched.actor == ROLE_USERS[Role.AUDITOR]
    assert searched.details["q"] == "محافظه" and searched.details["filters"] == {"status": ["received"]}
    assert searched.details["total"] == 1
    html = client.get(f"/search/records/{archive['SOH-02']}", query_string={"q": "موافقه"}).get_data(as_text=True)
    [opened] = events(database, "search.record_opened")
    assert opened.subject == f"application:{archive['SOH-02']}" and opened.actor == ROLE_USERS[Role.AUDITOR]
    assert "<mark>الموافقة</mark>" in html  # the page's OCR text, hits marked
    assert 'id="audit-trail"' in html and "الطلب من البحث في الأرشيف" in html  # the record's trail, as sentences


def test_csv_export(login: Login, archive: dict[str, str], database: Database) -> None:
    client = login(Role.AUDITOR)
    response = client.get("/search/export.csv", query_string={"q": "ترخيص"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "tracking_number"
    assert sorted(r[0] for r in rows[1:]) == sorted(archive.values())
    assert events(database, "search.export")[0].details["rows"] == 2


def test_the_pages_export_link_reaches_the_export(login: Login, archive: dict[str, str]) -> None:
    """The results page's own "export" link, resolved as a browser does against /search, gives the CSV (a relative
    ``export.csv`` once resolved to /export.csv, a 404)."""
    client = login(Role.AUDITOR)
    html = client.get("/search", query_string={"q": "ترخيص"}).get_data(as_text=True)
    match = re.search(r'href="([^"]*export\.csv[^"]*)"', html)
    assert match is not None
    link = urljoin("http://localhost/search?q=x", unescape(match.group(1)))
    response = client.get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(r[0] for r in rows[1:]) == sorted(archive.values())


def test_bad_input_is_explained_in_arabic(login: Login, archive: dict[str, str]) -> None:
    client = login(Role.AUDITOR)
    response = client.get("/search", query_string={"q": "x", "from": "2025-13-40"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    # the error summary names the field and links to it; the field points back at its message
    assert "يوجد خطأ في البيانات" in html and '<a href="#from">تاريخ البداية غير صحيح' in html
    assert re.search(r'id="from"[^>]*aria-describedby="from-hint from-error" aria-invalid="true"', html)
    response = client.get("/search", query_string={"q": "x", "from": "2025-05-02", "to": "2025-05-01"})
    assert response.status_code == 400

    client.get("/lang/en")  # the English interface explains in English, the page and the CSV export alike
    for path in ("/search", "/search/export.csv"):
        response = client.get(path, query_string={"q": "x", "from": "2025-13-40"})
        html = response.get_data(as_text=True)
        assert response.status_code == 400, path
        assert "write it as dd/mm/yyyy" in html and "يومًا/شهرًا/سنة" not in html, (path, html)


def test_dates_are_typed_and_shown_day_first_in_any_digits(login: Login, archive: dict[str, str]) -> None:
    client = login(Role.AUDITOR)
    for typed in ("٠٥/١٢/٢٠٢٥", "5/12/2025", "05-12-2025", "2025-12-05"):
        response = client.get("/search", query_string={"q": "x", "from": typed})
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (typed, html)
        assert re.search(r'id="from"[^>]*value="05/12/2025"', html), typed
    assert 'type="date"' not in html and 'inputmode="numeric"' in html
    for wrong in ("31/02/2025", "12/31/2025", "05/12/25", "٠٥/١٢"):
        assert client.get("/search", query_string={"q": "x", "to": wrong}).status_code == 400, wrong


def test_the_api_answers_the_same_search(client: FlaskClient, archive: dict[str, str], database: Database) -> None:
    token = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[Role.AUDITOR], "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    body = client.get("/api/v1/search", query_string={"q": "والمحافظة"}, headers=headers).get_json()
    assert body["total"] == 1 and body["hits"][0]["tracking_number"] == archive["SOH-01"]
    marked = [f["text"] for s in body["hits"][0]["snippets"] for f in s["fragments"] if f["hit"]]
    assert marked == ["بالمحافظة"]
    assert {"value": "SOH-01", "count": 1} in body["facets"]["centre"]
    bad = client.get("/api/v1/search", query_string={"sort": "random"}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad_search" and bad.get_json()["error_ar"]
    assert client.get("/api/v1/search", query_string={"q": "x"}).status_code == 401
    csv_response = client.get("/api/v1/search/export.csv", query_string={"q": "ترخيص"}, headers=headers)
    assert csv_response.status_code == 200 and archive["SOH-02"] in csv_response.get_data(as_text=True)
    assert [e.actor for e in events(database, "search.query")] == [ROLE_USERS[Role.AUDITOR]]


def test_a_monitor_without_application_access_cannot_search(login: Login, archive: dict[str, str]) -> None:
    assert login(Role.MONITOR).get("/search", query_string={"q": "ترخيص"}).status_code == 403


def test_healthz_shows_an_index_that_lags_behind(client: FlaskClient, app: Flask, database: Database) -> None:
    with database.session() as s:
        make_application(s, 7, created=datetime.now(UTC) - timedelta(hours=1))
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded" and not body["checks"]["search_index"]["ok"]
    assert "behind" in body["checks"]["search_index"]["detail"]
    with database.session() as s:
        ids = list(s.scalars(select(Application.id)))
        index_applications(s, app.extensions["sijill"].search, ids)
    app.extensions["sijill"].health.expire()  # the report is otherwise up to a few seconds old
    response = client.get("/healthz")
    # only the search check is this test's business (an hour-old application without a workflow makes the "work"
    # check degraded on its own)
    assert response.status_code == 200 and response.get_json()["checks"]["search_index"]["ok"], response.get_json()


def test_record_view_images_follow_the_search_scope(
    login: Login, archive: dict[str, str], app: Flask, database: Database
) -> None:
    import io

    from PIL import Image

    from archive.models import Page

    out = io.BytesIO()
    Image.new("L", (40, 60), 255).save(out, format="JPEG")
    key = app.extensions["sijill"].store.put(io.BytesIO(out.getvalue()))
    with database.session() as s:
        page = s.scalars(select(Page).join(Page.document).join(Application)
                         .where(Application.tracking_number == archive["SOH-02"])).one()
        page.preview_sha256 = key
        page_id = page.id
    auditor = login(Role.AUDITOR)  # tied to SOH-01 in these tests, but searches every centre
    html = auditor.get(f"/search/records/{archive['SOH-02']}").get_data(as_text=True)
    assert f"/search/pages/{page_id}/preview.jpg" in html
    image = auditor.get(f"/search/pages/{page_id}/preview.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert [e.subject for e in events(database, "page.view")] == [f"application:{archive['SOH-02']}"]
    clerk = app.test_client()
    form = clerk.get("/login").get_data(as_text=True)
    clerk.post("/login", data={"username": ROLE_USERS[Role.CLERK], "password": PASSWORD,
                               "csrf_token": _csrf_token(form)})
    assert clerk.get(f"/search/records/{archive['SOH-01']}").status_code == 200  # logged in
    assert clerk.get(f"/search/pages/{page_id}/preview.jpg").status_code == 404


def test_the_search_page_in_english(login: Login, archive: dict[str, str]) -> None:
    client = login(Role.AUDITOR)
    client.get("/lang/en")
    html = client.get("/search", query_string={"q": "محافظه"}).get_data(as_text=True)
    assert 'dir="ltr"' in html and "Archive search" in html and "1 result" in html
    assert "<mark>بالمحافظة</mark>" in html


@pytest.mark.parametrize("args", [
    {"q": "ترخيص", "page": "9223372036854775807"}, {"q": "ترخيص", "page": "9" * 5000}, {"page": "-1"},
    {"per_page": "100000"}, {"q": "ترخيص", "page": "1e3"}, {"q": "ا" * 5000},
    {"q": " ".join(["ترخيص"] * 60)},
])
def test_no_query_parameter_makes_a_server_error(
    client: FlaskClient, login: Login, archive: dict[str, str], args: dict[str, str]
) -> None:
    auditor = login(Role.AUDITOR)
    for path in ("/search", "/search/export.csv"):
        assert auditor.get(path, query_string=args).status_code == 400, (path, args)
    token = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[Role.AUDITOR], "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    bad = client.get("/api/v1/search", query_string=args, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error_ar"] and bad.get_json()["error"], bad.get_json()
    # the engine answers the next search at once (no transaction left open on this thread)
    assert archive["SOH-01"] in auditor.get("/search", query_string={"q": "محافظه"}).get_data(as_text=True)
    opened = auditor.get(f"/search/records/{archive['SOH-01']}", query_string=args)
    assert opened.status_code == 200
