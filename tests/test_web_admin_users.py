"""Staff accounts in the web: create, change, reset a password, deactivate; refusals in Arabic and English.

The rules are archive.users' (shared with ``sijill users``); these tests drive them through the real forms (CSRF
token from the page) on SQLite and PostgreSQL and read the audit trail the service wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.models import AuditEvent, User
from archive.roles import Role
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from
from web.runtime import Runtime

Login = Callable[[Role], FlaskClient]
ADMIN = ROLE_USERS[Role.ADMIN]


def _session(app: Flask):  # type: ignore[no-untyped-def]
    runtime: Runtime = app.extensions["sijill"]
    return runtime.db.session()


def _user(app: Flask, username: str) -> User | None:
    with _session(app) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            session.expunge(user)
        return user


def _events(app: Flask, username: str) -> list[tuple[str, str | None]]:
    with _session(app) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.subject == f"user:{username}")
                               .order_by(AuditEvent.seq)).all()
        return [(e.action, e.actor) for e in rows]


def _can_log_in(app: Flask, username: str, password: str) -> bool:
    other = app.test_client()
    token = csrf_token_from(other.get("/login").get_data(as_text=True))
    return other.post("/login", data={"username": username, "password": password,
                                      "csrf_token": token}).status_code == 302


def test_admin_creates_changes_resets_and_deactivates_a_user(app: Flask, login: Login) -> None:
    client = login(Role.ADMIN)
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert "صاحب التوقيع" in form and "مهندس / مراجع" in form and "الإدارة الهندسية" in form  # labels, not codes
    token = csrf_token_from(form)
    new = {"csrf_token": token, "username": "Hoda.Farouk", "full_name": "هدى فاروق عبد الحليم",
           "roles": ["reviewer", "signer"], "centre": "SOH-01", "department": "engineering",
           "email": "Hoda@Example.ORG", "password": ""}

    created = client.post("/admin/users/new", data=new)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    shown = re.search(r'<code dir="ltr" class="secret">([^<]+)</code>', created.get_data(as_text=True))
    assert shown, "the generated password is shown once"
    one_time = shown.group(1)
    user = _user(app, "hoda.farouk")
    assert user is not None and user.department == "engineering" and user.email == "Hoda@example.org"
    assert user.roles == {Role.REVIEWER, Role.SIGNER}
    assert _can_log_in(app, "hoda.farouk", one_time)
    assert one_time not in client.get(f"/admin/users/{user.id}").get_data(as_text=True)

    # refusals: nothing is created, the form comes back with an Arabic sentence
    for change, message in [
        ({"username": "hoda.farouk"}, "يوجد مستخدم بهذا الاسم بالفعل."),
        ({"username": "x"}, "اسم المستخدم من 3 إلى 64 حرفًا"),
        ({"username": "sami.adel", "password": "قصيرة"}, "يجب ألا تقل كلمة المرور عن 10 أحرف."),
        ({"username": "sami.adel", "roles": []}, "يجب أن يكون للمستخدم دور واحد على الأقل."),
        ({"username": "sami.adel", "roles": ["root"]}, "يجب أن يكون للمستخدم دور واحد على الأقل."),
        ({"username": "sami.adel", "centre": "NOPE-9"}, "المركز المختار غير موجود."),
        ({"username": "sami.adel", "department": "secret_police"}, "الإدارة المختارة غير موجودة."),
        ({"username": "sami.adel", "email": "sami at home"}, "عنوان البريد الإلكتروني غير صحيح."),
    ]:
        response = client.post("/admin/users/new", data={**new, **change})
        body = response.get_data(as_text=True)
        assert response.status_code == 400 and message in body, (change, body[-2000:])
        assert 'value="هدى فاروق عبد الحليم"' in body  # what was typed is kept
    assert _user(app, "sami.adel") is None

    # change roles, centre, department; take the e-mail away
    edit = {"csrf_token": token, "full_name": "هدى فاروق", "roles": ["reviewer"], "centre": "",
            "department": "licensing", "email": ""}
    assert client.post(f"/admin/users/{user.id}", data=edit).status_code == 303
    changed = _user(app, "hoda.farouk")
    assert changed is not None and changed.roles == {Role.REVIEWER} and changed.centre_id is None
    assert changed.department == "licensing" and changed.email is None and changed.full_name == "هدى فاروق"

    # reset: too short is refused, a typed one works, a generated one is shown once
    short = client.post(f"/admin/users/{user.id}/password", data={"csrf_token": token, "new_password": "123"})
    assert short.status_code == 400 and "يجب ألا تقل كلمة المرور عن 10 أحرف." in short.get_data(as_text=True)
    typed = "كلمة سر جديدة طويلة"
    assert client.post(f"/admin/users/{user.id}/password",
                       data={"csrf_token": token, "new_password": typed}).status_code == 303
    assert not _can_log_in(app, "hoda.farouk", one_time) and _can_log_in(app, "hoda.farouk", typed)

    # deactivate: no more sign-in; reactivate
    assert client.post(f"/admin/users/{user.id}/active", data={"csrf_token": token, "active": "0"}).status_code == 303
    assert not _can_log_in(app, "hoda.farouk", typed)
    listed = client.get("/admin/users?state=inactive").get_data(as_text=True)
    assert "hoda.farouk" in listed and "test.clerk" not in listed
    assert client.post(f"/admin/users/{user.id}/active", data={"csrf_token": token, "active": "1"}).status_code == 303
    assert _can_log_in(app, "hoda.farouk", typed)

    # every change is in the audit trail with the administrator as actor, never the password
    assert [e for e in _events(app, "hoda.farouk") if e[0].startswith("admin.")] == [
        ("admin.user.create", ADMIN), ("admin.user.update", ADMIN), ("admin.user.password_reset", ADMIN),
        ("admin.user.deactivate", ADMIN), ("admin.user.activate", ADMIN),
    ]
    with _session(app) as session:
        details = [str(e.details) for e in session.scalars(select(AuditEvent)).all()]
    assert not any(typed in d or one_time in d for d in details)


def test_user_list_filters(login: Login) -> None:
    client = login(Role.ADMIN)
    by_role = client.get("/admin/users?role=signer").get_data(as_text=True)
    assert ROLE_USERS[Role.SIGNER] in by_role and ROLE_USERS[Role.CLERK] not in by_role
    by_name = client.get("/admin/users?q=AUDITOR").get_data(as_text=True)  # the full name "مستخدم auditor"
    assert ROLE_USERS[Role.AUDITOR] in by_name and ROLE_USERS[Role.ADMIN] not in by_name
    elsewhere = client.get("/admin/users?centre=SOH-02").get_data(as_text=True)
    assert "لا يوجد مستخدمون بهذه الشروط." in elsewhere


def test_refusals_self_last_admin_permission_and_csrf(app: Flask, login: Login) -> None:
    client = login(Role.ADMIN)
    admin = _user(app, ADMIN)
    assert admin is not None
    token = csrf_token_from(client.get(f"/admin/users/{admin.id}").get_data(as_text=True))

    own = client.post(f"/admin/users/{admin.id}/active", data={"csrf_token": token, "active": "0"})
    assert own.status_code == 400 and "لا يمكنك إيقاف حسابك أنت." in own.get_data(as_text=True)
    demote = client.post(f"/admin/users/{admin.id}", data={"csrf_token": token, "roles": ["auditor"],
                                                          "full_name": "x"})
    assert demote.status_code == 400 and "هذا آخر مسؤول نظام نشط" in demote.get_data(as_text=True)
    still = _user(app, ADMIN)
    assert still is not None and still.active and Role.ADMIN in still.roles

    clerk = _user(app, ROLE_USERS[Role.CLERK])
    assert clerk is not None
    no_csrf = client.post(f"/admin/users/{clerk.id}/active", data={"active": "0"})
    assert no_csrf.status_code == 400
    after = _user(app, ROLE_USERS[Role.CLERK])
    assert after is not None and after.active

    # English interface: the same refusal in English
    client.get("/lang/en", headers={"Referer": "http://localhost/admin/users"})
    english = client.post(f"/admin/users/{admin.id}/active", data={"csrf_token": token, "active": "0"})
    assert "You cannot deactivate your own account." in english.get_data(as_text=True)

    assert [a for a, _actor in _events(app, ADMIN) if a.startswith("admin.")] == ["admin.user.create"]

    # another role may neither read nor change accounts
    other = app.test_client()
    form_token = csrf_token_from(other.get("/login").get_data(as_text=True))
    other.post("/login", data={"username": ROLE_USERS[Role.MONITOR], "password": PASSWORD, "csrf_token": form_token})
    assert other.get("/admin/users").status_code == 403
    assert other.get("/admin/users/new").status_code == 403
    page_token = csrf_token_from(other.get("/").get_data(as_text=True))
    refused = other.post(f"/admin/users/{clerk.id}/active", data={"csrf_token": page_token, "active": "0"})
    assert refused.status_code == 403
    final = _user(app, ROLE_USERS[Role.CLERK])
    assert final is not None and final.active


def _summary_links(body: str) -> list[str]:
    """The fields the page's error summary links to (GOV.UK pattern), in order."""
    summary = re.search(r'<div class="error-summary".*?</div>', body, re.S)
    assert summary, "no error summary at the top of the form"
    return re.findall(r'<a href="#([^"]+)">', summary.group())


