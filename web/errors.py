"""Errors as Arabic pages for people and as JSON for the API; never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from web.permissions import is_api_request

log = logging.getLogger(__name__)


def N_(text: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return text


# (Arabic message for the page, English message for the API) per status.
MESSAGES: dict[int, tuple[str, str]] = {
    400: (N_("الطلب غير صالح."), "The request is not valid."),
    401: (N_("يلزم تسجيل الدخول."), "Authentication is required."),
    403: (N_("ليست لديك صلاحية لهذه الصفحة."), "You do not have permission for this action."),
    404: (N_("الصفحة المطلوبة غير موجودة."), "The requested resource does not exist."),
    405: (N_("هذه الطريقة غير مسموح بها."), "This method is not allowed here."),
    413: (N_("الملف المرفوع أكبر من الحد المسموح به."), "The upload is larger than the allowed limit."),
    422: (N_("البيانات المرسلة غير صحيحة."), "The submitted data is not valid."),
    429: (N_("طلبات كثيرة جدا، حاول لاحقا."), "Too many requests; try again later."),
    500: (N_("حدث خطأ داخلي. لم يفقد أي شيء؛ حاول مرة أخرى."), "An internal error occurred; nothing was lost."),
    503: (N_("الخدمة غير متاحة مؤقتا."), "The service is temporarily unavailable."),
}


class ExplainedError(HTTPException):
    """An HTTP error with its own message (Arabic source for the page, English for the API) and a stable code."""

    def __init__(self, status: int, message_ar: str, message_en: str, error_code: str) -> None:
        super().__init__(description=message_en)
        self.code = status
        self.message_ar = message_ar
        self.message_en = message_en
        self.error_code = error_code


def _messages(code: int) -> tuple[str, str]:
    return MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])


def handle_http_exception(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    if isinstance(error, ExplainedError):
        arabic, english = error.message_ar, error.message_en
    else:
        arabic, english = _messages(code)
    if is_api_request() or request.path.startswith("/.well-known/"):  # machine endpoints answer JSON
        body: dict[str, object] = {"status": code, "error": english, "error_ar": arabic}
        if isinstance(error, ExplainedError):
            body["code"] = error.error_code
            response = jsonify(body)
            response.status_code = code
            return response
        details = getattr(error, "data", None)
        if isinstance(details, dict) and details.get("messages"):
            body["details"] = details["messages"]
        elif error.description and code < 500 and error.description != type(error).description:
            body["detail"] = error.description
        response = jsonify(body)
        response.status_code = code
        if code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="sijill"'
        return _with_protocol_headers(response, error)
    from web.intake.common import is_arabic  # the interface language, as every page decides it

    message = _(arabic)
    if isinstance(error, ExplainedError) and message == arabic and not is_arabic():
        message = english  # a sentence made at run time has no catalogue entry: use its own English
    page = make_response(render_template("errors/error.html", code=code, message=message), code)
    return _with_protocol_headers(page, error)


def _with_protocol_headers(response: Response, error: HTTPException) -> Response:
    """Keep the headers HTTP requires of the error itself (``Allow`` of a 405, ``Retry-After``, ...) on our body."""
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    log.exception("unhandled error", exc_info=error)
    return handle_http_exception(InternalServerError())


DATABASE_DOWN = (
    N_("قاعدة البيانات غير متاحة الآن، ولم يُسجَّل شيء. حاول مرة أخرى بعد قليل."),
    "The database cannot be reached right now and nothing was recorded; try again shortly.",
)


def handle_database_down(error: Exception) -> ResponseReturnValue:
    """A lost or refused database connection (a restart, a network cut): the transaction did not commit."""
    log.error("database unavailable: %s", error)
    return handle_http_exception(ExplainedError(503, *DATABASE_DOWN, "database_unavailable"))


def install(app: Flask) -> None:
    from sqlalchemy.exc import DBAPIError

    from archive.db import DatabaseUnavailable

    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DatabaseUnavailable, handle_database_down)

    def database_error(error: DBAPIError) -> ResponseReturnValue:
        if error.connection_invalidated or type(error.orig).__name__ in ("OperationalError", "InterfaceError"):
            return handle_database_down(error)
        return handle_unexpected(error)

    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(Exception, handle_unexpected)
