"""Deciding and signing applications: the officials' inbox and the forms of the application page's workflow panel.

Thin by design: each POST parses its form, calls one function of :mod:`workflow.routing` (``decide``, ``sign_step``,
``reassign``, ``resubmit``, ``revoke_permit``), commits, and redirects. A refusal (``RoutingRefused`` or
``SigningRefused``: the one-stop rule, a missing reason, a wrong PIN, an unregistered certificate, a permit changed
since it was opened, ...) rolls everything back and shows the application page again with the refusal in Arabic
(English for English users) and an HTTP status that says what kind of refusal it was. Nothing is written or signed.
"""

from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, ApplicationStatus, Centre, User
from archive.roles import Permission
from archive.store import StoreUnavailable
from intake.id_card import mismatches
from signing.errors import SigningRefused
from signing.signers import Credential, open_signer
from web.auth.principal import StaffPrincipal
from web.decisions.credentials import (
    PKCS12_MAX_BYTES,
    in_memory_pkcs12,
    pkcs11_credential,
    signing_options,
)
from web.decisions.panel import (
    ACTION_LABELS,
    PERMIT_STATUS_LABELS,
    STEP_STATUS_LABELS,
    permit_of,
    permit_pdf_response,
)
from web.errors import N_
from web.intake.common import application_for, pick
from web.intake.views import application_page
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime
from web.sealing_keys import permit_sealing_key
from web.verify.album_queue import queue_album
from web.verify.revisions import album_image
from workflow.reminders import reminders_of
from workflow.routing import (
    ReturnItem,
    RoutingRefused,
    active_trust_roots,
    decide,
    inbox,
    open_completion_items,
    open_pending_workflows,
    override_missing,
    reassign,
    resubmit,
    revoke_permit,
    sign_step,
)

log = logging.getLogger(__name__)

bp = Blueprint("decisions", __name__)

DECISIONS = ("recommend", "approve", "reject", "return")
ITEM_PREFIX = "item."
"""``item.<CODE>``: missing or unreadable, a paper a return asks for."""
ANSWER_PREFIX = "answer."
"""``answer.<CODE>``: the window's reason for resubmitting without a paper the return asked for."""
#: HTTP status of each refusal: not yours (403), the file is not in a state for it (409), something missing (400).
REFUSAL_STATUS = {
    "one_stop": 403,
    "not_permitted": 403,
    "not_your_step": 403,
    "reason_required": 400,
    "wrong_state": 409,
    "document_changed": 409,
    "no_permit": 409,
    "no_chain": 409,
    "bad_certificate": 400,
    "duplicate_certificate": 409,
    "unknown_item": 400,
    "items_outstanding": 400,
    "documents_missing": 409,
    "nothing_missing": 409,
}
FORM_LIMIT_BYTES = 1024 * 1024
"""The decision forms, PKCS#12 upload included, are small; refuse anything larger before reading it."""

CHOOSE_PKCS12 = (
    N_("اختر ملف الشهادة بصيغة ⁦PKCS#12⁩ (⁦.p12⁩ أو ⁦.pfx⁩)."), "Choose the certificate file (PKCS#12: .p12 or .pfx)."
)
TOKEN_FIELDS = (N_("اكتب اسم الشريحة واسم المفتاح والرقم السري."), "Give the token label, the key label and the PIN.")
NO_TOKEN_MODULE = (
    N_("لا توجد وحدة شرائح توقيع (⁦PKCS#11⁩) مهيأة على هذا الخادم؛ استخدم ملف الشهادة أو راجع مسؤول النظام."),
    "No PKCS#11 token module is configured on this server; use a certificate file or ask the administrator.",
)
CHOOSE_METHOD = (N_("اختر طريقة التوقيع: ملف شهادة أو شريحة."), "Choose how to sign: a certificate file or a token.")
CHOOSE_OFFICIAL = (N_("اختر الموظف الذي تُسند إليه الخطوة."), "Choose the official to give the step to.")
REASON_TOO_LONG = (
    N_("السبب أطول من اللازم (2000 حرف على الأكثر)."), "The reason is too long (2000 characters at most)."
)
ARCHIVE_DOWN = (
    N_("تعذر الوصول إلى الأرشيف الآن، ولم يُحفظ شيء. حاول مرة أخرى بعد قليل."),
    "The archive cannot be reached right now and nothing was saved. Try again shortly.",
)
STAFF_PICTURE_NAME = re.compile(r"page-[0-9a-f]{64}\.png")
DONE_MESSAGES: dict[str, str] = {
    "recommend": N_("سُجلت توصيتك على الطلب %(tracking)s وانتقل إلى الخطوة التالية."),
    "approve": N_("اعتُمد الطلب %(tracking)s وانتقل إلى الخطوة التالية."),
    "reject": N_("رُفض الطلب %(tracking)s وسُجل السبب."),
    "return": N_("أعيد الطلب %(tracking)s إلى الشباك للاستكمال وسُجل السبب."),
}


