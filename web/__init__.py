"""Flask application factory: a thin adapter over the archive, intake and signing services."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from archive.db import Database
from sijill.settings import Settings

csrf = CSRFProtect()


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """Build the app for ``settings`` (read from the environment when omitted)."""
    from web import admin, errors, health, holds, home, i18n, metrics, offline, permissions, ratelimit, sealing_keys
    from web import api as api_pkg
    from web import decisions as decisions_pkg
    from web import governance as governance_pkg
    from web import inquiry as inquiry_pkg
    from web import intake as intake_pkg
    from web import search as search_pkg
    from web import verify as verify_pkg
    from web.api import inquiry as api_inquiry
    from web.api import verify as api_verify
    from web.auth.views import bp as auth_bp
    from web.auth.views import login_manager
    from web.forms_parsing import SijillRequest
    from web.runtime import Runtime, install

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.request_class = SijillRequest
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        SESSION_COOKIE_NAME="sijill_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    rt = Runtime(settings=settings, db=database or Database(settings.database_url))
    install(app, rt)
    from worker.dispatch import queue_on_commit

    queue_on_commit(rt.db.sessions, settings, rt.store)  # manifests and search indexing, never in the request

    csrf.init_app(app)
    login_manager.init_app(app)
    permissions.install(app)
    i18n.install(app, settings.data_dir / "translations")
    errors.install(app)

    app.register_blueprint(auth_bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    metrics.install(app)
    app.register_blueprint(intake_pkg.bp)
    app.register_blueprint(decisions_pkg.bp)
    app.register_blueprint(verify_pkg.bp)
    # An anonymous check of a copy changes nothing and carries no login: no CSRF token, so the cached public page is
    # the same bytes for everyone and sets no cookie (web.verify.pagecache).
    csrf.exempt(verify_pkg.views.check)
    app.register_blueprint(search_pkg.bp)
    app.register_blueprint(inquiry_pkg.bp)
    app.register_blueprint(governance_pkg.bp)
    app.register_blueprint(holds.bp)
    app.register_blueprint(sealing_keys.bp)
    app.register_blueprint(offline.bp)
    api_pkg.install(app, csrf)
    ratelimit.install(app, settings, [verify_pkg.bp, api_verify.blp, offline.bp], [inquiry_pkg.bp, api_inquiry.blp])

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'"
        )
        return response

    logging.getLogger(__name__).debug("Sijill app created for %s", settings.env)
    return app
