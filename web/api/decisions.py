"""Decisions through the API: the inbox, and every decision the application page allows, as JSON.

The same calls of :mod:`workflow.routing` as the page's forms (:mod:`web.decisions.views`), with the same rules and
the same refusals: a ``RoutingRefused`` or ``SigningRefused`` rolls everything back and answers JSON with its
``code``, the English sentence (``error``) and the Arabic one (``error_ar``), under the same HTTP status as the page
(403 not yours, 409 wrong state, 400 missing input). Signing takes an uploaded PKCS#12 file held in memory for the
request only; signing with a token at the official's desk stays with ``sijill-sign`` (:mod:`web.api.signing`).

Every POST here honours ``Idempotency-Key`` (:mod:`web.api.idempotency`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, request, url_for
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import (
    Application,
    ApplicationStatus,
    Centre,
    Permit,
    PermitStatus,
    StepDecision,
    StepReminder,
    StepStatus,
    Transition,
    User,
)
from archive.roles import Permission, Role
from archive.store import StoreUnavailable
from intake.id_card import mismatches
from intake.national_id import EGYPT
from signing.errors import SigningRefused
from signing.signers import open_signer
from web.api import idempotency
from web.api.idempotency import idempotent, respond
from web.api.schemas import (
    ApiError,
    DecisionRequest,
    DecisionResult,
    InboxOut,
    OverrideRequest,
    ReassignRequest,
    ResubmitRequest,
    RevokeRequest,
)
from web.auth.principal import StaffPrincipal
from web.decisions.credentials import PKCS12_MAX_BYTES, in_memory_pkcs12, signing_options
from web.decisions.panel import is_my_step, permit_of
from web.decisions.views import FORM_LIMIT_BYTES, REFUSAL_STATUS
from web.errors import ExplainedError
from web.intake.common import application_for
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime
from web.sealing_keys import permit_sealing_key
from workflow.reminders import OVERDUE, reminders_of
from workflow.routing import (
    OPEN_STATUSES,
    InboxItem,
    ReturnItem,
    RoutingRefused,
    active_trust_roots,
    decide,
    inbox,
    missing_documents,
    open_completion_items,
    open_pending_workflows,
    override_missing,
    reassign,
    resubmit,
    revoke_permit,
    sign_step,
)

log = logging.getLogger(__name__)

blp = Blueprint("api_decisions", __name__, url_prefix="/api/v1",
                description="The officials' inbox and decisions: recommend, approve, return, reject, reassign, "
                            "resubmit, sign with a PKCS#12 file, revoke")

REASON_TOO_LONG = ("السبب أطول من اللازم (2000 حرف على الأكثر).", "The reason is too long (2000 characters at most).")
UNKNOWN_OFFICIAL = ("لا يوجد موظف بهذا الاسم.", "There is no official with this username.")
CHOOSE_PKCS12 = ("أرفق ملف الشهادة بصيغة ⁦PKCS#12⁩ في الحقل ⁦pkcs12⁩.",
                 "Attach the certificate file (PKCS#12) in the field pkcs12.")
SEEN_REQUIRED = ("أرسل بصمة نسخة الترخيص التي اطلعت عليها (⁦seen_pdf_sha256⁩) قبل التوقيع.",
                 "Send the SHA-256 of the permit revision you read (seen_pdf_sha256) with the signature.")
ARCHIVE_DOWN = ("تعذر الوصول إلى الأرشيف الآن، ولم يُحفظ شيء. حاول مرة أخرى بعد قليل.",
                "The archive cannot be reached right now and nothing was saved. Try again shortly.")

REFUSALS = {
    400: "Missing input (reason_required, …) or a signing refusal (bad_passphrase, certificate_untrusted, …); "
         "nothing was written",
    401: "No valid bearer token",
    403: "Not yours: one_stop, not_permitted, not_your_step",
    404: "No such application (or one of another centre)",
    409: "The file is not in a state for this: wrong_state, no_permit, document_changed",
    413: "The request body is too large",
    422: "The body failed validation, or the Idempotency-Key was used for a different request",
}

SIGN_BODY: dict[str, Any] = {
    "required": True,
    "description": "The official's PKCS#12 file (held in memory for this request only, never stored) and the "
                   "SHA-256 of the permit revision they read (PermitOut.revision, or the X-Permit-Revision header of "
                   "GET /api/v1/signing/queue/{tracking}/permit.pdf).",
    "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "required": ["pkcs12", "seen_pdf_sha256"],
        "properties": {
            "pkcs12": {"type": "string", "format": "binary", "description": ".p12 / .pfx, at most 256 KiB"},
            "passphrase": {"type": "string"},
            "seen_pdf_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    }}},
}


@blp.url_value_preprocessor
def cap_bodies(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Decisions and a PKCS#12 file are small: refuse a large body before anything reads it."""
    if endpoint is not None and endpoint.startswith("api_decisions.") and request.method == "POST":
        request.max_content_length = FORM_LIMIT_BYTES


