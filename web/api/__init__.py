"""The JSON API under ``/api/v1`` (portal, mobile and the desk agent), documented at ``/api/v1/openapi.json``.

Authentication is by bearer token only; the session cookie is ignored here, so the API needs no CSRF token and a
browser session can never be used to call it cross-site.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

from archive.users import user_for_token
from web.api.schemas import ApiError
from web.auth.principal import StaffPrincipal
from web.runtime import db_session

API_PREFIX = "/api/v1"


class SijillApi(Api):
    """flask-smorest, minus its app-wide JSON error handler: ``web.errors`` answers JSON or HTML by path.

    ``ERROR_SCHEMA`` is the body ``web.errors`` really sends; flask-smorest documents it as every operation's
    ``default`` response, so an endpoint added later is described truthfully without doing anything.
    """

    ERROR_SCHEMA = ApiError

    def _register_error_handlers(self) -> None:
        return None


def _load_bearer_principal() -> None:
    """Set ``g.api_principal`` from the bearer token (or None) for every request under the API prefix."""
    if not request.path.startswith(API_PREFIX + "/"):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    g.api_principal = None
    if scheme.lower() == "bearer" and token.strip():
        session = db_session()
        user = user_for_token(session, token.strip())
        if user is not None:
            g.api_principal = StaffPrincipal.from_user(user)
            session.commit()


def install(app: Flask, csrf: CSRFProtect) -> SijillApi:
    """One ``Api`` per application (blueprints are shared module objects and stay unmodified after import)."""
    from web import offline
    from web.api import applications, auth, catalogue, decisions, holds, inquiry, search, signing, verify

    app.config.update(
        API_TITLE="Sijill API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Applications, documents, signatures and verification for Sijill."},
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}],
        },
    )
    api = SijillApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token"}
    )
    app.before_request(_load_bearer_principal)
    for blueprint in (auth.blp, catalogue.blp, applications.blp, decisions.blp, search.blp, signing.blp, verify.blp,
                      inquiry.blp, holds.blp):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    offline.document(api.spec, app)
    return api
