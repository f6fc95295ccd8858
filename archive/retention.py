"""Records held against deletion: S3 object-lock retention on originals and signed permits.

The records that must survive are the citizens' originals (:attr:`Document.sha256`) and every signed permit revision
(:attr:`WorkflowStep.signed_pdf_sha256`, and :attr:`Permit.current_pdf_sha256` of every permit past its draft,
which also covers timestamp renewals). :func:`apply_retention` (hourly, ``archive.retention``) sets a retention
period of ``SIJILL_RETENTION_YEARS`` on each of them that the ledger (:class:`StoredObject.retained_until`) does not
show as held yet; the S3 server then refuses to delete them, whoever asks.

No code path in the app deletes a record: the only delete is the orphan sweeper's, for objects nothing references,
and a held object refuses even that. Ending a period early is an administrator's act (:func:`release`, the
``sijill retention release`` command), possible only in governance mode, never for an object of a case file under a
legal hold (:mod:`archive.legal_hold`), and written to the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import CompoundSelect, select, union
from sqlalchemy.orm import Session

from archive.audit import record_event
from archive.legal_hold import held_object_keys
from archive.models import Document, Permit, PermitStatus, StoredObject, User, WorkflowStep, utcnow
from archive.replication import note_object
from archive.roles import Role
from archive.store import ObjectNotFound, ObjectStore, Retention, RetentionUnsupported

log = logging.getLogger(__name__)

DAYS_PER_YEAR = 365.25
BATCH = 500
"""Objects retained per run at most: one hourly run catches up a large import in a few hours, holding no lock long."""
RELEASE_GRACE = timedelta(seconds=5)
"""S3 rejects retention dates in the past, so a release ends the period a few seconds from now."""


class ReleaseRefused(ValueError):
    """A release that is not an administrator's, or has no reason: nothing was changed."""


@dataclass
class RetentionRun:
    retained: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Record keys the store does not hold (reported by fixity; retained once they are back)."""
    remaining: int = 0
    """Records still waiting after this run (more than one batch)."""


def record_keys(session: Session) -> set[str]:
    """Every object key that is a record to keep: originals and signed permit revisions."""
    query: CompoundSelect = union(
        select(Document.sha256),
        select(WorkflowStep.signed_pdf_sha256).where(WorkflowStep.signed_pdf_sha256.is_not(None)),
        select(Permit.current_pdf_sha256).where(Permit.status != PermitStatus.DRAFT.value),
    )
    return {key for key in session.scalars(query) if key}


def retention_until(now: datetime, years: int) -> datetime:
    return now + timedelta(days=round(years * DAYS_PER_YEAR))


def retention_status(session: Session, store: ObjectStore) -> str:
    """One line for ``/healthz``; raises :class:`RetentionUnsupported` if the store cannot hold records."""
    if not store.supports_retention:
        raise RetentionUnsupported(
            f"Records should be held (SIJILL_RETENTION_YEARS) but the object store {store.url} has no object lock."
        )
    held = set(session.scalars(select(StoredObject.key).where(StoredObject.retained_until.is_not(None))))
    waiting = len(record_keys(session) - held)
    return f"object lock on; {len(held)} objects held, {waiting} records waiting for the hourly job"


def apply_retention(session: Session, store: ObjectStore, *, years: int, mode: str,
                    now: datetime | None = None, batch: int = BATCH) -> RetentionRun:
    """Hold every record not yet held for ``years`` from ``now``; idempotent (the ledger remembers what is held).

    Raises :class:`RetentionUnsupported` if ``years`` is set but the store cannot hold objects (no object lock):
    the operator must know, not find out when a record is gone.
    """
    run = RetentionRun()
    if years <= 0:
        return run
    if not store.supports_retention:
        raise RetentionUnsupported(
            f"SIJILL_RETENTION_YEARS is {years} but the object store {store.url} cannot hold records against "
            "deletion: use an S3 bucket created with object lock."
        )
    now = now or utcnow()
    until = retention_until(now, years)
    held = set(session.scalars(select(StoredObject.key).where(StoredObject.retained_until.is_not(None))))
    waiting = sorted(record_keys(session) - held)
    run.remaining = max(0, len(waiting) - batch)
    for key in waiting[:batch]:
        try:
            retention = store.retain(key, until, mode)
            size = store.stat(key).size
        except ObjectNotFound:
            run.missing.append(key)
            log.error("record %s is missing from the object store; it cannot be held", key)
            continue
        note_object(session, key, size, now=now)
        row = session.get(StoredObject, key)
        assert row is not None
        row.retained_until, row.retention_mode = retention.until, retention.mode
        session.commit()  # each object's hold is recorded as soon as it is set
        run.retained.append(key)
    return run


def release(session: Session, store: ObjectStore, key: str, *, actor: str, reason: str,
            now: datetime | None = None) -> Retention:
    """End ``key``'s governance retention now, as admin ``actor`` for ``reason``; audited with the ledger change.

    Compliance mode raises :class:`archive.store.ObjectLocked`. The object is not deleted: only the orphan sweeper
    deletes, and only objects no row references.
    """
    if not reason.strip():
        raise ReleaseRefused("A reason is required to end a retention period early.")
    user = session.scalar(select(User).where(User.username == actor))
    if user is None or not user.active or Role.ADMIN not in user.roles:
        raise ReleaseRefused(f"Only an active administrator may end a retention period; {actor!r} is not one.")
    if key in held_object_keys(session):
        raise ReleaseRefused(f"Object {key} belongs to a case file under a legal hold: its retention cannot be ended "
                             "until the hold is released (sijill hold release).")
    now = now or utcnow()
    before = store.retention(key)
    released = store.release_retention(key, now + RELEASE_GRACE)
    row = session.get(StoredObject, key)
    if row is not None:
        row.retained_until, row.retention_mode = released.until, released.mode
    record_event(session, actor=actor, action="retention.release", subject=f"object:{key}", details={
        "reason": reason.strip(),
        "mode": before.mode if before else None,
        "was_until": before.until.isoformat() if before else None,
        "until": released.until.isoformat(),
    })
    session.commit()
    return released
