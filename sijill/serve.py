"""The production web server: gunicorn with several worker processes (threaded), or waitress in one process.

Why offer gunicorn: Flask spends most of a request in Python, so one process uses at most one core whatever its thread
count (the GIL); gunicorn with several worker processes, each with a few threads (``gthread``, which keeps HTTP
connections alive), can use every core. Each worker builds its own app after the fork (``load`` runs in the worker),
so no database connection, object-store client or lock is shared across processes. Per-process state follows from
that: the rendered-page and validation-report caches are per worker (each checks the permit's row on every hit, see
:mod:`web.verify.pagecache`), and rate-limit counters must live in Redis (``SIJILL_RATELIMIT_STORAGE_URL``) for a limit
to mean the same with several workers. On the busy 2-core machine of docs/PERFORMANCE.md it did not beat waitress, so
``sijill run`` keeps waitress as its default until a quiet run says otherwise.

waitress serves in one process (``--workers 1``, the default): also Windows, tests, debugging.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask


def default_workers() -> int:
    """One worker per core plus one: a worker waiting on the database or the object store leaves its core to another."""
    return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) + 1


def serve(make_app: Callable[[], Flask], *, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the app made by ``make_app`` until interrupted (SIGTERM / SIGINT: graceful stop)."""
    if workers <= 1:
        import waitress

        waitress.serve(make_app(), host=host, port=port, threads=threads, ident="sijill")
        return
    _gunicorn(make_app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": 5,
        "graceful_timeout": 20,
        "timeout": 120,  # a worker stuck this long is restarted (signing and uploads finish far sooner)
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "sijill-web",
    }).run()


def _gunicorn(make_app: Callable[[], Flask], options: dict[str, Any]) -> Any:
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return make_app()  # in each worker, after the fork

    return Application()
