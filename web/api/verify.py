"""Public verification as JSON: what the QR page shows, for apps and other administrations. No token needed.

Rate-limited like the page (:mod:`web.ratelimit`); an unknown permit number, a forged token and another permit's
token all give the same 404 with nothing in it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_smorest import Blueprint

from web.api.schemas import Verification
from web.errors import ExplainedError
from web.permissions import public
from web.runtime import db_session
from web.verify.model import STATES, permit_view
from workflow.routing import find_permit_by_token

blp = Blueprint("api_verify", __name__, url_prefix="/api/v1", description="Public verification of permits")

NOT_FOUND = (
    "لم نجد ترخيصا يطابق هذا الرابط.",
    "No permit matches this verification link.",
)


@blp.route("/verify/<permit_number>/<token>")
@blp.response(200, Verification)
@blp.alt_response(404, description="No permit matches this number and token (nothing else is said)")
@blp.alt_response(429, description="Too many requests from this address; see Retry-After")
@blp.doc(security=[])
@public
def verify_permit(permit_number: str, token: str) -> dict[str, Any]:
    """Whether the permit of the QR code is genuine and current, with its key facts and each signature's verdict.

    The path is the one printed in the permit's QR code, under ``/api/v1/verify`` instead of ``/v``.
    """
    session = db_session()
    permit = find_permit_by_token(session, permit_number, token)
    if permit is None:
        raise ExplainedError(404, *NOT_FOUND, "permit_not_found")
    view = permit_view(session, permit)
    data = asdict(view)
    signed_ok = view.indication == "TOTAL_PASSED"
    return {
        **data,
        "genuine": signed_ok and view.state in ("valid", "revoked", "expired"),
        "status": view.state,
        "status_ar": STATES[view.state][0],
        "applicant": view.applicant_masked,
    }
