"""Celery tasks: thin adapters that unpack JSON arguments, call the real code and return JSON-able results.

Business logic lives in its own package (``ocr``, ``archive``, …) and is tested there without a broker; a task
here only translates between messages and function calls. Every task is a ``shared_task`` with an explicit,
stable ``name`` (the name is what travels in messages, so renaming a function must not break queued work) and
must be idempotent, because late acknowledgement means a task can run again after a worker dies.

Enqueue by name from a process that has a Settings object::

    create_celery(settings).send_task("worker.ping")
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from sqlalchemy.exc import OperationalError

from archive.db import DatabaseUnavailable
from archive.models import utcnow
from archive.store import StoreUnavailable
from archive.sweeper import sweep_unreferenced
from archive_search.indexing import application_of_page, catch_up, index_applications
from intake.digitise import LEASE, PageHeld, PageNotFound, digitise_page, mark_sent_again, orphaned_page_ids
from intake.recovery import WORKFLOW_GRACE
from ocr.errors import OcrFailed
from search.model import SearchError
from worker.runtime import worker_runtime

log = logging.getLogger(__name__)

# --- diagnostics --------------------------------------------------------------------------------


@shared_task(name="worker.ping", bind=True)
def ping(self: Task) -> dict[str, Any]:
    """Prove that a worker consumes from the broker and can store a result (smoke tests, operators)."""
    return {
        "pong": True,
        "pid": os.getpid(),
        "hostname": socket.gethostname(),
        "worker": self.request.hostname,
    }


# --- OCR ----------------------------------------------------------------------------------------

#: Faults worth another try later: the store, the database or Tesseract had a bad moment.
TRANSIENT = (StoreUnavailable, DatabaseUnavailable, OperationalError, OcrFailed, ConnectionError, TimeoutError)


@shared_task(name="ocr.page", bind=True, max_retries=5)
def ocr_page(self: Task, page_id: int) -> dict[str, Any]:
    """Read one page (idempotent: a page already done is not read again)."""
    rt = worker_runtime()
    try:
        outcome = digitise_page(rt.database, rt.store, int(page_id), limits=rt.limits, work_dir=rt.work_dir)
    except PageNotFound:
        return {"page_id": page_id, "status": "missing"}
    except PageHeld as exc:
        # Another worker holds the page under a live lease. It may be alive (this message is a duplicate) or dead
        # (this is the broker's redelivery of its message, the only copy left): look again once the lease would
        # have lapsed. Then the page is done (nothing to do) or free to claim; the recovery beat is the backstop.
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=LEASE.total_seconds() + 2) from exc
        return {"page_id": page_id, "status": "held by another worker"}
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc
    if outcome.document_done:
        # the document's OCR text is complete: index its application (a separate task, so a search outage
        # never makes the page be read again)
        with rt.database.session() as session:
            app_id = application_of_page(session, int(page_id))
        if app_id is not None:
            index_applications_task.apply_async(([app_id],), ignore_result=True)
    return asdict(outcome)


@shared_task(name="ocr.requeue_stale")
def requeue_stale_pages() -> dict[str, Any]:
    """Send again the pages nobody holds (see :func:`intake.digitise.orphaned_page_ids`); part of the recovery."""
    rt = worker_runtime()
    with rt.database.session() as session:
        ids = orphaned_page_ids(session)
        mark_sent_again(session, ids)
        session.commit()
    for page_id in ids:
        ocr_page.apply_async((page_id,))
    if ids:
        log.warning("recovery: sent %d pages again that no worker held: %s", len(ids), ids[:20])
    return {"requeued": ids}


@shared_task(name="recovery.reconcile")
def reconcile_after_crash() -> dict[str, Any]:
    """Resume what a crash left behind (:mod:`intake.recovery`): pages nobody holds, workflows not opened, manifests
    not written. Every 15 s on the beat and once when a worker starts; each part is idempotent."""
    from archive.manifest import applications_due, write_manifests_of
    from workflow.routing import open_pending_workflows

    rt = worker_runtime()
    pages = requeue_stale_pages()["requeued"]
    with rt.database.session() as session:
        opened = open_pending_workflows(session, older_than=WORKFLOW_GRACE)
        session.commit()
    with rt.database.session() as session:
        cutoff = utcnow() - WORKFLOW_GRACE  # younger changes are the per-change manifest task's
        due = [a.id for a in applications_due(session) if _aware(a.updated_at) < cutoff]
        manifests = write_manifests_of(session, rt.store, due)
    if opened or manifests:
        log.warning("recovery: opened %d workflows and wrote %d manifests left behind", opened, manifests)
    return {"pages": len(pages), "workflows": opened, "manifests": manifests}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@worker_ready.connect
def _recover_on_start(**_: Any) -> None:
    """A worker that starts (after a crash, a deploy) resumes what was left at once: run here, in a thread of the
    starting worker, not queued, so it never waits behind a backlog of other tasks; the beat repeats it every 15 s."""

    def run() -> None:
        try:
            reconcile_after_crash()
        except Exception:  # the database is not there yet: the beat runs it within 15 s
            log.warning("start-up recovery failed; the beat retries it", exc_info=True)

    threading.Thread(target=run, name="sijill-start-up-recovery", daemon=True).start()


@shared_task(name="archive.sweep")
def sweep_blobs() -> dict[str, Any]:
    """Remove objects nothing refers to, older than a day (a crash between storing and committing)."""
    rt = worker_runtime()
    with rt.database.session() as session:
        report = sweep_unreferenced(session, rt.store, grace=timedelta(days=1))
    return {"examined": report.examined, "deleted": len(report.deleted), "held": len(report.held)}


# --- routing ------------------------------------------------------------------------------------


@shared_task(name="routing.open_pending")
def open_pending() -> dict[str, Any]:
    """Open the workflow of every registered application that has none (the web, API and import open it right after
    registration; this catches what a failure there left behind). Idempotent."""
    from workflow.routing import open_pending_workflows  # PDF and signing libraries: loaded when first needed

    rt = worker_runtime()
    with rt.database.session() as session:
        opened = open_pending_workflows(session)
    return {"opened": opened}


# --- replication and fixity ---------------------------------------------------------------------


@shared_task(name="archive.replicate")
def replicate() -> dict[str, Any]:
    """Copy objects noted in the ledger to the replica (nothing to do without ``SIJILL_REPLICA_URL``)."""
    from archive.replication import replicate_pending

    rt = worker_runtime()
    if rt.store.replica is None:
        return {"copied": 0, "failed": 0, "replica": False}
    with rt.database.session() as session:
        run = replicate_pending(session, rt.store.primary, rt.store.replica)
    return {"copied": run.copied, "failed": run.failed, "replica": True}


@shared_task(name="archive.reconcile")
def reconcile() -> dict[str, Any]:
    """Note in the ledger every object of the primary store it lacks (writes whose ledger entry failed)."""
    from archive.replication import reconcile_ledger

    rt = worker_runtime()
    with rt.database.session() as session:
        added = reconcile_ledger(session, rt.store.primary)
    return {"added": added}


@shared_task(name="archive.retention")
def retention() -> dict[str, Any]:
    """Hold new originals and signed permits by S3 object lock for ``SIJILL_RETENTION_YEARS`` (off at 0)."""
    from archive.retention import apply_retention

    rt = worker_runtime()
    with rt.database.session() as session:
        run = apply_retention(session, rt.store, years=rt.settings.retention_years, mode=rt.settings.retention_mode)
    return {"retained": len(run.retained), "missing": run.missing, "remaining": run.remaining}


@shared_task(name="archive.fixity")
def fixity() -> dict[str, Any]:
    """Re-hash the ``SIJILL_FIXITY_BATCH`` objects checked longest ago; repair from the other copy; alert."""
    from archive.fixity import run_fixity

    rt = worker_runtime()
    with rt.database.session() as session:
        run = run_fixity(session, rt.store.primary, rt.store.replica, batch=rt.settings.fixity_batch)
    return {"checked": run.checked, "repaired": run.repaired, "unrepairable": run.unrepairable}


@shared_task(name="archive.manifests")
def write_manifests() -> dict[str, Any]:
    """Write the manifests of applications changed since their last one, the system manifest and audit segments."""
    from archive.manifest import write_due_manifests

    rt = worker_runtime()
    with rt.database.session() as session:
        run = write_due_manifests(session, rt.store)
    return {"applications": run.applications, "system": run.system, "audit_events": run.audit_events}
@shared_task(name="audit.checkpoint")
def audit_checkpoint() -> dict[str, Any]:
    """Seal the audit chain's head outside the database (signed, time-stamped, under object lock) if it moved."""
    from archive.checkpoints import CheckpointRefused, write_checkpoint
    from archive.sealing import load_sealing_key

    rt = worker_runtime()
    settings = rt.settings
    key = load_sealing_key(settings.sealing_key_path)
    with rt.database.session() as session:
        try:
            run = write_checkpoint(session, rt.store, key, tsa_url=settings.tsa_url,
                                   lock_years=settings.audit_lock_years, lock_mode=settings.retention_mode)
        except CheckpointRefused as exc:
            log.error("ALERT audit: the chain was not sealed: %s Run `sijill audit verify`.", exc)
            return {"sealed": None, "refused": str(exc)}
    return {"sealed": run.name, "seq": run.seq, "timestamped": run.timestamped, "locked": run.locked}


