"""Celery tasks: thin adapters that unpack JSON arguments, call the real code and return JSON-able results.

Business logic lives in its own package (``ocr``, ``archive``, …) and is tested there without a broker; a task
here only translates between messages and function calls. Every task is a ``shared_task`` with an explicit,
stable ``name`` (the name is what travels in messages, so renaming a function must not break queued work) and
must be idempotent, because late acknowledgement means a task can run again after a worker dies.

Enqueue by name from a process that has a Settings object::

    create_celery(settings).send_task("worker.ping")
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from archive.db import DatabaseUnavailable
from archive.store import StoreUnavailable
from archive.sweeper import sweep_unreferenced
from intake.digitise import PageNotFound, digitise_page, stale_page_ids
from ocr.errors import OcrFailed
from worker.runtime import worker_runtime

# --- diagnostics --------------------------------------------------------------------------------


@shared_task(name="worker.ping", bind=True)
def ping(self: Task) -> dict[str, Any]:
    """Prove that a worker consumes from the broker and can store a result (smoke tests, operators)."""
    return {
        "pong": True,
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "worker": self.request.hostname,
    }


# --- OCR ----------------------------------------------------------------------------------------

#: Faults worth another try later: the store, the database or Tesseract had a bad moment.
TRANSIENT = (StoreUnavailable, DatabaseUnavailable, OperationalError, OcrFailed, ConnectionError, TimeoutError)
#: Seconds a page may wait or run before the beat schedule enqueues it again (longer than any page takes).
STALE_AFTER = timedelta(minutes=15)


@shared_task(name="ocr.page", bind=True, max_retries=5)
def ocr_page(self: Task, page_id: int) -> dict[str, Any]:
    """Read one page (idempotent: a page already done is not read again)."""
    rt = worker_runtime()
    try:
        outcome = digitise_page(rt.database, rt.store, int(page_id), limits=rt.limits, work_dir=rt.work_dir)
    except PageNotFound:
        return {"page_id": page_id, "status": "missing"}
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc
    return asdict(outcome)


@shared_task(name="ocr.requeue_stale")
def requeue_stale_pages() -> dict[str, Any]:
    """Enqueue again the pages whose message was lost (see :func:`intake.digitise.stale_page_ids`)."""
    rt = worker_runtime()
    with rt.database.session() as session:
        ids = stale_page_ids(session, older_than=STALE_AFTER)
    for page_id in ids:
        ocr_page.apply_async((page_id,))
    return {"requeued": ids}


@shared_task(name="archive.sweep")
def sweep_blobs() -> dict[str, Any]:
    """Remove objects nothing refers to, older than a day (a crash between storing and committing)."""
    rt = worker_runtime()
    with rt.database.session() as session:
        report = sweep_unreferenced(session, rt.store, grace=timedelta(days=1))
    return {"examined": report.examined, "deleted": len(report.deleted)}


# --- routing ------------------------------------------------------------------------------------


@shared_task(name="routing.open_pending")
def open_pending() -> dict[str, Any]:
    """Open the workflow of every registered application that has none (the web, API and import open it right after
    registration; this catches what a failure there left behind). Idempotent."""
    from signing.routing import open_pending_workflows  # PDF and signing libraries: loaded when first needed

    rt = worker_runtime()
    with rt.database.session() as session:
        opened = open_pending_workflows(session)
    return {"opened": opened}
