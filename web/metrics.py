"""``/metrics``: Prometheus text format (prometheus-client), for operators only (as the detailed ``/healthz``).

Two kinds of figures:

- **this web process's own**, counted as requests happen: request latencies by endpoint and status class, and the
  public verification checks by outcome (a verification runs in the web process). ``sijill run`` serves the app
  from one process (waitress threads), so one registry holds them all.
- **the archive's**, read from the database and the broker at each scrape, so the worker processes need no metrics
  of their own and nothing is lost when one restarts (no multiprocess files): OCR pages by status and the seconds
  spent on finished pages, signatures and other workflow transitions by action, fixity results, queue depths, and
  unheld work (:mod:`intake.recovery`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import DocumentSignature, FixityCheck, OcrStatus, Page, Transition, utcnow
from intake.recovery import stuck_work
from sijill.settings import Settings
from web.health import operator_may_see
from web.permissions import public

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)

VERIFY_ENDPOINTS = frozenset(
    {"verify.show", "verify.check", "api_verify.verify_permit", "api_verify.check_permit_copy"}
)


class ArchiveCollector(Collector):
    """Figures read from the database and the broker when Prometheus scrapes."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database

    def collect(self) -> Iterator[Any]:
        with self._database.session() as session:
            yield from self._database_figures(session)
        depths = GaugeMetricFamily("sijill_queue_messages", "Messages waiting in a broker queue", labels=["queue"])
        try:
            from worker.queues import queue_depths

            for queue, count in queue_depths(self._settings).items():
                depths.add_metric([queue], count)
        except Exception as exc:  # the broker is down: /healthz says so; the other figures are still worth having
            log.warning("queue depths unavailable: %s", exc)
        yield depths

    def _database_figures(self, session: Session) -> Iterator[Any]:
        pages = GaugeMetricFamily("sijill_ocr_pages", "Scanned pages by OCR status", labels=["status"])
        counts: dict[str, int] = {
            status: int(count)
            for status, count in session.execute(select(Page.status, func.count(Page.id)).group_by(Page.status))
        }
        for status in OcrStatus:
            pages.add_metric([status.value], int(counts.get(status.value, 0)))
        yield pages
        seconds = CounterMetricFamily("sijill_ocr_seconds", "Seconds from claim to result of the pages read")
        seconds.add_metric([], _ocr_seconds(session))
        yield seconds
        transitions = CounterMetricFamily(
            "sijill_workflow_transitions", "Workflow transitions by action (sign = a signature)", labels=["action"]
        )
        for action, count in session.execute(select(Transition.action, func.count(Transition.id)).group_by(
            Transition.action
        )):
            transitions.add_metric([action], int(count))
        yield transitions
        signatures = CounterMetricFamily("sijill_document_signatures", "Signatures recorded on documents")
        signatures.add_metric([], int(session.scalar(select(func.count(DocumentSignature.id))) or 0))
        yield signatures
        fixity = CounterMetricFamily("sijill_fixity_checks", "Fixity checks by result", labels=["result"])
        for result, count in session.execute(
            select(FixityCheck.result, func.count(FixityCheck.id)).group_by(FixityCheck.result)
        ):
            fixity.add_metric([result], int(count))
        yield fixity
        stuck = GaugeMetricFamily("sijill_unheld_work", "Work left behind longer than a minute", labels=["what"])
        oldest = GaugeMetricFamily("sijill_unheld_work_age_seconds", "Age of the oldest unheld work", labels=["what"])
        now = utcnow()
        for item in stuck_work(session, now=now):
            stuck.add_metric([item.what], item.count)
            oldest.add_metric([item.what], item.age(now).total_seconds())
        yield stuck
        yield oldest


def _ocr_seconds(session: Session) -> float:
    finished = (Page.status == OcrStatus.DONE) & Page.started_at.is_not(None) & Page.finished_at.is_not(None)
    spent: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        spent = func.extract("epoch", Page.finished_at - Page.started_at)
    else:
        spent = (func.julianday(Page.finished_at) - func.julianday(Page.started_at)) * 86400.0
    return float(session.scalar(select(func.coalesce(func.sum(spent), 0.0)).where(finished)) or 0.0)


class WebMetrics:
    """The registry of one app: request latencies, verification checks and the archive's figures."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "sijill_http_request_duration_seconds", "Time to answer a request", ["method", "endpoint", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.verifications = Counter(
            "sijill_verification_checks", "Public permit verifications by endpoint and HTTP status",
            ["endpoint", "status"], registry=self.registry,
        )
        self.registry.register(ArchiveCollector(settings, database))


def install(app: Flask) -> None:
    metrics = WebMetrics(app.extensions["sijill"].settings, app.extensions["sijill"].db)
    app.extensions["sijill_metrics"] = metrics

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        endpoint = request.endpoint or "unmatched"  # the rule's name, never the raw path: bounded labels
        status = f"{response.status_code // 100}xx"
        if started is not None:
            metrics.latency.labels(request.method, endpoint, status).observe(time.perf_counter() - started)
        if endpoint in VERIFY_ENDPOINTS:
            metrics.verifications.labels(endpoint, str(response.status_code)).inc()
        return response

    app.register_blueprint(bp)


@bp.route("/metrics")
@public
def metrics() -> Response:
    """Prometheus text format; 403 for anyone but an operator (see :func:`web.health.operator_may_see`)."""
    if not operator_may_see():
        abort(403)
    registry = current_app.extensions["sijill_metrics"].registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
