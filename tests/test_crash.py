"""Faults with real processes: the web app killed mid-upload, the object store and the database going away and
coming back. Afterwards no application is lost, duplicated or half-written, and queued work completes.

The database is really restarted: a PostgreSQL cluster of the test's own is stopped (``pg_ctl stop -m fast``) and
started again. The object store's S3 server is SIGKILLed and started again: a SeaweedFS of the test's own runs its
S3 server as a separate process (``weed s3``) in front of the storage servers that keep the data. A worker killed
mid-page is in ``test_digitise.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.postgres import PrivateCluster, create_database
from tests.fixtures.s3 import RestartableS3
from tests.local_servers import free_port
from tests.sijill_process import run_sijill, serving, sijill_env
from tests.test_end_to_end import encode, multipart, page

pytestmark = pytest.mark.slow

FIELDS = {
    "service_code": "VALIDITY", "applicant_name": "سعاد محمود حسن", "national_id": "29001012601235",
    "applicant_phone": "01012345678", "details.plot_number": "15", "details.district": "الكوثر",
    "details.area_m2": "300",
}  # fmt: skip


def application_body(lines: list[str]) -> tuple[bytes, str]:
    files = [
        ("doc.ID_COPY", "id.jpg", encode([page(lines[:1]).convert("RGB")], "JPEG")),
        ("doc.OWNERSHIP", "ownership.tif", encode([page(lines[1:2])], "TIFF")),
        ("doc.SITE_PLAN", "site.pdf", encode([page(lines[2:3])], "PDF")),
    ]
    return multipart(FIELDS, files)


def prepared(env: dict[str, str]) -> str:
    for args in (("db", "upgrade"), ("demo", "--no-history")):
        done = run_sijill(env, *args)
        assert done.returncode == 0, done.stderr
    token = run_sijill(env, "users", "token", "demo.clerk")
    assert token.returncode == 0, token.stderr
    return token.stdout.strip()


def post(base: str, token: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(base + "/api/v1/applications", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_until_read(base: str, token: str, tracking: str, log: Path, timeout: float = 300) -> list[dict[str, Any]]:
    """Poll until every page is done (or one failed); returns the pages."""
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(f"{base}/api/v1/applications/{tracking}",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                current = json.load(response)
        except (urllib.error.HTTPError, OSError):
            current = None
        if current is not None:
            pages = [p for d in current["documents"] for p in d["pages"]]
            if any(p["status"] == "failed" for p in pages) or (
                    pages and all(d["searchable_pdf"] for d in current["documents"])):
                return pages
        assert time.monotonic() < deadline, (current, log.read_text(errors="replace")[-4000:])
        time.sleep(1)


def count_rows(query: Callable[[str], int]) -> dict[str, int]:
    return {t: query(f"SELECT count(*) FROM {t}") for t in ("applications", "documents", "pages")}  # noqa: S608


def sqlite_counter(data_dir: Path) -> Callable[[str], int]:
    def query(sql: str) -> int:
        with sqlite3.connect(data_dir / "sijill.sqlite3") as conn:
            return int(conn.execute(sql).fetchone()[0])

    return query


def gone_within(pid: int, seconds: float) -> bool:
    """True once no process has ``pid`` (or only a zombie waiting for its reaper)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.2)
    return False


