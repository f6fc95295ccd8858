"""The life of one scanned page after intake: claim it, read it, keep what was produced, finish the document.

This is the whole OCR job in one readable place (the worker task only calls :func:`digitise_page`). The order
of writes is what makes a killed worker harmless:

1. a short transaction marks the page ``running`` and counts the attempt (a page already ``done`` is left alone,
   so a redelivered task is a no-op);
2. the original is read from the object store (hash-verified) and the page is processed with no transaction open;
3. everything the page produced (one-page searchable PDF, preview JPEG, word boxes) is put in the store *before*
   the database mentions it;
4. a second short transaction records the results; only a page still not ``done`` is updated;
5. when every page of the document is done, the pages' PDFs are merged into the document's searchable PDF, stored,
   and recorded with a conditional update, so two workers finishing the last pages at once cannot both win.

A crash between any two steps leaves either the previous state (the page is run again) or blobs nothing refers to
(removed by :mod:`archive.sweeper` after its grace period).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from archive.db import Database
from archive.manifest import touch_application
from archive.models import Document, OcrStatus, Page, utcnow
from archive.store import IntegrityError as StoreIntegrityError
from archive.store import ObjectStore
from intake.id_card import check_document, holds_national_id
from ocr.cleanup import CleanupOptions
from ocr.errors import InputRejected, OcrFailed
from ocr.limits import Limits
from ocr.pipeline import PageResult, process_page
from ocr.searchable_pdf import merge_pages

log = logging.getLogger(__name__)

#: Attempts after which a page that keeps failing is marked ``failed`` for a clerk to re-scan.
MAX_ATTEMPTS = 3


class PageNotFound(LookupError):
    """The page id names no page (deleted, or a message from another database)."""


class PageHeld(RuntimeError):
    """Another worker holds the page and renewed its lease recently: a duplicate message must not read it twice."""


LEASE = timedelta(seconds=30)
"""A page's holder is presumed dead when its lease was not renewed for this long (see :mod:`intake.recovery`)."""
LEASE_RENEWAL_SECONDS = 5.0
"""How often the worker reading a page renews its lease."""


@dataclass(frozen=True)
class PageOutcome:
    page_id: int
    status: str
    already_done: bool = False
    document_done: bool = False
    error: str | None = None


