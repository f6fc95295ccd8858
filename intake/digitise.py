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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from archive.db import Database
from archive.manifest import touch_application
from archive.models import Document, OcrStatus, Page, utcnow
from archive.store import IntegrityError as StoreIntegrityError
from archive.store import ObjectStore
from intake.id_card import check_document
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
        original_key, index, attempts = claim
        session.commit()

    try:
        with _original(store, original_key, work_dir) as path:
            result = process_page(path, index, limits or Limits(), options or CleanupOptions(), lang=lang)
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
        _record_result(session, page_id, result, keys)
        session.commit()
    document_done = finish_document_if_complete(database, store, page_id=page_id, work_dir=work_dir)
    return PageOutcome(page_id, OcrStatus.DONE, document_done=document_done)


def _claim(session: Session, page_id: int) -> tuple[str, int, int] | None:
    page = session.get(Page, page_id, with_for_update=True)
    if page is None:
        raise PageNotFound(f"There is no page with id {page_id}.")
    if page.status == OcrStatus.DONE:
        return None
    page.status = OcrStatus.RUNNING
    page.attempts = (page.attempts or 0) + 1
    page.started_at = utcnow()
    page.error = None
    document = page.document
    if document.ocr_status == OcrStatus.PENDING:
        document.ocr_status = OcrStatus.RUNNING
    return document.sha256, page.index, page.attempts


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


def _record_result(session: Session, page_id: int, result: PageResult, keys: dict[str, str | None]) -> None:
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


def stale_page_ids(session: Session, *, older_than: timedelta, now: datetime | None = None) -> list[int]:
    """Pages waiting or running for longer than ``older_than``: their message was lost (embedded broker after a
    crash, a failed enqueue after commit) or their worker died; the beat schedule enqueues them again."""
    cutoff = (now or utcnow()) - older_than
    rows = session.scalars(
        select(Page.id)
        .join(Document)
        .where(
            Page.status.in_([OcrStatus.PENDING, OcrStatus.RUNNING]),
            ((Page.started_at.is_(None)) & (Document.created_at < cutoff)) | (Page.started_at < cutoff),
        )
        .order_by(Page.id)
    )
    return list(rows)
