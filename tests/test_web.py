"""The web app: Arabic RTL pages, login, a permission on every view, error pages, API and health."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive.db import Database
from archive.roles import ROLE_PERMISSIONS, Permission, Role
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from
from web.permissions import LIBRARY_PUBLIC_ENDPOINTS, PUBLIC, access_of

Login = Callable[[Role], FlaskClient]


def test_login_page_is_arabic_and_right_to_left(client: FlaskClient) -> None:
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl">' in html
    assert "تسجيل دخول الموظفين" in html
    assert 'name="csrf_token"' in html


def test_an_empty_login_names_each_missing_field_in_the_error_summary(client: FlaskClient) -> None:
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    html = client.post("/login", data={"csrf_token": token, "username": "", "password": ""}).get_data(as_text=True)
    summary = html[html.index('id="error-summary"'):html.index("</div>", html.index('id="error-summary"'))]
    assert 'role="alert"' in summary and "يوجد خطأ في البيانات" in summary
    assert '<a href="#username">' in summary and '<a href="#password">' in summary
    for field in ("username", "password"):
        assert f'aria-describedby="{field}-error"' in html and f'id="{field}-error"' in html
    assert "autofocus" not in html  # the summary takes the focus, not the first box


def test_english_switch(client: FlaskClient) -> None:
    client.get("/lang/en", headers={"Referer": "http://localhost/login"})
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html
    assert "Staff login" in html
    client.get("/lang/ar")
    assert 'dir="rtl"' in client.get("/login").get_data(as_text=True)


def test_every_english_message_is_translated() -> None:
    from babel.messages.pofile import read_po

    from web.i18n import SOURCE_DIR

    with (SOURCE_DIR / "en/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []


def test_every_source_message_is_in_the_english_catalogue() -> None:
    """A new Arabic string in a template or view must reach the .po (run scripts/i18n-update.sh)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from web.i18n import SOURCE_DIR

    web_dir = SOURCE_DIR.parent
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "N_": None, "lazy_gettext": None}
    source = {msg[2] for msg in extract_from_dir(str(web_dir), method_map, keywords=keywords)}
    with (SOURCE_DIR / "en/LC_MESSAGES/messages.po").open("rb") as fh:
        known = {m.id for m in read_po(fh) if m.id}
    assert source, "no messages extracted: is the extraction configuration right?"
    assert sorted(str(m) for m in source - known) == []


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_logout_round_trip(client: FlaskClient, login: Login) -> None:
    login(Role.CLERK)
    home = client.get("/").get_data(as_text=True)
    assert "مستخدم clerk" in home and "موظف الشباك" in home
    token = csrf_token_from(home)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_in_arabic(client: FlaskClient) -> None:
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": ROLE_USERS[Role.CLERK], "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "اسم المستخدم أو كلمة المرور غير صحيحة." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": ROLE_USERS[Role.CLERK], "password": PASSWORD})
    assert response.status_code == 400
    assert "الطلب غير صالح." in response.get_data(as_text=True)


def test_login_never_redirects_off_site(client: FlaskClient) -> None:
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": ROLE_USERS[Role.CLERK], "password": PASSWORD, "csrf_token": token,
              "next": "//evil.example/steal"},
    )
    assert response.headers["Location"] == "/"


