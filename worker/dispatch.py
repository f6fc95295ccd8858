"""Enqueue work from a process that is not a worker (the web app, the importer), by task name only."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Iterable

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from archive.store import ObjectStore
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


def enqueue_signature_check(settings: Settings) -> None:
    """Ask for ``signing.check_attachments`` now (new PDFs were stored); the beat runs it every 30 s anyway."""
    _app(settings).send_task("signing.check_attachments", ignore_result=True, retry=True, retry_policy=RETRY_POLICY)


def enqueue_revision_album(settings: Settings, pdf_sha256: str) -> None:
    """Ask for ``permits.revision_album`` of a permit revision (just signed, or found without one by a page); a lost
    message is made up for by the beat task ``permits.missing_albums`` (no web request builds an album)."""
    _app(settings).send_task("permits.revision_album", args=(pdf_sha256,), ignore_result=True, retry=True,
                             retry_policy=RETRY_POLICY)


COALESCE_SECONDS = 0.5
"""Changes committed within this window in one process are sent as one manifest task and one index task."""


class _Coalescer:
    """Collects the applications changed by this process's commits and sends them, at most once per window, as one
    ``archive.manifest`` and one ``search.index`` task for all of them.

    A burst (a hundred registrations, each page of each one finishing its OCR) changes each application many times a
    second; one task per change queued hundreds deep and drained in minutes, and every one rebuilt a whole manifest.
    Coalesced, an application changed five times in the window is described once, and the queue stays short. What a
    dying process had not sent yet is written by the recovery beat (due manifests) and ``search.catch_up``.
    """

    def __init__(
        self,
        settings: Settings,
        window: float = COALESCE_SECONDS,
        *,
        sessions: sessionmaker[Session] | None = None,
        store: ObjectStore | None = None,
    ) -> None:
        self._settings = settings
        self._window = window
        self._sessions = sessions
        self._store = store
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._timer: threading.Timer | None = None

    def add(self, application_ids: Iterable[int]) -> None:
        with self._lock:
            self._pending.update(int(i) for i in application_ids)
            if self._timer is None and self._pending:
                self._timer = threading.Timer(self._window, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def discard(self) -> None:
        """Drop what is pending and wait for a flush already running (its database is about to go away); what was
        dropped is caught up by the beat, as after a crash."""
        with self._lock:
            timer, self._pending, self._timer = self._timer, set(), None
        if timer is not None:
            timer.cancel()
            timer.join(timeout=10)

    def flush(self) -> None:
        """Send what is pending now (the timer does it; also at exit)."""
        with self._lock:
            ids, self._pending, self._timer = sorted(self._pending), set(), None
        if ids:
            if not self._write_manifests(ids):
                enqueue_manifests(self._settings, ids)
            enqueue_index(self._settings, ids)

    def _write_manifests(self, ids: list[int]) -> bool:
        """Write the manifests here, in this background thread, when the process has the store: a manifest task
        would wait behind OCR pages for one of the worker's processes, and the archive's recovery point would be
        the length of the OCR queue. False (then a task is sent) without a store or if writing failed."""
        if self._sessions is None or self._store is None:
            return False
        from archive.manifest import write_manifests_of

        try:
            with self._sessions() as session:
                write_manifests_of(session, self._store, ids)
        except Exception:
            log.warning("manifests of %s not written here; a task will write them", ids, exc_info=True)
            return False
        return True


_coalescers: dict[tuple[str, str, int], _Coalescer] = {}
_coalescers_lock = threading.Lock()


def _coalescer(
    settings: Settings, sessions: sessionmaker[Session] | None = None, store: ObjectStore | None = None
) -> _Coalescer:
    key = (settings.broker_url, settings.result_backend, id(sessions))
    with _coalescers_lock:
        if key not in _coalescers:
            _coalescers[key] = _Coalescer(settings, sessions=sessions, store=store)
        return _coalescers[key]


def discard_pending() -> None:
    """Forget every coalescer of this process, with its pending changes, once no timer thread of theirs runs.

    For a process (a test) about to drop the database its coalescers write to: a timer left running would write
    manifests of a database that no longer exists, from a thread that outlives its test.
    """
    with _coalescers_lock:
        coalescers = list(_coalescers.values())
        _coalescers.clear()
    for coalescer in coalescers:
        coalescer.discard()


@atexit.register
def _flush_all() -> None:
    for coalescer in list(_coalescers.values()):
        try:
            coalescer.flush()
        except Exception:  # the broker is gone at exit: the beat catches up
            log.warning("changes not queued at exit; the beat catches up", exc_info=True)


def queue_on_commit(sessions: sessionmaker[Session], settings: Settings, store: ObjectStore | None = None) -> None:
    """Every commit made through ``sessions`` that changes applications has their manifests written and their search
    indexing queued (never in the committing request or task; coalesced, see :class:`_Coalescer`): by a background
    thread of this process with ``store``, else by the ``archive.manifest`` task. The web app, the workers and the
    importer install it."""
    from archive_search.indexing import watch

    coalescer = _coalescer(settings, sessions, store)
    watch(sessions, coalescer.add)


def records_changed(settings: Settings, application_ids: Iterable[int]) -> None:
    """After a commit that changed these applications: their manifests and search indexing are sent within
    :data:`COALESCE_SECONDS`, together with every other change of this process in that window."""
    _coalescer(settings).add(application_ids)


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