def _doc(responses: tuple[int, ...] = (400, 401, 403, 404, 409, 413, 422)) -> Any:
    """The refusals an operation can answer, each as an :class:`ApiError`, and the Idempotency-Key header."""
    def decorate(view: Any) -> Any:
        for status in responses:
            view = blp.alt_response(status, schema=ApiError, description=REFUSALS[status])(view)
        return blp.doc(parameters=[idempotency.PARAMETER])(view)
    return decorate


def _principal() -> StaffPrincipal:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal


def _user(session: Session) -> User:
    user = session.get(User, _principal().id)
    if user is None:
        abort(403)
    return user


def _refused(exc: RoutingRefused | SigningRefused) -> ExplainedError:
    db_session().rollback()
    status = REFUSAL_STATUS.get(exc.code, 400) if isinstance(exc, RoutingRefused) else 400
    return ExplainedError(status, exc.message_ar, exc.message_en, exc.code)


def _too_long() -> ExplainedError:
    db_session().rollback()
    return ExplainedError(400, *REASON_TOO_LONG, "reason_too_long")


# --- JSON of the workflow -----------------------------------------------------------------------------------------


def transition_json(transition: Transition, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": transition.id, "at": transition.at, "action": transition.action,
        "from_status": transition.from_status, "to_status": transition.to_status,
        "step_position": transition.step_position,
        "actor": names.get(transition.actor_id) if transition.actor_id is not None else None,
        "reason": transition.reason,
    }


def _usernames(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.username).where(User.id.in_(wanted)))}


def permit_json(permit: Permit | None, tracking: str) -> dict[str, Any] | None:
    if permit is None:
        return None
    return {
        "permit_number": permit.permit_number, "status": permit.status, "revision": permit.current_pdf_sha256,
        "issued_at": permit.issued_at, "expires_on": permit.expires_on, "revoked_at": permit.revoked_at,
        "revocation_reason": permit.revocation_reason,
        "pdf_url": url_for("api_signing.permit_pdf", tracking=tracking),
    }


def available_actions(session: Session, application: Application, user: User, permit: Permit | None) -> list[str]:
    """What ``user`` may do now, as the application page shows it (:func:`web.decisions.panel.build_panel`), without
    its side effect of preparing the permit. Whether an action is allowed is decided again when it is posted."""
    steps = sorted(application.steps, key=lambda s: s.position)
    active = next((s for s in steps if s.status == StepStatus.ACTIVE.value), None)
    took_it_in = application.created_by_id is not None and application.created_by_id == user.id
    actions: list[str] = []
    if active is not None and is_my_step(session, user, application):
        if active.signs:
            if permit is None or permit.status == PermitStatus.DRAFT.value:
                actions.append(StepDecision.SIGN.value)
        else:
            actions.append(StepDecision.RECOMMEND.value if active.role == Role.REVIEWER.value
                           else StepDecision.APPROVE.value)
        actions += [StepDecision.RETURN.value, StepDecision.REJECT.value]
    if application.status == ApplicationStatus.RETURNED.value and user.can(Permission.APPLICATION_CREATE):
        actions.append("resubmit")
    is_head = user.active and Role.SIGNER in user.roles and user.department is not None and not took_it_in
    if is_head and application.status in OPEN_STATUSES and any(
        s.department == user.department and s.status in (StepStatus.WAITING, StepStatus.ACTIVE) for s in steps
    ):
        actions.append("reassign")
    if (is_head and application.status in OPEN_STATUSES and missing_documents(application)
            and user.department in {s.department for s in steps}):
        actions.append("override")
    if (permit is not None and permit.status == PermitStatus.ISSUED.value and is_head
            and user.department in {s.department for s in steps if s.signs} and user.can(Permission.APPLICATION_SIGN)):
        actions.append("revoke")
    return actions


