"""Administration: staff accounts (centres, catalogue and trust roots follow in later issues)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from archive.models import User
from archive.roles import ROLE_LABELS, Permission
from web.permissions import requires
from web.runtime import db_session

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@requires(Permission.ADMIN_USERS)
def users() -> ResponseReturnValue:
    rows = db_session().scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS)