@shared_task(name="archive.legal_holds")
def legal_holds() -> dict[str, Any]:
    """Hold every object and manifest of every case file under a legal hold (new versions and manifests included)."""
    from archive.legal_hold import reapply_holds

    rt = worker_runtime()
    with rt.database.session() as session:
        run = reapply_holds(session, rt.store)
    return {"held": run.held, "missing": run.missing}


@shared_task(name="archive.manifest", bind=True, max_retries=8)
def write_application_manifests(self: Task, application_ids: list[int]) -> dict[str, Any]:
    """Write the manifests of these just-changed applications (the beat job ``archive.manifests`` catches misses)."""
    from archive.manifest import write_manifests_of

    rt = worker_runtime()
    try:
        with rt.database.session() as session:
            count = write_manifests_of(session, rt.store, application_ids)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from exc
    return {"applications": count}


@shared_task(name="permits.renew_timestamps")
def renew_permit_timestamps() -> dict[str, Any]:
    """Give issued permits their document timestamp (B-LTA) and renew it before the TSA certificate ends. Idempotent:
    a permit whose newest timestamp is far from expiry is left alone."""
    from signing.renewal import renew_timestamps, renewal_context  # PDF and signing libraries: loaded when needed

    rt = worker_runtime()
    settings = rt.settings
    if not settings.tsa_url:
        return {"skipped": "SIJILL_TSA_URL is not set"}
    report = renew_timestamps(
        rt.database, rt.store, timestamp_url=settings.tsa_url,
        validation_context=renewal_context(rt.database, settings.signing_revocation),
        window=timedelta(days=settings.timestamp_renewal_days),
    )
    return {"checked": report.checked, "renewed": len(report.renewed), "failed": report.failed}


