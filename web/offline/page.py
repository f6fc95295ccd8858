"""The static offline verification page: one self-contained HTML file that checks a permit's QR with no server.

Why a file and not a page of the site: an inspector in the field (or a bank years later) may have no network, and a
page that needs us cannot tell them anything then. The file carries everything it needs, as they were when it was
downloaded: the centre's public sealing keys (the JWK set of ``/.well-known/sijill-keys.json``) and the signed
revocation list (``signing/revocations.py``), and its script (``verify.js``: a small CBOR reader, COSE_Sign1 with
WebCrypto's Ed25519, SHA-256 of a picked PDF with ``crypto.subtle.digest``).

It makes no request at all, and says so to the browser: its Content-Security-Policy (a ``<meta>``, since a saved
file has no headers) allows only its own inline script and style, by hash, and no connection, image fetch or form
target. Both languages are in the script (Arabic first, right to left, English one click away) rather than in the
Flask-Babel catalogue, because the switch must work offline after the file was saved.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

HERE = Path(__file__).resolve().parent
FILENAME = "sijill-offline-verify.html"


@cache
def _parts() -> tuple[str, str, str]:
    """(script, style, Content-Security-Policy): read once; the policy names the exact inline script and style."""
    js = (HERE / "verify.js").read_text(encoding="utf-8")
    css = (HERE / "verify.css").read_text(encoding="utf-8")
    csp = ("default-src 'none'; "
           f"script-src '{_csp_hash(js)}'; style-src '{_csp_hash(css)}'; "
           "img-src blob: data:; connect-src 'none'; form-action 'none'; base-uri 'none'")
    return js, css, csp


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(HERE)), autoescape=select_autoescape(["html"]))


def content_security_policy() -> str:
    """The page's policy, also sent as a header when the server serves the file."""
    return _parts()[2]


def render_offline_page(key_set: dict[str, Any], revocations: bytes | None, *, made_at: datetime) -> bytes:
    """The page, as UTF-8 bytes, embedding ``key_set`` (a JWK set) and the signed ``revocations`` list (raw
    COSE_Sign1 bytes; None for a page that cannot tell revoked permits)."""
    js, css, csp = _parts()
    data = {
        "keys": key_set,
        "revocations": base64.urlsafe_b64encode(revocations).rstrip(b"=").decode("ascii") if revocations else None,
        "made_at": made_at.isoformat(),
    }
    html = _environment().get_template("offline.html").render(
        csp=csp, css=Markup(css), js=Markup(js), data=htmlsafe_json_dumps(data, dumps=json.dumps),  # noqa: S704
    )
    return html.encode("utf-8")


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
