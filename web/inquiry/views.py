"""Public status inquiry pages: ``/track`` (the form) and ``/track/<number>`` (the receipt's QR code).

The QR code printed on every receipt opens ``/track/<number>``; that page no longer shows anything by itself: it is
the inquiry form with the number filled in, asking for the access code printed on the receipt (never on a public
page or the permit). The form is POSTed (so the code stays out of URLs, browser history and access logs) and
answered by :func:`intake.inquiry.inquire`. An unknown number and a wrong code get one and the same 404 page. Input
that cannot be an inquiry (a mistyped number whose check character fails, a code of the wrong shape) is said so, with
status 400, before any lookup. Rate limits: :mod:`web.ratelimit` (per address, and per tracking number on POST).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from intake.inquiry import InquiryInvalid, inquire
from intake.tracking import parse_tracking
from web.permissions import public
from web.runtime import db_session

bp = Blueprint("inquiry", __name__)

NO_MATCH = (
    "لا يوجد طلب بهذا الرقم وهذا الرمز. تأكد من رقم المتابعة ومن رمز الاستعلام المطبوعين على الإيصال.",
    "No application matches this number and this code. Check the tracking number and the access code printed on the "
    "receipt.",
)


@bp.route("/track", methods=["GET"])
@public
def track_form() -> ResponseReturnValue:
    """The empty form (a typed ``number`` query parameter is kept, for old links and bookmarks)."""
    return _page(number=request.args.get("number", "").strip())


@bp.route("/track/<tracking>", methods=["GET"])
@public
def track(tracking: str) -> ResponseReturnValue:
    """Where the receipt's QR code leads: the form with the number filled in; the citizen adds the access code."""
    parsed = parse_tracking(tracking)
    return _page(number=parsed.text if parsed is not None else tracking, focus_digits=parsed is not None)


@bp.route("/track", methods=["POST"])
@public
def lookup() -> ResponseReturnValue:
    number = request.form.get("number", "").strip()
    code = request.form.get("access_code", "")
    resubmit = {"number": number[:40], "access_code": code[:20]}  # the language switch asks again, same answer
    try:
        result = inquire(db_session(), number, code)
    except InquiryInvalid as exc:
        return _page(number=number, error=(exc.message_ar, exc.message_en), error_field=exc.field, status=400,
                     resubmit=resubmit)
    if result is None:
        return _page(number=number, error=NO_MATCH, error_field="", status=404, resubmit=resubmit)
    return _public(render_template("inquiry/status.html", r=result, lang_resubmit=resubmit))


def _page(*, number: str, error: tuple[str, str] | None = None, error_field: str = "", focus_digits: bool = False,
          status: int = 200, resubmit: dict[str, str] | None = None) -> Response:
    body = render_template("inquiry/track.html", number=number, error=error, error_field=error_field,
                           focus_digits=focus_digits, lang_resubmit=resubmit)
    return _public(body, status)


def _public(body: str, status_code: int = 200) -> Response:
    response = Response(body, status=status_code, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
