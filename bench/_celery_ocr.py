"""Throughput of real Celery OCR workers: pages registered through intake, sent as ``ocr.page`` tasks, read by
``celery worker`` processes started exactly as ``sijill worker`` starts them.

For each concurrency: a fresh data directory (SQLite database migrated with Alembic, file object store), the
centre and catalogue seeded, one application registered with ``intake.service.register_application`` holding every
page as its own PNG upload, then a worker (``worker.run.worker_argv``: prefork pool, ``--concurrency=k``, queues
``ocr`` and ``celery``) started and proved alive with a ``worker.ping`` round trip. The clock starts when
``worker.dispatch.enqueue_pages`` sends the pages and stops when the database shows every page done: the same path
a clerk's upload takes (store read, render, clean-up, Tesseract, preview, results and blobs written, each document
assembled into its searchable PDF).

The broker is a private ``redis-server`` on a free loopback port with persistence off (the machine's shared Redis
is used by test suites that flush their database index), stopped at the end.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archive.db import Database
from sijill.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CeleryRun:
    concurrency: int
    pages: int
    wall: float
    done: int
    failed: int
    startup: float
    """Seconds from starting the worker until it answered a ping (not part of ``wall``)."""
    ocr_seconds: float
    """Mean seconds of ``process_page`` per page as the workers measured it (the page's stored "total" timing)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_redis(directory: Path) -> Iterator[str]:
    """A throwaway ``redis-server`` on loopback; yields its base URL (no database index)."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    log = (directory / "redis.log").open("wb")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
         str(directory)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"redis-server did not start; see {directory / 'redis.log'}") from None
                time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _register(database: Database, settings: Settings, pngs: Sequence[Path]) -> list[int]:
    """Migrate, seed a centre and the catalogue, and register one application with every PNG as a page."""
    from archive.migrate import upgrade
    from archive.models import Centre
    from archive.store import open_store
    from intake.catalogue import load_catalogue, sync_catalogue
    from intake.service import Upload, register_application
    from ocr.limits import Limits

    upgrade(settings.database_url)
    store = open_store(settings.storage_url)
    with database.session() as s:
        s.add(Centre(code="SOH-01", name_ar="مركز سوهاج", name_en="Sohag", governorate_code="26"))
        s.flush()
        sync_catalogue(s, load_catalogue())
        s.commit()
    uploads = [Upload("OTHER", path.name, io.BytesIO(path.read_bytes())) for path in pngs]
    with database.session() as s:
        registered = register_application(
            s, store, centre_code="SOH-01", service_code="VALIDITY", applicant_name="سعاد محمود حسن",
            national_id="29001012601235", applicant_phone="01012345678",
            details={"plot_number": "15", "district": "الكوثر", "area_m2": "300"}, uploads=uploads,
            created_by=None, channel="api", incomplete_reason="قياس سرعة القراءة الآلية", limits=Limits(),
        )  # fmt: skip
        page_ids = list(registered.page_ids)
        s.commit()
    return page_ids


def _progress(database: Database, page_ids: Sequence[int]) -> tuple[int, int, list[float]]:
    """Pages done, pages failed, and the pipeline's own "total" seconds of each done page."""
    from sqlalchemy import select

    from archive.models import OcrStatus, Page

    with database.session() as s:
        rows = s.execute(select(Page.status, Page.timings).where(Page.id.in_(page_ids))).all()
    done = [timings for status, timings in rows if status == OcrStatus.DONE.value]
    failed = sum(1 for status, _ in rows if status == OcrStatus.FAILED.value)
    return len(done), failed, [float((t or {}).get("total", "nan")) for t in done]


def _tail(path: Path, lines: int = 30) -> str:
    """The end of a worker's log (the temporary directory it lives in is gone once the benchmark exits)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def run_celery(pngs: Sequence[Path], concurrency: int, broker_base: str, directory: Path,
               timeout: float = 3600.0) -> CeleryRun:
    """Register ``pngs`` as pages, start a worker with ``concurrency`` pool processes, time all pages to done."""
    from worker.celery_app import create_celery
    from worker.dispatch import enqueue_pages
    from worker.run import settings_environ, worker_argv

    data = directory / f"celery-{concurrency}"
    settings = Settings.from_env({
        "SIJILL_DATA_DIR": str(data), "SIJILL_ENV": "test",
        "SIJILL_BROKER_URL": f"{broker_base}/{concurrency}",
    })  # fmt: skip
    database = Database(settings.database_url)
    page_ids = _register(database, settings, pngs)
    argv = worker_argv(settings, concurrency, "warning", None, pool="prefork", hostname=f"bench{concurrency}@%h")
    env = {**settings_environ(settings), "OMP_THREAD_LIMIT": "1", "PYTHONPATH": str(ROOT)}
    log = (directory / f"worker-{concurrency}.log").open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    app = create_celery(settings)
    try:
        app.send_task("worker.ping").get(timeout=120)
        startup = time.perf_counter() - started
        begin = time.perf_counter()
        enqueue_pages(settings, page_ids)
        deadline = begin + timeout
        while True:
            done, failed, seconds = _progress(database, page_ids)
            if done + failed >= len(page_ids):
                break
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited with code {proc.returncode}:\n{_tail(Path(log.name))}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"pages not done after {timeout:.0f} s ({done} done, {failed} failed):\n"
                                 f"{_tail(Path(log.name))}")
            time.sleep(0.2)
        wall = time.perf_counter() - begin
    finally:
        app.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # warm shutdown: the pool children finish and exit
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of this worker's own process group
        except ProcessLookupError:
            pass
        proc.wait()
        log.close()
        database.dispose()
    return CeleryRun(concurrency, len(page_ids), wall, done, failed, startup,
                     sum(seconds) / len(seconds) if seconds else float("nan"))


def celery_throughput(pngs: Sequence[Path], concurrencies: Sequence[int]) -> list[CeleryRun]:
    """One run per concurrency on the same pages, each with a fresh database, store and broker index."""
    with tempfile.TemporaryDirectory(prefix="ocr-celery-") as tmp, private_redis(Path(tmp)) as broker:
        return [run_celery(pngs, k, broker, Path(tmp)) for k in concurrencies]