def workflow_json(session: Session, application: Application, user: User | None) -> dict[str, Any]:
    """Steps, transitions, the permit and the caller's possible actions: the workflow panel as data."""
    steps = sorted(application.steps, key=lambda s: s.position)
    transitions = list(session.scalars(
        select(Transition).where(Transition.application_id == application.id).order_by(Transition.at, Transition.id)
    ))
    names = _usernames(session, {s.assignee_id for s in steps} | {s.decided_by_id for s in steps}
                       | {t.actor_id for t in transitions} | {application.override_by_id})
    permit = permit_of(session, application)
    missing = missing_documents(application)
    return {
        "completion_items": [
            {"code": i.code, "problem": i.problem, "document_id": i.document_id, "answer_reason": i.answer_reason}
            for i in open_completion_items(session, application)
        ],
        "missing_documents": missing,
        "override": None if not application.override_codes else {
            "codes": list(application.override_codes), "reason": application.override_reason,
            "by": names.get(application.override_by_id) if application.override_by_id is not None else None,
            "at": application.override_at.isoformat() if application.override_at is not None else None,
        },
        "steps": [
            {
                "position": s.position, "step": s.step, "title_ar": s.title_ar, "title_en": s.title_en,
                "role": s.role, "department": s.department, "signs": bool(s.signs), "status": s.status,
                "assignee": names.get(s.assignee_id) if s.assignee_id is not None else None,
                "activated_at": s.activated_at,
                "decided_by": names.get(s.decided_by_id) if s.decided_by_id is not None else None,
                "decided_at": s.decided_at, "decision": s.decision, "reason": s.reason,
            }
            for s in steps
        ],
        "transitions": [transition_json(t, names) for t in transitions],
        "permit": permit_json(permit, application.tracking_number),
        "actions": available_actions(session, application, user, permit) if user is not None else [],
    }


def _result(session: Session, application: Application, transition: Transition, user: User) -> Response:
    session.flush()
    session.refresh(application)
    body = {
        "tracking_number": application.tracking_number,
        "status": application.status,
        "transition": transition_json(transition, _usernames(session, {transition.actor_id})),
        "workflow": workflow_json(session, application, user),
    }
    return respond(session, DecisionResult, body, 200)


# --- the inbox ----------------------------------------------------------------------------------------------------


def _entry(application: Application, item: InboxItem | None,
           reminders: dict[int, list[StepReminder]] | None = None,
           id_mismatches: dict[int, str] | None = None) -> dict[str, Any]:
    due = application.due_at if application.due_at.tzinfo else application.due_at.replace(tzinfo=UTC)
    if item is not None:
        due = item.due_at
    now = datetime.now(UTC)
    return {
        "tracking_number": application.tracking_number,
        "status": application.status,
        "service_code": application.service_code,
        "service_name_ar": application.service.name_ar,
        "service_name_en": application.service.name_en,
        "applicant_name": application.applicant_name,
        "centre_code": application.centre.code,
        "created_at": application.created_at,
        "due_at": due,
        "application_due_at": application.due_at,
        "overdue": item.overdue if item is not None else now > due,
        "days_left": item.days_left if item is not None
        else (due.astimezone(EGYPT).date() - now.astimezone(EGYPT).date()).days,
        "step": None if item is None else {
            "position": item.position, "of": item.of, "title_ar": item.step.title_ar,
            "title_en": item.step.title_en, "signs": bool(item.step.signs),
        },
        "flags": sorted({"overdue_reported" if r.threshold == OVERDUE else "reminder_sent"
                         for r in (reminders or {}).get(item.step.id if item is not None else -1, [])}
                        | ({"national_id_mismatch"} if application.id in (id_mismatches or {}) else set())),
        "url": url_for("api_applications.get_application", tracking=application.tracking_number),
    }


