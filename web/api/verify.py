"""Public verification as JSON: what the QR page shows, and the check of an uploaded copy, for apps and other
administrations. No token needed.

Rate-limited with the page (:mod:`web.ratelimit`: one read budget per client address for the page and this JSON, one
upload budget for both checks); an unknown permit number, a forged token and another permit's token all give the same
404 with nothing in it. ``valid`` is what to rely on (in force); ``genuine`` only says Sijill issued it (also true for
a revoked or expired permit); ``status`` says which.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from web.api.schemas import CopyCheck, Verification
from web.errors import ExplainedError
from web.permissions import public
from web.runtime import db_session
from web.verify import pagecache
from web.verify.copy import CopyVerdict, check_copy
from web.verify.model import STATES, permit_view
from web.verify.revisions import history_views
from web.verify.views import CHECK_FIELD, CHECK_MAX_BYTES, archived_revisions
from workflow.routing import find_permit_by_token

blp = Blueprint("api_verify", __name__, url_prefix="/api/v1", description="Public verification of permits")

NOT_FOUND = (
    "لم نجد ترخيصا يطابق هذا الرابط.",
    "No permit matches this verification link.",
)
NO_FILE = (
    "أرسل ملف PDF للترخيص في الحقل pdf (multipart/form-data) أو في جسم الطلب (application/pdf).",
    "Send the permit's PDF in the field pdf (multipart/form-data) or as the request body (application/pdf).",
)
TOO_LARGE = (
    "الملف أكبر من 20 ميجابايت؛ نسخة الترخيص أصغر من ذلك بكثير.",
    "The file is larger than 20 MB; a permit's PDF is far smaller.",
)


@blp.route("/verify/<permit_number>/<token>")
@blp.response(200, Verification)
@blp.alt_response(404, description="No permit matches this number and token (nothing else is said)")
@blp.alt_response(429, description="Too many requests from this address (page and JSON share one budget); see "
                                   "Retry-After")
@blp.doc(security=[])
@public
def verify_permit(permit_number: str, token: str) -> Response:
    """Whether the permit of the QR code is genuine and in force, with its key facts and each signature's verdict.

    The path is the one printed in the permit's QR code, under ``/api/v1/verify`` instead of ``/v``. Rely on
    ``valid``: ``genuine`` stays true for a revoked or expired permit.
    """
    cached = pagecache.cached_body(permit_number, token, kind="json")
    if cached is not None:
        return _json(cached)
    session = db_session()
    permit = find_permit_by_token(session, permit_number, token)
    if permit is None:
        raise ExplainedError(404, *NOT_FOUND, "permit_not_found")
    view = permit_view(session, permit)
    data = asdict(view)
    signed_ok = view.indication == "TOTAL_PASSED"
    archived = archived_revisions(permit, token)
    answer = {
        **data,
        "genuine": signed_ok and view.state in ("valid", "revoked", "expired"),
        "valid": view.state == "valid",
        "status": view.state,
        "status_ar": STATES[view.state][0],
        "applicant": view.applicant_masked,
        "revisions": [asdict(r) for r in archived.entries],
        "revisions_pending": archived.pending,
    }
    # serialised here (as the response decorator would) so the same stamp-checked cache as the page keeps the bytes
    body = current_app.json.dumps(Verification().dump(answer))
    pagecache.remember(permit_number, token, permit, body, kind="json")  # replaced once the album is recorded
    return _json(body)


def _json(body: str) -> Response:
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/verify/<permit_number>/<token>/check", methods=["POST"])
@blp.response(200, CopyCheck)
@blp.alt_response(400, description="No PDF in the request")
@blp.alt_response(404, description="No permit matches this number and token")
@blp.alt_response(413, description="Larger than 20 MB")
@blp.alt_response(429, description="Too many uploads from this address (page and JSON share one budget)")
@blp.alt_response(503, description="Too many checks at once (kind busy); see Retry-After")
@blp.doc(security=[], requestBody={"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {"pdf": {"type": "string",
                                                                                  "format": "binary"}}}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
}})
@public
def check_permit_copy(permit_number: str, token: str) -> Any:
    """Is this file a copy of the permit? The same verdict as the page's upload check, in Arabic and English.

    Answered within about two seconds whatever the file: beyond the size, revision, object and time limits the kind
    is ``too_complex``.
    """
    request.max_content_length = CHECK_MAX_BYTES + 64 * 1024
    session = db_session()
    permit = find_permit_by_token(session, permit_number, token)
    if permit is None:
        raise ExplainedError(404, *NOT_FOUND, "permit_not_found")
    try:
        if request.mimetype == "multipart/form-data":
            upload = request.files.get(CHECK_FIELD)
            data = upload.stream.read(CHECK_MAX_BYTES + 1) if upload is not None else b""
            filename = (upload.filename or "") if upload is not None else ""
        else:
            data = request.get_data(cache=False)
            filename = ""
    except RequestEntityTooLarge:
        raise ExplainedError(413, *TOO_LARGE, "too_large") from None
    if len(data) > CHECK_MAX_BYTES:
        raise ExplainedError(413, *TOO_LARGE, "too_large")
    if not data:
        raise ExplainedError(400, *NO_FILE, "no_file")
    view = permit_view(session, permit)
    verdict = check_copy(session, permit, view, data, filename)
    body = copy_json(verdict, view.state)
    body["revisions"] = [asdict(r) for r in history_views(permit, verdict.history)]
    if verdict.kind == "busy":
        return body, 503, {"Retry-After": "30"}
    return body


def copy_json(verdict: CopyVerdict, status: str) -> dict[str, Any]:
    report = verdict.report
    return {
        "kind": verdict.kind,
        "genuine": verdict.genuine,
        "valid": verdict.genuine and status == "valid",
        "status": status,
        "headline_ar": verdict.headline_ar,
        "headline_en": verdict.headline_en,
        "sentences_ar": verdict.sentences_ar,
        "sentences_en": verdict.sentences_en,
        "size": verdict.size,
        "sha256": verdict.sha256,
        "signatures_in_copy": verdict.signatures_in_copy,
        "indication": report.indication if report is not None else None,
        "sub_indication": report.sub_indication if report is not None else None,
        "reasons_ar": list(report.reasons_ar) if report is not None else [],
        "reasons_en": list(report.reasons_en) if report is not None else [],
        "signatures": [asdict(s) for s in verdict.signatures],
    }
