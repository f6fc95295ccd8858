"""Administration: staff accounts, the service catalogue, officials' signing certificates and trust roots."""

from __future__ import annotations

from datetime import UTC

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import OfficialCertificate, Service, TrustRoot, User, utcnow
from archive.roles import ROLE_LABELS, Permission, Role
from intake.catalogue import CatalogueError, apply_catalogue, export_catalogue, parse_catalogue
from signing.errors import SigningRefused
from signing.trust import add_trust_root
from web.audit import audit
from web.errors import N_
from web.intake.common import pick
from web.permissions import current_principal, requires
from web.runtime import db_session
from workflow.routing import RoutingRefused, register_certificate

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@requires(Permission.ADMIN_USERS)
def users() -> ResponseReturnValue:
    rows = db_session().scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS)


@bp.route("/catalogue", methods=["GET", "POST"])
@requires(Permission.ADMIN_CATALOGUE)
def catalogue() -> ResponseReturnValue:
    """Edit the whole catalogue as its YAML text: the same format as the versioned file, validated on save."""
    session = db_session()
    error = None
    text = request.form.get("text", "") if request.method == "POST" else export_catalogue(session)
    if request.method == "POST":
        try:
            change = apply_catalogue(session, parse_catalogue(text, source="text"))
        except CatalogueError as exc:
            session.rollback()
            error = str(exc)
        else:
            audit("admin.catalogue", f"catalogue:{change.version}", created=change.created, updated=change.updated,
                  deactivated=change.deactivated)
            session.commit()
            flash(
                _(
                    "حُفظ دليل الخدمات (الإصدار %(version)s). خدمات أضيفت: %(created)s؛ عُدّلت: %(updated)s؛ "
                    "أوقفت: %(off)s.",
                    version=change.version, created=change.created, updated=change.updated, off=change.deactivated,
                ),
                "info",
            )
            return redirect(url_for("admin.catalogue"))
    services = session.scalars(select(Service).order_by(Service.code)).all()
    return render_template("admin/catalogue.html", services=services, text=text, error=error), 400 if error else 200


@bp.route("/catalogue.yaml")
@requires(Permission.ADMIN_CATALOGUE)
def catalogue_yaml() -> ResponseReturnValue:
    return Response(
        export_catalogue(db_session()),
        mimetype="application/yaml",
        headers={"Content-Disposition": "attachment; filename=sijill-catalogue.yaml"},
    )


# --- signing certificates and trust roots ---------------------------------------------------------------------

CERT_FORM_LIMIT = 1024 * 1024
CHOOSE_FILE = N_("اختر ملف الشهادة (PEM أو DER).")
CHOOSE_USER = N_("اختر الموظف صاحب الشهادة.")


@bp.url_value_preprocessor
def cap_certificate_uploads(endpoint: str | None, _values: dict[str, object] | None) -> None:
    """Certificates are a few kilobytes: refuse a large body before the CSRF check reads it."""
    if endpoint in ("admin.certificates", "admin.trust_roots") and request.method == "POST":
        request.max_content_length = CERT_FORM_LIMIT


def _uploaded_certificate() -> bytes | None:
    upload = request.files.get("certificate")
    if upload is None or not upload.filename:
        return None
    return upload.stream.read(CERT_FORM_LIMIT)


def _officials(session: Session) -> list[User]:
    """Active users who may sign (the only ones a signing certificate is useful to)."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)).all()
    return [u for u in users if Role.SIGNER in u.roles]


@bp.route("/certificates", methods=["GET", "POST"])
@requires(Permission.ADMIN_TRUST)
def certificates() -> ResponseReturnValue:
    """Register an official's signing certificate (only registered certificates may sign), or list them."""
    session = db_session()
    error: str | None = None
    if request.method == "POST":
        data = _uploaded_certificate()
        user = session.get(User, _int(request.form.get("user_id")))
        admin_user = session.get(User, _admin_id())
        if data is None:
            error = _(CHOOSE_FILE)
        elif user is None:
            error = _(CHOOSE_USER)
        else:
            try:
                row = register_certificate(session, user, data, by=admin_user, label=request.form.get("label", ""))
            except RoutingRefused as exc:
                session.rollback()
                error = pick(exc.message_ar, exc.message_en)
            else:
                audit("admin.certificate.register", f"user:{user.username}", certificate=row.id,
                      fingerprint=row.fingerprint, label=row.label)
                session.commit()
                flash(_("سُجلت الشهادة %(label)s للموظف %(name)s.", label=row.label, name=user.full_name), "info")
                return redirect(url_for("admin.certificates"), code=303)
    rows = session.scalars(select(OfficialCertificate).order_by(OfficialCertificate.registered_at.desc())).all()
    now = utcnow()
    expired = {c.id for c in rows if (c.not_after if c.not_after.tzinfo else c.not_after.replace(tzinfo=UTC)) < now}
    return render_template(
        "admin/certificates.html", certificates=rows, officials=_officials(session), error=error, expired=expired,
    ), 400 if error else 200


@bp.route("/certificates/<int:certificate_id>/deactivate", methods=["POST"])
@requires(Permission.ADMIN_TRUST)
def deactivate_certificate(certificate_id: int) -> ResponseReturnValue:
    """A deactivated certificate no longer signs (a lost token, an official who left); the row stays for the record."""
    session = db_session()
    row = session.get(OfficialCertificate, certificate_id)
    if row is None:
        abort(404)
    row.active = False
    audit("admin.certificate.deactivate", f"user:{row.user.username}", certificate=row.id, label=row.label)
    session.commit()
    flash(_("أُوقفت الشهادة %(label)s؛ لم يعد ممكنا التوقيع بها.", label=row.label), "info")
    return redirect(url_for("admin.certificates"), code=303)


@bp.route("/trust-roots", methods=["GET", "POST"])
@requires(Permission.ADMIN_TRUST)
def trust_roots() -> ResponseReturnValue:
    """The certification authorities whose certificates Sijill trusts for signing and verification."""
    session = db_session()
    error: str | None = None
    if request.method == "POST":
        data = _uploaded_certificate()
        if data is None:
            error = _(CHOOSE_FILE)
        else:
            try:
                row = add_trust_root(session, request.form.get("name", ""), data)
            except SigningRefused as exc:
                session.rollback()
                error = pick(exc.message_ar, exc.message_en)
            else:
                audit("admin.trust_root.add", f"trust_root:{row.id}", name=row.name)
                session.commit()
                flash(_("أُضيفت جهة التصديق %(name)s إلى جهات الثقة.", name=row.name), "info")
                return redirect(url_for("admin.trust_roots"), code=303)
    rows = session.scalars(select(TrustRoot).order_by(TrustRoot.added_at.desc())).all()
    return render_template("admin/trust_roots.html", roots=rows, error=error), 400 if error else 200


@bp.route("/trust-roots/<int:root_id>/deactivate", methods=["POST"])
@requires(Permission.ADMIN_TRUST)
def deactivate_trust_root(root_id: int) -> ResponseReturnValue:
    """Signatures chaining only to a deactivated root are no longer trusted, for signing and for verification."""
    session = db_session()
    row = session.get(TrustRoot, root_id)
    if row is None:
        abort(404)
    row.active = False
    audit("admin.trust_root.deactivate", f"trust_root:{row.id}", name=row.name)
    session.commit()
    flash(_("أُوقفت الثقة في جهة التصديق %(name)s.", name=row.name), "info")
    return redirect(url_for("admin.trust_roots"), code=303)


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return -1


def _admin_id() -> int:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal.id
