"""Public verification of a permit: the page its QR code opens, and the check of an uploaded copy. No login.

``GET /v/<permit_number>/<token>`` finds the permit by its number and the SHA-256 of the token
(:func:`workflow.routing.find_permit_by_token`); anything that does not match, a forged token or another permit's,
gets the same "could not be verified" page with status 404 and nothing else, so the page cannot be used to learn
which permit numbers exist. ``POST …/check`` takes a PDF (at most :data:`CHECK_MAX_BYTES`) and gives one verdict on it
(:mod:`web.verify.copy`: which archived state of the permit it is, if any; validation bounded in time and cost, away
from the request threads), which replaces the page's top banner; the DSS-style report is folded below it.

Both are rate-limited per client address (:mod:`web.ratelimit`), never cached by browsers or proxies and not indexed.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from archive.models import Permit, PermitStatus
from signing.bounded import warm_up
from web.errors import N_
from web.permissions import public
from web.runtime import db_session
from web.verify import pagecache
from web.verify.copy import CopyVerdict, check_copy
from web.verify.model import INDICATIONS, STATES, PermitView, permit_view
from web.verify.revisions import CHANGE_LABELS, ArchivedRevisions, album_image, archived_views, history_views
from workflow.routing import find_permit_by_token

bp = Blueprint("verify", __name__)

CHECK_MAX_BYTES = 20 * 1024 * 1024
"""Largest copy accepted for checking (a permit is a few hundred kilobytes)."""
CHECK_FIELD = "pdf"
PICTURE_NAME = re.compile(r"thumb-[0-9a-f]{64}\.png")

NO_FILE = (N_("اختر ملف PDF للترخيص للتحقق منه."), "Choose the permit's PDF file to check.")
TOO_LARGE = (N_("الملف أكبر من 20 ميجابايت؛ نسخة الترخيص أصغر من ذلك بكثير."),
             "The file is larger than 20 MB; a permit's PDF is far smaller.")


@bp.url_value_preprocessor
def cap_uploads(endpoint: str | None, _values: dict[str, object] | None) -> None:
    """Cap the check's upload before anything reads the body (URL preprocessors run before the CSRF check)."""
    if endpoint == "verify.check":
        request.max_content_length = CHECK_MAX_BYTES + 64 * 1024  # plus the form fields and multipart framing


@bp.app_context_processor
def verify_helpers() -> dict[str, object]:
    return {"STATES": STATES, "INDICATIONS": INDICATIONS, "CHANGE_LABELS": CHANGE_LABELS}


@bp.route("/v/<permit_number>/<token>")
@public
def show(permit_number: str, token: str) -> ResponseReturnValue:
    cached = pagecache.cached_body(permit_number, token)
    if cached is not None:
        return _public(cached)
    session = db_session()
    permit = find_permit_by_token(session, permit_number, token)
    if permit is None:
        return not_found()
    view = permit_view(session, permit)
    warm_up()  # the copy check's workers start while the citizen picks the file (no wait here)
    archived = archived_revisions(permit, token)
    body = render_template("verify/permit.html", v=view, check=None, check_error=None,
                           permit_number=permit.permit_number, token=token, revisions=archived.entries,
                           revisions_pending=archived.pending)
    pagecache.remember(permit_number, token, permit, body)  # its stamp changes when the worker records the album
    return _public(body)


@bp.route("/v/<permit_number>/<token>/check", methods=["POST"])
@public
def check(permit_number: str, token: str) -> ResponseReturnValue:
    session = db_session()
    permit = find_permit_by_token(session, permit_number, token)
    if permit is None:
        return not_found()
    view = permit_view(session, permit)
    try:
        upload = request.files.get(CHECK_FIELD)
    except RequestEntityTooLarge:
        return _page(view, permit, token, error=TOO_LARGE, status=413)
    if upload is None or not upload.filename:
        return _page(view, permit, token, error=NO_FILE, status=400)
    data = upload.stream.read(CHECK_MAX_BYTES + 1)
    if len(data) > CHECK_MAX_BYTES:
        return _page(view, permit, token, error=TOO_LARGE, status=413)
    result = check_copy(session, permit, view, data, upload.filename)
    response = _page(view, permit, token, result=result, status=503 if result.kind == "busy" else 200)
    if result.kind == "busy":
        response.headers["Retry-After"] = "30"
    return response


@bp.route("/v/<permit_number>/<token>/revisions/<file_name>")
@public
def revision_picture(permit_number: str, token: str, file_name: str) -> ResponseReturnValue:
    """A thumbnail of the revision viewer; only the pictures of the permit's current album, only to its token."""
    if not PICTURE_NAME.fullmatch(file_name):
        return not_found()
    permit = find_permit_by_token(db_session(), permit_number, token)
    if permit is None:
        return not_found()
    data = album_image(permit, "thumb", file_name)
    if data is None:
        return not_found()
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"  # named by its content's hash
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def archived_revisions(permit: Permit, token: str) -> ArchivedRevisions:
    """The revision viewer of the archived permit, read from its stored album (never built in a request: when it is
    missing the worker is asked and the page says the pictures are being prepared)."""
    if permit.status == PermitStatus.DRAFT.value:
        return ArchivedRevisions()
    return archived_views(permit, "thumb",
                          lambda name: url_for("verify.revision_picture", permit_number=permit.permit_number,
                                               token=token, file_name=name))


def not_found() -> Response:
    """The same answer for an unknown number, a wrong token and another permit's token: nothing to learn from."""
    return _public(render_template("verify/not_found.html"), 404)


def _page(
    view: PermitView,
    permit: Permit,
    token: str,
    *,
    result: CopyVerdict | None = None,
    error: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    archived = archived_revisions(permit, token)
    body = render_template("verify/permit.html", v=view, check=result,
                           check_error=gettext(error[0]) if error else None,
                           permit_number=permit.permit_number, token=token, revisions=archived.entries,
                           revisions_pending=archived.pending,
                           copy_revisions=history_views(permit, result.history) if result is not None else [],
                           lang_next=url_for("verify.show", permit_number=permit.permit_number, token=token))
    return _public(body, status)


def _public(body: str, status_code: int = 200) -> Response:
    response = Response(body, status=status_code, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the token: never pass it on
    return response
