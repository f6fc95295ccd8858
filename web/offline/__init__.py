"""Offline verification downloads: the signed revocation list and the static offline page.

``GET /.well-known/sijill-revocations`` is the revocation list (``signing/revocations.py``) as raw COSE_Sign1 bytes;
``GET /verify/offline`` is the self-contained verification page (``web/offline/page.py``) with the public keys and that
list inside, as an attachment to save. Both are public and unauthenticated, so their cost is bounded: the signed list
and the page built from it are kept per process and reused while one aggregate query on the indexed status column
(:func:`signing.revocations.list_stamp`) shows no new revocation and the list is younger than :data:`REFRESH_S`. A
revocation by any process therefore shows on the next request; otherwise a flood costs one small query each, and
both answers carry an ``ETag`` for conditional requests. They also count against the public read budget
(``web.ratelimit``), like the verification page.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apispec import APISpec
from flask import Blueprint, Flask, Response, current_app, request

from archive.sealing import SealingKeyError, load_sealing_key
from signing.revocations import list_stamp, revoked_permits, seal_revocations
from web.offline.page import FILENAME, content_security_policy, render_offline_page
from web.permissions import public
from web.runtime import runtime
from web.sealing_keys import key_set_json

bp = Blueprint("offline", __name__)

REVOCATIONS_PATH = "/.well-known/sijill-revocations"
PAGE_PATH = "/verify/offline"
REFRESH_S = 300.0
"""Longest a signed list is reused with no new revocation: its ``iat`` is then at most five minutes old."""
MAX_AGE_S = 60
EXTENSION_KEY = "sijill_offline"
COSE_MEDIA_TYPE = 'application/cose; cose-type="cose-sign1"'


@dataclass
class Built:
    stamp: tuple[int, str]
    built_at: float
    revocations: bytes
    etag: str
    page: bytes | None = None


@dataclass
class OfflineCache:
    """The current signed list (and the page made from it) of one app; rebuilt under a lock so a flood after a
    revocation signs one list, not one per request."""

    refresh_s: float = REFRESH_S
    builds: int = 0
    _built: Built | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> Built:
        rt = runtime()
        with rt.db.engine.connect() as connection:
            stamp = list_stamp(connection)
            with self._lock:
                built = self._built
                if built is not None and built.stamp == stamp and time.monotonic() - built.built_at < self.refresh_s:
                    return built
                key = load_sealing_key(rt.settings.sealing_key_path)
                data = seal_revocations(key.private, revoked_permits(connection), issued_at=datetime.now(UTC))
                self._built = Built(stamp, time.monotonic(), data, hashlib.sha256(data).hexdigest()[:32])
                self.builds += 1
                return self._built

    def page(self) -> tuple[bytes, str]:
        built = self.current()
        with self._lock:
            if built.page is None:
                keys = json.loads(key_set_json(runtime().settings.sealing_key_path))
                built.page = render_offline_page(keys, built.revocations, made_at=datetime.now(UTC))
            return built.page, built.etag


def offline_cache(app: Flask | None = None) -> OfflineCache:
    extensions = (app or current_app).extensions
    cache = extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = extensions.setdefault(EXTENSION_KEY, OfflineCache())
    assert isinstance(cache, OfflineCache)
    return cache


def _unavailable() -> Response:
    return Response(json.dumps({"status": 503, "error": "The verification keys are not available now; try again later.",
                                "error_ar": "مفاتيح التحقق غير متاحة الآن؛ حاول لاحقا.", "code": "keys_unavailable"},
                               ensure_ascii=False),
                    status=503, mimetype="application/json")


def _conditional(response: Response, etag: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_S}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)  # 304 with no body when the client's ETag matches
    return response


@bp.get(REVOCATIONS_PATH)
@public
def revocations() -> Response:
    try:
        built = offline_cache().current()
    except SealingKeyError:
        return _unavailable()
    response = Response(built.revocations, content_type=COSE_MEDIA_TYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="sijill-revocations.cose"'
    return _conditional(response, built.etag)


@bp.get(PAGE_PATH)
@public
def offline_page() -> Response:
    try:
        page, etag = offline_cache().page()
    except SealingKeyError:
        return _unavailable()
    response = Response(page, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="{FILENAME}"'
    response.headers["Content-Security-Policy"] = content_security_policy()
    return _conditional(response, "page-" + etag)


def document(spec: APISpec, app: Flask) -> None:
    """Describe the public offline-verification downloads (and the key set they rest on) in the OpenAPI document:
    plain Flask views, outside the JSON API's blueprints, so flask-smorest does not see them on its own (its
    plugin makes the path from the app's registered rule, so the views must be registered first)."""
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    error = {"$ref": "#/components/responses/DEFAULT_ERROR"}
    public_get = {"security": [], "tags": ["offline verification"]}
    spec.path(rule=rules["/.well-known/sijill-keys.json"], operations={"get": {
        **public_get,
        "summary": "The centre's public sealing keys (JWK set, Ed25519), to check sealed QR payloads offline",
        "responses": {
            "200": {"description": "A JWK set (RFC 7517/8037); each key's kid is the URL-safe base64 of the first 8 "
                                   "bytes of SHA-256 of its raw public key. Cached for a day.",
                    "content": {"application/jwk-set+json": {"schema": {"type": "object", "required": ["keys"]}}}},
            "503": {"description": "The sealing key cannot be read now"},
            "default": error,
        },
    }})
    spec.path(rule=rules[REVOCATIONS_PATH], operations={"get": {
        **public_get,
        "summary": "The signed list of revoked permits, for offline checks",
        "description": (
            "A COSE_Sign1 (RFC 9052) sealed by the same key as the permits' QR payloads, with the content type "
            "`application/sijill-revocations+cbor` in its protected header. Its payload is a CBOR map: 6 (iat) the "
            "time the list was made; -70002: {1: next update, 2: [[permit number, revoked at], ...]} (seconds since "
            "the epoch, UTC). *Next update* is the latest time by which a newer list is published (a day after iat); "
            "after it the list is outdated: its revocations still stand, but absence from it proves nothing. The "
            "server signs a new list at every revocation and at least every five minutes. Read it with "
            "`sijill verify-qr --revocations FILE` or the offline page."),
        "responses": {
            "200": {"description": "The signed list (raw CBOR bytes), with an ETag",
                    "content": {"application/cose": {"schema": {"type": "string", "format": "binary"}}}},
            "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            "429": {"description": "Too many requests from this address (the public read budget)"},
            "503": {"description": "The sealing key cannot be read now"},
            "default": error,
        },
    }})
    spec.path(rule=rules[PAGE_PATH], operations={"get": {
        **public_get,
        "summary": "The static offline verification page, to save and open with no network",
        "description": (
            "One self-contained HTML file (an attachment) with the public keys and the current signed revocation "
            "list inside. It checks a permit's QR payload with WebCrypto, shows the sealed facts, the expiry and any "
            "revocation in the embedded list, and compares a picked PDF with a sealed SHA-256. Its "
            "Content-Security-Policy forbids every connection."),
        "responses": {
            "200": {"description": "The page",
                    "content": {"text/html": {"schema": {"type": "string"}}}},
            "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            "429": {"description": "Too many requests from this address (the public read budget)"},
            "503": {"description": "The sealing key cannot be read now"},
            "default": error,
        },
    }})
