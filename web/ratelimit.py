"""Rate limits on the public endpoints (permit verification, status inquiry), with Flask-Limiter.

One :class:`~flask_limiter.Limiter` per application (not a module-level one), so two apps in one process (tests) never
share counters or storage. Limits are attached to whole blueprints by method, in scopes shared by the pages and
their JSON (one budget per client address, not one per blueprint): reading a public page or its JSON (``GET``,
scope ``public-read``) and uploading a copy to check (``POST`` on the page or ``/api/v1/verify/…/check``, scope
``verify-upload``, which validates a PDF and costs far more). The values come from the app config, so a deployment
or a test can change them without code:

* ``SIJILL_VERIFY_LIMIT`` (default ``60 per minute``) for ``GET``;
* ``SIJILL_VERIFY_UPLOAD_LIMIT`` (default ``10 per minute``) for ``POST``.

The status inquiry (``/track``, ``/api/v1/inquiry``) asks for the access code printed on the receipt (about 50 bits,
:mod:`intake.inquiry`); its answers (``POST``) are limited twice: per client address (``SIJILL_INQUIRY_LIMIT``, default
``10 per minute``) and per tracking number whatever the address (``SIJILL_INQUIRY_NUMBER_LIMIT``, default
``20 per hour``), which stops a guesser spread over many addresses. The second limit applies to numbers that do not
exist exactly as to those that do, so it reveals nothing; its cost is that someone hammering a citizen's number can
lock that number's inquiry for an hour (the SMS notifications still reach the citizen). Its ``GET`` pages (the empty
form and the QR landing page) count against the read limit.

Counts live in ``SIJILL_RATELIMIT_STORAGE_URL`` (``memory://`` per process, Redis shared by every web process). When
that storage cannot be reached the request is served and the failure logged: verification matters more than the
limit. A refused request is a ``429`` rendered by :mod:`web.errors` (an Arabic page, or JSON under ``/api``) with
``Retry-After``.

The client address is the TCP peer (``request.remote_addr``). Behind a reverse proxy that is the proxy's address for
everyone, so the proxy must pass the client's address on (waitress ``trusted_proxy`` / ``ProxyFix``) before these
limits mean anything per citizen.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from intake.tracking import parse_tracking
from sijill.settings import Settings

READ_LIMIT_KEY = "SIJILL_VERIFY_LIMIT"
UPLOAD_LIMIT_KEY = "SIJILL_VERIFY_UPLOAD_LIMIT"
DEFAULT_READ_LIMIT = "60 per minute"
DEFAULT_UPLOAD_LIMIT = "10 per minute"
INQUIRY_LIMIT_KEY = "SIJILL_INQUIRY_LIMIT"
INQUIRY_NUMBER_LIMIT_KEY = "SIJILL_INQUIRY_NUMBER_LIMIT"
DEFAULT_INQUIRY_LIMIT = "10 per minute"
DEFAULT_INQUIRY_NUMBER_LIMIT = "20 per hour"
NO_NUMBER = "inquiry:-"
EXTENSION_KEY = "sijill_limiter"


def _read_limit() -> str:
    return str(current_app.config.get(READ_LIMIT_KEY) or DEFAULT_READ_LIMIT)


def _upload_limit() -> str:
    return str(current_app.config.get(UPLOAD_LIMIT_KEY) or DEFAULT_UPLOAD_LIMIT)


def _inquiry_limit() -> str:
    return str(current_app.config.get(INQUIRY_LIMIT_KEY) or DEFAULT_INQUIRY_LIMIT)


def _inquiry_number_limit() -> str:
    return str(current_app.config.get(INQUIRY_NUMBER_LIMIT_KEY) or DEFAULT_INQUIRY_NUMBER_LIMIT)


def _tracking_number_key() -> str:
    """The inquired tracking number in its canonical form (form field or JSON body), so spellings share a count."""
    raw = request.form.get("number") if request.form else None
    if raw is None:
        body = request.get_json(silent=True)
        raw = body.get("tracking_number") if isinstance(body, dict) else None
    parsed = parse_tracking(raw) if isinstance(raw, str) else None
    return "inquiry:" + parsed.text if parsed is not None else NO_NUMBER


def _not_a_tracking_number() -> bool:
    """Input that is no tracking number is refused before any lookup; it must not use up a shared budget."""
    return _tracking_number_key() == NO_NUMBER


def install(
    app: Flask,
    settings: Settings,
    public_blueprints: Iterable[Blueprint],
    inquiry_blueprints: Iterable[Blueprint] = (),
) -> Limiter:
    """Create the app's limiter and limit every route of ``public_blueprints`` (GET and POST separately) and of
    ``inquiry_blueprints`` (GET like verification; POST per address and per tracking number)."""
    app.config.setdefault(READ_LIMIT_KEY, DEFAULT_READ_LIMIT)
    app.config.setdefault(UPLOAD_LIMIT_KEY, DEFAULT_UPLOAD_LIMIT)
    app.config.setdefault(INQUIRY_LIMIT_KEY, DEFAULT_INQUIRY_LIMIT)
    app.config.setdefault(INQUIRY_NUMBER_LIMIT_KEY, DEFAULT_INQUIRY_NUMBER_LIMIT)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_url,
        strategy="fixed-window",
        # No X-RateLimit-* headers on every answer: each costs a second read of the counter (a Redis round trip),
        # which doubled the price of a cached public page. Only a refusal says when to come back (below).
        headers_enabled=False,
        swallow_errors=True,
        key_prefix="sijill",
    )
    # Shared scopes: a page and its JSON draw on one budget per client address, so the JSON is no second allowance.
    for blueprint in public_blueprints:
        limiter.shared_limit(_read_limit, "public-read", methods=["GET", "HEAD"])(blueprint)
        limiter.shared_limit(_upload_limit, "verify-upload", methods=["POST"])(blueprint)
    for blueprint in inquiry_blueprints:
        limiter.shared_limit(_read_limit, "public-read", methods=["GET", "HEAD"])(blueprint)
        # Shared scopes: the page and the JSON API draw on one budget per address and one per tracking number.
        limiter.shared_limit(_inquiry_limit, "inquiry", methods=["POST"])(blueprint)
        limiter.shared_limit(_inquiry_number_limit, "inquiry-number", methods=["POST"],
                             key_func=_tracking_number_key, exempt_when=_not_a_tracking_number)(blueprint)
    app.extensions[EXTENSION_KEY] = limiter

    @app.after_request
    def retry_after(response: Response) -> Response:
        """A 429 says when the client's window resets (``Retry-After``, seconds), read only when refusing."""
        limit = limiter.current_limit
        if response.status_code == 429 and limit is not None:
            try:
                seconds = max(1, int(limit.reset_at - time.time()))
            except Exception:  # the storage went away between the refusal and now: a minute is a safe answer
                seconds = 60
            response.headers["Retry-After"] = str(seconds)
        return response

    return limiter