@bp.url_value_preprocessor
def cap_forms(endpoint: str | None, _values: dict[str, object] | None) -> None:
    """Cap the body before anything reads it (URL preprocessors run before the CSRF check parses the form)."""
    if endpoint is not None and endpoint.startswith("decisions.") and request.method == "POST":
        request.max_content_length = FORM_LIMIT_BYTES


@bp.app_context_processor
def workflow_helpers() -> dict[str, object]:
    return {
        "step_status_label": lambda status: _(STEP_STATUS_LABELS.get(status, (status, status))[0]),
        "action_label": lambda action: _(ACTION_LABELS.get(action, (action, action))[0]),
        "permit_status_label": lambda status: _(PERMIT_STATUS_LABELS.get(status, (status, status))[0]),
    }


def _principal() -> StaffPrincipal:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal


def _user(session: Session, principal: StaffPrincipal) -> User:
    user = session.get(User, principal.id)
    if user is None:
        abort(403)
    return user


# --- the inbox --------------------------------------------------------------------------------------------------


@bp.route("/inbox")
@requires(Permission.APPLICATION_VIEW)
def inbox_page() -> ResponseReturnValue:
    """The official's steps, oldest application first, with the legal due date; returned files for the window."""
    principal = _principal()
    session = db_session()
    _open_pending(session)
    user = _user(session, principal)
    items = inbox(session, user)
    returned: list[Application] = []
    if principal.can(Permission.APPLICATION_CREATE):
        query = (
            select(Application)
            .join(Application.centre)
            .where(Application.status == ApplicationStatus.RETURNED.value)
            .order_by(Application.created_at, Application.id)
        )
        if principal.centre_code is not None:
            query = query.where(Centre.code == principal.centre_code)
        returned = list(session.scalars(query.limit(200)))
    requested = {a.id: _requested_papers(session, a) for a in returned}
    now = datetime.now(UTC)
    reminders = reminders_of(session, [item.step.id for item in items])
    id_mismatches = mismatches(session, [item.application.id for item in items])
    return render_template("decisions/inbox.html", items=items, returned=returned, requested=requested,
                           principal=principal, now=now, reminders=reminders, id_mismatches=id_mismatches)


def _requested_papers(session: Session, application: Application) -> list[str]:
    """The names of the papers the return asked for and the window has not yet received (the returned list)."""
    from intake.service import required_documents

    names = {d.code: pick(d.name_ar, d.name_en) for d in required_documents(application.service)}
    return [names.get(i.code, i.code) + (_(" (غير مقروء)") if i.problem == "unreadable" else "")
            for i in open_completion_items(session, application) if i.document_id is None]


def _open_pending(session: Session) -> None:
    """Open any workflow that registration left unopened (the beat task does it too; this makes the inbox exact)."""
    try:
        if open_pending_workflows(session):
            session.commit()
        else:
            session.rollback()
    except Exception as exc:  # another process opened it at the same moment, or the database is busy: show the rest
        session.rollback()
        log.warning("could not open pending workflows from the inbox: %s: %s", type(exc).__name__, exc)


# --- decisions ----------------------------------------------------------------------------------------------------


@bp.route("/applications/<tracking>/decision", methods=["POST"])
@requires(Permission.APPLICATION_VIEW)
def decision(tracking: str) -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    action = request.form.get("action", "")
    reason = request.form.get("reason", "")
    if action not in DECISIONS:
        abort(400)
    # the papers a return names: item.<CODE> = missing | unreadable (the checklist's select boxes)
    chosen = {k[len(ITEM_PREFIX):]: v for k, v in request.form.items() if k.startswith(ITEM_PREFIX) and v}
    items = [ReturnItem(code, problem) for code, problem in chosen.items()] if action == "return" else None
    values = {"reason": reason, "action": action, **{ITEM_PREFIX + k: v for k, v in chosen.items()}}
    try:
        decide(session, application, _user(session, principal), action, reason=reason, items=items)
        session.commit()
    except RoutingRefused as exc:
        return _refused(application, principal, exc, "decision", values)
    except ValueError:
        return _refused_with(application, principal, REASON_TOO_LONG, 400, "decision", {"action": action})
    flash(_(DONE_MESSAGES[action], tracking=application.tracking_number), "info")
    return redirect(url_for(".inbox_page"), code=303)


