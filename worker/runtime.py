"""What a task needs besides its arguments: settings, database and object store, built once per process.

Built lazily in the process that runs the task (a prefork child), never inherited across ``fork``: a database
connection pool or an HTTP pool shared by two processes corrupts both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from archive.db import Database
from archive.replication import ArchiveStore, open_archive_store
from ocr.limits import Limits
from search.engines import open_engine
from search.model import Engine
from sijill.settings import Settings


@dataclass
class WorkerRuntime:
    settings: Settings
    database: Database
    store: ArchiveStore
    limits: Limits
    work_dir: Path
    pid: int
    search: Engine


_runtime: WorkerRuntime | None = None


def worker_runtime() -> WorkerRuntime:
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        settings = Settings.from_env()
        work_dir = settings.data_dir / "work"
        work_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.database_url)
        _runtime = WorkerRuntime(
            settings=settings,
            database=database,
            store=open_archive_store(settings.storage_url, settings.replica_url, database),
            limits=Limits(max_bytes=settings.max_upload_bytes),
            work_dir=work_dir,
            pid=os.getpid(),
            search=open_engine(settings.search_url),
        )
        from worker.dispatch import queue_on_commit

        queue_on_commit(_runtime.database.sessions, _runtime.settings, _runtime.store)
    return _runtime