@blp.route("/inbox")
@blp.response(200, InboxOut)
@blp.alt_response(401, schema=ApiError, description=REFUSALS[401])
@requires(Permission.APPLICATION_VIEW)
def get_inbox() -> dict[str, Any]:
    """The caller's steps, oldest application first, with the legal due date; window staff also get the files
    returned for completion at their centre."""
    principal = _principal()
    session = db_session()
    try:
        if open_pending_workflows(session):
            session.commit()
        else:
            session.rollback()
    except Exception as exc:  # opened by another process at the same moment: show the rest
        session.rollback()
        log.warning("could not open pending workflows from the API inbox: %s: %s", type(exc).__name__, exc)
    user = _user(session)
    waiting = inbox(session, user)
    reminders = reminders_of(session, [item.step.id for item in waiting])
    flagged = mismatches(session, [item.application.id for item in waiting])
    items = [_entry(item.application, item, reminders, flagged) for item in waiting]
    returned: list[dict[str, Any]] = []
    if principal.can(Permission.APPLICATION_CREATE):
        query = (select(Application).join(Application.centre)
                 .where(Application.status == ApplicationStatus.RETURNED.value)
                 .order_by(Application.created_at, Application.id))
        if principal.centre_code is not None:
            query = query.where(Centre.code == principal.centre_code)
        returned = [_entry(a, None) for a in session.scalars(query.limit(200))]
    return {"items": items, "returned": returned}


# --- decisions ----------------------------------------------------------------------------------------------------


@blp.route("/applications/<tracking>/decisions", methods=["POST"])
@blp.arguments(DecisionRequest)
@blp.response(200, DecisionResult)
@_doc()
@requires(Permission.APPLICATION_VIEW)
@idempotent
def post_decision(payload: dict[str, Any], tracking: str) -> Response:
    """Recommend, approve, return or reject the active step (reject and return need a reason)."""
    session = db_session()
    application = application_for(session, _principal(), tracking)
    user = _user(session)
    try:
        items = ([ReturnItem(i["code"], i["problem"]) for i in payload["items"]]
                 if payload["action"] == "return" else None)
        transition = decide(session, application, user, payload["action"], reason=payload["reason"], items=items)
    except RoutingRefused as exc:
        raise _refused(exc) from None
    except ValueError:
        raise _too_long() from None
    return _result(session, application, transition, user)


@blp.route("/applications/<tracking>/reassign", methods=["POST"])
@blp.arguments(ReassignRequest)
@blp.response(200, DecisionResult)
@_doc()
@requires(Permission.APPLICATION_VIEW)
@idempotent
def post_reassign(payload: dict[str, Any], tracking: str) -> Response:
    """Give a waiting or active step to a named official (the head of its department or an administrator)."""
    session = db_session()
    application = application_for(session, _principal(), tracking)
    user = _user(session)
    to_user = session.scalar(select(User).where(User.username == payload["to_user"].strip()))
    if to_user is None:
        session.rollback()
        raise ExplainedError(400, *UNKNOWN_OFFICIAL, "unknown_official")
    try:
        transition = reassign(session, application, payload["position"], to_user, user, reason=payload["reason"])
    except RoutingRefused as exc:
        raise _refused(exc) from None
    except ValueError:
        raise _too_long() from None
    return _result(session, application, transition, user)


@blp.route("/applications/<tracking>/resubmit", methods=["POST"])
@blp.arguments(ResubmitRequest)
@blp.response(200, DecisionResult)
@_doc()
@requires(Permission.APPLICATION_CREATE)
@idempotent
def post_resubmit(payload: dict[str, Any], tracking: str) -> Response:
    """A returned file, completed at the window, goes back into its workflow."""
    session = db_session()
    application = application_for(session, _principal(), tracking)
    user = _user(session)
    try:
        transition = resubmit(session, application, user, note=payload["note"], answers=payload["answers"])
    except RoutingRefused as exc:
        raise _refused(exc) from None
    except ValueError:
        raise _too_long() from None
    return _result(session, application, transition, user)


