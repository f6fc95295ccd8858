#!/usr/bin/env python3
"""Verification page throughput: requests per second of the public QR-code page on loopback, measured with `wrk`.

What is measured, against ONE issued permit (two DEMO signatures, built in a temporary data directory the way
`tests/test_routing.py::test_full_path_to_an_issued_permit_and_its_revocation` builds it) on 127.0.0.1 (SQLite), by
each server under test: the production server, gunicorn as `sijill run --workers N` starts it (`sijill.serve`: one
worker process per core, 4 threads each, each building its own app after the fork), and, for comparison, waitress in
one process (8 threads, the default of `sijill run` on a single machine). Beside the page, the same server answers a
trivial endpoint (`/bench/ping`, a registered Flask view returning a short text: routing, the WSGI server and wrk only)
as the ceiling the page is compared with, in the same run.

1. The first, uncached request: `/v/<number>/<token>` and `/api/v1/verify/<number>/<token>` right after the
   validation cache (`web.verify.model.ReportCache`, per archived revision) is cleared, median of a few tries, and
   the same request once cached.
2. `wrk -t2 -c16 -d15s --latency` on the trivial endpoint, the HTML page (served from `web.verify.pagecache`, one
   indexed query per hit), the JSON answer and a forged token (the 404 path): requests/s and latency p50/p90/p99, and
   the page's requests/s as a share of the trivial endpoint's.
3. (waitress, in this process) The default rate limit (`SIJILL_VERIFY_LIMIT`, 60 per minute per client
   address): 80 requests one after the other
   and a short `wrk` run from one address, to show what a single client really gets.

For 1 and 2 the read limit is raised to "1000000 per minute" so it does not cap the measurement. `wrk` and the server
share the machine's cores: the numbers are a floor for the server alone.

    .venv/bin/python bench/verify.py                        # ~2 min
    .venv/bin/python bench/verify.py --duration 5           # quick look
    .venv/bin/python bench/verify.py --servers gunicorn     # the production server only

Needs `wrk` (Debian: `apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import io
import json
import logging
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ROOT, _cpu_model, _memory_gib, load_average, table

sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session
from waitress.server import create_server

import web
import workflow.routing as routing
from archive.db import Database
from archive.migrate import upgrade
from archive.models import Application, Centre, Permit, User
from archive.roles import Role
from archive.store import open_store
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from intake.service import Upload, register_application
from ocr.limits import Limits
from signing.dev_pki import create_demo_pki
from signing.signers import Pkcs12Credential, open_signer
from sijill.serve import default_workers, serve
from sijill.settings import Settings
from web.permissions import public
from web.ratelimit import DEFAULT_READ_LIMIT, READ_LIMIT_KEY, UPLOAD_LIMIT_KEY
from web.verify.model import report_cache
from web.verify.pagecache import page_cache

PKI_PASSWORD = b"demo-pki-password"
PROPERTY = {"plot_number": "12/ب", "street": "شارع الجمهورية", "district": "الكوثر", "area_m2": "250"}
STAFF: dict[str, tuple[set[Role], str | None, str | None]] = {
    "clerk": ({Role.CLERK}, None, "SOH-01"),
    "reviewer": ({Role.REVIEWER}, "engineering", "SOH-01"),
    "head.eng": ({Role.SIGNER}, "engineering", "SOH-01"),
    "council.head": ({Role.SIGNER}, "council", "SOH-01"),
    "admin": ({Role.ADMIN}, None, None),
}
LIMITED_TRIES = 80
SIGNERS = [("head.eng", "رئيس الإدارة الهندسية - تجريبي"), ("council.head", "رئيس مجلس المدينة - تجريبي")]


@dataclass(frozen=True)
class IssuedPermit:
    number: str
    token: str
    pdf: bytes


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 160), 255).save(out, format="PNG")
    return out.getvalue()


def _user(session: Session, ids: dict[str, int], name: str) -> User:
    user = session.get(User, ids[name])
    assert isinstance(user, User)
    return user


def issue_permit(settings: Settings, work: Path) -> IssuedPermit:
    """Migrate, seed, register an application and carry it to an issued permit with two DEMO signatures."""
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    store = open_store(settings.storage_url)
    now = datetime.now(UTC).replace(microsecond=0)
    ids: dict[str, int] = {}
    with database.session() as s:
        s.add(Centre(code="SOH-01", name_ar="مركز خدمات المواطنين بسوهاج", name_en="Sohag", governorate_code="26"))
        s.flush()
        sync_catalogue(s, load_catalogue())
        for name, (roles, department, centre) in STAFF.items():
            user = create_user(s, name, "long enough pw", roles, f"الموظف {name}", centre)
            user.department = department
            ids[name] = user.id

    pki = create_demo_pki(work / "demo-pki", SIGNERS, PKI_PASSWORD)
    with database.session() as s:
        routing.add_trust_root(s, "DEMO root", pki.root_cert_path.read_bytes())
        for key, _name in SIGNERS:
            bundle = pki.load_signer(key, PKI_PASSWORD)
            assert bundle.cert is not None
            routing.register_certificate(s, _user(s, ids, key), bundle.cert.certificate.public_bytes(Encoding.PEM),
                                         by=_user(s, ids, "admin"), label="DEMO")

    # keep the token: it is only ever stored hashed, so catch it on its way into the QR code
    tokens: list[str] = []
    original: Callable[[], str] = routing.new_verification_token

    def capture() -> str:
        tokens.append(original())
        return tokens[-1]

    routing.new_verification_token = capture
    service = next(d for d in load_catalogue().services if d.code == "BUILD-PERMIT")
    required = [document.code for document in service.required_documents]  # no permit while one is missing
    try:
        with database.session() as s:
            result = register_application(
                s, store, centre_code="SOH-01", service_code="BUILD-PERMIT", applicant_name="محمد أحمد علي",
                national_id="29001012601234", applicant_phone="01012345678", details=PROPERTY,
                uploads=[Upload(code, f"{code.lower()}.png", io.BytesIO(_png())) for code in required],
                created_by=_user(s, ids, "clerk"), channel="window", incomplete_reason=None, limits=Limits(), now=now,
            )
            app = result.application
            routing.ensure_workflow(s, app, now=now)
            routing.decide(s, app, _user(s, ids, "reviewer"), "recommend", now=now)
            permit = routing.prepare_permit(s, store, app, base_url=settings.base_url, now=now)
            number, app_id = permit.permit_number, app.id
    finally:
        routing.new_verification_token = original
    for key, at in (("head.eng", now), ("council.head", now + timedelta(minutes=5))):
        credential = Pkcs12Credential(pki.signer(key).pkcs12_path, PKI_PASSWORD)
        with database.session() as s, open_signer(credential) as signer:
            application = s.get(Application, app_id)
            assert application is not None
            routing.sign_step(s, store, application, _user(s, ids, key), signer, now=at, revocation="off")
    with database.session() as s:
        status, current = s.execute(select(Permit.status, Permit.current_pdf_sha256)
                                    .where(Permit.application_id == app_id)).one()
    database.dispose()
    if status != "issued" or len(tokens) != 1:
        raise SystemExit(f"the permit was not issued (status {status!r}, {len(tokens)} token(s))")
    return IssuedPermit(number, tokens[0], store.get_bytes(current))


@dataclass
class Flood:
    uploads: list[tuple[str, str, float]]
    """(file, verdict kind, seconds) of each hostile upload."""
    staff: list[float]
    """Seconds of each staff page answered during the flood."""
    staff_before: list[float]
    staff_errors: int


def post_pdf(url: str, data: bytes) -> tuple[str, float]:
    started = time.perf_counter()
    request = urllib.request.Request(  # noqa: S310 - our own http://127.0.0.1 URL
        url, data=data, method="POST", headers={"Content-Type": "application/pdf"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own http://127.0.0.1 URL
            kind = json.loads(response.read())["kind"]
    except urllib.error.HTTPError as exc:
        kind = json.loads(exc.read()).get("kind", str(exc.code))
    return kind, time.perf_counter() - started


def flood(check_url: str, staff_url: str, pdf: bytes, seconds: float, uploaders: int) -> Flood:
    """Hostile uploads from ``uploaders`` clients for ``seconds`` while one staff client keeps loading a page."""
    from tests.test_copycheck import noop_revisions

    files = {
        "1,000 no-op revisions": noop_revisions(pdf, 1000),
        "19 MB padded": pdf + b"%" + b" " * (19 * 1024 * 1024) + b"\n",
        "60 no-op revisions (validated)": noop_revisions(pdf, 60),
        "the genuine permit": pdf,
    }
    names = list(files)
    before = [get(staff_url)[1] for _ in range(20)]
    stop = time.perf_counter() + seconds
    uploads: list[tuple[str, str, float]] = []
    staff: list[float] = []
    errors = 0
    lock = threading.Lock()

    def uploader(index: int) -> None:
        turn = index
        while time.perf_counter() < stop:
            name = names[turn % len(names)]
            kind, took = post_pdf(check_url, files[name])
            with lock:
                uploads.append((name, kind, took))
            turn += 1

    threads = [threading.Thread(target=uploader, args=(i,)) for i in range(uploaders)]
    for t in threads:
        t.start()
    while time.perf_counter() < stop:
        status, took = get(staff_url)
        staff.append(took)
        errors += status != 200
    for t in threads:
        t.join()
    return Flood(uploads, staff, before, errors)


# --- serving and measuring ----------------------------------------------------------------------------------------


def get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own http://127.0.0.1 URL
            response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - started


def cold_and_warm(app: Flask, url: str, tries: int) -> tuple[float, float, int]:
    """Median seconds of the first request after the validation cache is cleared, and of a cached one; status."""
    cold: list[float] = []
    warm: list[float] = []
    status = 0
    for _ in range(tries):
        with app.app_context():
            report_cache().clear()
            page_cache().clear()
        status, seconds = get(url)
        cold.append(seconds)
        warm.append(min(get(url)[1] for _ in range(3)))
    return statistics.median(cold), statistics.median(warm), status


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50: str
    p90: str
    p99: str
    non_2xx: int
    errors: str


def run_wrk(url: str, threads: int, connections: int, duration: int) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True).stdout

    def grab(pattern: str, default: str = "") -> str:
        match = re.search(pattern, out, re.MULTILINE)
        return match.group(1) if match else default

    return WrkResult(
        requests=int(grab(r"^\s*(\d+) requests in", "0")),
        rps=float(grab(r"^Requests/sec:\s*([\d.]+)", "0")),
        p50=grab(r"^\s*50%\s+(\S+)", "?"),
        p90=grab(r"^\s*90%\s+(\S+)", "?"),
        p99=grab(r"^\s*99%\s+(\S+)", "?"),
        non_2xx=int(grab(r"Non-2xx or 3xx responses:\s*(\d+)", "0")),
        errors=grab(r"Socket errors:\s*(.+)$", "none").strip(),
    )


gunicorn_version = importlib.metadata.version("gunicorn")


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].split(" [")[0].strip() if (out.stdout or out.stderr) else "?"


def bench_app(settings: Settings, read_limit: str) -> Flask:
    """The app as `sijill run` builds it, with the read limit given and the trivial endpoint added."""
    app = web.create_app(settings)
    app.config[READ_LIMIT_KEY] = read_limit
    app.add_url_rule("/bench/ping", "bench_ping", public(lambda: "pong"))
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not answer {url}")
        time.sleep(0.2)


def _gunicorn_child(settings: Settings, port: int, workers: int, threads: int) -> None:
    logging.getLogger("gunicorn.error").setLevel(logging.WARNING)
    serve(lambda: bench_app(settings, "1000000 per minute"), host="127.0.0.1", port=port, workers=workers,
          threads=threads)


def start_gunicorn(settings: Settings, workers: int, threads: int) -> tuple[str, Callable[[], None]]:
    """gunicorn as `sijill run` starts it (`sijill.serve.serve`), in a forked child; its base URL and a stopper."""
    port = free_port()
    child = multiprocessing.get_context("fork").Process(
        target=_gunicorn_child, args=(settings, port, workers, threads), daemon=False)
    child.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/bench/ping")

    def stop() -> None:
        if child.pid is not None:
            os.kill(child.pid, signal.SIGTERM)
        child.join(30)

    return base, stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--servers", default="gunicorn,waitress", help="servers to load (default gunicorn,waitress)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="gunicorn workers (default one per core)")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--server-threads", type=int, default=8, help="waitress threads (default 8)")
    parser.add_argument("--ratelimit-storage", default="memory://",
                        help="SIJILL_RATELIMIT_STORAGE_URL, e.g. redis://127.0.0.1:6379/3 as in production with "
                             "several processes (default memory://, per process)")
    parser.add_argument("--cold-tries", type=int, default=5, help="uncached first requests to time (default 5)")
    parser.add_argument("--flood-seconds", type=float, default=10, help="hostile upload flood (default 10 s)")
    parser.add_argument("--uploaders", type=int, default=6, help="concurrent hostile uploaders (default 6)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]

    with tempfile.TemporaryDirectory(prefix="sijill-verify-bench-") as tmp:
        work = Path(tmp)
        settings = Settings.from_env({"SIJILL_DATA_DIR": str(work / "data"), "SIJILL_ENV": "test",
                                      "SIJILL_RATELIMIT_STORAGE_URL": args.ratelimit_storage})
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        permit = issue_permit(settings, work)
        setup_s = time.perf_counter() - started
        forged = permit.token[:-1] + ("X" if permit.token[-1] != "X" else "Y")

        def urls(base: str) -> dict[str, str]:
            return {
                "Trivial endpoint `/bench/ping` (ceiling)": f"{base}/bench/ping",
                "HTML page `/v/<number>/<token>`": f"{base}/v/{permit.number}/{permit.token}",
                "JSON `/api/v1/verify/<number>/<token>`": f"{base}/api/v1/verify/{permit.number}/{permit.token}",
                "Forged token (404)": f"{base}/v/{permit.number}/{forged}",
            }

        def load(base: str) -> dict[str, WrkResult]:
            for url in urls(base).values():
                for _ in range(args.workers * args.worker_threads):
                    get(url)  # warm every worker's caches and first template render before the load
            return {label: run_wrk(url, args.threads, args.connections, args.duration)
                    for label, url in urls(base).items()}

        results: dict[str, dict[str, WrkResult]] = {}
        if "gunicorn" in servers:
            base, stop = start_gunicorn(settings, args.workers, args.worker_threads)
            try:
                results["gunicorn"] = load(base)
            finally:
                stop()

        app = bench_app(settings, "1000000 per minute")
        server = create_server(app, host="127.0.0.1", port=0, threads=args.server_threads)
        port = int(server.effective_port)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        try:
            cold_rows = []
            for label, url in list(urls(base).items())[1:3]:
                cold, warm, status = cold_and_warm(app, url, args.cold_tries)
                cold_rows.append((label, status, f"{cold * 1000:.0f}", f"{warm * 1000:.1f}"))
            if "waitress" in servers:
                results["waitress"] = load(base)
                time.sleep(2)  # wrk leaves requests queued in waitress: let them drain before the limit comes back
            app.config[READ_LIMIT_KEY] = DEFAULT_READ_LIMIT
            limited_url = urls(base)["HTML page `/v/<number>/<token>`"] + "?limited"
            statuses = [get(limited_url)[0] for _ in range(LIMITED_TRIES)]
            limited_s = 5
            refused = run_wrk(limited_url, 1, 4, limited_s)
            app.config[UPLOAD_LIMIT_KEY] = "1000000 per minute"
            check_url = f"{base}/api/v1/verify/{permit.number}/{permit.token}/check"
            flooded = flood(check_url, f"{base}/login", permit.pdf, args.flood_seconds, args.uploaders)
        finally:
            time.sleep(1)  # let waitress finish writing the last answers before its sockets close
            server.close()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wrk_cmd = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency"
    print(f"- Date: {dt.date.today().isoformat()}")
    print(f"- Machine: {cores} cores ({_cpu_model()}), {_memory_gib():.0f} GiB RAM, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}; `wrk` and the server share these cores")
    print(f"- Software: {wrk_version()}; gunicorn {gunicorn_version} ({args.workers} workers x "
          f"{args.worker_threads} threads, gthread); waitress ({args.server_threads} threads, one process); SQLite, "
          f"rate-limit storage {args.ratelimit_storage}; one issued permit with two DEMO signatures")
    print("- Command: `.venv/bin/python bench/verify.py`"
          + (f" (this run: `{' '.join(sys.argv[1:])}`)" if sys.argv[1:] else ""))
    print(f"- Load average when the numbers were printed (1/5/15 min): {load_average()}")
    print(f"- Setting up the issued permit (migrate, seed, DEMO PKI, two signatures): {setup_s:.1f} s")
    print()
    print(f"First request (waitress, in process) after the validation and page caches are cleared (median of "
          f"{args.cold_tries}), and once cached:")
    print()
    print(table(["Request", "Status", "Uncached (ms)", "Cached (ms)"], cold_rows))
    print()
    print(f"`{wrk_cmd} URL`, read limit raised to 1000000 per minute:")
    print()
    rows = []
    for name, by_url in results.items():
        ceiling = next(iter(by_url.values())).rps or 1.0
        rows += [(name, label, f"{r.rps:,.0f}", f"{r.rps / ceiling:.0%}", r.requests, r.p50, r.p90, r.p99,
                  r.non_2xx, r.errors) for label, r in by_url.items()]
    print(table(["Server", "URL", "Requests/s", "Of trivial", "Requests", "p50", "p90", "p99", "Non-2xx",
                 "Socket errors"], rows))
    print()
    print(f"With the default limit ({DEFAULT_READ_LIMIT} per address), {LIMITED_TRIES} requests one after the other "
          f"from one address: {statuses.count(200)} answered 200, {statuses.count(429)} refused with 429. Then "
          f"`wrk -t1 -c4 -d{limited_s}s` on the same URL: {refused.rps:,.0f} requests/s, "
          f"{refused.requests - refused.non_2xx} of {refused.requests:,} answered 200 (the rest 429).")
    print()
    print(f"Hostile uploads: {args.uploaders} clients posting to `/api/v1/verify/…/check` for "
          f"{args.flood_seconds:.0f} s (upload limit raised), while one staff client loads `/login` over and over:")
    print()
    rows = []
    for name in dict.fromkeys(n for n, _, _ in flooded.uploads):
        mine = [(k, t) for n, k, t in flooded.uploads if n == name]
        kinds = ", ".join(f"{k} ×{c}" for k, c in sorted({k: sum(1 for x, _ in mine if x == k) for k, _ in mine}
                                                             .items()))
        times = sorted(t for _, t in mine)
        rows.append((name, len(mine), kinds, f"{statistics.median(times):.2f}", f"{times[-1]:.2f}"))
    print(table(["Upload", "Answers", "Verdicts", "Median (s)", "Max (s)"], rows))
    print()
    staff = sorted(flooded.staff)
    print(f"Staff page `/login`: before the flood median {statistics.median(flooded.staff_before) * 1000:.0f} ms; "
          f"during it {len(staff)} answers ({flooded.staff_errors} not 200), median "
          f"{statistics.median(staff) * 1000:.0f} ms, p90 {staff[int(len(staff) * 0.9)] * 1000:.0f} ms, "
          f"max {staff[-1] * 1000:.0f} ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
