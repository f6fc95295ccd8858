"""The workflow panel of the application page: the steps, the history, and the forms this official may use.

Which forms to *show* is decided here from plain facts (is the application in this official's inbox, is it returned,
is its permit issued); whether an action is *allowed* is always decided again by :mod:`workflow.routing` when the
form is posted, so a form shown by mistake can only lead to a refusal, never to a wrong decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import Response, abort, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import (
    Application,
    ApplicationStatus,
    Permit,
    PermitStatus,
    StepDecision,
    StepStatus,
    Transition,
    User,
    WorkflowStep,
)
from archive.roles import Permission, Role
from intake.service import required_documents
from web.errors import N_
from web.intake.common import pick, send_object
from web.runtime import runtime
from web.sealing_keys import permit_sealing_key
from web.verify.revisions import RevisionView, archived_views
from workflow.routing import (
    OPEN_STATUSES,
    RoutingRefused,
    inbox,
    missing_documents,
    open_completion_items,
    prepare_permit,
)

log = logging.getLogger(__name__)

STEP_STATUS_LABELS: dict[str, tuple[str, str]] = {
    StepStatus.WAITING: (N_("في الانتظار"), "Waiting"),
    StepStatus.ACTIVE: (N_("الخطوة الحالية"), "Current step"),
    StepStatus.DONE: (N_("تمت"), "Done"),
    StepStatus.RETURNED: (N_("أعادها للاستكمال"), "Returned it for completion"),
    StepStatus.CANCELLED: (N_("ملغاة"), "Cancelled"),
}
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "open": (N_("فتح دورة العمل"), "Workflow opened"),
    StepDecision.RECOMMEND: (N_("توصية بالموافقة"), "Recommended approval"),
    StepDecision.APPROVE: (N_("اعتماد"), "Approved"),
    StepDecision.SIGN: (N_("توقيع إلكتروني"), "Signed electronically"),
    StepDecision.REJECT: (N_("رفض"), "Rejected"),
    StepDecision.RETURN: (N_("إعادة للاستكمال"), "Returned for completion"),
    "resubmit": (N_("إعادة التقديم بعد الاستكمال"), "Resubmitted after completion"),
    "reassign": (N_("إعادة إسناد خطوة"), "Step reassigned"),
    "issue": (N_("إصدار الترخيص"), "Permit issued"),
    "revoke": (N_("إلغاء الترخيص"), "Permit revoked"),
    "override": (N_("إذن بالمضي دون مستندات ناقصة"), "Went on without missing documents"),
}
PERMIT_STATUS_LABELS: dict[str, tuple[str, str]] = {
    PermitStatus.DRAFT: (N_("مسودة قيد التوقيع"), "Draft being signed"),
    PermitStatus.ISSUED: (N_("صادر"), "Issued"),
    PermitStatus.REVOKED: (N_("ملغى"), "Revoked"),
    PermitStatus.EXPIRED: (N_("منتهي"), "Expired"),
}


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    department: str | None


@dataclass(frozen=True)
class ReassignForm:
    step: WorkflowStep
    candidates: list[Candidate]


@dataclass(frozen=True)
class Paper:
    """A checklist item as the workflow forms show it: to name in a return, or to answer at resubmission."""

    code: str
    name: str
    problem: str | None = None
    uploaded: bool = False


@dataclass
class WorkflowPanel:
    """Everything the workflow include needs; ``error`` is a refusal to show above the forms."""

    steps: list[WorkflowStep]
    transitions: list[Transition]
    active: WorkflowStep | None
    permit: Permit | None
    mine: bool = False
    """The active step is this official's (the application is in their inbox)."""
    took_it_in: bool = False
    """This official registered the application: the one-stop rule keeps them from deciding it."""
    decide_actions: list[str] = field(default_factory=list)
    can_sign: bool = False
    can_resubmit: bool = False
    can_revoke: bool = False
    can_override: bool = False
    checklist: list[Paper] = field(default_factory=list)
    """The service's required documents: what a return may name."""
    requested: list[Paper] = field(default_factory=list)
    """The papers the last return asked for, still open: what resubmission must answer."""
    missing: list[str] = field(default_factory=list)
    """Names of required documents missing and not overridden: the guard that blocks decisions and signatures."""
    reassign: list[ReassignForm] = field(default_factory=list)
    pkcs11_available: bool = False
    revisions: list[RevisionView] = field(default_factory=list)
    revisions_pending: bool = False
    """The album of the permit's current revision is being built by the worker: the page says so."""
    """The revision viewer: the permit as each official signed it (empty until someone signed)."""
    error: str | None = None
    error_form: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    @property
    def position(self) -> int | None:
        return self.active.position + 1 if self.active is not None else None

    @property
    def of(self) -> int:
        return len(self.steps)

    @property
    def signed_at(self) -> datetime | None:
        return self.permit.issued_at if self.permit is not None else None


def is_my_step(session: Session, user: User, application: Application) -> bool:
    """Whether the application's active step is in ``user``'s inbox (the routing service's own definition)."""
    if application.status not in OPEN_STATUSES:
        return False
    return any(item.application.id == application.id for item in inbox(session, user))


def permit_of(session: Session, application: Application) -> Permit | None:
    return session.scalar(select(Permit).where(Permit.application_id == application.id))


