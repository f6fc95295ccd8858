"""One health report over every backend, used by ``/healthz`` and by ``sijill check`` at start-up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from archive.db import Database
from archive.store import open_store
from search.health import check_search
from sijill.settings import Settings
from worker.health import check_broker


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    ms: float


def _timed(name: str, probe: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail, ok = probe(), True
    except Exception as exc:
        detail, ok = str(exc) or exc.__class__.__name__, False
    return CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def _storage_probe(url: str) -> Callable[[], str]:
    def probe() -> str:
        open_store(url).health()
        return "reachable"

    return probe


def run_checks(settings: Settings, db: Database) -> list[CheckResult]:
    """Check database, storage, search and broker; each check is independent and bounded by a short timeout."""
    return [
        _timed("database", db.check),
        _timed("storage", _storage_probe(settings.storage_url)),
        _timed("search", lambda: check_search(settings.search_url)),
        _timed("broker", lambda: check_broker(settings)),
    ]


def report(results: list[CheckResult]) -> dict[str, Any]:
    return {
        "status": "ok" if all(r.ok for r in results) else "failing",
        "checks": {r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in results},
    }
