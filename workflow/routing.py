"""Routing an application through its signing chain, and the permit it ends in: a domain service over ``archive``.

The chain
---------
:func:`ensure_workflow` copies the service's ``signing_chain`` from the catalogue into ``workflow_steps`` rows (a
snapshot: a later catalogue edition does not reroute files already under way) and makes step 0 active. Reviewer
steps record a recommendation (:func:`decide`); signer steps add an incremental PAdES signature to the permit
(:func:`sign_step`). Each completed step activates the next one; after the last one the permit is issued.

Status flow (``applications.status``)::

    received ──(first decision)──▶ in_review ──▶ awaiting_signature ──(last signature)──▶ approved ──▶ issued
       │                               │                 │
       └───────────────(return, reason required)─────────┴──▶ returned ──(resubmit)──▶ the step that returned it
       └───────────────(reject, reason required)─────────┴──▶ rejected (final; remaining steps cancelled)

* Opening the workflow leaves the application ``received`` (nobody in a department has acted yet; governance can
  see untouched files); the ``open`` transition is recorded with no actor.
* After a step is done the status says what the *next* step is: ``awaiting_signature`` when it signs,
  ``in_review`` otherwise. "Step n of m" is the active step's position (see :class:`InboxItem`).
* A chain whose steps all record decisions (no signer step) ends ``approved``, with no permit. A chain with signer
  steps ends with two transitions: ``sign`` (→ ``approved``) by the last official, then ``issue`` (→ ``issued``)
  by the system.
* Revoking a permit leaves the application ``issued``; the permit's own status (``revoked``) is what verification
  shows.

Rules enforced here, not in the web layer
-----------------------------------------
* One-stop (الشباك الواحد): the user who took the application in (``created_by``) never decides, signs, revokes or
  is assigned any of its steps, whatever roles they hold; it never shows in their inbox.
* A step belongs to its assignee if a head reassigned it, otherwise to every active user holding the step's role in
  the step's department whose centre is the application's centre (staff without a centre act for all centres,
  staff without a department for none).
* Reject and return need a reason; so do reassignment and revocation. Every change appends one
  :class:`~archive.models.Transition` (who, when, from, to, why); transitions are never updated or deleted. The
  transitions a citizen is told about (returned, approved, permit issued, rejected) add their SMS/e-mail to the
  outbox in the same transaction (:mod:`notify.outbox`).
* Refusals raise :class:`~workflow.errors.RoutingRefused` (codes ``one_stop``, ``not_your_step``,
  ``wrong_state``, ``reason_required``, ``not_permitted``, ``no_chain``, ``no_permit``, ``document_changed``,
  ``bad_certificate``, ``duplicate_certificate``, ``unknown_item``, ``items_outstanding``, ``documents_missing``,
  ``nothing_missing``) before anything is written; certificate and signing problems in
  :func:`sign_step` raise :class:`~signing.errors.SigningRefused` (same ``code`` / ``message_ar`` / ``message_en``
  shape), also before anything is written.

The completion loop
-------------------
A return names the papers to bring (:class:`ReturnItem`: checklist codes, each ``missing`` or ``unreadable``) beside
its reason; each becomes an open :class:`~archive.models.CompletionItem` and the citizen's SMS/e-mail lists them. The
window adds scans (:func:`intake.service.add_documents`, which links the scan to the open item of its requirement)
and :func:`resubmit` refuses (``items_outstanding``) until every item has a scan or a recorded reason. The file then
goes back to **the step that returned it**: that official asked for the papers and is the one to judge them, and the
decisions before it stand (sending it to step 0 would make the first reviewer redo work nobody questioned). The one
exception: a signer step before it that had signed restarts the file there, because the return discarded the draft
permit that carried its signature.

The missing-document guard: while a required document is missing (``applications.missing_documents``, kept by
intake) and not overridden, no recommendation or approval is recorded, no permit prepared and nothing signed
(``documents_missing``, naming the papers). A head of department (a signer of a department of the file's chain, at
its centre, not the clerk who took it in) may record an override with a reason (:func:`override_missing`: an
``override`` transition, audited, shown on the application page); it covers the papers missing at that moment.

Who commits: the caller, as in ``intake.service``: these functions flush and never commit, so the caller can add its
own rows (an audit event) to the same transaction. Decisions lock the application's steps (``SELECT … FOR UPDATE``
on PostgreSQL; SQLite serialises writers itself), so two officials acting at once cannot both complete one step.

The permit
----------
:func:`prepare_permit` fixes the permit's text when the first signing step becomes active (call it when an official
opens the permit to read it, or let :func:`sign_step` do it lazily with ``base_url``): the catalogue's text of the
service's permit (its own title, the works or activity it allows, the legal basis, the conditions, the validity), the
holder's name and full national ID as an official permit carries them (the stored facts snapshot, which public pages
read, keeps the ID masked), no internal codes, the permit number derived from the tracking number
(``signing.permit.permit_number_for``), a fresh QR token of which only the SHA-256 is stored, one empty signature
field per signer step. The PDF goes into the object store *before* the row that points at it is flushed (the intake
write order; an orphan is swept). The printed issue date is the day the text was fixed and the printed expiry that day
plus the catalogue's ``permit.validity_days`` (one calendar year when absent); ``Permit.expires_on`` copies the
printed date so the database and the signed document never disagree, ``Permit.issued_at`` is the moment of the
last signature.

A return or a rejection discards an unissued (draft) permit row: its token never left the building, and a
resubmitted file gets a freshly rendered permit with a new token once it reaches its first signing step again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from archive.audit import record_event
from archive.models import (
    Application,
    ApplicationStatus,
    CompletionItem,
    CompletionProblem,
    OfficialCertificate,
    Permit,
    PermitStatus,
    PreparedSignature,
    StepDecision,
    StepStatus,
    Transition,
    User,
    WorkflowStep,
    utcnow,
)
from archive.roles import Permission, Role
from archive.store import ObjectStore
from intake.national_id import EGYPT, GOVERNORATES, mask_national_id
from notify.outbox import record_transition
from signing.certificates import Revocation, check_signing_certificate, fingerprint
from signing.errors import SigningRefused
from signing.pades import add_signature_fields, sign_pdf
from signing.permit import (
    PermitFacts,
    new_verification_token,
    permit_number_for,
    render_permit,
    stamp_qr,
    verification_path,
)
from signing.sealed_payload import seal
from signing.signers import LoadedSigner
from signing.stamp import StampText
from signing.trust import active_trust_roots, add_trust_root, load_certificate
from workflow.errors import RoutingRefused

__all__ = [
    "OPEN_STATUSES",
    "InboxItem",
    "ReturnItem",
    "RoutingRefused",
    "SigningRefused",
    "SigningTarget",
    "active_trust_roots",
    "add_trust_root",
    "check_official_certificate",
    "decide",
    "due_of",
    "ensure_workflow",
    "field_name_for",
    "find_permit_by_token",
    "inbox",
    "missing_documents",
    "open_completion_items",
    "open_pending_workflows",
    "override_missing",
    "prepare_permit",
    "reassign",
    "record_signature",
    "register_certificate",
    "resubmit",
    "revoke_permit",
    "sign_step",
    "signing_target",
    "step_due",
]

OPEN_STATUSES = frozenset(
    {ApplicationStatus.RECEIVED.value, ApplicationStatus.IN_REVIEW.value, ApplicationStatus.AWAITING_SIGNATURE.value}
)
"""Statuses in which a step can be acted on."""

DECISIONS = frozenset({StepDecision.RECOMMEND, StepDecision.APPROVE, StepDecision.REJECT, StepDecision.RETURN})
REASON_MAX = 2000
DEFAULT_VALIDITY_YEARS = 1

_ROLE_PERMISSION = {Role.REVIEWER.value: Permission.APPLICATION_REVIEW, Role.SIGNER.value: Permission.APPLICATION_SIGN}


# --- the chain ----------------------------------------------------------------------------------------------------


def ensure_workflow(session: Session, application: Application, *, now: datetime | None = None) -> list[WorkflowStep]:
    """The application's steps, creating them from the service's signing chain (step 0 active) if missing.

    Idempotent. The status stays ``received``; an ``open`` transition without actor is recorded. Raises
    ``RoutingRefused("no_chain")`` when the catalogue gives the service no chain.
    """
    if application.steps:
        return list(application.steps)
    now = _aware(now or utcnow())
    chain = [s for s in (application.service.definition or {}).get("signing_chain") or [] if isinstance(s, dict)]
    if not chain:
        raise RoutingRefused("no_chain", application.service_code)
    steps = [
        WorkflowStep(
            position=i,
            step=str(s["step"]),
            role=str(s["role"]),
            department=str(s["department"]),
            title_ar=str(s.get("title_ar") or s["step"]),
            title_en=str(s.get("title_en") or s["step"]),
            signs=bool(s.get("signs", s["role"] == Role.SIGNER.value)),
            legal_days=int(s["legal_days"]) if s.get("legal_days") else None,
            status=StepStatus.WAITING.value,
        )
        for i, s in enumerate(chain)
    ]
    _activate(application, steps[0], now)
    application.steps = steps
    _record(session, application, None, application.status, "open", 0, None, now)
    session.flush()
    return steps


def open_pending_workflows(
    session: Session, *, now: datetime | None = None, older_than: timedelta = timedelta(0)
) -> int:
    """Open the workflow of every ``received`` application that has none yet (services without a chain are left).

    ``older_than`` leaves the youngest applications to the request that registered them (it opens their workflow
    right after its commit), so the recovery beat does not race it."""
    cutoff = _aware(now or utcnow()) - older_than
    pending = session.scalars(
        select(Application)
        .where(Application.status == ApplicationStatus.RECEIVED.value)
        .where(Application.created_at <= cutoff)
        .where(~select(WorkflowStep.id).where(WorkflowStep.application_id == Application.id).exists())
        .order_by(Application.created_at, Application.id)
    ).all()
    opened = 0
    for application in pending:
        try:
            ensure_workflow(session, application, now=now)
        except RoutingRefused:
            continue
        opened += 1
    return opened


def step_due(application: Application, step: WorkflowStep, reached: datetime) -> datetime:
    """The legal due date of ``step`` when the file reaches it at ``reached``: its own duration from then (calendar
    days, as the service's ``legal_days``), or, for a step the catalogue gives no duration, the application's legal
    due date (what is left of the application's time, as before steps had their own)."""
    if step.legal_days:
        return _aware(reached) + timedelta(days=step.legal_days)
    return _aware(application.due_at)


def due_of(step: WorkflowStep) -> datetime:
    """The date ``step`` falls due: its recorded ``due_at``, else (a step activated before steps had their own) the
    application's."""
    return _aware(step.due_at or step.application.due_at)


def _activate(application: Application, step: WorkflowStep, now: datetime) -> None:
    """The file reaches ``step``: it becomes active and its own legal due date starts."""
    step.status = StepStatus.ACTIVE.value
    step.activated_at = now
    step.due_at = step_due(application, step, now)


# --- inbox --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    """One application waiting for ``user``: the active step, "step ``position`` of ``of``" (1-based), and time left.

    ``due_at`` is the step's legal due date (:func:`due_of`); ``days_left`` counts calendar days in Egypt between
    today and it (negative once overdue); ``overdue`` is true as soon as the due moment has passed. The
    application's own legal due date (``application.due_at``) stays what governance measures.
    """

    application: Application
    step: WorkflowStep
    position: int
    of: int
    overdue: bool
    days_left: int
    due_at: datetime


def inbox(session: Session, user: User, *, now: datetime | None = None) -> list[InboxItem]:
    """The applications whose active step ``user`` may act on, oldest application first."""
    if not user.active:
        return []
    now = _aware(now or utcnow())
    roles = [r.value for r in user.roles if r.value in _ROLE_PERMISSION and user.can(_ROLE_PERMISSION[r.value])]
    mine = WorkflowStep.assignee_id == user.id
    conditions = [mine]
    if user.department and roles:
        pool = and_(
            WorkflowStep.assignee_id.is_(None),
            WorkflowStep.role.in_(roles),
            WorkflowStep.department == user.department,
        )
        if user.centre_id is not None:
            pool = and_(pool, Application.centre_id == user.centre_id)
        conditions.append(pool)
    rows = session.scalars(
        select(WorkflowStep)
        .join(Application, WorkflowStep.application_id == Application.id)
        .options(contains_eager(WorkflowStep.application))
        .where(WorkflowStep.status == StepStatus.ACTIVE.value)
        .where(Application.status.in_(OPEN_STATUSES))
        .where(or_(Application.created_by_id.is_(None), Application.created_by_id != user.id))
        .where(or_(*conditions))
        .order_by(Application.created_at, Application.id)
    ).all()
    if not rows:
        return []
    counted = session.execute(
        select(WorkflowStep.application_id, func.count(WorkflowStep.id))
        .where(WorkflowStep.application_id.in_(sorted({s.application_id for s in rows})))
        .group_by(WorkflowStep.application_id)
    )
    counts = {application_id: int(n) for application_id, n in counted}
    today = now.astimezone(EGYPT).date()
    items = []
    for step in rows:
        due = due_of(step)
        items.append(
            InboxItem(
                application=step.application,
                step=step,
                position=step.position + 1,
                of=int(counts[step.application_id]),
                overdue=now > due,
                days_left=(due.astimezone(EGYPT).date() - today).days,
                due_at=due,
            )
        )
    return items


# --- decisions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnItem:
    """A checklist item a returning official names: its required-document code and what is wrong with it."""

    code: str
    problem: str = CompletionProblem.MISSING.value
    """``missing`` or ``unreadable``."""


def decide(
    session: Session,
    application: Application,
    actor: User,
    action: str,
    *,
    reason: str | None = None,
    items: Sequence[ReturnItem] | None = None,
    now: datetime | None = None,
) -> Transition:
    """Record ``actor``'s decision on the active step: ``recommend``, ``approve``, ``reject`` or ``return``.

    * ``recommend`` (a reviewer step) and ``approve`` (any step that does not sign) complete the step and activate
      the next one; after the last step of a chain without signer steps the application is ``approved``. Refused
      (``documents_missing``, naming them) while a required document is missing and no head overrode it.
    * ``reject`` (reason required) ends the file: ``rejected``, remaining steps cancelled, a draft permit discarded.
    * ``return`` (reason required) sends the file back to the window for completion: ``returned``, the acting step
      marked ``returned`` with the reason, the steps after it waiting again (and every signer step already signed,
      whose signature was on the discarded draft permit), and a draft permit discarded. ``items`` names the papers
      to bring (required-document codes of the service, each ``missing`` or ``unreadable``; else ``unknown_item``):
      one open :class:`~archive.models.CompletionItem` each, named in the citizen's SMS/e-mail; the window must
      answer each before :func:`resubmit`.

    Signer steps are approved by :func:`sign_step`; ``approve`` on one is ``wrong_state``. Returns the transition.
    """
    if action not in DECISIONS:
        raise ValueError(f"Unknown decision {action!r}; use one of {sorted(DECISIONS)}.")
    now = _aware(now or utcnow())
    reason = _clean_reason(reason)
    steps = _lock(session, application)
    step = _active_step(application, steps)
    _check_can_act(application, step, actor)
    if action in (StepDecision.REJECT, StepDecision.RETURN) and reason is None:
        raise RoutingRefused("reason_required")
    if step.signs and action in (StepDecision.RECOMMEND, StepDecision.APPROVE):
        raise RoutingRefused("wrong_state", "a signer step is approved by signing the permit")
    if action == StepDecision.RECOMMEND and step.role != Role.REVIEWER.value:
        raise RoutingRefused("wrong_state", "only a reviewer step takes a recommendation")
    wanted = _return_items(application, items) if action == StepDecision.RETURN else []
    if items and action != StepDecision.RETURN:
        raise RoutingRefused("wrong_state", "only a return names papers to bring")
    if action in (StepDecision.RECOMMEND, StepDecision.APPROVE):
        _check_documents(application)

    before = application.status
    _complete(step, actor, action, reason, now)
    if action == StepDecision.REJECT:
        for other in steps:
            if other.status in (StepStatus.WAITING.value, StepStatus.ACTIVE.value):
                other.status = StepStatus.CANCELLED.value
        _discard_draft_permit(session, application)
        application.status = ApplicationStatus.REJECTED.value
    elif action == StepDecision.RETURN:
        step.status = StepStatus.RETURNED.value
        signed = [s for s in steps if s.signs and s.status == StepStatus.DONE.value and s.position < step.position]
        restart = min([s.position for s in signed], default=step.position)
        for other in steps:
            if other is not step and other.position >= restart:
                _reset(other)
        _discard_draft_permit(session, application)
        application.status = ApplicationStatus.RETURNED.value
    else:
        _activate_next(application, steps, step, now)
    application.updated_at = now
    names = _document_names(application)
    papers = [names.get(i.code, (i.code, i.code))[0] + ("" if i.problem == CompletionProblem.MISSING else
                                                          " (غير مقروء)") for i in wanted]
    transition = _record(session, application, actor, before, str(action), step.position, reason, now,
                         papers=papers, extra={"items": [asdict(i) for i in wanted]} if wanted else None)
    session.flush()
    for item in wanted:
        session.add(CompletionItem(application_id=application.id, transition_id=transition.id, code=item.code,
                                   problem=item.problem))
    session.flush()
    return transition


def open_completion_items(session: Session, application: Application) -> list[CompletionItem]:
    """The papers the last return asked for and the window has not closed yet (by resubmitting), in order."""
    return list(
        session.scalars(
            select(CompletionItem)
            .where(CompletionItem.application_id == application.id, CompletionItem.closed_at.is_(None))
            .order_by(CompletionItem.id)
        )
    )


def missing_documents(application: Application) -> list[str]:
    """Required-document codes still missing from the file and not overridden by a head (the guard's list)."""
    overridden = set(application.override_codes or [])
    return [c for c in application.missing_documents or [] if c not in overridden]


def override_missing(
    session: Session, application: Application, actor: User, *, reason: str | None, now: datetime | None = None
) -> Transition:
    """A head of department lets the file go on without the required documents missing now, with a reason.

    Only an active signer whose department has a step in the application's chain, working for its centre (or all
    centres), and not the clerk who took it in (``one_stop``); a reason is required; refused with
    ``nothing_missing`` when no required document is missing. Records the codes, the reason, who and when on the
    application and an ``override`` transition (audited; shown on the application page). Documents that are missing
    later (none: scans are only ever added) are not covered.
    """
    now = _aware(now or utcnow())
    reason = _clean_reason(reason)
    steps = _lock(session, application)
    if _took_it_in(actor, application):
        raise RoutingRefused("one_stop")
    departments = {s.department for s in steps}
    if not (
        actor.active
        and Role.SIGNER in actor.roles
        and actor.can(Permission.APPLICATION_SIGN)
        and actor.department in departments
        and _in_centre(actor, application)
    ):
        raise RoutingRefused("not_permitted", "only a head of a department of this file's workflow overrides")
    if application.status not in OPEN_STATUSES and application.status != ApplicationStatus.RETURNED.value:
        raise RoutingRefused("wrong_state", f"status {application.status}")
    if reason is None:
        raise RoutingRefused("reason_required")
    codes = missing_documents(application)
    if not codes:
        raise RoutingRefused("nothing_missing")
    application.override_codes = sorted(set(application.override_codes or []) | set(codes))
    application.override_reason = reason
    application.override_by_id = actor.id
    application.override_at = now
    application.updated_at = now
    transition = _record(session, application, actor, application.status, "override", None, reason, now,
                         extra={"documents": codes})
    session.flush()
    return transition


def resubmit(
    session: Session,
    application: Application,
    clerk: User,
    *,
    note: str | None = None,
    answers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Transition:
    """A returned file, completed at the window, goes back to the step that returned it.

    Every paper the return asked for (:func:`open_completion_items`) must be answered: by a scan added since
    (:func:`intake.service.add_documents` links it) or by a reason in ``answers`` (code → the window's words, e.g.
    "the citizen says the survey office has not issued it yet"); else ``items_outstanding``, naming them, and nothing
    is written. The answers are recorded on the items, which are closed.

    Where the file goes: back to the step that returned it, whose official asked for the papers and is the one to
    judge them; the decisions of the steps before it stand. Only when a signer step before it had signed does the
    file restart at the first such step, because the return discarded the draft permit that carried the signature.
    Any active user allowed to register applications at the application's centre may resubmit (the one-stop rule
    concerns deciding, and the window is where returned files go). Assignments made by heads are kept.
    """
    now = _aware(now or utcnow())
    note = _clean_reason(note)
    if not clerk.can(Permission.APPLICATION_CREATE) or not _in_centre(clerk, application):
        raise RoutingRefused("not_permitted")
    steps = _lock(session, application)
    if application.status != ApplicationStatus.RETURNED.value or not steps:
        raise RoutingRefused("wrong_state", f"status {application.status}")
    cleaned = {str(k).strip().upper(): _clean_reason(v) for k, v in (answers or {}).items()}
    items = open_completion_items(session, application)
    outstanding = [i for i in items if i.document_id is None and not cleaned.get(i.code)]
    if outstanding:
        names = _document_names(application)
        listed = [names.get(i.code, (i.code, i.code)) for i in outstanding]
        raise RoutingRefused(
            "items_outstanding", ", ".join(i.code for i in outstanding),
            message=(
                "لم تُستكمل هذه المستندات: " + "، ".join(a for a, _ in listed)
                + ". ارفع كلًا منها أو اكتب سبب إعادة التقديم بدونه.",
                "These papers were not provided: " + ", ".join(e for _, e in listed)
                + ". Upload each one, or give the reason for resubmitting without it.",
            ),
        )
    before = application.status
    returned = next((s for s in steps if s.status == StepStatus.RETURNED.value), None)
    if returned is not None:
        _reset(returned)
    target = next((s for s in steps if s.status != StepStatus.DONE.value), steps[0])
    for step in steps:
        if step.position >= target.position:
            _reset(step)
    _activate(application, target, now)
    for item in items:
        if item.document_id is None:
            item.answer_reason = cleaned.get(item.code)
        item.closed_at = now
    application.status = _status_for(target)
    application.updated_at = now
    transition = _record(
        session, application, clerk, before, "resubmit", target.position, note, now,
        extra={"items": [{"code": i.code, "document": i.document_id, "answer": i.answer_reason} for i in items]}
        if items else None,
    )
    session.flush()
    return transition


def reassign(
    session: Session,
    application: Application,
    position: int,
    to_user: User,
    actor: User,
    *,
    reason: str | None,
    now: datetime | None = None,
) -> Transition:
    """Give the step at ``position`` (waiting or active) to the named official ``to_user``.

    Only a head may do this: an active user with the signer role in the step's department and the application's
    centre scope, or an administrator. ``to_user`` must be active, hold the step's role, work for the application's
    centre (or all centres) and must not be the clerk who took the file in. A reason is required.
    """
    now = _aware(now or utcnow())
    reason = _clean_reason(reason)
    steps = _lock(session, application)
    step = next((s for s in steps if s.position == position), None)
    if step is None or application.status not in OPEN_STATUSES or step.status not in (
        StepStatus.WAITING.value,
        StepStatus.ACTIVE.value,
    ):
        raise RoutingRefused("wrong_state", f"step {position} cannot be reassigned now")
    if not _is_head(actor, step.department, application):
        raise RoutingRefused("not_permitted", "only the head of the department or an administrator reassigns")
    if reason is None:
        raise RoutingRefused("reason_required")
    if _took_it_in(to_user, application):
        raise RoutingRefused("one_stop", "the new assignee took the application in")
    if (
        not to_user.active
        or step.role not in {r.value for r in to_user.roles}
        or not to_user.can(_ROLE_PERMISSION.get(step.role, Permission.APPLICATION_REVIEW))
        or not _in_centre(to_user, application)
    ):
        raise RoutingRefused("not_permitted", "the new assignee does not hold the step's role at this centre")
    step.assignee_id = to_user.id
    step.assignee = to_user
    application.updated_at = now
    transition = _record(
        session, application, actor, application.status, "reassign", position, f"→ {to_user.username}: {reason}", now
    )
    session.flush()
    return transition


# --- the permit ---------------------------------------------------------------------------------------------------


def field_name_for(step: WorkflowStep) -> str:
    """The PDF signature field of a signer step, e.g. ``sig1-approve_department``."""
    return f"sig{step.position}-{step.step}"[:64]


def prepare_permit(
    session: Session,
    store: ObjectStore,
    application: Application,
    *,
    base_url: str,
    now: datetime | None = None,
    sealing_key: Ed25519PrivateKey | None = None,
) -> Permit:
    """The application's permit, rendering the unsigned draft (empty signature fields) if there is none yet.

    With ``sealing_key`` (the centre's sealing key) the QR also carries the sealed payload of the permit's facts
    (``signing/sealed_payload.py``), checkable offline, with the SHA-256 of the permit's first revision (the rendered
    permit with its empty signature fields and the QR's place blank); the QR is drawn in the next revision
    (:func:`signing.permit.stamp_qr`), so every later state of the file starts with the bytes it vouches for.

    Idempotent: an existing permit is returned as it is. Refused (``wrong_state``) unless the file is open and its
    workflow has a signer step. The draft is stored before the row is flushed.
    """
    now = _aware(now or utcnow())
    steps = _lock(session, application)
    existing = _permit_of(session, application)
    if existing is not None:
        return existing
    if application.status not in OPEN_STATUSES:
        raise RoutingRefused("wrong_state", f"status {application.status}")
    _check_documents(application)
    if not steps:
        steps = ensure_workflow(session, application, now=now)
    signers = [s for s in steps if s.signs]
    if not signers:
        raise RoutingRefused("wrong_state", "the workflow has no signer step")

    service = application.service
    definition = service.definition or {}
    text = _permit_text(definition)
    issued_on = now.astimezone(EGYPT).date()
    governorate = GOVERNORATES.get(application.centre.governorate_code, ("", ""))
    details = application.details or {}
    facts = PermitFacts(
        permit_number=permit_number_for(application.tracking_number, application.service_code),
        tracking_number=application.tracking_number,
        service_code=application.service_code,
        service_name_ar=service.name_ar,
        service_name_en=service.name_en,
        applicant_name=application.applicant_name,
        national_id_masked=mask_national_id(application.national_id),
        national_id=application.national_id,
        permit_title_ar=str(text.get("title_ar") or ""),
        permit_title_en=str(text.get("title_en") or ""),
        works_ar=str(text.get("works_ar") or ""),
        works_en=str(text.get("works_en") or ""),
        legal_basis_ar=str(text.get("legal_basis_ar") or ""),
        legal_basis_en=str(text.get("legal_basis_en") or ""),
        centre_name_ar=application.centre.name_ar,
        centre_name_en=application.centre.name_en,
        governorate=governorate[0] or application.centre.governorate_code,
        governorate_en=governorate[1],
        issued_on=issued_on,
        expires_on=_expiry(issued_on, definition),
        signatories=[(s.title_ar, s.title_en, "") for s in signers],
        conditions=tuple(str(c) for c in text.get("conditions") or definition.get("permit_conditions") or ()),
        property_details={k: v for k, v in details.items() if k != "notes"} or None,
    )
    token = new_verification_token()
    verify_url = base_url.rstrip("/") + verification_path(facts.permit_number, token)
    slots_for = [field_name_for(s) for s in signers]
    if sealing_key is None:
        rendered = render_permit(facts, verify_url=verify_url, slots_for=slots_for)
        pdf = add_signature_fields(rendered.pdf, rendered.slots)
    else:
        # The sealed payload binds the permit's first revision (rendered, with its empty signature fields, the QR's
        # place blank); the QR is then stamped in an incremental update, and the officials sign over both.
        rendered = render_permit(facts, verify_url=verify_url, slots_for=slots_for, qr_later=True)
        first = add_signature_fields(rendered.pdf, rendered.slots)
        payload = seal(sealing_key, permit_number=facts.permit_number, holder_name=facts.applicant_name,
                       service_ar=facts.service_name_ar, issued_on=facts.issued_on, expires_on=facts.expires_on,
                       pdf_sha256=hashlib.sha256(first).hexdigest())
        assert rendered.qr_box is not None
        pdf = stamp_qr(first, rendered.qr_box, f"{verify_url}#{payload}")
    key = store.put(pdf)  # before any row points at it
    permit = Permit(
        application_id=application.id,
        permit_number=facts.permit_number,
        token_sha256=_token_digest(token),
        status=PermitStatus.DRAFT.value,
        facts=_facts_json(facts),
        draft_pdf_sha256=key,
        current_pdf_sha256=key,
        created_at=now,
    )
    session.add(permit)
    session.flush()
    return permit


def sign_step(
    session: Session,
    store: ObjectStore,
    application: Application,
    actor: User,
    signer: LoadedSigner,
    *,
    now: datetime | None = None,
    trust_roots: Sequence[asn1_x509.Certificate] | None = None,
    revocation: Revocation = "require",
    timestamp_url: str | None = None,
    embed_validation_info: bool = False,
    validation_context: Any = None,
    base_url: str | None = None,
    seen_pdf_sha256: str | None = None,
    sealing_key: Ed25519PrivateKey | None = None,
) -> Transition:
    """``actor`` signs the permit in the active signer step's field with ``signer`` (a ``LoadedSigner``).

    Checks, before anything is written: the step is active and signs, the one-stop rule and that the step is the
    actor's (``RoutingRefused``); that the permit exists (prepared here when ``base_url`` is given, else
    ``no_permit``) and, with ``seen_pdf_sha256``, is still the revision the official read (``document_changed``);
    that the certificate is one of the actor's active registered certificates, chains to a trust root (``trust_roots``
    or, when None, the active :class:`TrustRoot` rows), is within its validity and not revoked (``SigningRefused``).

    The first signer step certifies the document, the last one locks it. The new revision is stored before the rows
    change; the step is done and the next one active, or, after the last step, the permit is issued
    (``sign`` → ``approved``, then ``issue`` → ``issued``). Returns the ``sign`` transition.
    """
    now = _aware(now or utcnow())
    target = signing_target(session, store, application, actor, base_url=base_url, now=now, sealing_key=sealing_key)
    permit, step = target.permit, target.step
    if seen_pdf_sha256 is not None and not hmac.compare_digest(seen_pdf_sha256, permit.current_pdf_sha256):
        raise RoutingRefused("document_changed")

    certificate = signer.certificate
    check_official_certificate(
        session, actor, certificate, now=now, trust_roots=trust_roots, revocation=revocation,
        intermediates=[c for c in getattr(signer, "chain", ()) if c.dump() != certificate.dump()],
    )
    current = store.get_bytes(permit.current_pdf_sha256)
    signed = sign_pdf(
        current,
        signer,
        field_name=field_name_for(step),
        stamp=target.stamp,
        reason=target.reason,
        location=target.location,
        certify=target.certify,
        lock_document=target.lock_document,
        timestamp_url=timestamp_url,
        embed_validation_info=embed_validation_info,
        validation_context=validation_context,
        signed_at=now,
    )
    key = store.put(signed)  # the new revision before the rows that point at it
    return record_signature(session, target, actor, certificate, key, now=now)


@dataclass(frozen=True)
class SigningTarget:
    """The active signer step an official is about to sign, with its permit and how the signature must look."""

    application: Application
    steps: list[WorkflowStep]
    step: WorkflowStep
    permit: Permit
    stamp: StampText
    reason: str
    location: str
    certify: bool
    lock_document: bool


def signing_target(
    session: Session,
    store: ObjectStore,
    application: Application,
    actor: User,
    *,
    base_url: str | None = None,
    now: datetime | None = None,
    sealing_key: Ed25519PrivateKey | None = None,
) -> SigningTarget:
    """Lock the application and check that ``actor`` may sign its active step now (the checks of :func:`sign_step`).

    Used by :func:`sign_step` and by the desk agent's two halves (:mod:`workflow.deferred`), so that a signature made
    on an official's token obeys exactly the same routing rules as one made with a key on the server.
    """
    now = _aware(now or utcnow())
    steps = _lock(session, application)
    step = _active_step(application, steps)
    _check_can_act(application, step, actor)
    if not step.signs:
        raise RoutingRefused("wrong_state", "this step records a decision, it does not sign")
    _check_documents(application)
    permit = _permit_of(session, application)
    if permit is None:
        if base_url is None:
            raise RoutingRefused("no_permit")
        permit = prepare_permit(session, store, application, base_url=base_url, now=now, sealing_key=sealing_key)
    if permit.status != PermitStatus.DRAFT.value:
        raise RoutingRefused("wrong_state", f"permit {permit.status}")
    signing_steps = [s for s in steps if s.signs]
    return SigningTarget(
        application=application,
        steps=steps,
        step=step,
        permit=permit,
        stamp=StampText(name_ar=actor.full_name, title_ar=step.title_ar, title_en=step.title_en),
        reason=f"{step.title_en}: approval of {application.service.name_en} {application.tracking_number}",
        location=application.centre.name_en,
        certify=step is signing_steps[0],
        lock_document=step is signing_steps[-1],
    )


def check_official_certificate(
    session: Session,
    actor: User,
    certificate: asn1_x509.Certificate,
    *,
    now: datetime,
    trust_roots: Sequence[asn1_x509.Certificate] | None = None,
    revocation: Revocation = "require",
    intermediates: Sequence[asn1_x509.Certificate] = (),
) -> OfficialCertificate:
    """The actor's active registered certificate row for ``certificate``, if it may sign now (else refused).

    Registered for this official, chaining to a trust root (``trust_roots`` or the active :class:`TrustRoot` rows),
    within its validity and not revoked: :func:`signing.certificates.check_signing_certificate`.
    """
    rows = session.scalars(
        select(OfficialCertificate).where(
            OfficialCertificate.user_id == actor.id, OfficialCertificate.active.is_(True)
        )
    ).all()
    roots = list(trust_roots) if trust_roots is not None else active_trust_roots(session)
    check_signing_certificate(
        certificate,
        trust_roots=roots,
        registered_fingerprints=[r.fingerprint for r in rows],
        at=now,
        revocation=revocation,
        intermediates=list(intermediates),
    )
    fp = fingerprint(certificate)
    return next(r for r in rows if r.fingerprint == fp)


def record_signature(
    session: Session,
    target: SigningTarget,
    actor: User,
    certificate: asn1_x509.Certificate,
    key: str,
    *,
    now: datetime | None = None,
) -> Transition:
    """The step is signed: ``key`` (already in the store) is the permit's new revision; advance or issue.

    The step is done and the next one active or, after the last step, the permit is issued (``sign`` → ``approved``,
    then ``issue`` → ``issued``). Returns the ``sign`` transition.
    """
    now = _aware(now or utcnow())
    application, steps, step, permit = target.application, target.steps, target.step, target.permit
    before = application.status
    _complete(step, actor, StepDecision.SIGN, None, now)
    step.certificate_fingerprint = fingerprint(certificate)
    step.signed_pdf_sha256 = key
    permit.current_pdf_sha256 = key
    last = _activate_next(application, steps, step, now)
    application.updated_at = now
    transition = _record(session, application, actor, before, "sign", step.position, None, now)
    if last:
        permit.status = PermitStatus.ISSUED.value
        permit.issued_at = now
        printed = (permit.facts or {}).get("expires_on")
        permit.expires_on = date.fromisoformat(printed) if printed else None
        application.status = ApplicationStatus.ISSUED.value
        _record(session, application, None, ApplicationStatus.APPROVED.value, "issue", None, None, now)
    session.flush()
    return transition


def revoke_permit(
    session: Session, permit: Permit, actor: User, *, reason: str | None, now: datetime | None = None
) -> Transition:
    """Revoke an issued permit: an administrator, or a signer of a department that signs it at the permit's centre.

    The one-stop rule applies (the clerk who took the file in cannot revoke it). A reason is required.
    """
    now = _aware(now or utcnow())
    reason = _clean_reason(reason)
    application = permit.application
    if _took_it_in(actor, application):
        raise RoutingRefused("one_stop")
    departments = {s.department for s in application.steps if s.signs}
    if not any(_is_head(actor, d, application) for d in departments) and not _is_admin(actor):
        raise RoutingRefused("not_permitted")
    if reason is None:
        raise RoutingRefused("reason_required")
    if permit.status != PermitStatus.ISSUED.value:
        raise RoutingRefused("wrong_state", f"permit {permit.status}")
    permit.status = PermitStatus.REVOKED.value
    permit.revoked_at = now
    permit.revoked_by_id = actor.id
    permit.revocation_reason = reason
    transition = _record(session, application, actor, application.status, "revoke", None, reason, now)
    session.flush()
    return transition


def find_permit_by_token(session: Session, permit_number: str, token: str) -> Permit | None:
    """The permit whose number is ``permit_number`` and whose QR token is ``token``, or None.

    Looked up by number; the token's SHA-256 is compared in constant time, so a wrong token and an unknown number
    take the same path and the stored hash alone cannot be replayed as a token.
    """
    if not isinstance(permit_number, str) or not isinstance(token, str) or len(token) > 256:
        return None
    permit = session.scalar(select(Permit).where(Permit.permit_number == permit_number.strip().upper()))
    expected = permit.token_sha256 if permit is not None else "0" * 64
    if hmac.compare_digest(expected, _token_digest(token)) and permit is not None:
        return permit
    return None


# --- officials' certificates ----------------------------------------------------------------------------------


def register_certificate(
    session: Session, user: User, certificate: bytes | str, *, by: User | None, label: str = ""
) -> OfficialCertificate:
    """Register a signing certificate (PEM or DER) for the official ``user``; only registered ones may sign.

    Refused with ``bad_certificate`` (not a certificate) or ``duplicate_certificate`` (registered already, for
    anyone). ``by`` must be an administrator when given (``not_permitted``); None is the CLI / DEMO loader.
    """
    if by is not None and not _is_admin(by):
        raise RoutingRefused("not_permitted")
    try:
        cert = load_certificate(certificate)
    except ValueError as exc:
        raise RoutingRefused("bad_certificate", str(exc)[:200]) from None
    fp = fingerprint(cert)
    if session.scalar(select(OfficialCertificate.id).where(OfficialCertificate.fingerprint == fp)) is not None:
        raise RoutingRefused("duplicate_certificate", fp)
    row = OfficialCertificate(
        user_id=user.id,
        fingerprint=fp,
        certificate_der=cert.dump(),
        subject=cert.subject.human_friendly[:500],
        not_after=cert.not_valid_after,
        label=(label.strip() or str(cert.subject.native.get("common_name") or cert.subject.human_friendly))[:100],
        active=True,
        registered_at=utcnow(),
        registered_by_id=by.id if by is not None else None,
    )
    session.add(row)
    session.flush()
    return row


# --- internals ----------------------------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    text = reason.strip()
    if not text:
        return None
    if len(text) > REASON_MAX:
        raise ValueError(f"A reason is at most {REASON_MAX} characters.")
    return text


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _lock(session: Session, application: Application) -> list[WorkflowStep]:
    """Lock the application and its steps for this transaction and return the steps, fresh from the database."""
    if application.id is None:
        session.flush()
    session.execute(
        select(Application.id).where(Application.id == application.id).with_for_update()
    )
    steps = list(
        session.scalars(
            select(WorkflowStep)
            .where(WorkflowStep.application_id == application.id)
            .order_by(WorkflowStep.position)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    session.refresh(application, ["status"])
    return steps


def _active_step(application: Application, steps: Sequence[WorkflowStep]) -> WorkflowStep:
    if application.status not in OPEN_STATUSES:
        raise RoutingRefused("wrong_state", f"status {application.status}")
    for step in steps:
        if step.status == StepStatus.ACTIVE.value:
            return step
    raise RoutingRefused("wrong_state", "no active step")


def _took_it_in(user: User, application: Application) -> bool:
    return application.created_by_id is not None and application.created_by_id == user.id


def _in_centre(user: User, application: Application) -> bool:
    return user.centre_id is None or user.centre_id == application.centre_id


def _is_admin(user: User) -> bool:
    return user.active and Role.ADMIN in user.roles


def _is_head(user: User, department: str, application: Application) -> bool:
    """An administrator, or an active signer of ``department`` working for the application's centre (or all)."""
    if _is_admin(user):
        return True
    return (
        user.active
        and Role.SIGNER in user.roles
        and user.department is not None
        and user.department == department
        and _in_centre(user, application)
    )


def _check_can_act(application: Application, step: WorkflowStep, user: User) -> None:
    if _took_it_in(user, application):
        raise RoutingRefused("one_stop")
    permission = _ROLE_PERMISSION.get(step.role)
    if not user.active or permission is None or not user.can(permission):
        raise RoutingRefused("not_permitted")
    if step.assignee_id is not None:
        if step.assignee_id != user.id:
            raise RoutingRefused("not_your_step", "assigned to another official")
        return
    if (
        step.role not in {r.value for r in user.roles}
        or user.department is None
        or user.department != step.department
        or not _in_centre(user, application)
    ):
        raise RoutingRefused("not_your_step")


def _status_for(step: WorkflowStep) -> str:
    return ApplicationStatus.AWAITING_SIGNATURE.value if step.signs else ApplicationStatus.IN_REVIEW.value


def _complete(step: WorkflowStep, actor: User, decision: str, reason: str | None, now: datetime) -> None:
    step.status = StepStatus.DONE.value
    step.decided_by_id = actor.id
    step.decided_at = now
    step.decision = str(decision)
    step.reason = reason


def _reset(step: WorkflowStep) -> None:
    step.status = StepStatus.WAITING.value
    step.decided_by_id = None
    step.decided_at = None
    step.decision = None
    step.reason = None
    step.activated_at = None
    step.due_at = None
    step.certificate_fingerprint = None
    step.signed_pdf_sha256 = None


def _activate_next(
    application: Application, steps: Sequence[WorkflowStep], done: WorkflowStep, now: datetime
) -> bool:
    """Activate the step after ``done`` and set the status; True when ``done`` was the last step."""
    following = [s for s in steps if s.position > done.position and s.status == StepStatus.WAITING.value]
    if following:
        _activate(application, following[0], now)
        application.status = _status_for(following[0])
        return False
    application.status = ApplicationStatus.APPROVED.value
    return True


def _record(
    session: Session,
    application: Application,
    actor: User | None,
    from_status: str,
    action: str,
    position: int | None,
    reason: str | None,
    now: datetime,
    *,
    papers: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> Transition:
    transition = Transition(
        application_id=application.id,
        at=now,
        actor_id=actor.id if actor is not None else None,
        from_status=from_status,
        to_status=application.status,
        step_position=position,
        action=action,
        reason=reason,
    )
    session.add(transition)
    record_event(
        session, actor=actor.username if actor is not None else None, action=f"application.{action}",
        subject=f"application:{application.tracking_number}", at=now,
        details={"from": from_status, "to": application.status, "step": position, "reason": reason, **(extra or {})},
    )
    # the citizen's SMS/e-mail, in the same transaction
    record_transition(session, application, transition, papers=papers)
    return transition


def _document_names(application: Application) -> dict[str, tuple[str, str]]:
    """Required-document code → (Arabic, English) name, from the service's catalogue entry."""
    docs = (application.service.definition or {}).get("required_documents") or []
    return {
        str(d["code"]): (str(d.get("name_ar") or d["code"]), str(d.get("name_en") or d["code"]))
        for d in docs
        if isinstance(d, dict) and "code" in d
    }


def _return_items(application: Application, items: Sequence[ReturnItem] | None) -> list[ReturnItem]:
    """The named papers, checked against the service's checklist, one per code (the last problem named wins)."""
    names = _document_names(application)
    chosen: dict[str, ReturnItem] = {}
    for item in items or ():
        code = str(item.code).strip().upper()
        problem = str(item.problem).strip().lower()
        if code not in names or problem not in {p.value for p in CompletionProblem}:
            raise RoutingRefused("unknown_item", f"{code}/{problem}")
        chosen[code] = ReturnItem(code, problem)
    order = list(names)
    return sorted(chosen.values(), key=lambda i: order.index(i.code))


def _check_documents(application: Application) -> None:
    """The missing-document guard: refused (naming them) while a required document is missing, unless overridden."""
    codes = missing_documents(application)
    if not codes:
        return
    names = _document_names(application)
    listed = [names.get(c, (c, c)) for c in codes]
    raise RoutingRefused(
        "documents_missing", ", ".join(codes),
        message=(
            "مستندات مطلوبة ناقصة: " + "، ".join(a for a, _ in listed) + ". لا يُعد الترخيص ولا يُعتمد الطلب ولا "
            "يُوقَّع حتى تُستكمل في الشباك أو يأذن رئيس القسم بالمضي دونها مع ذكر السبب.",
            "Required documents are missing: " + ", ".join(e for _, e in listed) + ". No permit is prepared, "
            "approved or signed until the window adds them or a head of department records an override with a "
            "reason.",
        ),
    )


def _permit_of(session: Session, application: Application) -> Permit | None:
    return session.scalar(select(Permit).where(Permit.application_id == application.id))


def _discard_draft_permit(session: Session, application: Application) -> None:
    permit = _permit_of(session, application)
    if permit is not None and permit.status == PermitStatus.DRAFT.value:
        # documents prepared for a token signature go with it (their prepared PDFs are left to the sweeper)
        session.execute(delete(PreparedSignature).where(PreparedSignature.permit_id == permit.id))
        session.delete(permit)


def _permit_text(definition: dict[str, Any]) -> dict[str, Any]:
    """The catalogue's ``permit`` block of a service (title, works, legal basis, conditions, validity), or {}."""
    text = definition.get("permit")
    return text if isinstance(text, dict) else {}


def _expiry(issued_on: date, definition: dict[str, Any]) -> date:
    text = _permit_text(definition)
    days = text.get("validity_days") or definition.get("permit_validity_days")
    if isinstance(days, int) and not isinstance(days, bool) and days > 0:
        return issued_on + timedelta(days=days)
    try:
        return issued_on.replace(year=issued_on.year + DEFAULT_VALIDITY_YEARS)
    except ValueError:  # 29 February
        return issued_on.replace(year=issued_on.year + DEFAULT_VALIDITY_YEARS, day=28)


def _facts_json(facts: PermitFacts) -> dict[str, Any]:
    data = asdict(facts)
    data.pop("national_id", None)  # printed on the permit; the snapshot (read by public pages) keeps the masked form
    for key, value in list(data.items()):
        if isinstance(value, date):
            data[key] = value.isoformat()
        elif isinstance(value, tuple):
            data[key] = list(value)
    data["signatories"] = [list(s) for s in facts.signatories]
    if data.get("property_details") is not None:
        data["property_details"] = dict(data["property_details"])
    return data
