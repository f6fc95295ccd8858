"""Start a Celery worker or beat for a Settings object (behind ``sijill worker`` and ``sijill beat``).

The worker runs as ``python -m celery -A worker.celery_app …`` with the settings written into the child's
environment as ``SIJILL_*`` variables, rather than in-process: the child then builds exactly the same Settings
(including command-line overrides the parent applied), Celery owns signal handling and the prefork pool from a
clean interpreter, and the command line is visible in ``ps``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from types import FrameType

from sijill.settings import ENV_PREFIX, Settings

CELERY_APP = "worker.celery_app"
#: Every queue Sijill routes tasks to (see ``worker.celery_app``): the default one and the OCR one.
ALL_QUEUES = ("celery", "ocr")
#: Worker pools we pass through; ``prefork`` for production, ``solo`` (one task at a time in the main process)
#: for tests and debugging, ``threads`` for I/O-bound queues.
POOLS = ("prefork", "solo", "threads")


def settings_environ(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with every ``SIJILL_*`` variable replaced by ``settings``' values.

    ``Settings.from_env(settings_environ(settings))`` gives back the same values (its ``extra`` then also
    lists the explicit variables).
    """
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(ENV_PREFIX)}
    env.update({ENV_PREFIX + k: v for k, v in settings.extra.items()})  # e.g. SIJILL_VISIBILITY_TIMEOUT
    env.pop(ENV_PREFIX + "REPLICA_URL", None)
    explicit = {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "STORAGE_URL": settings.storage_url,
        "SEARCH_URL": settings.search_url,
        "BROKER_URL": settings.broker_url,
        "RESULT_BACKEND": settings.result_backend,
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": settings.base_url,
        "ENV": settings.env,
        "MAX_UPLOAD_MB": str(settings.max_upload_mb),
        "DEFAULT_LOCALE": settings.default_locale,
    }
    if settings.replica_url:
        explicit["REPLICA_URL"] = settings.replica_url
    env.update({ENV_PREFIX + k: v for k, v in explicit.items()})
    return env


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", CELERY_APP, *args]


def worker_argv(
    settings: Settings,
    concurrency: int = 2,
    loglevel: str = "info",
    queues: list[str] | None = None,
    *,
    pool: str = "prefork",
    hostname: str | None = None,
    beat: bool = False,
) -> list[str]:
    """The full command line of a worker (run it with :func:`settings_environ` as its environment).

    Without ``queues`` the worker consumes every queue Sijill uses. ``beat=True`` embeds the periodic scheduler
    (the single-machine setup of ``sijill run``; a deployment runs exactly one ``sijill beat`` instead).

    Mingle and gossip are off: they only synchronise revoked-task lists and worker events between nodes, cost
    a second or more at start-up and chatter on the broker; remote control (``celery inspect``) still works.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {pool!r}")
    argv = _celery(
        "worker",
        f"--loglevel={loglevel.upper()}",
        f"--pool={pool}",
        f"--concurrency={1 if pool == 'solo' else concurrency}",
        "--without-mingle",
        "--without-gossip",
    )
    argv.append("--queues=" + ",".join(queues or ALL_QUEUES))
    if beat:
        argv += ["--beat", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    return argv


def beat_argv(settings: Settings, loglevel: str = "info") -> list[str]:
    """The full command line of ``celery beat``, keeping its schedule file in the data directory."""
    return _celery(
        "beat",
        f"--loglevel={loglevel.upper()}",
        f"--schedule={settings.data_dir / 'celerybeat-schedule'}",
    )


def run_worker(
    settings: Settings,
    concurrency: int = 2,
    loglevel: str = "info",
    queues: list[str] | None = None,
    *,
    pool: str = "prefork",
    hostname: str | None = None,
    replace_process: bool = True,
) -> int:
    """Run a worker until it stops.

    By default this *replaces* the current process (``exec``), so a supervisor's SIGTERM reaches Celery
    directly and it shuts down warmly; it returns only with ``replace_process=False``, giving the worker's
    exit status.
    """
    argv = worker_argv(settings, concurrency, loglevel, queues, pool=pool, hostname=hostname)
    return _run(argv, settings, replace_process)


def run_beat(settings: Settings, loglevel: str = "info", *, replace_process: bool = True) -> int:
    """Run ``celery beat`` (exactly one per deployment) until it stops; see :func:`run_worker`."""
    return _run(beat_argv(settings, loglevel), settings, replace_process)


def _run(argv: list[str], settings: Settings, replace_process: bool) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = settings_environ(settings)
    sys.stdout.flush()
    sys.stderr.flush()
    if replace_process:
        os.execve(argv[0], argv, env)  # noqa: S606 - argv is built above, no shell involved
    with subprocess.Popen(argv, env=env) as proc:
        previous = signal.getsignal(signal.SIGTERM)

        def forward(signum: int, frame: FrameType | None) -> None:
            proc.send_signal(signum)

        try:
            signal.signal(signal.SIGTERM, forward)  # Ctrl-C already reaches the child (same process group)
        except ValueError:  # not the main thread: the caller handles signals itself
            previous = None
        try:
            while True:
                try:
                    return proc.wait()
                except KeyboardInterrupt:
                    continue  # the child got the SIGINT too and is shutting down; wait for it
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
