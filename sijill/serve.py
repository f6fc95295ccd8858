"""The production web server: gunicorn with several worker processes (threaded), or waitress in one process.

Why offer gunicorn: Flask spends most of a request in Python, so one process uses at most one core whatever its thread
count (the GIL); gunicorn with several worker processes, each with a few threads (``gthread``, which keeps HTTP
connections alive), can use every core. Each worker builds its own app after the fork (``load`` runs in the worker),
so no database connection, object-store client or lock is shared across processes. Per-process state follows from
that: the rendered-page and validation-report caches are per worker (each checks the permit's row on every hit, see
:mod:`web.verify.pagecache`), and rate-limit counters must live in Redis (``SIJILL_RATELIMIT_STORAGE_URL``) for a limit
to mean the same with several workers. On 2 cores (docs/PERFORMANCE.md, issue 15) gunicorn with one worker per core,
each worker on its own ``SO_REUSEPORT`` listening socket, serves the cached verification page at 1,700-2,000
requests/s (p99 16-25 ms) where waitress in one process gives about 640: it is the production server
(``docker-compose.yml`` runs ``sijill run --workers 2 --threads 4`` with Redis rate limits); a third worker on two
cores only lengthened the tail (p99 42 ms).

waitress serves in one process (``--workers 1``, the default of ``sijill run`` on a single machine, whose rate limits
are in memory): also Windows, tests, debugging.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask


def default_workers() -> int:
    """One worker per core: each has threads for the requests that wait on the database or the object store, and a
    process more than the cores only added context switches to the tail (docs/PERFORMANCE.md)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
        # each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections over them: on one
        # shared socket whichever worker woke first accepted them, and a client's 16 keep-alive connections could all
        # land on one worker while the other idled (the cached page at ~600 instead of ~1,800 requests/s)
        "reuse_port": True,
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
