"""``/.well-known/sijill-keys.json``: the public half of the sealing key, as a JWK set, for offline checks.

Whoever checks a permit's QR payload offline (``sijill verify-qr``, the static page) needs the key that sealed it,
fetched once and kept. Public, unauthenticated, no database: the set is built from the key file once per process
(it changes only when an operator rotates the key, which restarts the server) and served with a day's cache
lifetime, so a flood costs a dictionary lookup. Keys are named by ``kid`` (``signing/sealed_payload.py``).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Blueprint, Response

from archive.sealing import SealingKeyError, load_sealing_key
from signing.sealed_payload import jwk_set
from web.permissions import public
from web.runtime import runtime

bp = Blueprint("sealing_keys", __name__)
log = logging.getLogger(__name__)

PATH = "/.well-known/sijill-keys.json"
MAX_AGE_S = 86_400
_cache: dict[Path, bytes] = {}
_lock = threading.Lock()


def permit_sealing_key(purpose: str) -> Ed25519PrivateKey | None:
    """The sealing key for a permit about to be prepared (web page, API or desk agent alike), or None when it cannot
    be read: the permit is still whole without its offline payload, so preparing goes on and the error is logged
    loudly (``purpose`` names the permit) rather than refusing the official's signature."""
    try:
        return load_sealing_key(runtime().settings.sealing_key_path).private
    except SealingKeyError as exc:
        log.error("%s has no sealed QR payload: %s", purpose, exc)
        return None


def key_set_json(path: Path) -> bytes:
    """The JWK set of the sealing key in ``path`` (made on first use, like every other user of the key)."""
    with _lock:
        if path not in _cache:
            key = load_sealing_key(path)
            _cache[path] = json.dumps(jwk_set([key.private.public_key()]), sort_keys=True).encode()
        return _cache[path]


@bp.get(PATH)
@public
def sealing_keys() -> Response:
    try:
        body = key_set_json(runtime().settings.sealing_key_path)
    except SealingKeyError:
        return Response(json.dumps({"error": "keys_unavailable",
                                    "message_ar": "مفاتيح التحقق غير متاحة الآن؛ حاول لاحقا.",
                                    "message_en": "The verification keys are not available now; try again later."}),
                        status=503, mimetype="application/json")
    response = Response(body, mimetype="application/jwk-set+json")
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_S}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
