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
from typing import Any

from celery import Task, shared_task

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
