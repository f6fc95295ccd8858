"""Administration: staff accounts, the service catalogue, officials' signing certificates and trust roots."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archive.labels import DEPARTMENTS
from archive.models import Centre, OfficialCertificate, Service, TrustRoot, User, UserRole, utcnow
from archive.roles import ROLE_LABELS, Permission, Role
from archive.users import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    create_user,
    generate_password,
    reset_password,
    set_active,
    update_user,
)
from intake.catalogue import (
    CatalogueError,
    Problem,
    apply_catalogue,
    export_catalogue,
    next_version,
    parse_catalogue,
    save_service,
    service_entry,
    where,
)
from intake.fields import FieldInvalid, normalise_email
from intake.national_id import EGYPT
from signing.errors import SigningRefused
from signing.trust import add_trust_root
from web.audit import audit
from web.catalogue_form import field_of, form_values, read_form, row_numbers
from web.certificate_names import subject_fields
from web.errors import N_
from web.intake.common import pick
from web.permissions import current_principal, requires
from web.runtime import db_session
from workflow.routing import RoutingRefused, register_certificate

bp = Blueprint("admin", __name__, url_prefix="/admin")


# --- staff accounts ------------------------------------------------------------------------------------------
# The rules (username, password strength, the last administrator) are archive.users', shared with `sijill users`;
# these views only read the form, show the Arabic or English refusal and commit what the service recorded.

USER_STATES = ("active", "inactive")


@bp.route("/users")
@requires(Permission.ADMIN_USERS)
def users() -> ResponseReturnValue:
    """Staff accounts, filtered by a name or username fragment, a role, a centre and active or not."""
    session = db_session()
    query = select(User).order_by(User.username)
    text = (request.args.get("q") or "").strip()[:64]
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(or_(func.lower(User.username).like(pattern), User.full_name.like(f"%{text}%")))
    role = request.args.get("role") or ""
    if role in {r.value for r in Role}:
        query = query.where(User.role_rows.any(UserRole.role == role))
    centre = request.args.get("centre") or ""
    if centre:
        query = query.join(Centre, User.centre_id == Centre.id).where(Centre.code == centre)
    state = request.args.get("state") or ""
    if state in USER_STATES:
        query = query.where(User.active.is_(state == "active"))
    rows = session.scalars(query.limit(500)).all()
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS, roles=list(Role),
                           centres=_centres(session), filters={"q": text, "role": role, "centre": centre,
                                                               "state": state})


def _centres(session: Session) -> list[Centre]:
    return list(session.scalars(select(Centre).order_by(Centre.code)).all())


def _form_roles() -> set[Role]:
    valid = {r.value: r for r in Role}
    return {valid[v] for v in request.form.getlist("roles") if v in valid}


def _form_email() -> str | None:
    try:
        return normalise_email(request.form.get("email", ""))
    except FieldInvalid as exc:
        raise AccountError(exc.message_en, exc.message_ar, field="email") from None


def _actor() -> str:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal.username


# Which input of which form a refusal of archive.users points at (by its ``field``): the account form has one input
# per field; the password form has one input and the deactivate form only its button, so every refusal of those
# points there (the last administrator, one's own account).
USER_FORM_FIELDS: dict[str, dict[str, str]] = {
    "account": {"username": "username", "password": "password", "roles": "roles", "centre": "centre",
                "department": "department", "email": "email"},
    "password": {},
    "active": {},
}
USER_FORM_DEFAULT: dict[str, str | None] = {"account": None, "password": "new_password", "active": "active-button"}


def _refusal(form: str, exc: AccountError) -> tuple[str, str | None, str]:
    """(the form that failed, the input id at fault or None, the message in the interface language)."""
    field = USER_FORM_FIELDS[form].get(exc.field or "", USER_FORM_DEFAULT[form])
    return form, field, pick(exc.message_ar, exc.message_en)


def _user_form(template_user: User | None, refusal: tuple[str, str | None, str] | None = None, status: int = 200,
               password: str | None = None) -> ResponseReturnValue:
    """The account page; after a refusal it comes back with 400, the error summary at its top, the message beside
    the input at fault and, for the account form, what was typed."""
    session = db_session()
    failed, field, message = refusal if refusal is not None else (None, None, None)
    response = make_response(render_template(
        "admin/user_form.html", user=template_user, roles=list(Role), centres=_centres(session),
        departments=list(DEPARTMENTS), failed=failed, field=field, message=message,
        errors=[(field, message)] if message else [], form=request.form, one_time_password=password,
        min_password=MIN_PASSWORD_LENGTH,
    ), 400 if refusal else status)
    if password:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.ADMIN_USERS)
def user_new() -> ResponseReturnValue:
    """Create an account; with no password typed, a generated one is shown once on the next page."""
    if request.method == "GET":
        return _user_form(None)
    session = db_session()
    typed = request.form.get("password", "")
    password = typed or generate_password()
    try:
        user = create_user(
            session, request.form.get("username", ""), password, _form_roles(),
            request.form.get("full_name", ""), request.form.get("centre") or None,
            department=request.form.get("department") or None, email=_form_email(), actor=_actor(),
        )
    except AccountError as exc:
        session.rollback()
        return _user_form(None, _refusal("account", exc))
    session.commit()
    flash(_("أُنشئ حساب %(username)s.", username=user.username), "info")
    if typed:
        return redirect(url_for("admin.user_edit", user_id=user.id), code=303)
    return _user_form(user, None, 201, password=password)


def _user_or_404(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN_USERS)
def user_edit(user_id: int) -> ResponseReturnValue:
    """Change an account's name, roles, centre, department and e-mail."""
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _user_form(user)
    session = db_session()
    try:
        changes = update_user(
            session, user, roles=_form_roles(), full_name=request.form.get("full_name", ""),
            centre_code=request.form.get("centre") or None, department=request.form.get("department") or None,
            email=_form_email(), actor=_actor(),
        )
    except AccountError as exc:
        session.rollback()
        return _user_form(_user_or_404(user_id), _refusal("account", exc))
    session.commit()
    if changes:
        flash(_("حُفظت تعديلات حساب %(username)s.", username=user.username), "info")
    else:
        flash(_("لا تغيير في حساب %(username)s.", username=user.username), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id), code=303)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def user_password(user_id: int) -> ResponseReturnValue:
    """Reset a password: the one typed (same strength rule as at creation) or a generated one, shown once."""
    user = _user_or_404(user_id)
    session = db_session()
    typed = request.form.get("new_password", "")
    try:
        password = reset_password(session, user, typed or None, actor=_actor())
    except AccountError as exc:
        session.rollback()
        return _user_form(_user_or_404(user_id), _refusal("password", exc))
    session.commit()
    flash(_("أُعيد تعيين كلمة مرور %(username)s.", username=user.username), "info")
    if typed:
        return redirect(url_for("admin.user_edit", user_id=user.id), code=303)
    return _user_form(user, password=password)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@requires(Permission.ADMIN_USERS)
