"""Legal holds through the API: list, place and release a case file's hold (auditors and administrators).

One call of :mod:`archive.legal_hold` each, committed on success; a refusal rolls back and answers JSON with its
``code`` and the sentence in English and Arabic (403 not an auditor or admin, 400 no reason, 409 already held or not
held, 503 the store cannot hold objects or cannot be reached: nothing was saved).
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from archive.legal_hold import HoldRefused, holds_of, place_hold, release_hold
from archive.models import Application, LegalHold, User
from archive.roles import Permission
from archive.store import StoreUnavailable
from web.api.schemas import ApiError, HoldOut, HoldRequest, HoldsOut
from web.errors import ExplainedError
from web.intake.common import find_application
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime

blp = Blueprint("api_holds", __name__, url_prefix="/api/v1",
                description="Legal holds on case files: nothing of a held file can be deleted or released by retention")

ARCHIVE_DOWN = ("تعذر الوصول إلى الأرشيف الآن، ولم يُحفظ شيء. حاول مرة أخرى بعد قليل.",
                "The archive cannot be reached right now and nothing was saved. Try again shortly.")
REFUSALS = {
    400: "reason_required or reason_too_long; nothing was written",
    401: "No valid bearer token",
    403: "not_permitted: only an auditor or an administrator",
    404: "No such application",
    409: "already_held or not_held",
    422: "The body failed validation",
    503: "store_cannot_hold (no object lock) or the archive is unreachable; nothing was written",
}


def _doc(*statuses: int) -> Any:
    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, schema=ApiError, description=REFUSALS[status])(view)
        return view
    return decorate


def _case(session: Session, tracking: str) -> Application:
    application = find_application(session, tracking)
    if application is None:
        abort(404)
    return application


def _user(session: Session) -> User:
    principal = current_principal()
    user = session.get(User, principal.id) if principal is not None else None
    if user is None:
        abort(403)
    return user


def hold_json(hold: LegalHold) -> dict[str, Any]:
    return {"id": hold.id, "active": hold.released_at is None, "reason": hold.reason, "placed_at": hold.placed_at,
            "placed_by": hold.placed_by.username, "released_at": hold.released_at,
            "released_by": hold.released_by.username if hold.released_by is not None else None,
            "release_reason": hold.release_reason}


@blp.route("/applications/<tracking>/legal-holds")
@blp.response(200, HoldsOut)
@_doc(401, 403, 404)
@requires(Permission.AUDIT_READ)
def get_holds(tracking: str) -> dict[str, Any]:
    """Every legal hold of the case file, newest first; ``held`` says whether one is active now."""
    session = db_session()
    application = _case(session, tracking)
    holds = [hold_json(h) for h in holds_of(session, application.id)]
    return {"tracking_number": application.tracking_number, "held": any(h["active"] for h in holds), "holds": holds}


def _change(tracking: str, reason: str, place: bool) -> dict[str, Any]:
    session = db_session()
    application = _case(session, tracking)
    try:
        change = place_hold if place else release_hold
        run = change(session, runtime().store, application, _user(session), reason)
        session.commit()
    except HoldRefused as exc:
        session.rollback()
        raise ExplainedError(exc.status, exc.message_ar, exc.message_en, exc.code) from None
    except StoreUnavailable:
        session.rollback()
        raise ExplainedError(503, *ARCHIVE_DOWN, "archive_unavailable") from None
    assert run.hold is not None
    return {**hold_json(run.hold), "objects": run.held}


@blp.route("/applications/<tracking>/legal-hold", methods=["POST"])
@blp.arguments(HoldRequest)
@blp.response(201, HoldOut)
@_doc(400, 401, 403, 404, 409, 422, 503)
@requires(Permission.AUDIT_READ)
def post_hold(payload: dict[str, Any], tracking: str) -> dict[str, Any]:
    """Place a legal hold on the case file: every object and manifest of it is held by the store until released."""
    return _change(tracking, payload["reason"], place=True)


@blp.route("/applications/<tracking>/legal-hold/release", methods=["POST"])
@blp.arguments(HoldRequest)
@blp.response(200, HoldOut)
@_doc(400, 401, 403, 404, 409, 422, 503)
@requires(Permission.AUDIT_READ)
def post_release(payload: dict[str, Any], tracking: str) -> dict[str, Any]:
    """Release the case file's active legal hold (objects another held file shares stay held)."""
    return _change(tracking, payload["reason"], place=False)
