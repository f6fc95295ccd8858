"""The record's audit trail as sentences: names not usernames or codes, views folded, reasons shown, paged."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_babel import force_locale

from archive.audit import record_event, trail_for
from archive.db import Database
from archive.labels import AUDIT_SENTENCES, audit_sentence
from archive.models import utcnow
from archive.roles import Role
from tests.fixtures.app import ROLE_USERS
from web import audit_trail

SUBJECT = "application:SOH01-2026-000001-X"


def test_views_fold_into_one_line_and_decisions_read_as_sentences(app: Flask, database: Database) -> None:
    clerk, reviewer, auditor = ROLE_USERS[Role.CLERK], ROLE_USERS[Role.REVIEWER], ROLE_USERS[Role.AUDITOR]
    start = utcnow() - timedelta(hours=3)
    with database.session() as session:
        record_event(session, actor=clerk, action="application.register", subject=SUBJECT, at=start)
        record_event(session, actor=None, action="application.open", subject=SUBJECT, at=start)
        record_event(session, actor=auditor, action="application.view", subject=SUBJECT, at=start)
        for i in range(12):  # the preview images of one visit
            record_event(session, actor=auditor, action="page.view", subject=SUBJECT, details={"page": i}, at=start)
        record_event(session, actor=reviewer, action="application.recommend", subject=SUBJECT,
                     details={"reason": "المستندات مطابقة", "step": 0}, at=start)
        session.commit()
        events = trail_for(session, SUBJECT)
        with app.test_request_context("/"), force_locale("ar"):
            trail = audit_trail.build(session, events)
            lines = [line for day in trail.days for line in day.lines]
            texts = [str(line.sentence) for line in lines]
            assert texts == [
                "أوصى <bdi>مستخدم reviewer</bdi> بالموافقة",
                "اطّلع <bdi>مستخدم auditor</bdi> على الطلب",
                "فُتحت دورة العمل للطلب",
                "سجّل <bdi>مستخدم clerk</bdi> الطلب في الشباك",
            ]
            assert lines[0].note == "المستندات مطابقة" and lines[1].note == "12 صفحة" and lines[1].events == 13
        with app.test_request_context("/"), force_locale("en"):
            english = [str(line.sentence) for day in audit_trail.build(session, events).days for line in day.lines]
            assert english[0] == "<bdi>مستخدم reviewer</bdi> recommended approval"
            assert english[2] == "The workflow was opened"


def test_the_trail_is_paged_newest_first(app: Flask, database: Database) -> None:
    with database.session() as session:
        now = utcnow()
        for i in range(70):
            record_event(session, actor=ROLE_USERS[Role.CLERK], action="receipt.download" if i % 2 else "login.ok",
                         subject=SUBJECT, at=now - timedelta(minutes=70 - i))
        session.commit()
        events = trail_for(session, SUBJECT)
        with app.test_request_context("/"), force_locale("ar"):
            first, last = audit_trail.build(session, events, 1), audit_trail.build(session, events, 99)
    assert first.lines == 70 and first.pages == 3 and last.page == 3
    assert sum(len(d.lines) for d in first.days) == audit_trail.PER_PAGE
    assert sum(len(d.lines) for d in last.days) == 70 - 2 * audit_trail.PER_PAGE


def test_every_action_the_code_writes_has_a_sentence() -> None:
    """Every action string passed to record_event/audit in the code base has both sentences."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found: set[str] = set()
    for package in ("archive", "intake", "workflow", "signing", "web", "governance", "sijill", "notify"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found |= set(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', text))
            found |= set(re.findall(r'audit(?:_document|_page)?\(\s*"([a-z_]+\.[a-z_.]+)"', text))
    transitions = {"open", "recommend", "approve", "sign", "reject", "return", "resubmit", "reassign", "issue",
                   "revoke"}
    found |= {f"application.{t}" for t in transitions}
    missing = sorted(a for a in found if a not in AUDIT_SENTENCES)
    assert len(found) > 15 and missing == []


def test_a_service_withdrawn_or_offered_again_says_so_not_just_changed(app: Flask, database: Database) -> None:
    admin = ROLE_USERS[Role.ADMIN]
    subject = "service:DEMOLITION-PERMIT"
    start = utcnow() - timedelta(hours=1)
    changes = [  # oldest first: added without offering it, edited, withdrawn, edited while withdrawn, offered again
        {"version": 4, "created": True, "offered": False, "was_offered": False},
        {"version": 5, "created": False, "offered": True, "was_offered": True},
        {"version": 6, "created": False, "offered": False, "was_offered": True},
        {"version": 7, "created": False, "offered": False, "was_offered": False},
        {"version": 8, "created": False, "offered": True, "was_offered": False},
    ]
    with database.session() as session:
        for i, details in enumerate(changes):
            record_event(session, actor=admin, action="admin.catalogue.service", subject=subject, details=details,
                         at=start + timedelta(minutes=i))
        session.commit()
        events = trail_for(session, subject)
        who = "<bdi>مستخدم admin</bdi>"
        code = '<bdi dir="ltr">DEMOLITION-PERMIT</bdi>'
        with app.test_request_context("/"), force_locale("ar"):
            arabic = [str(line.sentence) for day in audit_trail.build(session, events).days for line in day.lines]
        with app.test_request_context("/"), force_locale("en"):
            english = [str(line.sentence) for day in audit_trail.build(session, events).days for line in day.lines]
    assert arabic == [
        f"أتاح {who} الخدمة {code} من جديد في شباك التسجيل",
        f"عدّل {who} خدمة في دليل الخدمات",
        f"أوقف {who} الخدمة {code} فلم تعد تُعرض في شباك التسجيل",
        f"عدّل {who} خدمة في دليل الخدمات",
        f"عدّل {who} خدمة في دليل الخدمات",
    ]
    assert english == [
        f"{who} offered the service {code} again at the registration window",
        f"{who} changed a service in the catalogue",
        f"{who} withdrew the service {code} from the registration window",
        f"{who} changed a service in the catalogue",
        f"{who} changed a service in the catalogue",
    ]
    assert audit_sentence("admin.catalogue.service", "Huda", False, changes[2], subject) == (
        "Huda withdrew the service DEMOLITION-PERMIT from the registration window")
    assert audit_sentence("admin.catalogue.service", None, True, {"offered": True}, subject) == (
        "عدّل النظام خدمة في دليل الخدمات")  # details that say nothing more: the plain sentence