def user_active(user_id: int) -> ResponseReturnValue:
    """Deactivate or reactivate an account (``active`` = ``1`` or ``0``); the account and its history stay."""
    user = _user_or_404(user_id)
    session = db_session()
    active = request.form.get("active") == "1"
    try:
        set_active(session, user, active, actor=_actor())
    except AccountError as exc:
        session.rollback()
        return _user_form(_user_or_404(user_id), _refusal("active", exc))
    session.commit()
    if active:
        flash(_("أُعيد تفعيل حساب %(username)s.", username=user.username), "info")
    else:
        flash(_("أُوقف حساب %(username)s؛ لم يعد ممكنا الدخول به.", username=user.username), "info")
    return redirect(url_for("admin.user_edit", user_id=user.id), code=303)


@bp.route("/catalogue", methods=["GET", "POST"])
@requires(Permission.ADMIN_CATALOGUE)
def catalogue() -> ResponseReturnValue:
    """The services of the catalogue, each edited in its own form; and, as a second way, the whole catalogue
    imported as YAML text (the versioned file's format), validated by the same check on save."""
    session = db_session()
    errors: list[tuple[str | None, Markup]] = []
    text = request.form.get("text", "") if request.method == "POST" else export_catalogue(session)
    if request.method == "POST":
        try:
            change = apply_catalogue(session, parse_catalogue(text, source="text"))
        except CatalogueError as exc:
            session.rollback()
            errors = [("catalogue-text", _problem_text(p)) for p in exc.problems]
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
    return render_template("admin/catalogue.html", services=services, text=text,
                           errors=errors), 400 if errors else 200


