"""Writing notifications into the outbox, in the caller's transaction (the transactional-outbox pattern).

``intake.service`` calls :func:`record` when it registers an application and ``workflow.routing`` calls
:func:`record_transition` for every transition it appends; both only ``session.add`` rows and never commit, so the
messages are committed with the change they report or rolled back with it: no lost messages (a committed change always
has its rows) and no phantom ones (a rolled-back change has none). Sending happens later (:mod:`notify.delivery`).

Which transitions tell the citizen something:

==========================================  ===============
transition                                  event
==========================================  ===============
registration (no transition)                ``received``
``return`` → returned                       ``returned`` (the papers to bring, the reason)
``recommend``/``approve`` → approved        ``approved`` (a chain without signatures ends here)
``issue`` → issued                          ``permit_ready``
``reject`` → rejected                       ``rejected``
==========================================  ===============

The last signature makes two transitions in one transaction (``sign`` → approved, then ``issue`` → issued); only the
second one speaks, so the citizen gets one message, "the permit is ready". Every event sends an SMS to the applicant's
mobile and, when one was given, an e-mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from archive.models import Application, Notification, NotificationStatus, Transition, utcnow
from notify.messages import texts_for

_EVENT_FOR = {
    ("return", "returned"): "returned",
    ("recommend", "approved"): "approved",
    ("approve", "approved"): "approved",
    ("issue", "issued"): "permit_ready",
    ("reject", "rejected"): "rejected",
}


def event_for(transition: Transition) -> str | None:
    """The citizen-facing event a transition stands for, or None (internal moves: open, reassign, sign, …)."""
    return _EVENT_FOR.get((transition.action, transition.to_status))


def record(
    session: Session,
    application: Application,
    event: str,
    *,
    reason: str | None = None,
    papers: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Notification]:
    """Add the SMS (and e-mail, if the applicant gave an address) for ``event`` to the session; never commits."""
    now = now or utcnow()
    texts = texts_for(application, event, reason, papers)
    rows = [Notification(application=application, event=event, channel="sms", recipient=application.applicant_phone,
                         subject=None, body=texts.sms, status=NotificationStatus.PENDING.value, attempts=0,
                         next_attempt_at=now, created_at=now)]
    if application.applicant_email:
        rows.append(Notification(application=application, event=event, channel="email",
                                 recipient=application.applicant_email, subject=texts.subject, body=texts.email,
                                 status=NotificationStatus.PENDING.value, attempts=0, next_attempt_at=now,
                                 created_at=now))
    session.add_all(rows)
    return rows


def record_transition(
    session: Session, application: Application, transition: Transition, *, papers: Sequence[str] = ()
) -> list[Notification]:
    """:func:`record` for ``transition`` if it tells the citizen something, else nothing.

    ``papers``: the names of the papers a return asks the citizen to bring (said in the ``returned`` message).
    """
    event = event_for(transition)
    if event is None:
        return []
    return record(session, application, event, reason=transition.reason, papers=papers, now=transition.at)
