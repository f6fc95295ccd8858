"""``/healthz``: database, storage, search and broker, for load balancers and operators.

Anyone may ask whether Sijill is healthy; only callers on the same machine (the operator, a container's own
health check) or a logged-in administrator see the details, which name hosts and paths.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from archive.roles import Permission
from sijill.health import report, run_checks
from web.permissions import current_principal, public
from web.runtime import runtime

bp = Blueprint("health", __name__)

LOOPBACK = {"127.0.0.1", "::1"}


def _may_see_details() -> bool:
    if request.remote_addr in LOOPBACK:
        return True
    principal = current_principal()
    return principal is not None and principal.can(Permission.ADMIN_USERS)


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    rt = runtime()
    body: dict[str, Any] = report(run_checks(rt.settings, rt.db))
    if not _may_see_details():
        body["checks"] = {name: {"ok": check["ok"]} for name, check in body["checks"].items()}
    # a lagging search index is reported (status "degraded") but does not take the app out of a load balancer
    return jsonify(body), 503 if body["status"] == "failing" else 200
