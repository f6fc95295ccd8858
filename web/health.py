"""``/healthz``: database, storage, search and broker, for load balancers and operators."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from sijill.health import report, run_checks
from web.permissions import public
from web.runtime import runtime

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    rt = runtime()
    body = report(run_checks(rt.settings, rt.db))
    return jsonify(body), 200 if body["status"] == "ok" else 503