@bp.route("/applications/<tracking>/reassign", methods=["POST"])
@requires(Permission.APPLICATION_VIEW)
def reassign_step(tracking: str) -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    reason = request.form.get("reason", "")
    values = {"reason": reason}
    try:
        position = int(request.form.get("position", ""))
        to_user = session.get(User, int(request.form.get("to_user", "")))
    except ValueError:
        to_user = None
        position = -1
    if to_user is None:
        return _refused_with(application, principal, CHOOSE_OFFICIAL, 400, f"reassign-{position}", values)
    try:
        reassign(session, application, position, to_user, _user(session, principal), reason=reason)
        session.commit()
    except RoutingRefused as exc:
        return _refused(application, principal, exc, f"reassign-{position}", values)
    except ValueError:
        return _refused_with(application, principal, REASON_TOO_LONG, 400, f"reassign-{position}", values)
    flash(_("أُسندت الخطوة %(step)s من الطلب %(tracking)s إلى %(name)s.", step=position + 1,
            tracking=application.tracking_number, name=to_user.full_name), "info")
    return redirect(url_for("intake.show", tracking=application.tracking_number), code=303)


@bp.route("/applications/<tracking>/resubmit", methods=["POST"])
@requires(Permission.APPLICATION_CREATE)
def resubmit_application(tracking: str) -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    note = request.form.get("note", "")
    answers = {k[len(ANSWER_PREFIX):]: v for k, v in request.form.items() if k.startswith(ANSWER_PREFIX)}
    values = {"note": note, **{ANSWER_PREFIX + k: v for k, v in answers.items()}}
    try:
        resubmit(session, application, _user(session, principal), note=note, answers=answers)
        session.commit()
    except RoutingRefused as exc:
        return _refused(application, principal, exc, "resubmit", values)
    except ValueError:
        return _refused_with(application, principal, REASON_TOO_LONG, 400, "resubmit", values)
    flash(_("أعيد تقديم الطلب %(tracking)s بعد استكماله، وعاد إلى الخطوة التي أعادته للاستكمال.",
            tracking=application.tracking_number), "info")
    return redirect(url_for("intake.show", tracking=application.tracking_number), code=303)


@bp.route("/applications/<tracking>/override", methods=["POST"])
@requires(Permission.APPLICATION_SIGN)
def override(tracking: str) -> ResponseReturnValue:
    """A head of department lets the file go on without the required documents missing now, with a reason."""
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    reason = request.form.get("reason", "")
    try:
        override_missing(session, application, _user(session, principal), reason=reason)
        session.commit()
    except RoutingRefused as exc:
        return _refused(application, principal, exc, "override", {"reason": reason})
    except ValueError:
        return _refused_with(application, principal, REASON_TOO_LONG, 400, "override", {"reason": reason})
    flash(_("سُجل إذنك بالمضي في الطلب %(tracking)s دون المستندات الناقصة، مع السبب.",
            tracking=application.tracking_number), "info")
    return redirect(url_for("intake.show", tracking=application.tracking_number), code=303)


@bp.route("/applications/<tracking>/revoke", methods=["POST"])
@requires(Permission.APPLICATION_SIGN)
def revoke(tracking: str) -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    reason = request.form.get("reason", "")
    permit = permit_of(session, application)
    if permit is None:
        abort(404)
    try:
        revoke_permit(session, permit, _user(session, principal), reason=reason)
        session.commit()
    except RoutingRefused as exc:
        return _refused(application, principal, exc, "revoke", {"reason": reason})
    except ValueError:
        return _refused_with(application, principal, REASON_TOO_LONG, 400, "revoke", {"reason": reason})
    log.info("permit %s revoked by %s", permit.permit_number, principal.username)
    flash(_("أُلغي الترخيص %(number)s، وتظهر حالته ملغى فورا في صفحة التحقق العامة.", number=permit.permit_number),
          "info")
    return redirect(url_for("intake.show", tracking=application.tracking_number), code=303)


# --- the permit and signing ---------------------------------------------------------------------------------------


@bp.route("/applications/<tracking>/permit.pdf")
@requires(Permission.APPLICATION_VIEW)
def permit_pdf(tracking: str) -> ResponseReturnValue:
    """The permit's current revision, inline (the signing official reads exactly what they will sign)."""
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    return permit_pdf_response(session, application, _user(session, principal))


@bp.route("/applications/<tracking>/permit/revisions/<file_name>")
@requires(Permission.APPLICATION_VIEW)
def permit_revision_picture(tracking: str, file_name: str) -> ResponseReturnValue:
    """A legible picture of the permit's first page at one signed state (the revision viewer on this page)."""
    if not STAFF_PICTURE_NAME.fullmatch(file_name):
        abort(404)
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    permit = permit_of(session, application)
    data = album_image(permit, "page", file_name) if permit is not None else None
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"  # named by its content's hash
    return response


