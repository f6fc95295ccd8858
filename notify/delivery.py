"""Sending what the outbox holds: claim, send, record the attempt, retry later with back-off or give up.

:func:`deliver_due` is what the worker's beat task runs. Each message is claimed with a conditional ``UPDATE``
(``pending`` → ``sending``) committed before anything is sent, so two workers never send one message twice; the
outcome is committed right after the send. A worker that dies between the two leaves the row ``sending``: after
:data:`LEASE` it is claimed again and sent again (at-least-once — the gateway's ``reference`` and the e-mail's
``Message-ID`` are stable so the far side can drop the duplicate).

Retries: attempt *n* failing temporarily schedules the next one ``BACKOFF[n-1]`` later (1, 5, 15, 60 minutes, then
every 3 hours) up to :data:`MAX_ATTEMPTS`; a permanent refusal or the last attempt marks the message ``failed``.
Every attempt, successful or not, is a :class:`~archive.models.DeliveryAttempt` row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update

from archive.db import Database
from archive.models import DeliveryAttempt, Notification, NotificationStatus, utcnow
from notify.senders import Outgoing, Sender, SendResult

MAX_ATTEMPTS = 8
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3))
LEASE = timedelta(minutes=10)
BATCH = 100
BACKLOG_ALERT = timedelta(minutes=15)
"""A message still unsent this long after it was written has failed three attempts, or no worker is sending."""


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def due_ids(database: Database, now: datetime, limit: int = BATCH) -> list[int]:
    """Messages whose time has come, oldest first: pending and due, or claimed by a worker longer than LEASE ago."""
    with database.session() as session:
        return list(session.scalars(
            select(Notification.id)
            .where(or_(
                (Notification.status == NotificationStatus.PENDING.value) & (Notification.next_attempt_at <= now),
                (Notification.status == NotificationStatus.SENDING.value) & (Notification.claimed_at <= now - LEASE),
            ))
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
        ))  # fmt: skip


def deliver_one(
    database: Database, senders: Mapping[str, Sender], notification_id: int, *, now: datetime | None = None
) -> str | None:
    """Claim, send and record one message; its new status, or None if another worker has it or it is not due."""
    now = _aware(now or utcnow())
    with database.session() as session:
        claimed = session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .where(or_(
                (Notification.status == NotificationStatus.PENDING.value) & (Notification.next_attempt_at <= now),
                (Notification.status == NotificationStatus.SENDING.value) & (Notification.claimed_at <= now - LEASE),
            ))
            .values(status=NotificationStatus.SENDING.value, claimed_at=now, attempts=Notification.attempts + 1)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = session.get(Notification, notification_id)
        assert row is not None
        message = Outgoing(channel=row.channel, recipient=row.recipient, subject=row.subject, body=row.body,
                           reference=f"sijill-notification-{row.id}")
        attempts = row.attempts
    sender = senders.get(message.channel)
    result = sender.send(message) if sender is not None else SendResult(
        ok=False, detail=f"no sender for channel {message.channel!r}", permanent=True)
    done_at = _aware(utcnow()) if now is None else now
    with database.session() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        session.add(DeliveryAttempt(notification_id=row.id, at=done_at, sender=getattr(sender, "name", "none"),
                                    ok=result.ok, permanent=result.permanent, detail=result.detail[:4000]))
        row.claimed_at = None
        if result.ok:
            row.status = NotificationStatus.SENT.value
            row.sent_at = done_at
            row.provider_id = result.provider_id
            row.last_error = None
        elif result.permanent or attempts >= MAX_ATTEMPTS:
            row.status = NotificationStatus.FAILED.value
            row.last_error = result.detail[:4000]
        else:
            row.status = NotificationStatus.PENDING.value
            row.next_attempt_at = done_at + backoff(attempts)
            row.last_error = result.detail[:4000]
        return row.status


def deliver_due(
    database: Database, senders: Mapping[str, Sender], *, now: datetime | None = None,
    clock: Callable[[], datetime] | None = None, limit: int = BATCH,
) -> DeliveryReport:
    """Send every message that is due now (at most ``limit``); see the module docstring."""
    moment = _aware(now or (clock or utcnow)())
    report = DeliveryReport()
    for notification_id in due_ids(database, moment, limit):
        status = deliver_one(database, senders, notification_id, now=moment)
        if status == NotificationStatus.SENT.value:
            report.sent += 1
        elif status == NotificationStatus.PENDING.value:
            report.retrying += 1
        elif status == NotificationStatus.FAILED.value:
            report.failed += 1
    return report


@dataclass(frozen=True)
class Backlog:
    late: int
    """Messages still pending or being sent :data:`BACKLOG_ALERT` after they were written."""
    oldest: datetime | None


def backlog(database: Database, now: datetime | None = None) -> Backlog:
    """What ``/healthz`` reports: the outbox falling behind means the SMTP server or SMS gateway refuses, or no
    worker runs the delivery task. Counts only: the messages and their errors name citizens."""
    now = now or utcnow()
    waiting = (Notification.status.in_([NotificationStatus.PENDING.value, NotificationStatus.SENDING.value]),
               Notification.created_at < now - BACKLOG_ALERT)
    with database.session() as session:
        late = session.scalar(select(func.count()).select_from(Notification).where(*waiting)) or 0
        oldest = session.scalar(select(func.min(Notification.created_at)).where(*waiting))
    return Backlog(int(late), _aware(oldest) if oldest is not None else None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
