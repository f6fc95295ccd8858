"""What one ``/healthz`` answer costs, from the cached report and with a full round of checks, in one run.

The app on a migrated SQLite database in a temporary directory (single-machine defaults), called through Flask's
test client as a remote caller (the public form): 300 answers from the cached report, then 20 with the cache
emptied first (every backend checked). Prints Markdown for docs/PERFORMANCE.md::

    .venv/bin/python bench/healthz.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.migrate import upgrade
from bench._common import machine_lines, table
from sijill.settings import Settings
from web import create_app


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sijill-healthz-") as tmp:
        settings = Settings.from_env({"SIJILL_DATA_DIR": tmp + "/data", "SIJILL_ENV": "test"})
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        app = create_app(settings)
        client = app.test_client()
        remote = {"REMOTE_ADDR": "203.0.113.7"}
        health = app.extensions["sijill"].health
        client.get("/healthz", environ_base=remote)

        def timed(expire: bool) -> float:
            if expire:
                health.expire()
            started = time.perf_counter()
            client.get("/healthz", environ_base=remote)
            return (time.perf_counter() - started) * 1000

        cached = sorted(timed(False) for _ in range(300))
        full = sorted(timed(True) for _ in range(20))
    print("### `/healthz`\n")
    print("\n".join(machine_lines()) + "\n")
    rows = [
        ["from the cached report (what callers get)", f"{statistics.median(cached):.1f}", f"{cached[269]:.1f}"],
        ["a full round of checks (once per 5 s per process)", f"{statistics.median(full):.0f}", f"{full[17]:.0f}"],
    ]
    print(table(["answer", "median ms", "p90 ms"], rows))


if __name__ == "__main__":
    main()
