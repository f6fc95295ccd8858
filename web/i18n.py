"""Arabic first, English available.

Source strings in the templates and code are Arabic, so the Arabic interface never depends on a compiled
catalogue; ``translations/en`` holds the English. The ``.po`` file is compiled into the data directory when the app
starts (and again whenever it changes), so there is no build step and no binary in the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, redirect, request, session
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from markupsafe import Markup

from archive import labels
from archive.roles import ROLE_LABELS, Role
from sijill.settings import LOCALES
from web.permissions import current_principal, is_api_request, public

SOURCE_DIR = Path(__file__).with_name("translations")
babel = Babel()
bp = Blueprint("i18n", __name__)


def compile_catalogues(target: Path) -> Path:
    """Compile every ``.po`` under ``SOURCE_DIR`` into ``target`` when missing or older than its source."""
    for po_path in SOURCE_DIR.glob("*/LC_MESSAGES/*.po"):
        mo_path = target / po_path.relative_to(SOURCE_DIR).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        tmp = mo_path.with_suffix(f".{os.getpid()}.tmp")  # several server processes may compile at once
        with tmp.open("wb") as out:
            write_mo(out, catalog)
        tmp.replace(mo_path)
    return target


def select_locale() -> str:
    """``?lang=`` in the URL (a link in English stays English), else the session's choice, the user's, the default."""
    asked = request.args.get("lang")
    if asked in LOCALES:
        session["lang"] = asked
        return str(asked)
    chosen = session.get("lang")
    if chosen in LOCALES:
        return str(chosen)
    from web.runtime import runtime

    if "_user_id" not in session and not is_api_request():  # an anonymous visitor: no user to load
        return runtime().settings.default_locale
    principal = current_principal()
    if principal is not None and principal.locale in LOCALES:
        return str(principal.locale)
    return runtime().settings.default_locale


def text_direction() -> str:
    return "rtl" if str(get_locale()) == "ar" else "ltr"


def role_label(role: Role) -> str:
    arabic, english = ROLE_LABELS[role]
    return arabic if str(get_locale()) == "ar" else english


LABEL_TABLES: dict[str, dict[str, labels.Pair]] = {
    "status": labels.APPLICATION_STATUS,
    "step_status": labels.STEP_STATUS,
    "permit_status": labels.PERMIT_STATUS,
    "decision": labels.DECISIONS,
    "transition": labels.TRANSITIONS,
    "ocr": labels.OCR_STATUS,
    "channel": labels.CHANNELS,
    "report_kind": labels.REPORT_KINDS,
    "department": labels.DEPARTMENTS,
}


def label(kind: str, code: str | None) -> str:
    """The reader's name for a stored code (``label("decision", "sign")`` → "توقيع" / "Signature")."""
    return labels.name_of(LABEL_TABLES[kind], code, str(get_locale()) == "ar")


def bdi(value: object) -> Markup:
    """``value`` in a bidi isolate, for a name or code inside a translated sentence (``name=user.full_name|bdi``)."""
    return Markup("<bdi>{}</bdi>").format(value)


def localized(obj: object, field: str) -> str:
    """Pick ``<field>_ar`` or ``<field>_en`` from a model by the current locale."""
    suffix = "ar" if str(get_locale()) == "ar" else "en"
    return str(getattr(obj, f"{field}_{suffix}", "") or getattr(obj, f"{field}_ar", ""))


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/…``, not ``//host``, no scheme, no control characters), else None:
    the language switch must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2000:
        return None
    if any(ch in target for ch in "\r\n\t\\") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def here_without_lang() -> str:
    """The current page's path and query without ``lang``: where a language switch comes back to."""
    query = [(k, v) for k, v in parse_qsl(request.query_string.decode("utf-8", "replace")) if k != "lang"]
    return request.path + ("?" + urlencode(query) if query else "")


def switch_url(code: str, next_path: str | None = None) -> str:
    """The language link of the page: to ``/lang/<code>`` and back to ``next_path`` (default: this very page)."""
    from flask import url_for

    if not next_path and request.method not in ("GET", "HEAD"):
        return url_for("i18n.switch", code=code)  # the answer to a form: back to the form's page (the referrer)
    return url_for("i18n.switch", code=code, next=next_path or here_without_lang())


@bp.route("/lang/<code>")
@public
def switch(code: str) -> ResponseReturnValue:
    """Remember the language and go back to the page it was chosen on (``next``, a path on this site; else the
    referrer when it is this site; else the home page)."""
    if code in LOCALES:
        session["lang"] = code
    target = safe_next(request.args.get("next"))
    if target is None:
        referrer = request.referrer or ""
        target = referrer if referrer.startswith(request.host_url) else "/"
    return redirect(target)


def install(app: Flask, compiled_dir: Path) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compile_catalogues(compiled_dir))
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        text_direction=text_direction, role_label=role_label, localized=localized, get_locale=get_locale,
        label=label, switch_url=switch_url,
    )
    app.jinja_env.filters["bdi"] = bdi
