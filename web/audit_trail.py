"""A record's audit trail as a person reads it: sentences ("أوصى المهندس المراجع بالموافقة"), newest first, grouped
by day (Cairo), paged, with a run of views by one person folded into one line.

The events are the hash-chained rows of :mod:`archive.audit`; this module only presents them. The sentence of each
action comes from :data:`archive.labels.AUDIT_SENTENCES`; the actor is the user's full name (the username when the
account is gone), isolated with ``<bdi>`` so an Arabic name inside an English sentence keeps its place. A reason
written with a decision is shown under its sentence. Opening a record and viewing its pages add events every time,
so consecutive views, previews and downloads by the same person become one line with how many pages they looked at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask_babel import ngettext
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.labels import sentence_template
from archive.models import AuditEvent, User
from intake.national_id import EGYPT
from web.intake.common import is_arabic, long_date

PER_PAGE = 30
VIEWS = frozenset({"application.view", "page.view", "page.words", "search.record_opened"})
"""Looking at the record or its pages: a run of these by one person on one day is one line."""
REPEATABLE = frozenset({"receipt.download", "permit.download", "document.download", "document.searchable_pdf"})
"""Downloads: a run of the same one by one person on one day is one line."""


def _fold_key(action: str) -> str | None:
    return "view" if action in VIEWS else action if action in REPEATABLE else None


@dataclass
class Line:
    at: datetime
    sentence: Markup
    note: str = ""
    pages: int = 0
    events: int = 1


@dataclass
class Day:
    label: str
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class Trail:
    days: list[Day]
    page: int
    pages: int
    lines: int


def _local(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(EGYPT)


def build(session: Session, events: Sequence[AuditEvent], page: int = 1) -> Trail:
    """The trail of ``events`` (any order) for page ``page`` (1-based, clamped)."""
    usernames = {e.actor for e in events if e.actor}
    names: dict[str, str] = {}
    if usernames:
        names = {u: n for u, n in session.execute(select(User.username, User.full_name)
                                                  .where(User.username.in_(usernames)))}
    arabic = is_arabic()
    lines: list[Line] = []
    run_key: tuple[str | None, date, str] | None = None
    for event in sorted(events, key=lambda e: e.seq, reverse=True):
        day = _local(event.at).date()
        fold = _fold_key(event.action)
        key = (event.actor, day, fold or "")
        if fold is not None and run_key == key and lines:
            line = lines[-1]
            line.events += 1
            line.pages += event.action == "page.view"
            if event.action == "application.view":  # the run's sentence says the record was looked at
                line.sentence = _sentence("application.view", event.actor, names, arabic)
            continue
        run_key = key if fold is not None else None
        sentence = _sentence(event.action, event.actor, names, arabic, event.details, event.subject)
        reason = (event.details or {}).get("reason") if isinstance(event.details, dict) else None
        lines.append(Line(at=event.at, sentence=sentence, note=str(reason or ""),
                          pages=1 if event.action == "page.view" else 0))
    total = len(lines)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    days: list[Day] = []
    for line in lines[(page - 1) * PER_PAGE: page * PER_PAGE]:
        label = long_date(_local(line.at).date())
        if not days or days[-1].label != label:
            days.append(Day(label))
        if line.pages:
            line.note = ngettext("صفحة واحدة", "%(num)s صفحة", line.pages)
        days[-1].lines.append(line)
    return Trail(days, page, pages, total)


def _sentence(action: str, actor: str | None, names: dict[str, str], arabic: bool, details: object = None,
              subject: str = "") -> Markup:
    """The event's sentence; its details choose it where they say more than the action (a service withdrawn or
    offered again, :data:`archive.labels.AUDIT_VARIANTS`), the subject's key (a service's code) isolated like a name."""
    who = (Markup("<bdi>{}</bdi>").format(names.get(actor, actor)) if actor
           else ("النظام" if arabic else "The system"))
    key = Markup('<bdi dir="ltr">{}</bdi>').format(subject.partition(":")[2])
    return escape(sentence_template(action, arabic, details)).format(actor=who, subject=key)


def clock(value: datetime) -> str:
    """``14:05`` in Cairo."""
    return f"{_local(value):%H:%M}"
