"""Which permits still lack the revision album of their current revision, and the worker's job that builds them.

Building an album (:mod:`signing.revision_album`) costs a second or two of CPU per revision, so no web request does
it: a page that finds none asks the worker (``permits.revision_album``) and says the pictures are being prepared. That
message can be lost (the broker was down, the worker died mid-task), and the guide promises that work resumes by
itself within a minute or two. So the permit row records the revision whose album is stored (``album_sha256``), and
the beat task ``permits.missing_albums`` (every minute) builds the albums of the rows where that differs from the
current revision, a bounded batch per run: a permit signed or renewed while the broker was down gets its pictures at
the next run without anyone visiting it.

Only revisions with at least one signature count (``current_pdf_sha256`` differs from the draft's): the draft has no
history to show. The batch is taken in random order, so one revision that keeps failing cannot hold back the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from archive.db import Database
from archive.manifest import touch_application
from archive.models import Permit
from archive.store import ObjectStore
from signing.quiet_logs import quiet_pyhanko
from signing.revision_album import ensure_album

__all__ = ["BATCH", "BacklogReport", "build_missing_albums", "mark_album_built", "missing_album_ids"]

log = logging.getLogger(__name__)

BATCH = 20
"""Permits looked at per run: at most this many builds (a minute of one worker's CPU at worst), the rest next run."""


@dataclass
class BacklogReport:
    built: list[str] = field(default_factory=list)
    """Permit numbers whose current album is now stored (built now, or found already built and recorded)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Permit number → the error, in one line (tried again at the next run)."""


def mark_album_built(session: Session, pdf_sha256: str) -> int:
    """Record on every permit whose current revision is ``pdf_sha256`` that its album is stored; the number of rows
    changed (0 when already recorded).

    Keyed by the revision, not the permit: a permit renewed meanwhile keeps its new revision marked as missing. The
    permit row belongs to its application's manifest, so the application is touched (:func:`touch_application`), as
    for any bare SQL update of an application-owned row."""
    unmarked = (Permit.current_pdf_sha256 == pdf_sha256,
                or_(Permit.album_sha256.is_(None), Permit.album_sha256 != pdf_sha256))
    application_ids = list(session.scalars(select(Permit.application_id).where(*unmarked)))
    if not application_ids:
        return 0
    session.execute(update(Permit).where(*unmarked).values(album_sha256=pdf_sha256)
                    .execution_options(synchronize_session=False))
    for application_id in application_ids:
        touch_application(session, application_id)
    return len(application_ids)


def missing_album_ids(session: Session, limit: int = BATCH) -> list[int]:
    """Ids of up to ``limit`` signed permits whose current revision's album is not recorded as stored."""
    return list(session.scalars(
        select(Permit.id)
        .where(Permit.current_pdf_sha256 != Permit.draft_pdf_sha256)
        .where(or_(Permit.album_sha256.is_(None), Permit.album_sha256 != Permit.current_pdf_sha256))
        .order_by(func.random())
        .limit(limit)
    ))


def build_missing_albums(database: Database, store: ObjectStore, limit: int = BATCH) -> BacklogReport:
    """Build (or find and record) the current album of up to ``limit`` permits still without one. Idempotent."""
    report = BacklogReport()
    with database.session() as session:
        ids = missing_album_ids(session, limit)
    for permit_id in ids:
        with database.session() as session:
            permit = session.get(Permit, permit_id)
            if permit is None:
                continue
            number, sha = permit.permit_number, permit.current_pdf_sha256
        try:
            with quiet_pyhanko(f"permit {number}: revision album of {sha[:12]}", log):
                ensure_album(store, sha)  # a no-op read when the album exists (built by the renewal pass, or a task)
        except Exception as exc:  # one line, no stack: the next run tries again
            log.warning("permit %s: revision album of %s not built (%s: %s); next run tries again", number,
                        sha[:12], type(exc).__name__, exc)
            report.failed[number] = f"{type(exc).__name__}: {exc}"
            continue
        with database.session() as session:
            mark_album_built(session, sha)
        report.built.append(number)
    return report