def _problem_text(problem: Problem) -> Markup:
    """A problem of the imported YAML text in the interface language, after its place in the text (the service's
    code and the field, as the file writes them: ``BUILD-PERMIT · signing_chain[2].title_ar``)."""
    message = pick(problem.message_ar, problem.message_en)
    place = " · ".join(part for part in (problem.service or "", where(problem.path)) if part)
    if not place:
        return escape(message)
    return Markup('<bdi dir="ltr" class="data">{}</bdi>: {}').format(place, message)


@bp.route("/catalogue/new", methods=["GET", "POST"])
@requires(Permission.ADMIN_CATALOGUE)
def catalogue_new() -> ResponseReturnValue:
    """Add a service to the catalogue through its form."""
    return _service_form(None)


@bp.route("/catalogue/services/<code>", methods=["GET", "POST"])
@requires(Permission.ADMIN_CATALOGUE)
def catalogue_service(code: str) -> ResponseReturnValue:
    """Change one service: steps with their roles, required documents, legal duration, permit text, and whether
    it is offered at the window (a withdrawn service opens here too, to be offered again)."""
    row = db_session().scalar(select(Service).where(Service.code == code))
    if row is None:
        abort(404)
    return _service_form(row)


def _service_form(row: Service | None) -> ResponseReturnValue:
    session = db_session()
    suggested = next_version(session, datetime.now(EGYPT).date())
    errors: list[tuple[str | None, str]] = []
    if request.method == "GET":
        values = form_values(service_entry(row) if row is not None else {}, suggested,
                             offered=row is None or row.active)
    else:
        values = request.form
        parsed = read_form(request.form, row.code if row is not None else None)
        was_offered = row is not None and row.active
        try:
            change = save_service(session, parsed.entry, parsed.version, new=row is None, offered=parsed.offered)
        except CatalogueError as exc:
            session.rollback()
            errors = [(field_of(p, parsed), pick(p.message_ar, p.message_en)) for p in exc.problems]
        else:
            code = str(parsed.entry["code"])
            audit("admin.catalogue.service", f"service:{code}", version=change.version, created=row is None,
                  offered=parsed.offered, was_offered=was_offered)
            session.commit()
            name = pick(parsed.entry["name_ar"], parsed.entry["name_en"])
            if not parsed.offered and (was_offered or row is None):
                flash(_("أُوقفت خدمة «%(name)s» (الإصدار %(version)s): لم تعد تُعرض في شباك التسجيل، والطلبات "
                        "المسجلة عليها باقية كما هي.", name=name, version=change.version), "info")
            elif parsed.offered and row is not None and not was_offered:
                flash(_("أصبحت خدمة «%(name)s» متاحة من جديد في شباك التسجيل (الإصدار %(version)s).",
                        name=name, version=change.version), "info")
            else:
                flash(_("حُفظت خدمة «%(name)s» في دليل الخدمات (الإصدار %(version)s).", name=name,
                        version=change.version), "info")
            return redirect(url_for("admin.catalogue_service", code=code), code=303)
    by_field: dict[str, list[str]] = {}
    for field_id, message in errors:
        if field_id:
            by_field.setdefault(field_id, []).append(message)
    document_rows, step_rows = row_numbers(values)
    return render_template(
        "admin/catalogue_service.html", service=row, values=values, errors=errors, field_errors=by_field,
        document_rows=document_rows, step_rows=step_rows, departments=list(DEPARTMENTS),
        chain_roles=[Role.REVIEWER, Role.SIGNER],
    ), 400 if errors else 200


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
    error_field = "certificate"  # a refused certificate file, unless the official is what is missing
    if request.method == "POST":
        data = _uploaded_certificate()
        user = session.get(User, _int(request.form.get("user_id")))
        admin_user = session.get(User, _admin_id())
        if data is None:
            error = _(CHOOSE_FILE)
        elif user is None:
            error, error_field = _(CHOOSE_USER), "user_id"
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
        "admin/certificates.html", certificates=rows, officials=_officials(session), error=error,
        error_field=error_field, expired=expired,
        subject_fields=subject_fields,
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
    return render_template("admin/trust_roots.html", roots=rows, error=error,
                           error_field="certificate"), 400 if error else 200


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
