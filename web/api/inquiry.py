"""The citizen's status inquiry as JSON (portal, mobile apps): the same rules as the ``/track`` page. No token.

``POST /api/v1/inquiry`` with the tracking number and the access code printed on the receipt. An unknown number
and a wrong code give the same 404 with the same body; input that cannot be an inquiry is a 400 naming the field.
Rate-limited per client address and per tracking number (:mod:`web.ratelimit`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_smorest import Blueprint

from intake.inquiry import InquiryInvalid, inquire
from web.api.schemas import Inquiry, InquiryRequest
from web.errors import ExplainedError
from web.inquiry.views import NO_MATCH
from web.intake.common import STATUS_LABELS
from web.permissions import public
from web.runtime import db_session

blp = Blueprint("api_inquiry", __name__, url_prefix="/api/v1", description="Citizens' status inquiry")


@blp.route("/inquiry", methods=["POST"])
@blp.arguments(InquiryRequest)
@blp.response(200, Inquiry)
@blp.alt_response(400, description="Not a tracking number, or not an access code (said before any lookup)")
@blp.alt_response(404, description="No application matches this number and this code (nothing else is said)")
@blp.alt_response(429, description="Too many requests from this address or for this number; see Retry-After")
@blp.doc(security=[])
@public
def inquiry(args: dict[str, str]) -> dict[str, Any]:
    """Where an application stands: stage in plain words, dates, legal due date; no personal data or notes."""
    try:
        result = inquire(db_session(), args["tracking_number"], args["access_code"])
    except InquiryInvalid as exc:
        raise ExplainedError(400, exc.message_ar, exc.message_en, exc.code) from None
    if result is None:
        raise ExplainedError(404, *NO_MATCH, "no_match")
    data = asdict(result)
    label = STATUS_LABELS.get(result.status, (result.status, result.status))
    data["status_ar"], data["status_en"] = label
    return data