@bp.route("/applications/<tracking>/sign", methods=["POST"])
@requires(Permission.APPLICATION_SIGN)
def sign(tracking: str) -> ResponseReturnValue:
    """Sign the active step with an uploaded PKCS#12 file or the token on this machine; nothing is kept of either."""
    principal = _principal()
    session = db_session()
    settings = runtime().settings
    application = application_for(session, principal, tracking)
    form = request.form
    method = form.get("method", "")
    values = {"method": method, "token_label": form.get("token_label", ""), "key_label": form.get("key_label", "")}
    credential: AbstractContextManager[Credential]
    if method == "pkcs12":
        upload = request.files.get("pkcs12")
        if upload is None or not upload.filename:
            return _refused_with(application, principal, CHOOSE_PKCS12, 400, "sign", values)
        credential = in_memory_pkcs12(upload.stream.read(PKCS12_MAX_BYTES + 1), form.get("passphrase", ""))
    elif method == "pkcs11":
        if not settings.pkcs11_module:
            return _refused_with(application, principal, NO_TOKEN_MODULE, 400, "sign", values)
        token_label, key_label, pin = form.get("token_label", "").strip(), form.get("key_label", "").strip(), \
            form.get("pin", "")
        if not (token_label and key_label and pin):
            return _refused_with(application, principal, TOKEN_FIELDS, 400, "sign", values)
        credential = nullcontext(pkcs11_credential(settings, token_label=token_label, pin=pin, key_label=key_label))
    else:
        return _refused_with(application, principal, CHOOSE_METHOD, 400, "sign", values)

    options = signing_options(settings)
    user = _user(session, principal)
    try:
        with credential as opened, open_signer(opened) as signer:
            transition = sign_step(
                session,
                runtime().store,
                application,
                user,
                signer,
                revocation=options.revocation,
                timestamp_url=options.timestamp_url,
                embed_validation_info=options.embed_validation_info,
                validation_context=options.validation_context(active_trust_roots(session), signer.chain),
                base_url=settings.base_url,
                sealing_key=permit_sealing_key(f"permit of {application.tracking_number}"),
                seen_pdf_sha256=form.get("seen_pdf_sha256", ""),
            )
        session.commit()
    except (RoutingRefused, SigningRefused) as exc:
        log.info("signing of %s by %s refused: %s (%s)", application.tracking_number, principal.username,
                 exc.code, exc.detail)
        return _refused(application, principal, exc, "sign", values)
    except StoreUnavailable as exc:
        log.error("signing of %s: the archive is unavailable: %s", application.tracking_number, exc)
        return _refused_with(application, principal, ARCHIVE_DOWN, 503, "sign", values)
    log.info("application %s step %s signed by %s (%s, %s)", application.tracking_number, transition.step_position,
             principal.username, method, options.level)
    permit = permit_of(session, application)
    queue_album(permit.current_pdf_sha256 if permit is not None else None)
    if application.status == ApplicationStatus.ISSUED.value:
        flash(_("وقّعت الترخيص، وبه اكتملت التوقيعات وصدر الترخيص رقم %(number)s.",
                number=permit.permit_number if permit else ""), "info")
        return redirect(url_for("intake.show", tracking=application.tracking_number), code=303)
    flash(_("وقّعت الترخيص الخاص بالطلب %(tracking)s، وانتقل إلى صاحب التوقيع التالي.",
            tracking=application.tracking_number), "info")
    return redirect(url_for(".inbox_page"), code=303)


# --- refusals -----------------------------------------------------------------------------------------------------


def _refused(
    application: Application,
    principal: StaffPrincipal,
    exc: RoutingRefused | SigningRefused,
    form: str,
    values: dict[str, str],
) -> ResponseReturnValue:
    status = REFUSAL_STATUS.get(exc.code, 400) if isinstance(exc, RoutingRefused) else 400
    return _refused_with(application, principal, (exc.message_ar, exc.message_en), status, form, values,
                         translated=True)


def _refused_with(
    application: Application,
    principal: StaffPrincipal,
    message: tuple[str, str],
    status: int,
    form: str,
    values: dict[str, str],
    *,
    translated: bool = False,
) -> ResponseReturnValue:
    """The application page again, with the refusal above the form it came from; nothing was written."""
    db_session().rollback()
    text = pick(*message) if translated else _(message[0])
    return application_page(application, principal, workflow_error=text, workflow_form=form, values=values,
                            status=status)