def test_every_account_form_answers_with_an_error_summary_linking_to_the_field(app: Flask, login: Login) -> None:
    client = login(Role.ADMIN)
    token = csrf_token_from(client.get("/admin/users/new").get_data(as_text=True))
    good = {"csrf_token": token, "username": "nadia.samir", "full_name": "نادية سمير", "roles": ["clerk"],
            "centre": "", "department": "", "email": "", "password": ""}
    for change, field in [({"username": "x"}, "username"), ({"password": "short"}, "password"),
                          ({"roles": []}, "roles"), ({"centre": "NOPE-9"}, "centre"),
                          ({"department": "secret_police"}, "department"), ({"email": "not mail"}, "email")]:
        body = client.post("/admin/users/new", data={**good, **change}).get_data(as_text=True)
        assert _summary_links(body) == [field], (change, _summary_links(body))
        assert f'id="{field}-error"' in body  # the message beside the field, which names it
        assert f'aria-describedby="{field}-error"' in body or f'{field}-error"' in body
    assert "يوجد خطأ في البيانات" in body

    admin = _user(app, ADMIN)
    assert admin is not None
    short = client.post(f"/admin/users/{admin.id}/password", data={"csrf_token": token, "new_password": "123"})
    body = short.get_data(as_text=True)
    assert short.status_code == 400 and _summary_links(body) == ["new_password"]
    assert 'aria-describedby="new-password-hint new_password-error" aria-invalid="true"' in body
    own = client.post(f"/admin/users/{admin.id}/active", data={"csrf_token": token, "active": "0"})
    body = own.get_data(as_text=True)
    assert own.status_code == 400 and _summary_links(body) == ["active-button"]
    assert 'id="active-button-error"' in body
    demote = client.post(f"/admin/users/{admin.id}", data={"csrf_token": token, "roles": ["auditor"],
                                                          "full_name": "x"})
    assert _summary_links(demote.get_data(as_text=True)) == ["roles"]

    client.get("/lang/en", headers={"Referer": "http://localhost/admin/users"})
    english = client.post("/admin/users/new", data={**good, "username": "x"}).get_data(as_text=True)
    assert "There is a problem" in english and _summary_links(english) == ["username"]
    assert "Usernames are 3-64 characters" in english