def ensure_permit(session: Session, application: Application, user: User) -> Permit | None:
    """The permit; rendered now (and committed) if the active step is this official's signing step and none exists.

    The routing service fixes the permit's text when the first signer opens it to read it; that is this moment.
    """
    permit = permit_of(session, application)
    if permit is not None:
        return permit
    active = next((s for s in application.steps if s.status == StepStatus.ACTIVE.value), None)
    if active is None or not active.signs or not is_my_step(session, user, application):
        return None
    try:
        settings = runtime().settings
        sealing_key = permit_sealing_key(f"permit of {application.tracking_number}")
        permit = prepare_permit(session, runtime().store, application, base_url=settings.base_url,
                                sealing_key=sealing_key)
        session.commit()
    except RoutingRefused as exc:
        session.rollback()
        log.info("permit of %s not prepared: %s", application.tracking_number, exc)
        return None
    return permit


def permit_pdf_response(session: Session, application: Application, user: User) -> Response:
    """The permit's current revision, inline, with that revision's hash in ``X-Permit-Revision``: the official reads
    (and the desk agent fetches) what they will sign. Until the permit is issued the copy carries the watermark
    "مسودة — غير صالح / DRAFT — not valid" across every page (:func:`signing.permit.watermark_draft`); the revision
    signed is the archived one, without it. 404 if there is no permit for them yet."""
    from signing.permit import watermark_draft

    permit = ensure_permit(session, application, user)
    if permit is None:
        abort(404)
    name = f"permit-{permit.permit_number}.pdf"
    draft = permit.status == PermitStatus.DRAFT.value
    response = send_object(permit.current_pdf_sha256, media_type="application/pdf",
                           filename=f"permit-{permit.permit_number}-draft.pdf" if draft else name, fallback=name,
                           disposition="inline", transform=watermark_draft if draft else None)
    response.headers["X-Permit-Revision"] = permit.current_pdf_sha256
    return response


def build_panel(session: Session, application: Application, user: User) -> WorkflowPanel:
    steps = sorted(application.steps, key=lambda s: s.position)
    transitions = list(
        session.scalars(
            select(Transition).where(Transition.application_id == application.id).order_by(Transition.at, Transition.id)
        )
    )
    active = next((s for s in steps if s.status == StepStatus.ACTIVE.value), None)
    mine = active is not None and is_my_step(session, user, application)
    permit = ensure_permit(session, application, user) if mine else permit_of(session, application)
    took_it_in = application.created_by_id is not None and application.created_by_id == user.id
    panel = WorkflowPanel(steps=steps, transitions=transitions, active=active, permit=permit, mine=mine,
                          took_it_in=took_it_in and application.status in OPEN_STATUSES
                          and (user.can(Permission.APPLICATION_REVIEW) or user.can(Permission.APPLICATION_SIGN)))
    if mine and active is not None:
        if active.signs:
            panel.can_sign = permit is not None and permit.status == PermitStatus.DRAFT.value
        else:
            panel.decide_actions.append(
                StepDecision.RECOMMEND if active.role == Role.REVIEWER.value else StepDecision.APPROVE
            )
        panel.decide_actions += [StepDecision.RETURN, StepDecision.REJECT]
    panel.can_resubmit = (
        application.status == ApplicationStatus.RETURNED.value and user.can(Permission.APPLICATION_CREATE)
    )
    names = {d.code: pick(d.name_ar, d.name_en) for d in required_documents(application.service)}
    panel.checklist = [Paper(code, name) for code, name in names.items()]
    panel.requested = [Paper(i.code, names.get(i.code, i.code), i.problem, i.document_id is not None)
                       for i in open_completion_items(session, application)]
    panel.missing = [names.get(c, c) for c in missing_documents(application)]
    panel.can_override = bool(
        panel.missing and not took_it_in and user.active and Role.SIGNER in user.roles
        and user.department in {s.department for s in steps}
        and (application.status in OPEN_STATUSES or application.status == ApplicationStatus.RETURNED.value)
    )
    is_head = user.active and Role.SIGNER in user.roles and user.department is not None and not took_it_in
    if is_head and application.status in OPEN_STATUSES:
        for step in steps:
            if step.department == user.department and step.status in (StepStatus.WAITING, StepStatus.ACTIVE):
                candidates = [c for c in _candidates(session, application, step) if c.id != user.id]
                if candidates:
                    panel.reassign.append(ReassignForm(step, candidates))
    signing_departments = {s.department for s in steps if s.signs}
    panel.can_revoke = (
        permit is not None and permit.status == PermitStatus.ISSUED.value and is_head
        and user.department in signing_departments
    )
    panel.pkcs11_available = bool(runtime().settings.pkcs11_module)
    if permit is not None and any(s.signed_pdf_sha256 for s in steps):
        tracking = application.tracking_number
        archived = archived_views(permit, "page", lambda name: url_for("decisions.permit_revision_picture",
                                                                        tracking=tracking, file_name=name))
        panel.revisions, panel.revisions_pending = archived.entries, archived.pending
    return panel


def _candidates(session: Session, application: Application, step: WorkflowStep) -> list[Candidate]:
    """Active officials holding the step's role for the application's centre, except the clerk who took it in."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)).all()
    result = []
    for u in users:
        if step.role not in {r.value for r in u.roles} or u.id == application.created_by_id:
            continue
        if u.centre_id is not None and u.centre_id != application.centre_id:
            continue
        if u.id == step.assignee_id:
            continue
        result.append(Candidate(u.id, u.full_name, u.department))
    # the step's own department first
    result.sort(key=lambda c: (c.department != step.department, c.name))
    return result
