"""Rate limits on the public endpoints (permit verification), with Flask-Limiter, per client address.

One :class:`~flask_limiter.Limiter` per application (not a module-level one), so two apps in one process (tests) never
share counters or storage. Limits are attached to whole blueprints by method: reading a verification page or its JSON
(``GET``) and uploading a copy to check (``POST``, which validates a PDF and costs far more). The values come from
the app config, so a deployment or a test can change them without code:

* ``SIJILL_VERIFY_LIMIT`` (default ``60 per minute``) for ``GET``;
* ``SIJILL_VERIFY_UPLOAD_LIMIT`` (default ``10 per minute``) for ``POST``.

Counts live in ``SIJILL_RATELIMIT_STORAGE_URL`` (``memory://`` per process, Redis shared by every web process). When
that storage cannot be reached the request is served and the failure logged: verification matters more than the
limit. A refused request is a ``429`` rendered by :mod:`web.errors` (an Arabic page, or JSON under ``/api``) with
``Retry-After``.

The client address is the TCP peer (``request.remote_addr``). Behind a reverse proxy that is the proxy's address for
everyone, so the proxy must pass the client's address on (waitress ``trusted_proxy`` / ``ProxyFix``) before these
limits mean anything per citizen.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from sijill.settings import Settings

READ_LIMIT_KEY = "SIJILL_VERIFY_LIMIT"
UPLOAD_LIMIT_KEY = "SIJILL_VERIFY_UPLOAD_LIMIT"
DEFAULT_READ_LIMIT = "60 per minute"
DEFAULT_UPLOAD_LIMIT = "10 per minute"
EXTENSION_KEY = "sijill_limiter"


def _read_limit() -> str:
    return str(current_app.config.get(READ_LIMIT_KEY) or DEFAULT_READ_LIMIT)


def _upload_limit() -> str:
    return str(current_app.config.get(UPLOAD_LIMIT_KEY) or DEFAULT_UPLOAD_LIMIT)


def install(app: Flask, settings: Settings, public_blueprints: Iterable[Blueprint]) -> Limiter:
    """Create the app's limiter and limit every route of ``public_blueprints`` (GET and POST separately)."""
    app.config.setdefault(READ_LIMIT_KEY, DEFAULT_READ_LIMIT)
    app.config.setdefault(UPLOAD_LIMIT_KEY, DEFAULT_UPLOAD_LIMIT)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_url,
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
        key_prefix="sijill",
    )
    for blueprint in public_blueprints:
        limiter.limit(_read_limit, methods=["GET", "HEAD"])(blueprint)
        limiter.limit(_upload_limit, methods=["POST"])(blueprint)
    app.extensions[EXTENSION_KEY] = limiter
    return limiter