def digitise_page(
    database: Database,
    store: ObjectStore,
    page_id: int,
    *,
    limits: Limits | None = None,
    options: CleanupOptions | None = None,
    lang: str = "ara",
    work_dir: Path | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> PageOutcome:
    """Run OCR for one page, idempotently. Transient faults (store or database down) propagate for a retry;
    a page that cannot be read is recorded as failed with the reason in Arabic and English."""
    with database.session() as session:
        claim = _claim(session, page_id)
        if claim is None:
            return PageOutcome(page_id, OcrStatus.DONE, already_done=True)
        original_key, index, attempts, id_card = claim
        session.commit()

    try:
        with _lease_kept(database, page_id), _original(store, original_key, work_dir) as path:
            result = process_page(path, index, limits or Limits(), options or CleanupOptions(), lang=lang,
                                  read_numbers=id_card)
    except (InputRejected, OcrFailed, StoreIntegrityError) as exc:
        permanent = not isinstance(exc, OcrFailed) or attempts >= max_attempts
        message = _error_text(exc)
        with database.session() as session:
            _record_failure(session, page_id, message, final=permanent)
            session.commit()
        if not permanent:
            raise
        return PageOutcome(page_id, OcrStatus.FAILED, error=message)

    keys = _store_outputs(store, result)
    with database.session() as session:
        _record_result(session, page_id, result, keys, id_card)
        session.commit()
    document_done = finish_document_if_complete(database, store, page_id=page_id, work_dir=work_dir)
    return PageOutcome(page_id, OcrStatus.DONE, document_done=document_done)


def _claim(session: Session, page_id: int) -> tuple[str, int, int, bool] | None:
    """Mark the page running; its original's key, index, attempt number and whether it is an ID card's page (its
    number lines are then read a second time, by digit shape)."""
    page = session.get(Page, page_id, with_for_update=True)
    if page is None:
        raise PageNotFound(f"There is no page with id {page_id}.")
    if page.status == OcrStatus.DONE:
        return None
    now = utcnow()
    if page.status == OcrStatus.RUNNING and page.lease_at is not None and _aware(page.lease_at) > now - LEASE:
        raise PageHeld(f"Page {page_id} is being read by a live worker (lease renewed at {page.lease_at}).")
    page.status = OcrStatus.RUNNING
    page.attempts = (page.attempts or 0) + 1
    page.started_at = now
    page.lease_at = now
    page.error = None
    document = page.document
    if document.ocr_status == OcrStatus.PENDING:
        document.ocr_status = OcrStatus.RUNNING
    return document.sha256, page.index, page.attempts, holds_national_id(document.application, document.requirement)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def _lease_kept(database: Database, page_id: int) -> Iterator[None]:
    """Renew the page's lease every few seconds while the block runs (a plain UPDATE: no ORM change hook, so
    the application's manifest does not move). If this process dies, the lease lapses and the page is retaken."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_RENEWAL_SECONDS):
            try:
                with database.session() as session:
                    session.execute(
                        update(Page)
                        .where(Page.id == page_id, Page.status == OcrStatus.RUNNING)
                        .values(lease_at=utcnow())
                    )
                    session.commit()
            except Exception:  # a database blip: the next renewal tries again; the lease is 6 renewals long
                log.warning("could not renew the lease of page %s", page_id, exc_info=True)

    thread = threading.Thread(target=renew, name=f"lease-page-{page_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@contextmanager
def _original(store: ObjectStore, key: str, work_dir: Path | None) -> Iterator[Path]:
    """The original as a local file (the renderers need a path); streamed, hash-verified, always removed."""
    fd, name = tempfile.mkstemp(prefix="sijill-original-", dir=work_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as sink, store.open(key) as source:
            shutil.copyfileobj(source, sink, 1024 * 1024)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _store_outputs(store: ObjectStore, result: PageResult) -> dict[str, str | None]:
    words = [
        {"text": w.text, "conf": round(w.confidence, 1), "box": [w.left, w.top, w.width, w.height], "line": w.line}
        for w in result.words
    ]
    return {
        "pdf": store.put(result.pdf),
        "preview": store.put(result.preview_jpeg) if result.preview_jpeg else None,
        "words": store.put(json.dumps(words, ensure_ascii=False).encode("utf-8")),
    }


def _record_result(
    session: Session, page_id: int, result: PageResult, keys: dict[str, str | None], id_card: bool = False
) -> None:
    page = session.get(Page, page_id, with_for_update=True)
    if page is None or page.status == OcrStatus.DONE:
        return  # another delivery of the same task finished first; its results stand
    page.status = OcrStatus.DONE
    page.text = result.text
    page.mean_confidence = result.mean_confidence
    page.line_count = result.line_count
    page.is_blank = result.is_blank
    page.low_confidence = result.low_confidence
    page.rotation = result.rotation
    page.skew_angle = result.skew_angle
    page.timings = {k: round(v, 4) for k, v in result.timings.items()}
    page.pdf_sha256 = keys["pdf"]
    page.preview_sha256 = keys["preview"]
    page.words_sha256 = keys["words"]
    page.number_readings = ([{"digits": n.digits, "margin": round(n.margin, 4), "script": n.script}
                             for n in result.numbers] if id_card else None)
    page.error = None
    page.finished_at = utcnow()


def _record_failure(session: Session, page_id: int, message: str, *, final: bool) -> None:
    page = session.get(Page, page_id, with_for_update=True)
    if page is None or page.status == OcrStatus.DONE:
        return
    page.error = message
    page.status = OcrStatus.FAILED if final else OcrStatus.PENDING
    page.finished_at = utcnow() if final else None
    if final:
        page.document.ocr_status = OcrStatus.FAILED


def _error_text(exc: Exception) -> str:
    if isinstance(exc, InputRejected):
        return f"{exc.message_ar}\n{exc.message_en}"
    if isinstance(exc, StoreIntegrityError):
        log.error("original of a page failed its integrity check: %s", exc)
        return (
            "النسخة المحفوظة من المستند الأصلي لم تجتز فحص السلامة؛ يجب استعادتها من النسخة الاحتياطية.\n"
            f"The stored original failed its integrity check and must be restored from a replica: {exc}"
        )
    return f"تعذرت قراءة الصفحة آليا.\n{exc}"


def finish_document_if_complete(
    database: Database, store: ObjectStore, *, page_id: int | None = None, document_id: int | None = None,
    work_dir: Path | None = None,
) -> bool:
    """Merge the pages' PDFs into the document's searchable PDF once all are done; True if this call did it."""
    with database.session() as session:
        if document_id is None:
            document_id = session.scalar(select(Page.document_id).where(Page.id == page_id))
        document = session.get(Document, document_id)
        if document is None or document.searchable_pdf_sha256 is not None:
            return False
        pages = document.pages
        if not pages or any(p.status != OcrStatus.DONE or p.pdf_sha256 is None for p in pages):
            return False
        page_keys = [p.pdf_sha256 for p in pages if p.pdf_sha256]
        title = f"{document.application.tracking_number} {document.requirement} {document.filename}"
        application_id = document.application_id

    fd, name = tempfile.mkstemp(prefix="sijill-searchable-", suffix=".pdf", dir=work_dir)
    os.close(fd)
    merged = Path(name)
    try:
        merge_pages((store.get_bytes(key) for key in page_keys), merged, title=title)
        with merged.open("rb") as fh:
            key = store.put(fh)
    finally:
        merged.unlink(missing_ok=True)

    with database.session() as session:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Document)
            .where(Document.id == document_id, Document.searchable_pdf_sha256.is_(None))
            .values(searchable_pdf_sha256=key, ocr_status=OcrStatus.DONE)
        )
        if result.rowcount:
            touch_application(session, application_id)
            finished = session.get(Document, document_id)
            if finished is not None:
                check_document(finished)  # the ID card's digits against the typed national ID, once, with the PDF
        session.commit()
    return bool(result.rowcount)


def orphaned_page_ids(session: Session, *, now: datetime | None = None, lease: timedelta = LEASE) -> list[int]:
    """Pages nobody holds, to be sent again: the recovery's view of OCR (see :mod:`intake.recovery`).

    - a ``running`` page whose lease lapsed: its worker died (kill -9, power cut) mid-page;
    - a ``pending`` page sent (or registered) longer than ``lease`` ago, **while OCR stands still**: no page is held
      under a live lease and none finished within ``lease``. A pending page in a deep but moving queue is left
      alone, so a burst is never sent twice; its message was lost (the embedded broker's in-flight messages die
      with the worker, an enqueue after commit can fail) only if nothing is moving.

    A page sent again gets a fresh lease (its ``lease_at``), so the next round waits for that message first.
    """
    now = now or utcnow()
    cutoff = now - lease
    lapsed = list(
        session.scalars(
            select(Page.id).where(
                Page.status == OcrStatus.RUNNING, func.coalesce(Page.lease_at, Page.started_at) < cutoff
            )
        )
    )
    waiting: list[int] = []
    if not ocr_moving(session, since=cutoff):
        waiting = list(
            session.scalars(
                select(Page.id)
                .join(Document)
                .where(Page.status == OcrStatus.PENDING, func.coalesce(Page.lease_at, Document.created_at) < cutoff)
            )
        )
    return sorted(set(lapsed) | set(waiting))


def ocr_moving(session: Session, *, since: datetime) -> bool:
    """A page is held under a live lease, or one finished since ``since``: the OCR queue is being worked."""
    return session.scalar(
        select(Page.id)
        .where(((Page.status == OcrStatus.RUNNING) & (Page.lease_at >= since)) | (Page.finished_at >= since))
        .limit(1)
    ) is not None


def mark_sent_again(session: Session, page_ids: list[int], *, now: datetime | None = None) -> None:
    """``page_ids`` wait again, with a fresh lease: the message about to be sent is now their holder (a plain
    UPDATE, so the application's manifest does not move; a page finished meanwhile is left alone)."""
    if page_ids:
        session.execute(
            update(Page)
            .where(Page.id.in_(page_ids), Page.status.in_([OcrStatus.PENDING, OcrStatus.RUNNING]))
            .values(status=OcrStatus.PENDING, lease_at=now or utcnow())
        )