def test_every_endpoint_declares_access(app: Flask) -> None:
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in LIBRARY_PUBLIC_ENDPOINTS and access_of(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_undeclared_view_is_refused(app: Flask, client: FlaskClient) -> None:
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    assert client.get("/forgotten").status_code == 403


@pytest.mark.parametrize("role", list(Role))
def test_permission_checks_per_role(app: Flask, login: Login, role: Role) -> None:
    client = login(role)
    for rule in app.url_map.iter_rules():
        access = access_of(app.view_functions.get(rule.endpoint))
        if access in (None, PUBLIC) or "GET" not in rule.methods or rule.arguments or rule.rule.startswith("/api/"):
            continue
        assert isinstance(access, tuple)
        allowed = all(p in ROLE_PERMISSIONS[role] for p in access)
        status = client.get(rule.rule).status_code
        assert (status == 200) == allowed, (role, rule.rule, status)
        if not allowed:
            assert status == 403


def test_forbidden_and_missing_pages_are_arabic(login: Login) -> None:
    client = login(Role.CLERK)
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403
    assert "ليست لديك صلاحية لهذه الصفحة." in forbidden.get_data(as_text=True)
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "الصفحة المطلوبة غير موجودة." in missing.get_data(as_text=True)


def test_internal_error_is_a_page_not_a_traceback(app: Flask, client: FlaskClient) -> None:
    from web.permissions import public

    app.config["PROPAGATE_EXCEPTIONS"] = False

    @public
    def boom() -> str:
        raise RuntimeError("internal detail")

    app.add_url_rule("/boom", "boom", boom)
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "حدث خطأ داخلي" in body and "internal detail" not in body and "Traceback" not in body


def test_admin_sees_users(login: Login) -> None:
    html = login(Role.ADMIN).get("/admin/users").get_data(as_text=True)
    assert "test.clerk" in html and "صاحب التوقيع" in html


def test_services_page_lists_catalogue(app: Flask, login: Login) -> None:
    from intake.catalogue import load_catalogue, sync_catalogue
    from web.runtime import Runtime

    runtime: Runtime = app.extensions["sijill"]
    with runtime.db.session() as session:
        sync_catalogue(session, load_catalogue())
    html = login(Role.CLERK).get("/services").get_data(as_text=True)
    assert "طلب ترخيص تشغيل محل" in html and "مستخرج السجل التجاري" in html


def test_admin_edits_the_catalogue_with_a_new_version(app: Flask, login: Login) -> None:
    from intake.catalogue import load_catalogue, sync_catalogue
    from web.runtime import Runtime

    runtime: Runtime = app.extensions["sijill"]
    with runtime.db.session() as session:
        sync_catalogue(session, load_catalogue())
    client = login(Role.ADMIN)
    page = client.get("/admin/catalogue").get_data(as_text=True)
    assert "BUILD-PERMIT" in page
    exported = client.get("/admin/catalogue.yaml").get_data(as_text=True)
    token = csrf_token_from(page)

    changed = exported.replace("legal_days: 7", "legal_days: 10", 1)
    same_version = client.post("/admin/catalogue", data={"csrf_token": token, "text": changed})
    assert same_version.status_code == 400
    assert "لم يُحفظ الدليل" in same_version.get_data(as_text=True)

    version = load_catalogue().version
    bumped = changed.replace(f"version: {version}", "version: 2026.12-1").replace(f"version: '{version}'",
                                                                                 "version: 2026.12-1")
    saved = client.post("/admin/catalogue", data={"csrf_token": token, "text": bumped})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with runtime.db.session() as session:
        from sqlalchemy import select

        from archive.models import Service

        validity = session.scalar(select(Service).where(Service.code == "VALIDITY"))
        assert validity is not None and validity.legal_days == 10 and validity.catalogue_version == "2026.12-1"

    broken = client.post("/admin/catalogue", data={"csrf_token": token, "text": "version: [unclosed"})
    assert broken.status_code == 400 and "YAML" in broken.get_data(as_text=True)
    assert login(Role.CLERK).get("/admin/catalogue").status_code == 403


# --- JSON API -------------------------------------------------------------------------------------------


def _token(client: FlaskClient, role: Role) -> str:
    response = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[role], "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    token: str = response.get_json()["token"]
    return token


def test_api_token_flow(client: FlaskClient) -> None:
    token = _token(client, Role.AUDITOR)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    body = me.get_json()
    assert body["username"] == "test.auditor" and "auditor" in body["roles"]
    assert Permission.ARCHIVE_SEARCH.value in body["permissions"]


def test_api_errors_are_json(client: FlaskClient) -> None:
    no_token = client.get("/api/v1/me")
    assert no_token.status_code == 401
    assert no_token.get_json()["error"] == "Authentication is required."
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.post("/api/v1/auth/token", json={"username": ROLE_USERS[Role.CLERK], "password": "wrong"})
    assert bad.status_code == 401 and "error_ar" in bad.get_json()
    invalid = client.post("/api/v1/auth/token", json={"username": "x"})
    assert invalid.status_code == 422
    assert "password" in str(invalid.get_json()["details"])
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.is_json


def test_api_ignores_session_cookie(client: FlaskClient, login: Login) -> None:
    login(Role.ADMIN)
    assert client.get("/api/v1/me").status_code == 401


def test_api_permissions(client: FlaskClient) -> None:
    token = _token(client, Role.MONITOR)
    services = client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"})
    assert services.status_code == 200 and services.get_json() == []


def test_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    doc = spec.get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/auth/token", "/api/v1/me", "/api/v1/services", "/api/v1/centres"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "legal_days" in doc["components"]["schemas"]["ChainStep"]["properties"]  # a step's own duration


def test_healthz_reports_every_backend(client: FlaskClient) -> None:
    response = client.get("/healthz")
    body = response.get_json()
    assert set(body["checks"]) == {
        "database", "storage", "search", "broker", "fixity", "search_index", "notifications", "work"
    }
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_turns_red_when_storage_is_unreachable(app: Flask, client: FlaskClient) -> None:
    from web.runtime import Runtime

    runtime: Runtime = app.extensions["sijill"]
    runtime.settings = runtime.settings.with_overrides(storage_url="s3://k:s@127.0.0.1:1/bucket")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing" and not body["checks"]["storage"]["ok"]
    assert body["checks"]["database"]["ok"]
    assert "k:s@" not in body["checks"]["storage"]["detail"]


def test_healthz_hides_details_from_remote_callers(
    client: FlaskClient, login: Callable[[Role], FlaskClient], database: Database
) -> None:
    from sqlalchemy import select

    from archive.models import User
    from archive.users import issue_api_token

    remote = client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert remote.get_json() == {"status": "up"} and remote.status_code == 200
    proxied = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})  # a proxy on this machine
    assert proxied.get_json() == {"status": "up"}
    local = client.get("/healthz", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert "detail" in local["checks"]["storage"]
    with database.session() as session:
        tokens = {
            role: issue_api_token(
                session, session.scalars(select(User).where(User.username == ROLE_USERS[role])).one(), "m"
            )
            for role in (Role.CLERK, Role.ADMIN)
        }
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    for role, detailed in ((Role.CLERK, False), (Role.ADMIN, True)):
        by_token = client.get("/healthz", environ_base=remote, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert ("checks" in by_token.get_json()) is detailed, role
    login(Role.CLERK)
    assert client.get("/healthz", environ_base=remote).get_json() == {"status": "up"}


def test_healthz_answers_from_a_report_a_few_seconds_old(app: Flask, client: FlaskClient) -> None:
    """However often it is asked, the backends see one round of checks per refresh interval."""
    health = app.extensions["sijill"].health
    for _ in range(20):
        assert client.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 200
    assert health.computed == 1
    body = client.get("/healthz").get_json()
    assert body["age_seconds"] < 5 and body["checked_at"]
    health.expire()
    client.get("/healthz")
    assert health.computed == 2


def test_health_cache_refreshes_once_while_others_answer_from_the_last_report() -> None:
    import threading

    from sijill.health import HealthCache

    now = [0.0]
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def compute() -> dict[str, object]:
        calls.append(1)
        if len(calls) == 2:
            started.set()
            release.wait(5)
        return {"status": "ok", "n": len(calls)}

    cache = HealthCache(compute, max_age=5, clock=lambda: now[0])
    assert cache.get()["n"] == 1
    now[0] = 6.0  # stale: the next caller refreshes, the others answer from the old report meanwhile
    refresher = threading.Thread(target=cache.get)
    refresher.start()
    assert started.wait(5)
    assert [cache.get()["n"] for _ in range(5)] == [1] * 5
    release.set()
    refresher.join(5)
    assert cache.get()["n"] == 2 and len(calls) == 2


def test_security_headers(client: FlaskClient) -> None:
    headers = client.get("/login").headers
    assert headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