@shared_task(name="permits.revision_album", bind=True, max_retries=5)
def build_revision_album(self: Task, pdf_sha256: str) -> dict[str, Any]:
    """Analyse and render the revision viewer's album of one archived permit revision (asked for after a signature,
    or by a page that found none), so the pages that show it only read it; then record it on the permit rows whose
    current revision it is. Idempotent: an album already stored is only loaded. A lost message is made up for by
    ``permits.missing_albums``."""
    from signing.album_backlog import mark_album_built  # PDF libraries: loaded when needed
    from signing.revision_album import ensure_album

    rt = worker_runtime()
    try:
        album = ensure_album(rt.store, str(pdf_sha256))
        with rt.database.session() as session:
            mark_album_built(session, album.pdf_sha256)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc
    return {"pdf_sha256": album.pdf_sha256, "entries": len(album.history.entries)}


@shared_task(name="permits.missing_albums")
def build_missing_revision_albums() -> dict[str, Any]:
    """Build the albums of permits whose current revision has none recorded (a ``permits.revision_album`` message
    lost with the broker or a worker), a bounded batch per run; see :mod:`signing.album_backlog`."""
    from signing.album_backlog import build_missing_albums

    rt = worker_runtime()
    report = build_missing_albums(rt.database, rt.store)
    return {"built": len(report.built), "failed": len(report.failed)}


