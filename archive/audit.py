"""The tamper-evident audit trail: append an event in the caller's transaction; verify the whole chain.

Each event's hash covers its sequence number, time, actor, action, subject, details and the previous event's hash.
Editing a row changes its hash; inserting or deleting one breaks the sequence or the link; deleting events at the
end leaves the head row pointing past the last event. Verification names the first event where the chain breaks.

Events are written in the same transaction as the change they describe, so a rolled-back change leaves no event and
a committed change always has one. Appenders serialise on the head row (see :class:`archive.models.AuditHead`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from archive.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
"""``prev_hash`` of the first event."""


def canonical_time(at: datetime) -> str:
    """UTC to the microsecond; SQLite returns naive datetimes, which are UTC here."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(*, seq: int, at: datetime, actor: str | None, action: str, subject: str, details: dict[str, Any],
               prev_hash: str) -> str:
    """SHA-256 over the event's canonical JSON (sorted keys, no whitespace, UTF-8)."""
    body = {"seq": seq, "at": canonical_time(at), "actor": actor, "action": action, "subject": subject,
            "details": details, "prev": prev_hash}
    data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def _json_safe(details: dict[str, Any] | None) -> dict[str, Any]:
    """Details as they will read back from the JSON column, so the stored hash matches a later recomputation."""
    return json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))


def record_event(session: Session, *, actor: str | None, action: str, subject: str,
                 details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEvent:
    """Append one event in ``session``'s transaction (the caller commits).

    The head row is updated first: that takes the lock that orders concurrent appenders, and the sequence number
    and previous hash are read only after it is held.
    """
    if len(subject) > 120:
        raise ValueError(f"audit subject longer than 120 characters: {subject[:40]}…")
    moved = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    if moved.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuditHead(id=1, seq=1, hash=GENESIS))
        session.flush()
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev_hash = int(head.seq), str(head.hash)
    when = at or utcnow()
    clean = _json_safe(details)
    digest = event_hash(seq=seq, at=when, actor=actor, action=action, subject=subject, details=clean,
                        prev_hash=prev_hash)
    event = AuditEvent(seq=seq, at=when, actor=actor, action=action, subject=subject, details=clean,
                       prev_hash=prev_hash, hash=digest)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    session.flush()
    return event


def record_events(session: Session, events: list[tuple[datetime, str | None, str, str, dict[str, Any]]]) -> int:
    """Append many events ``(at, actor, action, subject, details)`` in order, in one statement (bulk loads such as
    the DEMO history); the same chain as :func:`record_event` gives, with the head row locked once for all of them.
    """
    if not events:
        return 0
    if any(len(subject) > 120 for _at, _actor, _action, subject, _details in events):
        raise ValueError("audit subject longer than 120 characters")
    moved = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + len(events)))
    if moved.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuditHead(id=1, seq=len(events), hash=GENESIS))
        session.flush()
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev_hash = int(head.seq) - len(events), str(head.hash)
    rows = []
    for at, actor, action, subject, details in events:
        seq += 1
        clean = _json_safe(details)
        digest = event_hash(seq=seq, at=at, actor=actor, action=action, subject=subject, details=clean,
                            prev_hash=prev_hash)
        rows.append({"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "details": clean,
                     "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    session.execute(insert(AuditEvent), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev_hash))
    return len(rows)


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain first fails and why, in one sentence for the operator."""

    seq: int
    event_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    breaks: list[ChainBreak]

    @property
    def intact(self) -> bool:
        return not self.breaks


_COLUMNS = (AuditEvent.id, AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.subject,
            AuditEvent.details, AuditEvent.prev_hash, AuditEvent.hash)


def _events_in_order(session: Session, batch: int = 2000) -> Iterator[Any]:
    """Rows (not ORM objects, so a long walk keeps no identity map) in sequence order, a batch at a time."""
    last = -1
    while True:
        chunk = session.execute(select(*_COLUMNS).where(AuditEvent.seq > last).order_by(AuditEvent.seq)
                                .limit(batch)).all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


def verify_chain(session: Session, *, max_breaks: int = 20) -> ChainReport:
    """Walk the chain from the first event; report each break (up to ``max_breaks``).

    After a break the walk goes on from the stored values, so one edited row is reported once, not as a cascade.
    """
    breaks: list[ChainBreak] = []
    expected_seq = 1
    prev_hash = GENESIS
    count = 0
    for ev in _events_in_order(session):
        count += 1
        if ev.seq != expected_seq:
            missing = f"{expected_seq}" if ev.seq == expected_seq + 1 else f"{expected_seq}–{ev.seq - 1}"
            if ev.seq > expected_seq:
                breaks.append(ChainBreak(expected_seq, None, f"events {missing} are missing (deleted)"))
        if ev.prev_hash != prev_hash:
            breaks.append(ChainBreak(ev.seq, ev.id, "does not link to the event before it (inserted, or the one "
                                                    "before was deleted or edited)"))
        recomputed = event_hash(seq=ev.seq, at=ev.at, actor=ev.actor, action=ev.action, subject=ev.subject,
                                details=ev.details or {}, prev_hash=ev.prev_hash)
        if recomputed != ev.hash:
            breaks.append(ChainBreak(ev.seq, ev.id, "its content does not match its hash (edited)"))
        prev_hash = ev.hash
        expected_seq = ev.seq + 1
        if len(breaks) >= max_breaks:
            break
    head = session.get(AuditHead, 1)
    head_seq = head.seq if head is not None else 0
    if len(breaks) < max_breaks and head is not None:
        if head.seq != expected_seq - 1:
            breaks.append(ChainBreak(expected_seq, None, f"the head says the last event is {head.seq}, but the trail "
                                                         f"ends at {expected_seq - 1} (events deleted at the end)"))
        elif head.hash != prev_hash:
            breaks.append(ChainBreak(head.seq, None, "the head's hash does not match the last event"))
    return ChainReport(events=count, head_seq=head_seq, breaks=breaks)


def trail_for(session: Session, subject: str, limit: int = 500) -> list[AuditEvent]:
    """A record's events, oldest first, for the auditor's view."""
    query = select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.seq).limit(limit)
    return list(session.scalars(query))
