"""Login and logout for staff (citizens have no accounts)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import LoginManager, login_user, logout_user
from sqlalchemy import select

from archive.models import User
from archive.roles import Permission
from archive.users import authenticate
from web.auth.forms import LoginForm
from web.auth.principal import StaffPrincipal
from web.permissions import public, requires
from web.runtime import db_session

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> StaffPrincipal | None:
    if not user_id.isdigit():
        return None
    user = db_session().scalar(select(User).where(User.id == int(user_id)))
    if user is None or not user.active:
        return None
    return StaffPrincipal.from_user(user)


@login_manager.unauthorized_handler
def unauthorized() -> ResponseReturnValue:
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None, principal: StaffPrincipal | None = None) -> str:
    """Only follow relative redirects inside the app, never to another host; with none, where the role's work is."""
    if target and target != "/":
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    if principal is not None:
        from web.home import landing_for

        return landing_for(principal)
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        session = db_session()
        user = authenticate(session, form.username.data or "", form.password.data or "")
        if user is not None:
            principal = StaffPrincipal.from_user(user)
            session.commit()
            login_user(principal)
            return redirect(_safe_next(form.next.data, principal))
        session.commit()
        flash(_("اسم المستخدم أو كلمة المرور غير صحيحة."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
@requires(Permission.ACCOUNT_SELF)
def logout() -> ResponseReturnValue:
    logout_user()
    flash(_("تم تسجيل الخروج."), "info")
    return redirect(url_for("auth.login"))
