"""Fixity: re-hash stored objects at a steady rate, repair damage from the other copy, alert on what cannot be.

The scheduled job takes the objects checked longest ago (never-checked first), so at ``batch`` objects per run every
object is checked once per ``ledger size / batch`` runs. Both copies are checked: a damaged primary is rewritten
from a good replica and a damaged replica from a good primary. An object with no good copy left is recorded as
``unrepairable``, written to the audit trail and logged at ERROR (the alert), and counted on ``/healthz``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import record_event
from archive.models import StoredObject, utcnow
from archive.replication import record_check
from archive.store import IntegrityError, ObjectNotFound, ObjectStore, StoreError

log = logging.getLogger(__name__)

OK, REPAIRED, UNREPAIRABLE = "ok", "repaired", "unrepairable"


@dataclass
class FixityRun:
    checked: int = 0
    repaired: list[str] = field(default_factory=list)
    unrepairable: list[str] = field(default_factory=list)


def _state(store: ObjectStore | None, key: str) -> str:
    """``good``, ``damaged`` or ``missing`` (``absent`` when there is no such store)."""
    if store is None:
        return "absent"
    try:
        return "good" if store.verify(key) else "damaged"
    except ObjectNotFound:
        return "missing"


def _copy(source: ObjectStore, target: ObjectStore, key: str) -> None:
    with source.open(key) as reader:
        target.rewrite(reader)
    if not target.verify(key):
        raise IntegrityError(key, "(still damaged after the rewrite)")


def check_object(session: Session, key: str, primary: ObjectStore, replica: ObjectStore | None, *,
                 now: datetime | None = None) -> str:
    """Check one object in both copies, repair what can be repaired, record the check; returns the result."""
    when = now or utcnow()
    first, second = _state(primary, key), _state(replica, key)
    detail = f"primary {first}" + (f", replica {second}" if replica is not None else "")
    result = OK
    try:
        if first == "good" and second in ("good", "absent"):
            result = OK
        elif first == "good" and replica is not None:
            _copy(primary, replica, key)
            result = REPAIRED
        elif second == "good" and replica is not None:
            _copy(replica, primary, key)
            result = REPAIRED
        else:
            result = UNREPAIRABLE
    except StoreError as exc:
        result, detail = UNREPAIRABLE, f"{detail}; repair failed: {exc}"
    record_check(session, key, source="fixity", result=result, detail=detail, now=when)
    if result == UNREPAIRABLE:
        log.error("ALERT fixity: object %s has no good copy (%s)", key, detail)
        record_event(session, actor=None, action="fixity.unrepairable", subject=f"object:{key}", at=when,
                     details={"detail": detail})
    elif result == REPAIRED:
        log.warning("fixity: object %s repaired (%s)", key, detail)
        record_event(session, actor=None, action="fixity.repaired", subject=f"object:{key}", at=when,
                     details={"detail": detail})
    return result


def run_fixity(session: Session, primary: ObjectStore, replica: ObjectStore | None, *, batch: int = 200,
               now: datetime | None = None) -> FixityRun:
    """Check the ``batch`` objects checked longest ago; commits after each object so progress survives a crash."""
    keys = list(session.scalars(select(StoredObject.key)
                                .order_by(StoredObject.checked_at.is_not(None), StoredObject.checked_at,
                                          StoredObject.key).limit(batch)))
    run = FixityRun()
    for key in keys:
        result = check_object(session, key, primary, replica, now=now)
        session.commit()
        run.checked += 1
        if result == REPAIRED:
            run.repaired.append(key)
        elif result == UNREPAIRABLE:
            run.unrepairable.append(key)
    return run


def unrepairable_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StoredObject)
                              .where(StoredObject.check_result == UNREPAIRABLE)) or 0)


def fixity_report(session: Session) -> Iterator[str]:
    """CSV lines, header first: every object in the ledger with its size, replication and last check."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["key", "size", "first_seen", "replicated_at", "checked_at", "result"])
    yield _take(buffer)
    query = select(StoredObject).order_by(StoredObject.key).execution_options(yield_per=1000)
    for obj in session.scalars(query):
        writer.writerow([obj.key, obj.size, _iso(obj.first_seen), _iso(obj.replicated_at), _iso(obj.checked_at),
                         obj.check_result or "never"])
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""
