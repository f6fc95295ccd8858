"""API authentication: exchange a username and password for a bearer token; who am I."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_smorest import Blueprint

from archive.roles import Permission
from archive.users import authenticate, issue_api_token
from web.api.schemas import Me, TokenRequest, TokenResponse
from web.permissions import current_principal, public, requires
from web.runtime import db_session

blp = Blueprint("api_auth", __name__, url_prefix="/api/v1", description="Authentication")


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenRequest)
@blp.response(201, TokenResponse)
@blp.doc(security=[])
@public
def create_token(payload: dict[str, Any]) -> dict[str, str]:
    """Issue a bearer token for a staff account (the password is never stored by clients)."""
    session = db_session()
    user = authenticate(session, payload["username"], payload["password"], channel="api")
    if user is None:
        session.commit()
        abort(401)
    token = issue_api_token(session, user, payload["name"])
    session.commit()
    return {"token": token, "token_type": "Bearer"}


@blp.route("/me")
@blp.response(200, Me)
@requires(Permission.ACCOUNT_SELF)
def me() -> dict[str, Any]:
    """The account the token belongs to, with its roles and permissions."""
    principal = current_principal()
    assert principal is not None
    return {
        "username": principal.username,
        "full_name": principal.full_name,
        "roles": sorted(principal.roles),
        "permissions": sorted(principal.permissions),
        "centre": principal.centre_code,
    }
