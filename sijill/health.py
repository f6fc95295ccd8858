"""One health report over every backend, used by ``/healthz`` and by ``sijill check`` at start-up.

A full report costs a round trip to every backend (~100 ms or more), so ``/healthz`` answers from a
:class:`HealthCache`: a report at most :data:`REFRESH_SECONDS` old, recomputed by one caller at a time while the
others keep answering from the previous one. However often a load balancer or an attacker asks, the backends see
one round of checks every few seconds per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from archive.db import Database
from archive.models import utcnow
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
    critical: bool = True
    """A failed non-critical check (the search index lagging) makes the report ``degraded``, not ``failing``."""


def _timed(name: str, probe: Callable[[], str], *, critical: bool = True) -> CheckResult:
    started = time.perf_counter()
    try:
        detail, ok = probe(), True
    except Exception as exc:
        detail, ok = str(exc) or exc.__class__.__name__, False
    return CheckResult(name, ok, detail, round((time.perf_counter() - started) * 1000, 1), critical)


class IndexLagging(RuntimeError):
    """Changes in the database are not in the search index yet."""


def _index_lag_probe(settings: Settings, db: Database) -> Callable[[], str]:
    def probe() -> str:
        from archive_search.indexing import index_lag
        from search.engines import open_engine

        engine = open_engine(settings.search_url)
        try:
            with db.session() as session:
                lag = index_lag(session, engine)
        finally:
            engine.close()
        if lag.lagging:
            raise IndexLagging(f"The search index is behind: {lag.describe()}.")
        return lag.describe()

    return probe


def _storage_probe(url: str) -> Callable[[], str]:
    def probe() -> str:
        open_store(url).health()
        return "reachable"

    return probe


def _replication_probe(settings: Settings, db: Database) -> Callable[[], str]:
    """Fails when the oldest object still waiting for its replica copy waited longer than the alert threshold."""

    def probe() -> str:
        from archive.replication import replication_lag

        assert settings.replica_url
        open_store(settings.replica_url).health()
        with db.session() as session:
            lag = replication_lag(session)
        age = lag.age(utcnow())
        limit = timedelta(minutes=settings.replication_lag_alert_minutes)
        text = f"{lag.pending} objects waiting, oldest {int(age.total_seconds())} s"
        if age > limit:
            minutes = settings.replication_lag_alert_minutes
            raise RuntimeError(f"replication is behind: {text} (alert after {minutes} min)")
        return text

    return probe


def _fixity_probe(db: Database) -> str:
    from archive.fixity import unrepairable_count

    with db.session() as session:
        lost = unrepairable_count(session)
    if lost:
        raise RuntimeError(f"{lost} stored objects failed their fixity check and could not be repaired")
    return "no unrepaired damage"


class NotificationsLate(RuntimeError):
    """Citizens' messages wait longer than they should: the mail server or SMS gateway refuses, or no worker sends."""


def _notifications_probe(db: Database) -> str:
    from notify.delivery import BACKLOG_ALERT, backlog

    late = backlog(db)
    minutes = int(BACKLOG_ALERT.total_seconds() // 60)
    if late.late:
        assert late.oldest is not None
        raise NotificationsLate(
            f"{late.late} notifications unsent after {minutes} min (the oldest written {late.oldest:%Y-%m-%d %H:%M} "
            "UTC); see the delivery attempts for the senders' answers"
        )
    return f"none waiting longer than {minutes} min"


def _retention_probe(settings: Settings, db: Database) -> Callable[[], str]:
    """Fails when records should be held (SIJILL_RETENTION_YEARS) but the bucket has no object lock."""

    def probe() -> str:
        from archive.retention import retention_status

        with db.session() as session:
            return retention_status(session, open_store(settings.storage_url))

    return probe


class WorkStuck(RuntimeError):
    """Work a crash left behind has waited longer than the recovery should take."""


def _stuck_work_probe(db: Database) -> str:
    from intake.recovery import STUCK_AFTER, stuck_work

    now = utcnow()
    with db.session() as session:
        stuck = stuck_work(session, now=now)
    if stuck:
        raise WorkStuck("; ".join(s.describe(now) for s in stuck))
    return f"nothing waiting unheld longer than {int(STUCK_AFTER.total_seconds())} s"


def run_checks(settings: Settings, db: Database) -> list[CheckResult]:
    """Check database, storage, search and broker; each check is independent and bounded by a short timeout."""
    results = [
        _timed("database", db.check),
        _timed("storage", _storage_probe(settings.storage_url)),
        _timed("search", lambda: check_search(settings.search_url)),
        _timed("broker", lambda: check_broker(settings)),
        _timed("fixity", lambda: _fixity_probe(db)),
        _timed("search_index", _index_lag_probe(settings, db), critical=False),
        _timed("notifications", lambda: _notifications_probe(db), critical=False),
        _timed("work", lambda: _stuck_work_probe(db), critical=False),
    ]
    if settings.replica_url:
        results.append(_timed("replication", _replication_probe(settings, db)))
    if settings.retention_years:
        results.append(_timed("retention", _retention_probe(settings, db)))
    return results


def report(results: list[CheckResult]) -> dict[str, Any]:
    """``failing`` if a critical check failed, ``degraded`` if only a non-critical one did, else ``ok``."""
    if not all(r.ok for r in results if r.critical):
        status = "failing"
    elif not all(r.ok for r in results):
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "checks": {r.name: {k: v for k, v in asdict(r).items() if k not in ("name", "critical")} for r in results},
    }


PUBLIC_STATUS = {"ok": "up", "degraded": "degraded", "failing": "down"}
"""What anyone may learn: the word for the report's status, nothing of its checks."""

REFRESH_SECONDS = 5.0
"""The age after which the next caller recomputes the report."""


def public_report(detailed: dict[str, Any]) -> dict[str, Any]:
    return {"status": PUBLIC_STATUS[detailed["status"]]}


class HealthCache:
    """The latest report, recomputed when older than ``max_age`` seconds by exactly one thread (single flight).

    Callers that find a stale report while another thread recomputes get the stale one at once; only callers that
    find no report at all wait for the first.
    """

    def __init__(
        self,
        compute: Callable[[], dict[str, Any]],
        *,
        max_age: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._report: dict[str, Any] | None = None
        self._made_at = 0.0
        self.computed = 0
        """How many times a report was computed (for tests and metrics)."""

    def _fresh(self) -> bool:
        return self._report is not None and self._clock() - self._made_at < self._max_age

    def get(self) -> dict[str, Any]:
        """The report, with ``checked_at`` (UTC) and ``age_seconds``."""
        if not self._fresh():
            if self._lock.acquire(blocking=self._report is None):
                try:
                    if not self._fresh():
                        report = self._compute()
                        report["checked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                        self._report, self._made_at = report, self._clock()
                        self.computed += 1
                finally:
                    self._lock.release()
        assert self._report is not None
        return {**self._report, "age_seconds": round(self._clock() - self._made_at, 1)}

    def expire(self) -> None:
        """Forget the report: the next caller computes a new one (after a known change, and in tests)."""
        with self._lock:
            self._report = None
