"""How long the search index's lag check reads the database, with and without the indexes of migration 0012.

``/healthz`` and the ``search.catch_up`` beat job both ask the database which applications changed in the last day
(:func:`archive_search.indexing.recent_versions`): applications by ``updated_at``, pages by ``finished_at`` and workflow
steps by ``decided_at``. This script fills a database with N applications (3 documents of one page each and 3
workflow steps apiece, all a month old) plus 50 changed in the last hour, then times that query with the indexes and
after dropping them, in one run. Prints Markdown for docs/PERFORMANCE.md::

    .venv/bin/python bench/index_lag.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/index_lag.py                      # SQLite in a temporary directory
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from archive.db import Database
from archive.migrate import upgrade
from archive.models import Application, Centre, Document, Page, Service, WorkflowStep
from archive_search.indexing import LAG_WINDOW, recent_versions
from bench._common import load_average, machine_lines, table
from intake.catalogue import load_catalogue, sync_catalogue

INDEXES = (("applications", "updated_at"), ("pages", "finished_at"), ("workflow_steps", "decided_at"))
RECENT = 50
CHUNK = 5_000


def fill(db: Database, records: int, now: datetime) -> None:
    """Core inserts (no ORM hooks): ``records`` month-old applications and :data:`RECENT` changed an hour ago."""
    with db.session() as session:
        session.add(Centre(code="SOH-01", name_ar="سوهاج", name_en="Sohag", governorate_code="26"))
        sync_catalogue(session, load_catalogue())
    with db.session() as session:
        centre_id = session.query(Centre.id).scalar()
        service = session.query(Service).filter_by(code="BUILD-PERMIT").one()
        service_id, version = service.id, service.catalogue_version
    old, recent = now - timedelta(days=30), now - timedelta(hours=1)
    with db.engine.begin() as conn:
        for start in range(1, records + RECENT + 1, CHUNK):
            ids = range(start, min(start + CHUNK, records + RECENT + 1))
            at = {i: (recent if i > records else old) for i in ids}
            conn.execute(insert(Application), [{
                "id": i, "tracking_number": f"SOH-01-2026-{i:07d}", "centre_id": centre_id, "service_id": service_id,
                "service_code": "BUILD-PERMIT", "catalogue_version": version, "applicant_name": "محمد أحمد علي",
                "national_id": "29001012601234", "applicant_phone": "01012345678", "details": {}, "status": "approved",
                "missing_documents": [], "channel": "window", "created_at": old, "due_at": old, "updated_at": at[i],
            } for i in ids])  # fmt: skip
            conn.execute(insert(Document), [{
                "id": i * 3 + d, "application_id": i, "requirement": "DEED", "filename": "deed.png",
                "media_type": "image/png", "sha256": "ab" * 32, "size_bytes": 1, "page_count": 1,
                "ocr_status": "done", "created_at": old,
            } for i in ids for d in range(3)])  # fmt: skip
            conn.execute(insert(Page), [{
                "id": i * 3 + d, "document_id": i * 3 + d, "index": 0, "status": "done", "attempts": 1,
                "finished_at": at[i],
            } for i in ids for d in range(3)])  # fmt: skip
            conn.execute(insert(WorkflowStep), [{
                "id": i * 3 + p, "application_id": i, "position": p, "step": "review", "role": "reviewer",
                "department": "engineering", "title_ar": "مراجعة", "title_en": "Review", "signs": False,
                "status": "done", "decided_at": at[i],
            } for i in ids for p in range(3)])  # fmt: skip
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def time_query(db: Database, now: datetime, runs: int) -> tuple[float, int]:
    """Median milliseconds of :func:`recent_versions` over ``runs`` and how many applications it found."""
    times, found = [], 0
    for _ in range(runs):
        with db.session() as session:
            started = time.perf_counter()
            found = len(recent_versions(session, now - LAG_WINDOW))
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", help="an admin URL of a PostgreSQL server (a scratch database is made)")
    args = parser.parse_args()

    scratch: str | None = None
    if args.database_url:
        from tests.fixtures.postgres import create_database, drop_database

        scratch = url = create_database(args.database_url)
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='sijill-bench-')}/{uuid.uuid4().hex}.sqlite3"
    upgrade(url)
    db = Database(url)
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        fill(db, args.records, now)
        filled = time.perf_counter() - started
        with_indexes, found = time_query(db, now, args.runs)
        with db.engine.begin() as conn:
            for table_name, column in INDEXES:
                conn.execute(text(f"DROP INDEX ix_{table_name}_{column}"))
            if db.engine.dialect.name == "postgresql":
                conn.execute(text("ANALYZE"))
        without, found_without = time_query(db, now, args.runs)
        assert found == found_without == RECENT, (found, found_without)
    finally:
        db.dispose()
        if scratch and args.database_url:
            drop_database(args.database_url, scratch)

    dialect = db.engine.dialect.name
    print(f"### Lag check: {args.records:,} applications and {RECENT} changed in the last hour ({dialect})")
    print()
    print("\n".join(line for line in machine_lines() if line.startswith(("- Date", "- Machine"))))
    print(f"- Command: `.venv/bin/python bench/index_lag.py --records {args.records}"
          + (" --database-url …`" if args.database_url else "`"))
    print(f"- Filling the database took {filled:.0f} s; load average at the end: {load_average()}")
    print()
    print(table([f"query (`recent_versions`, median of {args.runs})", "ms"],
                [["with the indexes of migration 0012", f"{with_indexes:.1f}"],
                 ["without them", f"{without:.1f}"]]))

if __name__ == "__main__":
    main()
