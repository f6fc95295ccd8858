"""``/healthz``: database, storage, search, broker and the work in flight, for load balancers and operators.

Anyone may ask whether Sijill is up: the public answer is one word (``up``, ``degraded``, ``down``), HTTP 503 when
down. The detailed report names hosts, paths, counts and ages, so only an operator sees it: a caller on this
machine that no proxy forwarded (the container's own health check, ``curl`` on the host), a logged-in
administrator, or a bearer token of an administrator (a monitoring system). The report comes from
:class:`sijill.health.HealthCache`, at most a few seconds old, so asking is cheap however often it is asked.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from archive.roles import Permission
from archive.users import user_for_token
from sijill.health import public_report
from web.auth.principal import StaffPrincipal
from web.permissions import current_principal, public
from web.runtime import db_session, runtime

bp = Blueprint("health", __name__)

LOOPBACK = {"127.0.0.1", "::1"}
OPERATOR_PERMISSION = Permission.ADMIN_USERS


def operator_may_see() -> bool:
    """True for callers allowed the detailed health report and the metrics (see the module's docstring)."""
    if request.remote_addr in LOOPBACK and "X-Forwarded-For" not in request.headers:
        return True
    principal = current_principal()
    if principal is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            session = db_session()
            user = user_for_token(session, token.strip())
            if user is not None:
                principal = StaffPrincipal.from_user(user)
                session.commit()
    return principal is not None and principal.can(OPERATOR_PERMISSION)


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    detailed: dict[str, Any] = runtime().health.get()
    body = detailed if operator_may_see() else public_report(detailed)
    # a lagging search index or stuck work is reported ("degraded") but does not take the app out of a balancer
    response = jsonify(body)
    response.status_code = 503 if detailed["status"] == "failing" else 200
    response.headers["Cache-Control"] = "no-store"
    return response
