"""Legal holds from the application page: an auditor places or releases a case file's hold with a reason.

Thin: each POST calls one function of :mod:`archive.legal_hold`, commits and goes back to the page. A refusal (not an
auditor, no reason, already held, the store cannot hold objects) rolls back and shows the page again with the
sentence in the user's language and the refusal's HTTP status; nothing is written.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from archive.legal_hold import HoldRefused, place_hold, release_hold
from archive.models import Application, User
from archive.roles import Permission
from archive.store import StoreUnavailable
from web.auth.principal import StaffPrincipal
from web.intake.common import application_for, pick
from web.intake.views import application_page
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime

bp = Blueprint("holds", __name__)


def _change(tracking: str, place: bool) -> ResponseReturnValue:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    session = db_session()
    application = application_for(session, principal, tracking)
    user = session.get(User, principal.id)
    reason = request.form.get("reason", "")
    try:
        if user is None:
            raise HoldRefused("not_permitted", "", "")
        run = (place_hold if place else release_hold)(session, runtime().store, application, user, reason)
        session.commit()
    except HoldRefused as exc:
        session.rollback()
        flash(pick(exc.message_ar, exc.message_en) or _("غير مسموح."), "error")
        return _page_again(application, principal, exc.status)
    except StoreUnavailable:
        session.rollback()
        flash(_("تعذر الوصول إلى الأرشيف الآن، ولم يُحفظ شيء. حاول مرة أخرى بعد قليل."), "error")
        return _page_again(application, principal, 503)
    if place:
        flash(ngettext("وُضع الملف تحت التحفظ القانوني: عنصر واحد في الأرشيف محفوظ من الحذف حتى يُرفع التحفظ.",
                       "وُضع الملف تحت التحفظ القانوني: %(num)s عنصرًا في الأرشيف محفوظة من الحذف حتى يُرفع التحفظ.",
                       run.held), "info")
    else:
        flash(_("رُفع التحفظ القانوني عن الملف."), "info")
    return redirect(url_for("intake.show", tracking=application.tracking_number, _anchor="legal-hold"), code=303)


def _page_again(application: Application, principal: StaffPrincipal, status: int) -> ResponseReturnValue:
    """The application page with the refusal flashed on it, under the refusal's status."""
    return application_page(application, principal, status=status)


@bp.route("/applications/<tracking>/legal-hold", methods=["POST"])
@requires(Permission.AUDIT_READ, Permission.APPLICATION_VIEW)
def place(tracking: str) -> ResponseReturnValue:
    return _change(tracking, place=True)


@bp.route("/applications/<tracking>/legal-hold/release", methods=["POST"])
@requires(Permission.AUDIT_READ, Permission.APPLICATION_VIEW)
def release(tracking: str) -> ResponseReturnValue:
    return _change(tracking, place=False)
