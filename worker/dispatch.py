"""Enqueue work from a process that is not a worker (the web app, the importer), by task name only."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from sijill.settings import Settings
from worker.celery_app import OCR_QUEUE, create_celery

RETRY_POLICY = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.25, "interval_max": 0.5}

log = logging.getLogger(__name__)

_apps: dict[tuple[str, str], Celery] = {}


def _app(settings: Settings) -> Celery:
    key = (settings.broker_url, settings.result_backend)
    if key not in _apps:
        _apps[key] = create_celery(settings)
    return _apps[key]


def enqueue_pages(settings: Settings, page_ids: Iterable[int]) -> int:
    """Send one ``ocr.page`` task per page; a failure here is repaired by ``ocr.requeue_stale``."""
    app = _app(settings)
    count = 0
    for page_id in page_ids:
        # No result is awaited (the page row is the result), and a broker that is down must fail in about a
        # second, not keep a clerk waiting: ocr.requeue_stale sends the pages again later.
        app.send_task("ocr.page", args=(page_id,), queue=OCR_QUEUE, ignore_result=True, retry=True,
                      retry_policy=RETRY_POLICY)
        count += 1
    return count


def queue_on_commit(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Every commit made through ``sessions`` that changes applications queues their manifests and their search
    indexing (never done in the committing request or task); the web app, the workers and the importer install it."""
    from intake.indexing import watch

    watch(sessions, lambda ids: records_changed(settings, ids))


def records_changed(settings: Settings, application_ids: Iterable[int]) -> None:
    """After a commit that changed these applications: queue their manifests and their search indexing."""
    ids = sorted({int(i) for i in application_ids})
    enqueue_manifests(settings, ids)
    enqueue_index(settings, ids)


def enqueue_manifests(settings: Settings, application_ids: Iterable[int]) -> bool:
    """Ask a worker to write these applications' manifests (the ``archive.manifests`` beat task writes a miss)."""
    return _send_after_commit(settings, "archive.manifest", application_ids, repaired_by="archive.manifests")


def enqueue_index(settings: Settings, application_ids: Iterable[int]) -> bool:
    """Ask a worker to index these applications (the ``search.catch_up`` beat task indexes a miss)."""
    return _send_after_commit(settings, "search.index", application_ids, repaired_by="search.catch_up")


def _send_after_commit(settings: Settings, task: str, application_ids: Iterable[int], *, repaired_by: str) -> bool:
    """Send ``task`` for these applications; never raises, returns whether it was queued.

    Called right after a commit, when the change is already safe: a broker fault must not turn it into an error,
    and the beat task ``repaired_by`` does the work later.
    """
    ids = sorted({int(i) for i in application_ids})
    if not ids:
        return True
    try:
        _app(settings).send_task(task, args=(ids,), ignore_result=True, retry=True, retry_policy=RETRY_POLICY)
    except Exception as exc:  # any broker fault
        log.warning("%s of applications %s not queued (%s); %s will do it", task, ids, exc, repaired_by)
        return False
    return True