def test_web_app_killed_mid_upload_leaves_nothing_and_the_next_upload_completes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = sijill_env(data)
    token = prepared(env)
    body, content_type = application_body(["بطاقة الرقم القومي", "عقد ملكية الأرض", "كروكي الموقع"])

    port = free_port()
    log = tmp_path / "killed.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "sijill", "run", "--port", str(port)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            head = (f"POST /api/v1/applications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            conn.sendall(head + body[: len(body) * 2 // 3])
            time.sleep(1.0)  # the server is reading the body
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    assert count_rows(sqlite_counter(data)) == {"applications": 0, "documents": 0, "pages": 0}
    worker = int(re.search(r"worker started \(pid (\d+)\)", log.read_text()).group(1))  # type: ignore[union-attr]
    assert gone_within(worker, 30), "the worker outlived the killed sijill run"
    with serving(env, log=tmp_path / "restarted.log") as base:
        status, created = post(base, token, body, content_type)
        assert status == 201, created
        pages = wait_until_read(base, token, created["tracking_number"], tmp_path / "restarted.log")
    assert [p["status"] for p in pages] == ["done"] * 3
    assert count_rows(sqlite_counter(data)) == {"applications": 1, "documents": 3, "pages": 3}
    assert run_sijill(env, "audit", "verify").returncode == 0


def test_object_store_killed_refuses_cleanly_and_queued_pages_finish_when_it_is_back(
    tmp_path: Path, restartable_s3: RestartableS3
) -> None:
    data = tmp_path / "data"
    env = sijill_env(data, storage_url=restartable_s3.server.url(prefix="crash"))
    token = prepared(env)
    log = tmp_path / "run.log"
    with serving(env, log=log) as base:
        # registered while the store is up; the store goes away before the worker has read the pages
        body, content_type = application_body(["بطاقة الرقم القومي", "عقد ملكية الأرض", "كروكي الموقع"])
        status, first = post(base, token, body, content_type)
        assert status == 201, first
        restartable_s3.kill_gateway()  # SIGKILL: the S3 server dies mid-work, its port refuses

        # while it is down, a new application is refused with a clear JSON error and nothing is recorded
        body2, content_type2 = application_body(["مدينة سوهاج", "شارع الجمهورية", "حي الكوثر"])
        status, refused = post(base, token, body2, content_type2)
        assert status == 503, refused
        assert refused.get("message") or refused.get("error"), refused
        assert count_rows(sqlite_counter(data))["applications"] == 1
        time.sleep(3)  # the worker meets the outage and schedules its retries

        restartable_s3.start_gateway()
        pages = wait_until_read(base, token, first["tracking_number"], log)
        assert [p["status"] for p in pages] == ["done"] * 3, pages
        status, second = post(base, token, body2, content_type2)
        assert status == 201, second
        pages = wait_until_read(base, token, second["tracking_number"], log)
        assert [p["status"] for p in pages] == ["done"] * 3, pages
    assert count_rows(sqlite_counter(data)) == {"applications": 2, "documents": 6, "pages": 6}


def test_database_restart_is_survived_by_the_web_app_and_the_worker(
    tmp_path: Path, private_postgres: PrivateCluster
) -> None:
    database_url = create_database(private_postgres.url)
    data = tmp_path / "data"
    env = sijill_env(data, database_url=database_url)
    token = prepared(env)
    log = tmp_path / "run.log"
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def pg_count(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    try:
        with serving(env, log=log) as base:
            body, content_type = application_body(["بطاقة الرقم القومي", "عقد ملكية الأرض", "كروكي الموقع"])
            status, first = post(base, token, body, content_type)
            assert status == 201, first
            private_postgres.stop_server()  # pg_ctl stop -m fast: every session ends, new ones are refused

            status, refused = post(base, token, *application_body(["مدينة سوهاج", "شارع الجمهورية", "حي الكوثر"]))
            assert status == 503, refused
            assert refused.get("code") == "database_unavailable" and refused.get("error_ar"), refused
            time.sleep(3)

            private_postgres.start_server()
            pages = wait_until_read(base, token, first["tracking_number"], log)
            assert [p["status"] for p in pages] == ["done"] * 3, pages
            status, second = post(base, token, body, content_type)
            assert status == 201, second
            pages = wait_until_read(base, token, second["tracking_number"], log)
            assert [p["status"] for p in pages] == ["done"] * 3, pages
        assert count_rows(pg_count) == {"applications": 2, "documents": 6, "pages": 6}
    finally:
        engine.dispose()


def test_killed_mid_burst_resumes_within_a_minute_of_restart_and_healthz_says_so_meanwhile(tmp_path: Path) -> None:
    """kill -9 of `sijill run` 1.5 s into a burst: pages in flight lose their messages and their worker. Restarted,
    every page is back in a worker's hands within a minute (recovery.reconcile at worker start and every 15 s), and
    until then /healthz calls the unheld work degraded, with its age."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from archive.db import Database
    from archive.models import Application, Document, OcrStatus, Page, WorkflowStep, utcnow

    data = tmp_path / "data"
    env = sijill_env(data)
    token = prepared(env)
    texts = [["مدينة سوهاج", "شارع الجمهورية", "حي الكوثر"], ["بطاقة الرقم القومي", "عقد ملكية", "كروكي الموقع"]]
    bodies = [application_body(texts[i % 2]) for i in range(4)]
    port = free_port()
    log = tmp_path / "killed.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "sijill", "run", "--port", str(port)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.3)
        for body, content_type in bodies:
            status, created = post(base, token, body, content_type)
            assert status == 201, created
        time.sleep(1.5)  # OCR under way
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # The orphaned worker gets SIGTERM from the kernel (PDEATHSIG) and finishes the page in its hands before it
    # exits: wait for it, or that page's finish lands after the clock is moved below and looks like live OCR.
    worker = int(re.search(r"worker started \(pid (\d+)\)", log.read_text()).group(1))  # type: ignore[union-attr]
    assert gone_within(worker, 60), "the worker outlived the killed sijill run"

    db = Database(f"sqlite:///{data / 'sijill.sqlite3'}")
    try:
        with db.session() as s:
            left = s.scalar(select(func_count()).select_from(Page).where(Page.status != OcrStatus.DONE))
            assert left, "the burst finished before the kill: nothing to recover"
            # the crash happened two minutes ago (moved back by plain UPDATEs, as the clock would have)
            ago = timedelta(minutes=2)
            for table, column in ((Page, "lease_at"), (Page, "started_at"), (Page, "finished_at"),
                                  (Document, "created_at"), (Application, "created_at")):
                for row_id, value in s.execute(select(table.id, getattr(table, column))).all():
                    if value is not None:
                        s.execute(update(table).where(table.id == row_id).values({column: value - ago}))
            s.commit()

        with serving(env, "--no-worker", log=tmp_path / "web-only.log") as base:  # the worker not back yet
            with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
                report = json.load(response)
        assert report["status"] == "degraded", report
        assert not report["checks"]["work"]["ok"], json.dumps(report["checks"], ensure_ascii=False)
        assert re.search(r"\d+ pages waiting for OCR with no worker holding them, the oldest 1\d\d s",
                         report["checks"]["work"]["detail"]), report["checks"]["work"]

        restarted = time.monotonic()
        restart_moment = utcnow()
        run_log = tmp_path / "restarted.log"
        with serving(env, log=run_log) as base:
            while True:
                with db.session() as s:
                    unheld = s.scalar(select(func_count()).select_from(Page).where(
                        Page.status != OcrStatus.DONE,
                        (Page.lease_at.is_(None)) | (Page.lease_at < restart_moment)))
                    without_workflow = s.scalar(select(func_count()).select_from(Application).where(
                        ~select(WorkflowStep.id).where(WorkflowStep.application_id == Application.id).exists()))
                if not unheld and not without_workflow:
                    break
                assert time.monotonic() - restarted < 60, (unheld, without_workflow, run_log.read_text()[-3000:])
                time.sleep(0.5)
            with db.session() as s:
                trackings = list(s.scalars(select(Application.tracking_number)))
            for tracking in trackings:
                pages = wait_until_read(base, token, tracking, run_log, timeout=240)
                assert [p["status"] for p in pages] == ["done"] * 3, pages
            deadline = time.monotonic() + 30
            while True:  # the report is at most a few seconds old
                with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
                    report = json.load(response)
                if report["checks"]["work"]["ok"]:
                    break
                assert time.monotonic() < deadline, report
                time.sleep(1)
        with db.session() as s:
            assert all(p.attempts <= 2 for p in s.scalars(select(Page)))  # resumed, not run over and over
    finally:
        db.dispose()


def func_count() -> Any:
    from sqlalchemy import func

    return func.count()
