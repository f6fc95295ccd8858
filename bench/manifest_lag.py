"""The archive's recovery point under load: how long after a burst of registrations every one is described by a
manifest in the object store.

Starts ``sijill run`` (web app and the default worker: two processes on two cores, embedded broker, SQLite) in a
temporary data directory, registers N applications through the API as fast as K client threads can (one scanned
page each, so OCR competes for the same two worker processes, as at a real window), and polls the database for
``applications.manifest_at`` (set only once the manifest is in the store). Prints Markdown for
docs/PERFORMANCE.md::

    .venv/bin/python bench/manifest_lag.py                  # 100 applications, 4 client threads
    .venv/bin/python bench/manifest_lag.py --applications 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from archive.db import Database
from archive.models import Application
from bench._common import load_average, machine_lines, table
from tests.sijill_process import run_sijill, serving, sijill_env
from tests.test_end_to_end import encode, multipart, page

FIELDS = {
    "service_code": "VALIDITY", "applicant_name": "سعاد محمود حسن", "national_id": "29001012601235",
    "applicant_phone": "01012345678", "details.plot_number": "15", "details.district": "الكوثر",
    "details.area_m2": "300", "incomplete_reason": "المستندات الباقية تُسلَّم لاحقًا",
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sijill-manifest-lag-") as tmp:
        data = Path(tmp) / "data"
        env = sijill_env(data)
        for command in (("db", "upgrade"), ("demo",)):
            done = run_sijill(env, *command)
            assert done.returncode == 0, done.stderr
        token = run_sijill(env, "users", "token", "demo.clerk").stdout.strip()
        scan = encode([page(["بطاقة الرقم القومي"]).convert("RGB")], "JPEG")
        body, content_type = multipart(FIELDS, [("doc.ID_COPY", "id.jpg", scan)])
        registered: dict[str, float] = {}
        lock = threading.Lock()
        with serving(env, log=Path(tmp) / "run.log") as base:
            todo = list(range(args.applications))

            def client() -> None:
                while True:
                    with lock:
                        if not todo:
                            return
                        todo.pop()
                    request = urllib.request.Request(  # noqa: S310 (our own server on loopback)
                        base + "/api/v1/applications", data=body, method="POST",
                        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                    )
                    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                        tracking = json.load(response)["tracking_number"]
                    with lock:
                        registered[tracking] = time.monotonic()

            started = time.monotonic()
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            described: dict[str, float] = {}
            db = Database(f"sqlite:///{data / 'sijill.sqlite3'}")
            try:
                while any(t.is_alive() for t in threads) or not set(registered) <= set(described):
                    with db.session() as session:
                        rows = session.execute(
                            select(Application.tracking_number).where(Application.manifest_at.is_not(None))
                        ).all()
                    now = time.monotonic()
                    for (tracking,) in rows:
                        described.setdefault(tracking, now)
                    if time.monotonic() - started > 600:
                        break
                    time.sleep(0.25)
            finally:
                db.dispose()
            last_registered = max(registered.values())
            lags = [described[t] - registered[t] for t in registered if t in described]
            load = load_average()
    print(f"### Archive recovery point: {args.applications} registrations, {args.clients} client threads\n")
    print("\n".join(machine_lines()))
    print(f"- Load average at the end: {load}\n")
    rows = [
        ["registrations", str(len(registered))],
        ["burst duration (first request to last 201)", f"{last_registered - started:.1f} s"],
        ["all described in the archive, after the last 201",
         f"{max(described[t] for t in registered if t in described) - last_registered:.1f} s"],
        ["lag per application (201 to manifest): median", f"{statistics.median(lags):.1f} s"],
        ["lag per application: max", f"{max(lags):.1f} s"],
        ["not described after 10 minutes", str(args.applications - len(lags))],
    ]
    print(table(["measure", "value"], rows))


if __name__ == "__main__":
    main()
