"""Who did what is written down: logins, registrations, views and downloads, admin changes; auditors read it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.models import AuditEvent, Document
from archive.roles import Role
from intake.catalogue import load_catalogue, sync_catalogue
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from
from tests.sijill_process import run_sijill, sijill_env
from tests.test_web_intake import Login, register
from web.runtime import Runtime


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["sijill"]
    with runtime.db.session() as session:
        sync_catalogue(session, load_catalogue())
    return runtime


def events(rt: Runtime, subject: str | None = None) -> list[tuple[str | None, str, str]]:
    with rt.db.session() as s:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if subject is not None:
            query = query.where(AuditEvent.subject == subject)
        return [(e.actor, e.action, e.subject) for e in s.scalars(query)]


def test_logins_good_and_bad_are_recorded(app: Flask, client: FlaskClient) -> None:
    runtime: Runtime = app.extensions["sijill"]
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    bad = client.post("/login", data={"username": ROLE_USERS[Role.CLERK], "password": "wrong password!",
                                      "csrf_token": token})
    assert bad.status_code == 401
    good = client.post("/login", data={"username": ROLE_USERS[Role.CLERK], "password": PASSWORD,
                                       "csrf_token": token})
    assert good.status_code == 302
    api = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x" * 12, "name": "t"})
    assert api.status_code == 401
    logins = [e for e in events(runtime) if e[1].startswith("login.")]
    clerk = ROLE_USERS[Role.CLERK]
    assert logins == [(None, "login.failed", f"user:{clerk}"), (clerk, "login.ok", f"user:{clerk}"),
                      (None, "login.failed", "user:nobody")]


def test_registration_views_and_downloads_are_on_the_records_trail(rt: Runtime, app: Flask, login: Login) -> None:
    client = login(Role.CLERK)
    tracking = register(client)
    assert client.get(f"/applications/{tracking}").status_code == 200
    with rt.db.session() as s:
        document_id = s.scalars(select(Document.id)).first()
    assert client.get(f"/documents/{document_id}/original").status_code == 200
    trail = events(rt, f"application:{tracking}")
    clerk = ROLE_USERS[Role.CLERK]
    assert trail == [(clerk, "application.register", f"application:{tracking}"),
                     (None, "application.open", f"application:{tracking}"),
                     (clerk, "application.view", f"application:{tracking}"),
                     (clerk, "document.download", f"application:{tracking}")]

    page = client.get(f"/applications/{tracking}").get_data(as_text=True)
    assert 'id="audit-trail"' not in page  # a clerk does not read the trail
    client.post("/logout", data={"csrf_token": csrf_token_from(page)})
    auditor = login(Role.AUDITOR)
    html = auditor.get(f"/applications/{tracking}").get_data(as_text=True)
    assert 'id="audit-trail"' in html and "application.register" not in html  # sentences, not codes
    assert "سجّل <bdi>مستخدم clerk</bdi> الطلب في الشباك" in html and "نزّل <bdi>مستخدم clerk</bdi> مستندًا" in html
    assert events(rt, f"application:{tracking}")[-1] == (ROLE_USERS[Role.AUDITOR], "application.view",
                                                          f"application:{tracking}")


@pytest.mark.slow
def test_audit_verify_command_names_an_edited_event(tmp_path: Path) -> None:
    env = sijill_env(tmp_path / "data")
    assert run_sijill(env, "db", "upgrade").returncode == 0
    created = run_sijill(env, "users", "create", "mona", "-r", "clerk", "--password-stdin",
                         stdin="a long enough password\n")
    assert created.returncode == 0, created.stderr
    run_sijill(env, "users", "create", "sami", "-r", "auditor", "--password-stdin", stdin="another long password\n")
    ok = run_sijill(env, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intact: 2 events" in ok.stdout

    database = next((tmp_path / "data").glob("*.sqlite3"))
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE audit_events SET details = '{\"roles\": [\"admin\"]}' WHERE seq = 1")
    broken = run_sijill(env, "audit", "verify")
    assert broken.returncode == 1
    assert "event 1" in broken.stderr and "edited" in broken.stderr
