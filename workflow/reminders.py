"""Due-date reminders: the officials of a step hear before its legal due date, the heads of its department after it.

Each step has its own legal due date (``workflow_steps.due_at``, :func:`workflow.routing.due_of`): when the file
reached the step plus the step's duration from the catalogue, or the application's legal due date
(``applications.due_at``, received plus the service's legal duration) for a step without one. The inbox shows the
step's date; governance keeps measuring the application's. :func:`send_due_reminders`, run by the beat task
``workflow.reminders``, looks at every active step of an open file:

* ``due_in_<n>d`` for each ``n`` of ``SIJILL_REMINDER_DAYS`` (default 3 and 1): once the due date is ``n`` days or
  less away, the step's officials are told (the named assignee if a head reassigned it, else every active official
  holding the step's role in its department for the file's centre; never the clerk who took the file in). Only the
  nearest threshold reached is sent: a step activated the day before its due date gets "1 day left", not also
  "3 days left", and a larger threshold is never sent after a smaller one.
* ``overdue``: once the due date has passed, the heads of the step's department (active signers of that department
  for the file's centre) are told, once.

At most once per step and threshold: each reminder is a ``step_reminders`` row under a unique (step, threshold)
key, written in the same transaction as its e-mails (``notifications`` rows, sent by the outbox's worker like the
citizens' messages, to each recipient's ``users.email``; officials without an address see it in their inbox only).
Two beat runs at once cannot both send: the second one's insert fails on the key and only that reminder is rolled
back (a savepoint per reminder).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager

from archive.models import (
    Application,
    Notification,
    NotificationStatus,
    StepReminder,
    StepStatus,
    User,
    WorkflowStep,
    utcnow,
)
from archive.roles import Permission, Role
from notify.messages import staff_reminder_texts
from workflow.routing import OPEN_STATUSES, due_of

OVERDUE = "overdue"
_ROLE_PERMISSION = {Role.REVIEWER.value: Permission.APPLICATION_REVIEW, Role.SIGNER.value: Permission.APPLICATION_SIGN}


def threshold_for(days: int) -> str:
    return f"due_in_{days}d"


def days_of(threshold: str) -> int | None:
    """3 for ``due_in_3d``; None for ``overdue`` or anything else."""
    if threshold.startswith("due_in_") and threshold.endswith("d") and threshold[7:-1].isdigit():
        return int(threshold[7:-1])
    return None


@dataclass
class ReminderReport:
    reminders: list[tuple[str, int, str]] = field(default_factory=list)
    """(tracking number, step position, threshold) of each reminder recorded."""
    emails: int = 0


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def officials_of(session: Session, application: Application, step: WorkflowStep) -> list[User]:
    """Who the step waits for: its named assignee, or the pool holding its role in its department for the centre."""
    if step.assignee_id is not None:
        user = session.get(User, step.assignee_id)
        return [user] if user is not None and user.active and user.id != application.created_by_id else []
    permission = _ROLE_PERMISSION.get(step.role)
    return [u for u in _staff_of(session, application, step.department)
            if step.role in {r.value for r in u.roles} and permission is not None and u.can(permission)]


def heads_of(session: Session, application: Application, step: WorkflowStep) -> list[User]:
    """The heads of the step's department: active signers of that department for the file's centre."""
    return [u for u in _staff_of(session, application, step.department)
            if Role.SIGNER in u.roles and u.can(Permission.APPLICATION_SIGN)]


def _staff_of(session: Session, application: Application, department: str) -> list[User]:
    query = (select(User).where(User.active.is_(True), User.department == department)
             .where(or_(User.centre_id.is_(None), User.centre_id == application.centre_id))
             .order_by(User.username))
    return [u for u in session.scalars(query) if u.id != application.created_by_id]


def send_due_reminders(
    session: Session, *, days_before: Sequence[int] = (3, 1), now: datetime | None = None
) -> ReminderReport:
    """Record (and queue the e-mails of) every reminder that is due now and not yet sent; the caller commits."""
    now = _aware(now or utcnow())
    thresholds = sorted({d for d in days_before if d > 0})
    horizon = now + timedelta(days=max(thresholds, default=0))
    step_due = func.coalesce(WorkflowStep.due_at, Application.due_at)
    steps = session.scalars(
        select(WorkflowStep)
        .join(Application, WorkflowStep.application_id == Application.id)
        .options(contains_eager(WorkflowStep.application))
        .where(WorkflowStep.status == StepStatus.ACTIVE.value)
        .where(Application.status.in_(OPEN_STATUSES))
        .where(step_due <= horizon)
        .order_by(step_due, WorkflowStep.id)
    ).all()
    report = ReminderReport()
    if not steps:
        return report
    sent = _sent(session, [s.id for s in steps])
    for step in steps:
        application = step.application
        due = due_of(step)
        already = sent.get(step.id, set())
        if now >= due:
            if OVERDUE not in already:
                _remind(session, report, application, step, OVERDUE, due, heads_of(session, application, step), now)
            continue
        reached = [d for d in thresholds if now >= due - timedelta(days=d)]
        if not reached:
            continue
        nearest = min(reached)
        sent_days = [d for d in (days_of(t) for t in already) if d is not None]
        if any(d <= nearest for d in sent_days):
            continue  # this one, or a nearer one, was sent already
        _remind(session, report, application, step, threshold_for(nearest), due,
                officials_of(session, application, step), now)
    return report


def _sent(session: Session, step_ids: Iterable[int]) -> dict[int, set[str]]:
    rows = session.execute(select(StepReminder.step_id, StepReminder.threshold)
                           .where(StepReminder.step_id.in_(list(step_ids))))
    result: dict[int, set[str]] = {}
    for step_id, threshold in rows:
        result.setdefault(step_id, set()).add(threshold)
    return result


def _remind(
    session: Session, report: ReminderReport, application: Application, step: WorkflowStep, threshold: str,
    due: datetime, recipients: list[User], now: datetime,
) -> None:
    kind = OVERDUE if threshold == OVERDUE else "due"
    texts = staff_reminder_texts(application, step.title_ar, kind, days_of(threshold))
    mails = [Notification(application_id=application.id, event=f"staff_{kind}", channel="email", recipient=u.email,
                          subject=texts.subject, body=texts.email, status=NotificationStatus.PENDING.value,
                          attempts=0, next_attempt_at=now, created_at=now)
             for u in recipients if u.email]
    try:
        with session.begin_nested():
            session.add(StepReminder(step_id=step.id, threshold=threshold, due_at=due, sent_at=now,
                                     recipients=[u.username for u in recipients]))
            session.add_all(mails)
    except IntegrityError:  # another run recorded it a moment ago
        return
    report.reminders.append((application.tracking_number, step.position, threshold))
    report.emails += len(mails)


def reminders_of(session: Session, step_ids: Iterable[int]) -> dict[int, list[StepReminder]]:
    """The reminders recorded for these steps, oldest first (the inbox shows them)."""
    ids = list(step_ids)
    if not ids:
        return {}
    result: dict[int, list[StepReminder]] = {}
    for row in session.scalars(select(StepReminder).where(StepReminder.step_id.in_(ids))
                               .order_by(StepReminder.sent_at, StepReminder.id)):
        result.setdefault(row.step_id, []).append(row)
    return result


__all__ = ["OVERDUE", "ReminderReport", "days_of", "heads_of", "officials_of", "reminders_of", "send_due_reminders",
           "threshold_for"]