@shared_task(name="signing.discard_expired_preparations")
def discard_expired_preparations() -> dict[str, Any]:
    """Delete documents prepared for a desk signature that were never finished (their PDFs go to the sweeper)."""
    from workflow.deferred import discard_expired_preparations as discard

    rt = worker_runtime()
    with rt.database.session() as session:
        return {"discarded": discard(session)}


# --- search -------------------------------------------------------------------------------------


@shared_task(name="search.index", bind=True, max_retries=8)
def index_applications_task(self: Task, application_ids: list[int]) -> dict[str, Any]:
    """Index (or drop, if deleted) these applications from the database as it is now; idempotent."""
    rt = worker_runtime()
    try:
        with rt.database.session() as session:
            count = index_applications(session, rt.search, [int(i) for i in application_ids])
    except (SearchError, *TRANSIENT) as exc:
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from exc
    return {"indexed": count}


@shared_task(name="search.catch_up")
def catch_up_index() -> dict[str, Any]:
    """Index every recent change the index misses (a message lost while the broker was down)."""
    rt = worker_runtime()
    with rt.database.session() as session:
        ids = catch_up(session, rt.search)
    return {"indexed": len(ids)}
# --- notifications ------------------------------------------------------------------------------


@shared_task(name="notify.send_pending")
def send_pending_notifications() -> dict[str, Any]:
    """Send the outbox's due SMS and e-mails (first attempts and retries); see :mod:`notify.delivery`. Idempotent:
    each message is claimed before it is sent."""
    from notify.delivery import deliver_due
    from notify.senders import email_sender, sms_sender

    rt = worker_runtime()
    senders = {"sms": sms_sender(rt.settings.sms_url), "email": email_sender(rt.settings.notify_email_url)}
    report = deliver_due(rt.database, senders)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}


@shared_task(name="signing.check_attachments")
def check_attachments() -> dict[str, Any]:
    """Validate the signatures of uploaded PDFs not checked yet (:mod:`signing.attachments`); idempotent: each
    document is recorded once, by a conditional update."""
    from signing.attachments import check_pending

    rt = worker_runtime()
    results = check_pending(rt.database, rt.store)
    return {"checked": len(results), "signed": sum(1 for r in results if r.signatures)}


@shared_task(name="api.prune_idempotency_keys")
def prune_idempotency_keys() -> dict[str, Any]:
    """Remove the API's idempotency keys older than 30 days (:mod:`archive.idempotency`); idempotent."""
    from archive.idempotency import prune_idempotency_keys as prune

    rt = worker_runtime()
    with rt.database.session() as session:
        return {"pruned": prune(session)}


@shared_task(name="workflow.reminders")
def due_date_reminders() -> dict[str, Any]:
    """Remind officials of steps nearing their legal due date and tell heads of overdue ones; see
    :mod:`workflow.reminders`. Idempotent: each step and threshold is reminded once (a unique row)."""
    from workflow.reminders import send_due_reminders

    rt = worker_runtime()
    with rt.database.session() as session:
        report = send_due_reminders(session, days_before=rt.settings.reminder_days)
    return {"reminders": len(report.reminders), "emails": report.emails}


# --- governance ---------------------------------------------------------------------------------


@shared_task(name="governance.scheduled_reports")
def scheduled_reports() -> dict[str, Any]:
    """Make the monitoring reports of the last complete month, quarter and year if not made yet (idempotent)."""
    from governance.reports import generate_due  # WeasyPrint: loaded when first needed

    rt = worker_runtime()
    with rt.database.session() as session:
        made = generate_due(session, rt.store)
        return {"files": [f"{r.kind}:{r.period_start.isoformat()}:{r.file_format}" for r in made]}
