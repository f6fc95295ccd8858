"""Administration: staff accounts and the service catalogue (centres and trust roots follow in later issues)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from archive.models import Service, User
from archive.roles import ROLE_LABELS, Permission
from intake.catalogue import CatalogueError, apply_catalogue, export_catalogue, parse_catalogue
from web.permissions import requires
from web.runtime import db_session

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
            session.commit()
            flash(
                _(
                    "حُفظ دليل الخدمات (الإصدار %(version)s): أضيفت %(created)s، وعُدّلت %(updated)s، وأوقفت %(off)s.",
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
