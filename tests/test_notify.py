"""Notifications (issue 8): the outbox written with each state change, and its delivery through real servers.

The SMTP server is a real one (aiosmtpd on a loopback port, speaking SMTP to smtplib); the SMS gateway is a small
real HTTP server that records what it is sent and answers as scripted. Applications move through the real intake and
routing services, with real PAdES signatures from the DEMO PKI for the permit, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import Application, DeliveryAttempt, Notification, Service
from intake.service import Upload, add_documents, register_application
from notify.delivery import BACKLOG_ALERT, LEASE, MAX_ATTEMPTS, backlog, deliver_due, deliver_one
from notify.outbox import event_for
from notify.senders import HttpSmsSender, LogSender, SmtpSender, email_sender, sms_sender
from ocr.limits import Limits
from signing.dev_pki import DemoPki, create_demo_pki
from signing.signers import open_signer
from sijill.settings import Settings, SettingsError
from tests import clock
from tests.local_servers import free_port
from tests.test_routing import (
    PKI_PASSWORD,
    PROPERTY,
    World,
    build_world,
    credential,
    png,
    register_demo_certificates,
)
from workflow.routing import ReturnItem, decide, ensure_workflow, resubmit, sign_step

EMAIL = "citizen@Example.ORG"
PHONE = "01012345678"
RETURN_REASON = "أرفق صورة عقد الملكية موثقة"


# --- real servers -------------------------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps every accepted message; refuses recipients at nobody@… with 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}?from=sijill@centres.example.eg", mailbox
    finally:
        controller.stop()


@dataclass
class Gateway:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    """Status codes to answer, in order; 200 once it runs out."""


@pytest.fixture
def sms_gateway() -> Iterator[Gateway]:
    gateway = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            gateway.received.append(json.loads(body.decode("utf-8")))
            gateway.headers.append(dict(self.headers))
            status = gateway.script.pop(0) if gateway.script else 200
            answer = json.dumps({"id": f"gw-{len(gateway.received)}"} if status == 200 else {"error": "busy"})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://secret-token@127.0.0.1:{server.server_address[1]}/v1/sms"
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


# --- the world: centres, staff, catalogue (built by tests/test_routing.py) --------------------------------------------


@pytest.fixture
def world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(database, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    signers = [("head.eng", "رئيس الإدارة الهندسية - تجريبي"), ("council.head", "رئيس مجلس المدينة - تجريبي")]
    return create_demo_pki(tmp_path_factory.mktemp("pki") / "demo", signers, PKI_PASSWORD)


def register(
    world: World, s: Session, service: str = "VALIDITY", email_address: str | None = EMAIL, *, complete: bool = True
) -> Application:
    """Registered with every required document (``complete``), or only the ID card and a reason for the rest."""
    import io

    from intake.service import Upload, required_documents
    from ocr.limits import Limits

    row = s.scalar(select(Service).where(Service.code == service))
    codes = [d.code for d in required_documents(row)] if complete and row is not None else ["ID_COPY"]
    result = register_application(
        s, world.store, centre_code="SOH-01", service_code=service, applicant_name="محمد أحمد علي",
        national_id="29001012601234", applicant_phone=PHONE, applicant_email=email_address, details=PROPERTY,
        uploads=[Upload(c, "id.png" if c == "ID_COPY" else f"{c.lower()}.png", io.BytesIO(png()))
                 for c in codes],
        created_by=world.user(s, "clerk"),
        channel="window", incomplete_reason=None if complete else "باقي المستندات لاحقًا", limits=Limits(),
        now=clock.NOW,
    )  # fmt: skip
    ensure_workflow(s, result.application, now=clock.NOW)
    return result.application


def outbox(s: Session, application_id: int) -> list[tuple[str, str]]:
    rows = s.scalars(select(Notification).where(Notification.application_id == application_id)
                     .order_by(Notification.id)).all()
    return [(n.event, n.channel) for n in rows]


# --- the outbox ---------------------------------------------------------------------------------------------------


def test_each_state_change_writes_its_messages_in_the_same_transaction(
    world: World, demo_pki: DemoPki, smtp_server: tuple[str, Mailbox]
) -> None:
    register_demo_certificates(world, demo_pki)
    with world.database.session() as s:
        app = register(world, s, complete=False)
        app_id = app.id
        assert outbox(s, app_id) == [("received", "sms"), ("received", "email")]
        sms, mail = s.scalars(select(Notification).where(Notification.application_id == app_id)
                              .order_by(Notification.id)).all()
        assert sms.recipient == PHONE and mail.recipient == "citizen@example.org"  # domain lower-cased
        assert app.tracking_number in sms.body and "طلب بيان صلاحية" in sms.body and "موعد الإنجاز" in sms.body
        assert "29001012601234" not in sms.body + mail.body and "باقي المستندات" not in sms.body + mail.body

    # A registration rolled back (a crash before the commit) leaves no message: no phantom SMS.
    class Crash(Exception):
        pass

    with pytest.raises(Crash), world.database.session() as s:
        register(world, s)
        raise Crash
    with world.database.session() as s:
        assert s.scalar(select(Application.id).where(Application.id != app_id)) is None
        assert len(s.scalars(select(Notification)).all()) == 2

    with world.database.session() as s:
        app = s.get(Application, app_id)
        assert app is not None
        decide(s, app, world.user(s, "reviewer"), "return", reason=RETURN_REASON, now=clock.NOW,
               items=[ReturnItem("OWNERSHIP"), ReturnItem("SITE_PLAN")])
        returned = s.scalars(select(Notification).where(Notification.event == "returned")).all()
        assert [n.channel for n in returned] == ["sms", "email"]
        assert all(RETURN_REASON in n.body for n in returned)
        # the citizen is told which papers to bring, by their names on the waiting-hall list
        assert all("مستند الملكية" in n.body and "كروكي الموقع" in n.body for n in returned)
    with world.database.session() as s:
        app = s.get(Application, app_id)
        assert app is not None
        scans = [Upload(c, f"{c}.png", io.BytesIO(png())) for c in ("OWNERSHIP", "SITE_PLAN")]
        add_documents(s, world.store, app, scans, added_by=world.user(s, "clerk"), limits=Limits(), now=clock.NOW)
        resubmit(s, app, world.user(s, "clerk"), now=clock.NOW)  # back into review: nothing to tell
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)  # internal step: nothing
        assert [e for e, _ in outbox(s, app_id)] == ["received"] * 2 + ["returned"] * 2
    with world.database.session() as s, open_signer(credential(demo_pki, "head.eng")) as signer:
        app = s.get(Application, app_id)
        assert app is not None
        sign_step(s, world.store, app, world.user(s, "head.eng"), signer, now=clock.NOW, revocation="off",
                  base_url="https://sijill.example.eg")
        assert app.status == "issued"
        # The last signature is two transitions (sign → approved, issue → issued): one message, the permit is ready.
        assert [e for e, _ in outbox(s, app_id)][4:] == ["permit_ready", "permit_ready"]

    # A refused decision (no reason) raises before anything is written: no message either.
    with world.database.session() as s:
        other = register(world, s, email_address=None)
        other_id = other.id
    from workflow.errors import RoutingRefused

    with pytest.raises(RoutingRefused), world.database.session() as s:
        other = s.get(Application, other_id)
        assert other is not None
        decide(s, other, world.user(s, "reviewer"), "reject", reason=None, now=clock.NOW)
    with world.database.session() as s:
        assert outbox(s, other_id) == [("received", "sms")]  # no e-mail address given: SMS only
        other = s.get(Application, other_id)
        assert other is not None
        decide(s, other, world.user(s, "reviewer"), "reject", reason="مخالفة لاشتراطات التنظيم", now=clock.NOW)
        assert outbox(s, other_id) == [("received", "sms"), ("rejected", "sms")]
        rejected = s.scalars(select(Notification).where(Notification.event == "rejected")).one()
        assert "رُفض طلبك" in rejected.body and "مخالفة" not in rejected.body  # the reason is told at the centre

    # Through the real SMTP server: one e-mail per event the citizen with an address went through, in order.
    smtp_url, mailbox = smtp_server
    report = deliver_due(world.database, {"sms": LogSender(), "email": email_sender(smtp_url)},
                         now=clock.NOW + timedelta(minutes=1))
    assert (report.sent, report.failed) == (8, 0)  # 3 e-mails and 5 SMS
    with world.database.session() as s:
        tracking = s.scalar(select(Application.tracking_number).where(Application.id == app_id))
    assert [m["Subject"] for _, _, m in mailbox.messages] == [
        f"استلام طلبك رقم {tracking}", f"طلبك رقم {tracking} يحتاج إلى استكمال", f"الترخيص جاهز: طلب رقم {tracking}"]
    assert RETURN_REASON in mailbox.messages[1][2].get_content()
    assert "صدر الترخيص" in mailbox.messages[2][2].get_content()


def test_a_chain_without_signatures_tells_the_citizen_it_was_approved(world: World) -> None:
    with world.database.session() as s:
        service = s.scalar(select(Service).where(Service.code == "VALIDITY"))
        assert service is not None
        definition = dict(service.definition)
        definition["signing_chain"] = [definition["signing_chain"][0]]  # the reviewer's recommendation only
        service.definition = definition
    with world.database.session() as s:
        app = register(world, s)
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        assert app.status == "approved"
        assert outbox(s, app.id)[-2:] == [("approved", "sms"), ("approved", "email")]


def test_invalid_email_is_an_intake_error_and_writes_nothing(world: World) -> None:
    from intake.errors import IntakeInvalid

    with pytest.raises(IntakeInvalid) as info, world.database.session() as s:
        register(world, s, email_address="not an address")
    assert list(info.value.errors) == ["applicant_email"]
    with world.database.session() as s:
        assert s.scalars(select(Notification)).all() == []


# --- delivery through real servers ---------------------------------------------------------------------------------


def test_messages_go_through_the_real_smtp_server_and_the_sms_gateway(
    world: World, smtp_server: tuple[str, Mailbox], sms_gateway: Gateway
) -> None:
    smtp_url, mailbox = smtp_server
    with world.database.session() as s:
        app = register(world, s)
        decide(s, app, world.user(s, "reviewer"), "return", reason=RETURN_REASON, now=clock.NOW)
        tracking = app.tracking_number
    senders = {"sms": sms_sender(sms_gateway.url), "email": email_sender(smtp_url)}
    report = deliver_due(world.database, senders, now=clock.NOW + timedelta(seconds=1))
    assert (report.sent, report.retrying, report.failed) == (4, 0, 0)

    assert [rcpt for _, rcpt, _ in mailbox.messages] == [["citizen@example.org"]] * 2
    first, second = (m for _, _, m in mailbox.messages)
    assert mailbox.messages[0][0] == "sijill@centres.example.eg"
    assert first["Subject"] == f"استلام طلبك رقم {tracking}"
    assert second["Subject"] == f"طلبك رقم {tracking} يحتاج إلى استكمال"
    assert RETURN_REASON in second.get_content() and "السيد/السيدة محمد أحمد علي" in second.get_content()
    assert first["Message-ID"].startswith("<") and "sijill-notification-" in first["Message-ID"]

    assert [m["to"] for m in sms_gateway.received] == ["+201012345678"] * 2
    assert "استلمنا طلبك" in sms_gateway.received[0]["text"] and RETURN_REASON in sms_gateway.received[1]["text"]
    assert all(h["Authorization"] == "Bearer secret-token" for h in sms_gateway.headers)

    with world.database.session() as s:
        rows = s.scalars(select(Notification).order_by(Notification.id)).all()
        assert {n.status for n in rows} == {"sent"} and all(n.sent_at is not None for n in rows)
        assert sorted(n.provider_id or "" for n in rows if n.channel == "sms") == ["gw-1", "gw-2"]
        attempts = s.scalars(select(DeliveryAttempt)).all()
        assert len(attempts) == 4 and all(a.ok for a in attempts)
        assert {a.sender for a in attempts} == {"smtp", "http"}
    # Nothing is sent twice.
    assert deliver_due(world.database, senders, now=clock.NOW + timedelta(hours=1)).attempted == 0
    assert len(mailbox.messages) == 2 and len(sms_gateway.received) == 2


def test_temporary_failures_are_retried_with_back_off_and_permanent_ones_given_up(
    world: World, sms_gateway: Gateway
) -> None:
    with world.database.session() as s:
        app = register(world, s, email_address="nobody@example.org")
        app_id = app.id
    port = free_port()  # nothing listens there: the SMTP server is "down"
    senders = {"sms": HttpSmsSender(sms_gateway.url), "email": SmtpSender(f"smtp://127.0.0.1:{port}")}
    sms_gateway.script = [503, 503]
    t0 = clock.NOW + timedelta(seconds=1)
    report = deliver_due(world.database, senders, now=t0)
    assert (report.sent, report.retrying, report.failed) == (0, 2, 0)
    assert deliver_due(world.database, senders, now=t0 + timedelta(seconds=59)).attempted == 0  # backing off
    report = deliver_due(world.database, senders, now=t0 + timedelta(minutes=1))
    assert (report.sent, report.retrying) == (0, 2)
    report = deliver_due(world.database, senders, now=t0 + timedelta(minutes=6))
    assert report.sent == 1  # the gateway answers 200 on the third try
    with world.database.session() as s:
        sms = s.scalars(select(Notification).where(Notification.application_id == app_id,
                                                   Notification.channel == "sms")).one()
        assert sms.status == "sent" and sms.attempts == 3
        details = [a.detail for a in sms.deliveries]
        assert [a.ok for a in sms.deliveries] == [False, False, True]
        assert details[0] is not None and details[0].startswith("HTTP 503")
        mail = s.scalars(select(Notification).where(Notification.channel == "email")).one()
        assert mail.status == "pending" and mail.attempts == 3 and "ConnectionRefusedError" in (mail.last_error or "")

    # The SMTP server comes up and refuses the mailbox for good: given up after that one attempt.
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        report = deliver_due(world.database, senders, now=t0 + timedelta(hours=1))
    finally:
        controller.stop()
    assert (report.sent, report.failed) == (0, 1)
    with world.database.session() as s:
        mail = s.scalars(select(Notification).where(Notification.channel == "email")).one()
        assert mail.status == "failed" and "550" in (mail.last_error or "") and mail.deliveries[-1].permanent
    assert mailbox.messages == []


def test_healthz_reports_messages_left_unsent_without_naming_anyone(world: World) -> None:
    from archive.models import utcnow
    from sijill.health import NotificationsLate, _notifications_probe

    with world.database.session() as s:
        register(world, s)
    assert _notifications_probe(world.database) == "none waiting longer than 15 min"  # just written
    assert backlog(world.database, now=utcnow() + BACKLOG_ALERT + timedelta(minutes=1)).late == 2  # sms and e-mail
    with world.database.session() as s:
        s.execute(update(Notification).values(created_at=utcnow() - timedelta(hours=1)))
    with pytest.raises(NotificationsLate, match=r"^2 notifications unsent after 15 min") as late:
        _notifications_probe(world.database)
    assert EMAIL not in str(late.value) and PHONE not in str(late.value)
    report = deliver_due(world.database, {"sms": LogSender(), "email": LogSender()}, now=utcnow())
    assert report.sent == 2
    assert _notifications_probe(world.database) == "none waiting longer than 15 min"


def test_a_gateway_refusal_fails_at_once_and_attempts_are_capped(world: World, sms_gateway: Gateway) -> None:
    with world.database.session() as s:
        first = register(world, s, email_address=None).id
    sms_gateway.script = [400]
    senders = {"sms": HttpSmsSender(sms_gateway.url)}
    assert deliver_due(world.database, senders, now=clock.NOW + timedelta(seconds=1)).failed == 1
    with world.database.session() as s:
        row = s.scalars(select(Notification).where(Notification.application_id == first)).one()
        assert row.status == "failed" and row.attempts == 1

    with world.database.session() as s:
        second = register(world, s, email_address=None).id
    sms_gateway.script = [503] * MAX_ATTEMPTS
    moment = clock.NOW + timedelta(seconds=1)
    for _ in range(MAX_ATTEMPTS):
        deliver_due(world.database, senders, now=moment)
        moment += timedelta(days=1)
    with world.database.session() as s:
        row = s.scalars(select(Notification).where(Notification.application_id == second)).one()
        assert row.status == "failed" and row.attempts == MAX_ATTEMPTS and len(row.deliveries) == MAX_ATTEMPTS
    assert deliver_due(world.database, senders, now=moment + timedelta(days=30)).attempted == 0


def test_a_claimed_message_is_sent_once_and_reclaimed_after_a_dead_worker_lease(world: World) -> None:
    with world.database.session() as s:
        app_id = register(world, s, email_address=None).id
        notification_id = s.scalars(select(Notification.id).where(Notification.application_id == app_id)).one()
    # A worker claimed it and died before recording the outcome.
    with world.database.session() as s:
        s.execute(update(Notification).where(Notification.id == notification_id)
                  .values(status="sending", claimed_at=clock.NOW, attempts=1))
    senders = {"sms": LogSender()}
    assert deliver_one(world.database, senders, notification_id, now=clock.NOW + LEASE - timedelta(seconds=1)) is None
    assert deliver_one(world.database, senders, notification_id, now=clock.NOW + LEASE) == "sent"
    assert deliver_one(world.database, senders, notification_id, now=clock.NOW + LEASE) is None  # already sent
    with world.database.session() as s:
        row = s.get(Notification, notification_id)
        assert row is not None and row.attempts == 2 and len(row.deliveries) == 1


def test_event_mapping_and_the_beat_schedule() -> None:
    from archive.models import Transition
    from worker.celery_app import BEAT_SCHEDULE
    from worker.tasks import send_pending_notifications

    def t(action: str, to: str) -> Transition:
        return Transition(action=action, from_status="in_review", to_status=to)

    assert event_for(t("sign", "approved")) is None and event_for(t("issue", "issued")) == "permit_ready"
    assert event_for(t("open", "received")) is None and event_for(t("reassign", "in_review")) is None
    assert event_for(t("resubmit", "in_review")) is None and event_for(t("revoke", "issued")) is None
    assert BEAT_SCHEDULE["send-pending-notifications"]["task"] == send_pending_notifications.name


def test_notification_urls_in_settings(tmp_path: Path) -> None:
    base = {"SIJILL_DATA_DIR": str(tmp_path), "SIJILL_ENV": "test"}
    s = Settings.from_env(base)
    assert s.notify_email_url == "log://" and s.sms_url == "log://"
    s = Settings.from_env({**base, "SIJILL_NOTIFY_EMAIL_URL": "smtps://u:p@mail.example:465?from=a@b.eg",
                           "SIJILL_SMS_URL": "https://tok@sms.example/send"})
    assert isinstance(email_sender(s.notify_email_url), SmtpSender)
    assert isinstance(sms_sender(s.sms_url), HttpSmsSender)
    for name, value in (("NOTIFY_EMAIL_URL", "http://mail"), ("SMS_URL", "smtp://x:25"), ("NOTIFY_EMAIL_URL", "smtp://")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**base, f"SIJILL_{name}": value})


def test_the_worker_task_sends_through_the_configured_servers(
    world: World, smtp_server: tuple[str, Mailbox], sms_gateway: Gateway, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``notify.send_pending`` as the beat runs it: settings from the environment, senders chosen by URL."""
    import worker.runtime
    from worker.tasks import send_pending_notifications

    smtp_url, mailbox = smtp_server
    with world.database.session() as s:
        register(world, s)
    for name, value in (("DATA_DIR", str(tmp_path / "data")), ("ENV", "test"), ("DATABASE_URL", world.database.url),
                        ("STORAGE_URL", (tmp_path / "objects").as_uri()), ("NOTIFY_EMAIL_URL", smtp_url),
                        ("SMS_URL", sms_gateway.url)):
        monkeypatch.setenv(f"SIJILL_{name}", value)
    monkeypatch.setattr(worker.runtime, "_runtime", None)
    try:
        result = send_pending_notifications.apply().get()
    finally:
        rt = worker.runtime._runtime
        if rt is not None:
            rt.database.dispose()
        monkeypatch.setattr(worker.runtime, "_runtime", None)
    assert result == {"sent": 2, "retrying": 0, "failed": 0}
    assert len(mailbox.messages) == 1 and len(sms_gateway.received) == 1
    assert "استلمنا طلبك" in sms_gateway.received[0]["text"]
