"""The staff home page and the service catalogue as the waiting-hall screens show it."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from archive.models import Service
from archive.roles import ROLE_LABELS, Permission
from web.permissions import current_principal, requires
from web.runtime import db_session

bp = Blueprint("home", __name__)


@bp.route("/")
@requires(Permission.ACCOUNT_SELF)
def index() -> ResponseReturnValue:
    principal = current_principal()
    assert principal is not None
    roles = sorted(principal.roles)
    return render_template("home.html", principal=principal, roles=roles, role_labels=ROLE_LABELS)


@bp.route("/services")
@requires(Permission.CATALOGUE_READ)
def services() -> ResponseReturnValue:
    rows = db_session().scalars(select(Service).where(Service.active).order_by(Service.code)).all()
    return render_template("services.html", services=rows)