@blp.route("/applications/<tracking>/override", methods=["POST"])
@blp.arguments(OverrideRequest)
@blp.response(200, DecisionResult)
@_doc()
@requires(Permission.APPLICATION_SIGN)
@idempotent
def post_override(payload: dict[str, Any], tracking: str) -> Response:
    """A head of department lets the file go on without the required documents missing now (reason required;
    audited and shown on the application page)."""
    session = db_session()
    application = application_for(session, _principal(), tracking)
    user = _user(session)
    try:
        transition = override_missing(session, application, user, reason=payload["reason"])
    except RoutingRefused as exc:
        raise _refused(exc) from None
    except ValueError:
        raise _too_long() from None
    return _result(session, application, transition, user)


@blp.route("/applications/<tracking>/revoke", methods=["POST"])
@blp.arguments(RevokeRequest)
@blp.response(200, DecisionResult)
@_doc()
@requires(Permission.APPLICATION_SIGN)
@idempotent
def post_revoke(payload: dict[str, Any], tracking: str) -> Response:
    """Revoke the issued permit (a signer of a department that signs it, or an administrator; reason required)."""
    session = db_session()
    application = application_for(session, _principal(), tracking)
    user = _user(session)
    permit = permit_of(session, application)
    if permit is None:
        raise _refused(RoutingRefused("no_permit"))
    try:
        transition = revoke_permit(session, permit, user, reason=payload["reason"])
    except RoutingRefused as exc:
        raise _refused(exc) from None
    except ValueError:
        raise _too_long() from None
    return _result(session, application, transition, user)


@blp.route("/applications/<tracking>/sign", methods=["POST"])
@blp.doc(requestBody=SIGN_BODY)
@blp.response(200, DecisionResult)
@_doc((400, 401, 403, 404, 409, 413, 422))
@blp.alt_response(503, schema=ApiError, description="The archive cannot store the signed revision; nothing written")
@requires(Permission.APPLICATION_SIGN)
@idempotent
def post_sign(tracking: str) -> Response:
    """Sign the active step's field of the permit with an uploaded PKCS#12 file (the server-side signature of the
    application page; at the desk, sijill-sign signs with the token instead)."""
    session = db_session()
    settings = runtime().settings
    application = application_for(session, _principal(), tracking)
    upload = request.files.get("pkcs12")
    if upload is None:
        session.rollback()
        raise ExplainedError(400, *CHOOSE_PKCS12, "pkcs12_required")
    seen = request.form.get("seen_pdf_sha256", "").strip().lower()
    if not seen:
        session.rollback()
        raise ExplainedError(400, *SEEN_REQUIRED, "seen_pdf_sha256_required")
    user = _user(session)
    options = signing_options(settings)
    try:
        with in_memory_pkcs12(upload.stream.read(PKCS12_MAX_BYTES + 1), request.form.get("passphrase", "")) as cred, \
                open_signer(cred) as signer:
            transition = sign_step(
                session, runtime().store, application, user, signer,
                revocation=options.revocation,
                timestamp_url=options.timestamp_url,
                embed_validation_info=options.embed_validation_info,
                validation_context=options.validation_context(active_trust_roots(session), signer.chain),
                base_url=settings.base_url,
                sealing_key=permit_sealing_key(f"permit of {application.tracking_number}"),
                seen_pdf_sha256=seen,
            )
    except (RoutingRefused, SigningRefused) as exc:
        log.info("API signing of %s by %s refused: %s (%s)", application.tracking_number, user.username, exc.code,
                 exc.detail)
        raise _refused(exc) from None
    except StoreUnavailable:
        session.rollback()
        raise ExplainedError(503, *ARCHIVE_DOWN, "archive_unavailable") from None
    log.info("application %s step %s signed through the API by %s (%s)", application.tracking_number,
             transition.step_position, user.username, options.level)
    return _result(session, application, transition, user)
