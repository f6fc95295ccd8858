"""Due-date reminders (workflow.reminders) on SQLite and PostgreSQL, delivered by the real outbox to a real SMTP server.

A VALIDITY application (7 legal days) is registered; the clock is moved to three days, one day and past its due date;
each run of the reminder job must send exactly what that moment calls for, once, to the right officials, and the
inbox (page and API) must show it.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import Application, Notification, StepReminder
from archive.users import set_email
from intake.service import Upload, register_application
from notify.delivery import deliver_due
from notify.senders import LogSender, email_sender
from ocr.limits import Limits
from sijill.settings import Settings, SettingsError
from tests import clock
from tests.test_notify import Mailbox, smtp_server  # noqa: F401 - fixture
from tests.test_routing import PROPERTY, World, build_world, png
from workflow.reminders import days_of, heads_of, officials_of, send_due_reminders, threshold_for
from workflow.routing import decide, ensure_workflow, reassign


@pytest.fixture
def world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    world = build_world(database, tmp_path, monkeypatch)
    with database.session() as s:
        for name in ("reviewer", "reviewer.two", "head.eng", "head.eng.qen", "clerk.reviewer", "reviewer.all"):
            set_email(s, name, f"{name}@centres.example.eg")
    return world


def register(world: World, s: Session) -> Application:
    """A VALIDITY application (7 legal days) with every required document, its workflow open."""
    result = register_application(
        s, world.store, centre_code="SOH-01", service_code="VALIDITY", applicant_name="محمد أحمد علي",
        national_id="29001012601234", applicant_phone="01012345678", details=PROPERTY,
        uploads=[Upload(code, f"{code}.png", io.BytesIO(png())) for code in ("ID_COPY", "OWNERSHIP", "SITE_PLAN")],
        created_by=world.user(s, "clerk"), channel="window", incomplete_reason=None, limits=Limits(), now=clock.NOW,
    )  # fmt: skip
    ensure_workflow(s, result.application, now=clock.NOW)
    return result.application


def staff_mail(s: Session) -> list[tuple[str, str]]:
    rows = s.scalars(select(Notification).where(Notification.event.like("staff_%")).order_by(Notification.id))
    return [(n.event, n.recipient) for n in rows]


def test_a_step_nearing_its_due_date_sends_its_reminder_once(
    world: World, smtp_server: tuple[str, Mailbox]  # noqa: F811
) -> None:
    with world.database.session() as s:
        application = register(world, s)  # VALIDITY: due 7 days after clock.NOW
        app_id, due = application.id, application.due_at
    assert due - clock.NOW == timedelta(days=7)

    with world.database.session() as s:  # four days early: nothing yet
        assert send_due_reminders(s, days_before=(3, 1), now=due - timedelta(days=4)).reminders == []

    with world.database.session() as s:  # three days early: the step's reviewers are told, once
        report = send_due_reminders(s, days_before=(3, 1), now=due - timedelta(days=3))
        assert [t for _n, _p, t in report.reminders] == ["due_in_3d"]
        recipients = sorted(r for _e, r in staff_mail(s))
    # the pool of the reviewer step at SOH-01 (reviewer.all serves every centre; clerk.reviewer did not take this
    # one in); never another centre's reviewer, never someone of another department or without an address
    assert recipients == ["clerk.reviewer@centres.example.eg", "reviewer.all@centres.example.eg",
                          "reviewer.two@centres.example.eg", "reviewer@centres.example.eg"]
    for moment in (due - timedelta(days=3), due - timedelta(days=2)):
        with world.database.session() as s:
            assert send_due_reminders(s, days_before=(3, 1), now=moment).reminders == []

    # a head gives the step to one engineer: the next reminder goes to that engineer only
    with world.database.session() as s:
        reassign(s, s.get(type(application), app_id), 0, world.user(s, "reviewer.two"), world.user(s, "head.eng"),
                 reason="المهندس المختص بالمنطقة", now=due - timedelta(days=2))
    with world.database.session() as s:
        report = send_due_reminders(s, days_before=(3, 1), now=due - timedelta(hours=20))
        assert [t for _n, _p, t in report.reminders] == ["due_in_1d"]
        assert staff_mail(s)[-1] == ("staff_due", "reviewer.two@centres.example.eg") and len(staff_mail(s)) == 5

    # past the due date: the heads of engineering at SOH-01 are told, once; the reminders went through SMTP
    for _ in range(2):
        with world.database.session() as s:
            send_due_reminders(s, days_before=(3, 1), now=due + timedelta(hours=1))
    with world.database.session() as s:
        assert staff_mail(s)[5:] == [("staff_overdue", "head.eng@centres.example.eg")]
        rows = s.scalars(select(StepReminder).order_by(StepReminder.id)).all()
        assert [r.threshold for r in rows] == ["due_in_3d", "due_in_1d", "overdue"]
        assert rows[2].recipients == ["clerk.signer", "head.eng"]  # the one without an address sees it in the inbox
    smtp_url, mailbox = smtp_server
    report = deliver_due(world.database, {"sms": LogSender(), "email": email_sender(smtp_url)},
                         now=due + timedelta(hours=2))
    staff = [m for m in mailbox.messages if m[1][0].endswith("@centres.example.eg")]
    assert len(staff) == 6
    overdue = staff[-1][2]
    assert "تجاوز موعده القانوني" in overdue["Subject"] and application_number(world, app_id) in overdue["Subject"]
    first = staff[0][2]
    assert "يبقى على موعده القانوني 3 أيام" in first.get_content()


def application_number(world: World, app_id: int) -> str:
    from archive.models import Application

    with world.database.session() as s:
        application = s.get(Application, app_id)
        assert application is not None
        return application.tracking_number


def test_late_discovery_sends_only_the_nearest_threshold_and_finished_steps_are_left(world: World) -> None:
    with world.database.session() as s:
        late = register(world, s)
        done = register(world, s)
        late_id, due = late.id, late.due_at
        decide(s, done, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        ids = (done.id, next(st.id for st in done.steps if st.status == "active"))
    with world.database.session() as s:  # the job did not run for days: 12 hours left
        report = send_due_reminders(s, days_before=(3, 1), now=due - timedelta(hours=12))
        by_app = {(n, t) for n, _p, t in report.reminders}
        assert len(report.reminders) == 2  # one per application's active step, the nearest threshold only
        assert {t for _n, t in by_app} == {"due_in_1d"}
    with world.database.session() as s:  # a larger threshold is never sent after a smaller one
        assert send_due_reminders(s, days_before=(3, 1), now=due - timedelta(hours=11)).reminders == []
    with world.database.session() as s:  # the recommended file's step 0 is done; its reminder was for step 1
        rows = s.scalars(select(StepReminder)).all()
        assert ids[1] in {r.step_id for r in rows} and len(rows) == 2
        assert late_id in {r.step.application_id for r in rows}


def test_recipients_and_thresholds_helpers(world: World) -> None:
    from intake.service import Upload, register_application
    from ocr.limits import Limits
    from tests.test_routing import PROPERTY, png
    from workflow.routing import ensure_workflow

    with world.database.session() as s:  # taken in by a clerk who is also a reviewer: one-stop keeps them out
        import io

        application = register_application(
            s, world.store, centre_code="SOH-01", service_code="VALIDITY", applicant_name="هدى سمير فؤاد",
            national_id="29001012601234", applicant_phone="01012345678", details=PROPERTY,
            uploads=[Upload("ID_COPY", "id.png", io.BytesIO(png()))], created_by=world.user(s, "clerk.reviewer"),
            channel="window", incomplete_reason="لاحقًا", limits=Limits(), now=clock.NOW,
        ).application  # fmt: skip
        ensure_workflow(s, application, now=clock.NOW)
        step = application.steps[0]
        assert sorted(u.username for u in officials_of(s, application, step)) == ["reviewer", "reviewer.all",
                                                                                 "reviewer.two"]  # not the clerk
        assert [u.username for u in heads_of(s, application, step)] == ["clerk.signer", "head.eng"]
        assert s.scalar(select(func.count()).select_from(StepReminder)) == 0
    assert days_of(threshold_for(3)) == 3 and days_of("overdue") is None and days_of("due_in_xd") is None


def test_reminder_days_setting(tmp_path: Path) -> None:
    base = {"SIJILL_DATA_DIR": str(tmp_path), "SIJILL_ENV": "test"}
    assert Settings.from_env(base).reminder_days == (3, 1)
    assert Settings.from_env({**base, "SIJILL_REMINDER_DAYS": "1, 5,2"}).reminder_days == (5, 2, 1)
    assert Settings.from_env({**base, "SIJILL_REMINDER_DAYS": "0"}).reminder_days == ()
    for bad in ("x", "-1", "400", "1,2,3,4,5,6"):
        with pytest.raises(SettingsError, match="SIJILL_REMINDER_DAYS"):
            Settings.from_env({**base, "SIJILL_REMINDER_DAYS": bad})
    from worker.celery_app import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["due-date-reminders"]["task"] == "workflow.reminders"


def test_a_step_with_its_own_short_duration_is_reminded_before_the_application_falls_due(world: World) -> None:
    """VALIDITY's reviewer step gets 2 days of its own in the catalogue (the application keeps its 7): the reviewers
    hear a day before the step's date, the heads when the step (not the file) is late, and the inbox shows the step's
    date; the signer step, which has no duration, falls due with the application."""
    import yaml

    from intake.catalogue import DEFAULT_CATALOGUE, CatalogueError, parse_catalogue, sync_catalogue
    from workflow.routing import inbox

    raw = yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    raw["version"] = str(raw["version"]) + "-steps"
    (validity,) = [s for s in raw["services"] if s["code"] == "VALIDITY"]
    validity["signing_chain"][0]["legal_days"] = 2
    with world.database.session() as s:
        assert sync_catalogue(s, parse_catalogue(yaml.safe_dump(raw, allow_unicode=True))) == (0, 1)
    validity["signing_chain"][0]["legal_days"] = 0
    with pytest.raises(CatalogueError, match="legal_days"):
        parse_catalogue(yaml.safe_dump(raw, allow_unicode=True))

    with world.database.session() as s:
        application = register(world, s)
        app_id, app_due = application.id, application.due_at
        reviewer_step = application.steps[0]
        assert (reviewer_step.legal_days, reviewer_step.due_at) == (2, clock.NOW + timedelta(days=2))
        assert application.steps[1].due_at is None  # waiting: not reached yet
    assert app_due - clock.NOW == timedelta(days=7)  # the application's legal date is unchanged (governance)
    step_due = clock.NOW + timedelta(days=2)

    with world.database.session() as s:  # the application has 6 days left, the step 1: the reviewers hear now
        report = send_due_reminders(s, days_before=(3, 1), now=step_due - timedelta(hours=20))
        assert [(n, p, t) for n, p, t in report.reminders] == [(application_number(world, app_id), 0, "due_in_1d")]
        assert {e for e, _r in staff_mail(s)} == {"staff_due"}
        (row,) = s.scalars(select(StepReminder))
        assert row.due_at.replace(tzinfo=None) == step_due.replace(tzinfo=None)
        (item,) = [i for i in inbox(s, world.user(s, "reviewer"), now=step_due - timedelta(hours=20))
                   if i.application.id == app_id]
        assert item.due_at == step_due and item.days_left in (0, 1) and not item.overdue
    with world.database.session() as s:  # the step is late, the file is not: the heads are told
        report = send_due_reminders(s, days_before=(3, 1), now=step_due + timedelta(hours=1))
        assert [t for _n, _p, t in report.reminders] == ["overdue"]
        (item,) = [i for i in inbox(s, world.user(s, "reviewer"), now=step_due + timedelta(hours=1))
                   if i.application.id == app_id]
        assert item.overdue and item.application.due_at.replace(tzinfo=None) > (step_due + timedelta(days=4)).replace(
            tzinfo=None)

    with world.database.session() as s:  # recommended on day 3: the signer step has no duration of its own
        application = s.get(Application, app_id)
        assert application is not None
        decide(s, application, world.user(s, "reviewer"), "recommend", now=clock.NOW + timedelta(days=3))
        signer_step = application.steps[1]
        assert signer_step.legal_days is None
        assert signer_step.due_at is not None
        assert signer_step.due_at.replace(tzinfo=None) == app_due.replace(tzinfo=None)
        assert application.steps[0].status == "done"
