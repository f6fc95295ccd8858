"""The orphan sweeper: deletes stored objects that no database row references, once they are old enough.

Writers put blobs into the store *before* the transaction that references them commits, so a crash in between
leaves unreferenced blobs behind; they are harmless but take space. The sweeper removes them. The grace period
protects blobs whose transaction has not committed yet: only objects last written more than ``grace`` ago are
candidates, so set it far longer than any request or task takes (a day is sensible).

Every column that holds an object key must be listed in :data:`KEY_COLUMNS`; a table added later registers its own
with :func:`register_key_column`, otherwise the sweeper would delete what it points to. The referenced keys are read
*after* the store has been listed, so a row committed before that read protects its blobs; a local store also
refreshes an object's modification time when the same content is put again, so re-uploaded content is not a
candidate. (The S3 backend skips re-uploading content it already holds, so there, content identical to an old orphan
that is re-used while a sweep runs is the one case the grace period cannot cover; it needs a sweep to start between
that put and its commit.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from archive.legal_hold import held_object_keys
from archive.models import Document, GovernanceReport, Page, Permit, PreparedSignature, WorkflowStep, utcnow
from archive.store import ObjectLocked, ObjectNotFound, ObjectStore

KEY_COLUMNS: list[InstrumentedAttribute[str] | InstrumentedAttribute[str | None]] = [
    Document.sha256,
    Document.searchable_pdf_sha256,
    Page.pdf_sha256,
    Page.preview_sha256,
    Page.words_sha256,
    Permit.draft_pdf_sha256,
    Permit.current_pdf_sha256,
    WorkflowStep.signed_pdf_sha256,
    PreparedSignature.prepared_pdf_sha256,
    GovernanceReport.sha256,
]
"""Every mapped column that holds an object-store key."""


def register_key_column(column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]) -> None:
    """Declare that ``column`` (e.g. ``Permit.pdf_sha256``) holds object keys the sweeper must keep."""
    if not any(column is known for known in KEY_COLUMNS):
        KEY_COLUMNS.append(column)


@dataclass
class SweepReport:
    examined: int = 0
    """Objects found in the store."""
    deleted: list[str] = field(default_factory=list)
    """Keys removed (or, in a dry run, that would have been)."""
    kept_recent: int = 0
    """Unreferenced objects younger than the grace period, left for a later sweep."""
    held: list[str] = field(default_factory=list)
    """Unreferenced objects the store refused to delete because a retention period holds them."""


def referenced_keys(session: Session) -> set[str]:
    """Every object key some row points at, across all registered columns."""
    keys: set[str] = set()
    for column in KEY_COLUMNS:
        keys.update(k for k in session.scalars(select(column).where(column.is_not(None)).distinct()) if k)
    return keys


def sweep_unreferenced(
    session: Session,
    store: ObjectStore,
    grace: timedelta,
    now: datetime | None = None,
    dry_run: bool = False,
) -> SweepReport:
    """Delete objects that nothing references and that were last written more than ``grace`` before ``now``."""
    if grace < timedelta(0):
        raise ValueError("The grace period cannot be negative.")
    now = now or utcnow()
    cutoff = now - grace
    report = SweepReport()
    candidates: list[tuple[str, datetime]] = []
    for key in store.list():
        report.examined += 1
        modified = _modified(store, key)
        if modified is not None:
            candidates.append((key, modified))
    # read after listing (see the module docstring); a held case file's objects are kept whatever the store says
    referenced = referenced_keys(session) | held_object_keys(session)
    for key, modified in _unreferenced(candidates, referenced):
        if modified > cutoff:
            report.kept_recent += 1
            continue
        if not dry_run:
            again = _modified(store, key)
            if again is None:
                continue
            if again > cutoff:  # written again while we were looking: someone is using it
                report.kept_recent += 1
                continue
            try:
                store.delete(key)
            except ObjectLocked:  # held on purpose (S3 object lock): the store is right to refuse
                report.held.append(key)
                continue
        report.deleted.append(key)
    return report


def _unreferenced(candidates: Iterable[tuple[str, datetime]], referenced: set[str]) -> list[tuple[str, datetime]]:
    return [(key, modified) for key, modified in candidates if key not in referenced]


def _modified(store: ObjectStore, key: str) -> datetime | None:
    try:
        modified = store.stat(key).modified
    except ObjectNotFound:
        return None
    return modified if modified.tzinfo else modified.replace(tzinfo=UTC)
