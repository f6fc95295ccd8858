"""What a crash leaves behind, and how old it is: the facts behind the recovery beat and ``/healthz``.

A kill -9 of ``sijill run`` (or of a worker, or a power cut) commits nothing half-way, but it can leave work that
nobody will do until someone notices: pages whose message died with the worker, applications whose workflow was
about to be opened, manifests not yet written. The beat task ``recovery.reconcile`` (every 15 s, and once when a
worker starts) sends those pages again (:func:`intake.digitise.orphaned_page_ids`: a lapsed lease, never a page a
live worker holds), opens the missing workflows and writes the due manifests, so work resumes within a minute of a
restart on every broker. This module measures what is still stuck, for ``/healthz`` to report as ``degraded``
with its age while it lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.models import Application, ApplicationStatus, Document, OcrStatus, Page, WorkflowStep, utcnow
from intake.digitise import LEASE, ocr_moving

STUCK_AFTER = timedelta(seconds=60)
"""Work older than this that nobody holds is stuck: the recovery should have resumed it by now."""
WORKFLOW_GRACE = timedelta(seconds=15)
"""The web request opens the workflow right after registering; the recovery leaves younger applications to it."""


@dataclass(frozen=True)
class Stuck:
    what: str
    count: int
    oldest: datetime | None

    def age(self, now: datetime) -> timedelta:
        if self.oldest is None:
            return timedelta(0)
        oldest = self.oldest if self.oldest.tzinfo else self.oldest.replace(tzinfo=UTC)
        return now - oldest

    def describe(self, now: datetime) -> str:
        return f"{self.count} {self.what}, the oldest {int(self.age(now).total_seconds())} s"


def stuck_work(session: Session, *, now: datetime | None = None, after: timedelta = STUCK_AFTER) -> list[Stuck]:
    """Each kind of unheld work waiting longer than ``after`` (pages, workflows, manifests), only those present."""
    now = now or utcnow()
    cutoff = now - after
    lease_cutoff = now - LEASE
    # pages nobody holds: a lapsed lease; a waiting page only counts while OCR stands still (a deep queue that
    # moves is a backlog, not stuck work)
    statuses = [OcrStatus.RUNNING, OcrStatus.PENDING]
    if ocr_moving(session, since=lease_cutoff):
        statuses = [OcrStatus.RUNNING]
    pages = session.execute(
        select(func.count(Page.id), func.min(Document.created_at))
        .join(Document)
        .where(
            Page.status.in_(statuses),
            Document.created_at < cutoff,
            func.coalesce(Page.lease_at, Document.created_at) < lease_cutoff,
        )
    ).one()
    workflows = session.execute(
        select(func.count(Application.id), func.min(Application.created_at)).where(
            Application.status == ApplicationStatus.RECEIVED.value,
            Application.created_at < cutoff,
            ~select(WorkflowStep.id).where(WorkflowStep.application_id == Application.id).exists(),
        )
    ).one()
    manifests = session.execute(
        select(func.count(Application.id), func.min(Application.updated_at)).where(
            Application.updated_at < cutoff,
            (Application.manifest_at.is_(None)) | (Application.manifest_at < Application.updated_at),
        )
    ).one()
    found = [
        Stuck("pages waiting for OCR with no worker holding them", int(pages[0]), pages[1]),
        Stuck("applications without a workflow", int(workflows[0]), workflows[1]),
        Stuck("applications whose manifest is behind", int(manifests[0]), manifests[1]),
    ]
    return [s for s in found if s.count]
