"""The Celery application, built from :class:`~sijill.settings.Settings` so the broker is chosen by URL.

``create_celery(settings)`` is what code with a Settings object in hand uses (the web app to enqueue,
tests); the module-level ``app`` (built on first access from ``SIJILL_*`` environment variables) is what
``celery -A worker.celery_app worker`` finds, so a worker started by ``sijill worker`` sees the same settings
as the process that started it (see :mod:`worker.run`).

Delivery guarantees, and why:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after its task finished,
  so a worker killed mid-task (OOM, power cut, deploy) does not lose the job; it runs again elsewhere. Tasks
  must therefore be idempotent.
* ``worker_prefetch_multiplier=1``: long tasks (OCR) must not sit reserved behind another long task on a busy
  worker while an idle worker waits.
* On Redis a message that was delivered but not acknowledged becomes visible again after
  ``visibility_timeout`` seconds (default one hour, ``SIJILL_VISIBILITY_TIMEOUT`` to change). It must be
  longer than the longest task, or that task runs twice. The embedded ``sqla+sqlite`` broker restores
  unacknowledged messages only when a worker shuts down cleanly; after a hard crash they stay invisible.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from celery import Celery

from sijill.settings import Settings, SettingsError

#: Redelivery delay for unacknowledged Redis messages when ``SIJILL_VISIBILITY_TIMEOUT`` is not set (kombu's
#: own default); longer than any task we expect, so a slow task is never run twice by accident.
DEFAULT_VISIBILITY_TIMEOUT_S = 3600.0
#: How long to wait for a broker or result store to accept a TCP connection before counting it as down.
CONNECT_TIMEOUT_S = 5
#: How long SQLite waits for another process's write lock (the default 5 s is short with several workers).
SQLITE_BUSY_TIMEOUT_S = 30

#: Queue of the per-page OCR tasks; workers consume it and the default ``celery`` queue unless told otherwise.
OCR_QUEUE = "ocr"
DEFAULT_QUEUE = "celery"

#: Periodic safety nets (run by ``sijill beat``, or inside the worker that ``sijill run`` starts).
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # What a crash left behind (intake.recovery): pages nobody holds, workflows not opened, manifests not written.
    "recover-after-crash": {"task": "recovery.reconcile", "schedule": 15.0},
    "sweep-unreferenced-blobs": {"task": "archive.sweep", "schedule": 6 * 3600.0},
    "replicate-objects": {"task": "archive.replicate", "schedule": 60.0},
    "reconcile-object-ledger": {"task": "archive.reconcile", "schedule": 3600.0},
    "fixity-check": {"task": "archive.fixity", "schedule": 600.0},
    # Records held by S3 object lock (nothing to do while SIJILL_RETENTION_YEARS is 0).
    "hold-records": {"task": "archive.retention", "schedule": 3600.0},
    "write-manifests": {"task": "archive.manifests", "schedule": 60.0},
    # The audit chain's head sealed outside the database (archive.checkpoints): the window an undetected rewrite has.
    "seal-audit-checkpoint": {"task": "audit.checkpoint", "schedule": 300.0},
    # Case files under a legal hold: objects and manifests written since the hold was placed are held too.
    "legal-holds": {"task": "archive.legal_holds", "schedule": 600.0},
    "renew-permit-timestamps": {"task": "permits.renew_timestamps", "schedule": 24 * 3600.0},
    # Revision albums no web request builds: those whose message was lost (signing.album_backlog), within a minute.
    "missing-revision-albums": {"task": "permits.missing_albums", "schedule": 60.0},
    "discard-expired-preparations": {"task": "signing.discard_expired_preparations", "schedule": 3600.0},
    "search-catch-up": {"task": "search.catch_up", "schedule": 120.0},
    # The citizens' SMS and e-mail outbox: new messages within half a minute, retries when their back-off ends.
    "send-pending-notifications": {"task": "notify.send_pending", "schedule": 30.0},
    # Officials reminded before a step's legal due date, heads told after it (once per step and threshold).
    "due-date-reminders": {"task": "workflow.reminders", "schedule": 900.0},
    # Signatures of uploaded PDFs (an engineer's signed drawings), validated after intake, never in the request.
    "check-attachment-signatures": {"task": "signing.check_attachments", "schedule": 30.0},
    # The API's Idempotency-Key rows, kept 30 days for retries, then removed.
    "prune-idempotency-keys": {"task": "api.prune_idempotency_keys", "schedule": 24 * 3600.0},
    # Monitoring reports of the last complete month, quarter and year, made once (a no-op once they exist).
    "governance-scheduled-reports": {"task": "governance.scheduled_reports", "schedule": 6 * 3600.0},
}

_SQLITE_BROKER_PREFIX = "sqla+sqlite:///"
_SQLITE_RESULT_PREFIX = "db+sqlite:///"


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _psycopg3(url: str, prefix: str) -> str:
    """Plain ``postgresql://`` means psycopg 3 (the driver we ship), as in :mod:`archive.db`; SQLAlchemy's own
    default for it is psycopg2, which is not installed."""
    plain = prefix + "postgresql://"
    return prefix + "postgresql+psycopg://" + url[len(plain) :] if url.startswith(plain) else url


def celery_broker_url(settings: Settings) -> str:
    """The broker URL as kombu needs it (``sqla+postgresql://`` pinned to psycopg 3)."""
    return _psycopg3(settings.broker_url, "sqla+")


def celery_result_backend(settings: Settings) -> str:
    """The result backend URL as Celery needs it (``db+postgresql://`` pinned to psycopg 3)."""
    return _psycopg3(settings.result_backend, "db+")


def visibility_timeout(settings: Settings) -> float:
    """Seconds until an unacknowledged Redis message goes to another worker (SIJILL_VISIBILITY_TIMEOUT)."""
    raw = settings.extra.get("VISIBILITY_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_VISIBILITY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"SIJILL_VISIBILITY_TIMEOUT must be a positive number of seconds, not {raw!r}.")
    return value


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """Transport options that suit the broker's URL scheme.

    They must be per transport: the SQLAlchemy transport passes every option straight to ``create_engine``, so
    a Redis option such as ``visibility_timeout`` would make it fail.
    """
    scheme = _scheme(settings.broker_url)
    if scheme in ("redis", "rediss"):
        timeout = visibility_timeout(settings)
        return {
            "visibility_timeout": timeout,
            # Look for abandoned messages often enough that redelivery happens soon after the timeout (kombu's
            # default scans only every ~100 s); the scan is one cheap ZRANGE.
            "unacked_restore_interval": max(0.5, min(60.0, timeout / 4)),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
        }
    if scheme == "sqla+sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if scheme == "sqla+postgresql":
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    return {}


def _sqlite_paths(settings: Settings) -> list[Path]:
    """Files that SQLite will create for the broker or result backend (their directories must exist first)."""
    paths = []
    if settings.broker_url.startswith(_SQLITE_BROKER_PREFIX):
        paths.append(Path(settings.broker_url[len(_SQLITE_BROKER_PREFIX) :]))
    if settings.result_backend.startswith(_SQLITE_RESULT_PREFIX):
        paths.append(Path(settings.result_backend[len(_SQLITE_RESULT_PREFIX) :]))
    return paths


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings, as a plain dict (easy to inspect in tests)."""
    config: dict[str, Any] = {
        "broker_url": celery_broker_url(settings),
        "result_backend": celery_result_backend(settings),
        "broker_transport_options": broker_transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": CONNECT_TIMEOUT_S,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # With late acks a task cut off by a lost broker connection is redelivered anyway; finishing it too
        # would run it twice (this is also the behaviour Celery 6 will make the default).
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_track_started": True,
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        "beat_schedule": BEAT_SCHEDULE,
        # OCR pages are long and CPU-bound: their own queue, so quick tasks never wait behind a 50-page scan.
        "task_routes": {"ocr.page": {"queue": OCR_QUEUE}},
    }
    if settings.result_backend.startswith(_SQLITE_RESULT_PREFIX):
        config["database_engine_options"] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        # One session per operation: a long-lived session would hold SQLite locks between tasks.
        config["database_short_lived_sessions"] = True
    if _scheme(settings.result_backend) in ("redis", "rediss"):
        config["redis_socket_connect_timeout"] = CONNECT_TIMEOUT_S
    return config


def create_celery(settings: Settings) -> Celery:
    """A Celery app for these settings, with ``worker.tasks`` registered.

    It also becomes the process's default app, so ``worker.tasks.ping.delay()`` (a shared task) goes to this
    broker from any thread, not to Celery's built-in ``amqp://localhost`` default.
    """
    for path in _sqlite_paths(settings):
        path.parent.mkdir(parents=True, exist_ok=True)
    if _sqlite_paths(settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("sijill", include=["worker.tasks"], set_as_current=True)
    app.conf.update(celery_config(settings))
    app.set_default()
    return app


_app: Celery | None = None


def get_app() -> Celery:
    """The process-wide app built from ``SIJILL_*`` environment variables (created on first use)."""
    global _app
    if _app is None:
        _app = create_celery(Settings.from_env())
    return _app


def __getattr__(name: str) -> Any:
    """Build ``app`` lazily: importing this module must not read settings (or fail) before anyone needs it."""
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
