"""Ask the worker for a revision album a page found missing: at most once per revision per window, across processes.

A page that shows the revision viewer never builds its album (a second or two of CPU: :mod:`signing.revision_album`);
it sends ``permits.revision_album`` and says the pictures are being prepared. Visitors, hostile ones included, may
open such a page many times, on many permits, through every web process; each revision is asked for at most once per
:data:`WINDOW_S`. The "first in the window?" question goes to the storage the public rate limits already count in
(:mod:`web.ratelimit`: ``SIJILL_RATELIMIT_STORAGE_URL``, Redis shared by every web process in production): one
counter per revision with an expiry, a SET NX with a TTL in effect. When that storage cannot be reached the process
remembers on its own (one ask per process and window).

Nothing here can fail the page: a broker that is down costs only this ask (logged in one line), and the worker's
``permits.missing_albums`` job builds the album within a minute or two anyway (:mod:`signing.album_backlog`).
"""

from __future__ import annotations

import logging
import threading
import time

from flask import current_app
from limits import RateLimitItemPerSecond

from web.ratelimit import EXTENSION_KEY
from web.runtime import runtime

__all__ = ["WINDOW_S", "ask_for_album", "first_in_window", "queue_album"]

log = logging.getLogger(__name__)

WINDOW_S = 120
"""One ask per revision in this many seconds: longer than a build, shorter than the recovery job's pass plus a build."""
_ONCE = RateLimitItemPerSecond(1, WINDOW_S)

_local_lock = threading.Lock()
_local: dict[str, float] = {}
_LOCAL_MAX = 4096


def _first_locally(pdf_sha256: str) -> bool:
    """The process's own answer when the shared storage is unreachable (or there is no limiter)."""
    now = time.monotonic()
    with _local_lock:
        asked = _local.get(pdf_sha256)
        if asked is not None and now - asked < WINDOW_S:
            return False
        if len(_local) >= _LOCAL_MAX:
            for key in [k for k, at in _local.items() if now - at >= WINDOW_S] or list(_local)[: _LOCAL_MAX // 2]:
                _local.pop(key, None)
        _local[pdf_sha256] = now
        return True


def first_in_window(pdf_sha256: str) -> bool:
    """True for the first caller in :data:`WINDOW_S` asking about this revision, in any process sharing the storage."""
    limiter = current_app.extensions.get(EXTENSION_KEY)
    if limiter is None:
        return _first_locally(pdf_sha256)
    try:
        return bool(limiter.limiter.hit(_ONCE, "sijill", "revision-album", pdf_sha256))
    except Exception as exc:  # the storage is down: ask at most once per process and window instead
        log.warning("revision album of %s: shared storage unreachable (%s); deciding in this process",
                    pdf_sha256[:12], type(exc).__name__)
        return _first_locally(pdf_sha256)


def queue_album(pdf_sha256: str | None) -> bool:
    """Send ``permits.revision_album`` for this revision now (after a signature's commit, so the album is ready before
    anyone looks); whether it was sent. Never raises: a broker that is down only delays the album to the recovery
    job's next run."""
    if not pdf_sha256:
        return False
    try:
        from worker.dispatch import enqueue_revision_album

        enqueue_revision_album(runtime().settings, pdf_sha256)
    except Exception as exc:
        log.warning("revision album of %s not queued (%s: %s); the worker's recovery job builds it", pdf_sha256[:12],
                    type(exc).__name__, exc)
        return False
    return True


def ask_for_album(pdf_sha256: str) -> bool:
    """Send ``permits.revision_album`` for this revision unless it was asked for within the window; whether it was
    sent now. Never raises."""
    return first_in_window(pdf_sha256) and queue_album(pdf_sha256)
