"""Intake pages: the one-stop window's form, the applications list and page, downloads and public tracking.

Thin by design: the form is parsed into the arguments of :func:`intake.service.register_application`, whose
``IntakeInvalid`` errors are shown next to their fields; everything else is reading and rendering.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from archive.audit import trail_for
from archive.legal_hold import holds_of
from archive.models import Application, Centre, Channel, Document, OcrStatus, Page, Service, User
from archive.roles import Permission
from intake.errors import IntakeInvalid
from intake.fields import DETAIL_FIELDS, DetailField
from intake.id_card import application_check
from intake.service import ADDABLE_STATUSES, OTHER, checklist, current_documents, required_documents
from intake.tracking import parse_tracking
from signing.attachments import signatures_of
from web import audit_trail
from web.audit import audit
from web.auth.principal import StaffPrincipal
from web.download_names import display_original, download_name
from web.errors import handle_http_exception
from web.intake import common
from web.intake.common import (
    ACCEPTED_UPLOADS,
    CHANNEL_LABELS,
    DETAILS_PREFIX,
    DOC_PREFIX,
    OCR_LABELS,
    STATUS_LABELS,
    FiledUpload,
    application_for,
    collect_details,
    collect_uploads,
    counts_by_requirement,
    document_for,
    file_size,
    local_date,
    local_time,
    long_date,
    page_for,
    pick,
    progress_by_application,
    progress_of,
    receipt_response,
    recent_applications,
    send_object,
    table_date,
    table_time,
)
from web.permissions import current_principal, is_api_request, requires
from web.runtime import db_session, runtime

bp = Blueprint("intake", __name__)

PROPERTY_KEYS = ("plot_number", "street", "district", "area_m2")


@bp.app_context_processor
def intake_helpers() -> dict[str, Any]:
    return {
        "local_date": local_date,
        "local_time": local_time,
        "long_date": long_date,
        "table_date": table_date,
        "table_time": table_time,
        "file_size": file_size,
        "pick": pick,
        "status_label": lambda status: _(STATUS_LABELS.get(status, (status, status))[0]),
        "ocr_label": lambda status: _(OCR_LABELS.get(status, (status, status))[0]),
        "channel_label": lambda channel: _(CHANNEL_LABELS.get(channel, (channel, channel))[0]),
    }


def _principal() -> StaffPrincipal:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal


# --- the window's form ------------------------------------------------------------------------------------


def _active_service(session: Session, code: str | None) -> Service | None:
    if not code:
        return None
    return session.scalar(select(Service).where(Service.code == code.strip().upper(), Service.active))


@bp.route("/applications/new", methods=["GET", "POST"])
@requires(Permission.APPLICATION_CREATE)
def new() -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    if request.method == "GET":
        return _render_form(session, principal, _active_service(session, request.args.get("service")))

    form = request.form
    service = _active_service(session, form.get("service_code"))
    # files kept from a refused attempt (ticked), then the ones chosen now
    kept = common.kept_uploads(form.getlist(common.KEPT_FIELD), owner=principal.id)
    reopened = common.reopen(kept)
    filed = reopened + collect_uploads(request.files, service)
    try:
        result = common.register(
            principal,
            centre_code=principal.centre_code or form.get("centre_code", ""),
            service_code=form.get("service_code", ""),
            form=form,
            details=collect_details(form, only_known=True),
            filed=filed,
            channel=Channel.WINDOW,
        )
    except (IntakeInvalid, common.ArchiveUnavailable) as exc:
        failed = exc if isinstance(exc, IntakeInvalid) else IntakeInvalid(
            {"archive": (exc.message_ar, exc.message_en)}, {"archive": "store_unavailable"})
        refused = {int(n[8:-1]) for n in failed.errors if n.startswith("uploads[") and n[8:-1].isdigit()}
        again = common.keep_uploads(filed, refused, owner=principal.id)  # fresh copies and tokens
        return _render_form(session, principal, service, failed=failed, filed=filed, kept=again), (
            400 if isinstance(exc, IntakeInvalid) else 503)
    finally:
        for item in reopened:
            item.upload.stream.close()  # type: ignore[attr-defined]
        common.discard_kept(kept)
    tracking = result.tracking_number
    flash(
        escape(_("سُجّل الطلب برقم المتابعة %(tracking)s. %(receipt)s"))
        % {
            "tracking": Markup('<bdi dir="ltr" class="tracking">%s</bdi>') % tracking,
            "receipt": Markup('<a href="%s" target="_blank" rel="noopener">%s</a>')
            % (url_for(".receipt", tracking=tracking), _("اطبع الإيصال")),
        },
        "info",
    )
    return redirect(url_for(".show", tracking=tracking))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload over the limit answered on the form: the window's page again, the limit in its error summary.

    Werkzeug refuses the body before any field is read (CSRF included), so nothing was recorded and no value can
    be shown again; the service comes from the form's own address (``?service=``). The API and every other page
    keep the plain 413 (JSON with both languages for the API).
    """
    principal = current_principal()
    if (
        request.endpoint != "intake.new"
        or is_api_request()
        or principal is None
        or not principal.can(Permission.APPLICATION_CREATE)
    ):
        return handle_http_exception(error)
    session = db_session()
    megabytes = runtime().settings.max_upload_mb
    too_large = IntakeInvalid(
        {
            "uploads": (
                f"الملفات المرفوعة أكبر من الحد المسموح به ({megabytes} ميجابايت للطلب كله). لم يُسجَّل شيء: "
                "اختر ملفات أصغر أو أقل عددًا ثم أرسل مرة أخرى.",
                f"The uploaded files are larger than the allowed limit ({megabytes} MB for the whole application). "
                "Nothing was recorded: choose smaller or fewer files and send again.",
            )
        },
        {"uploads": "upload_too_large"},
    )
    page = _render_form(session, principal, _active_service(session, request.args.get("service")), failed=too_large,
                        values={})
    return page, 413


def _render_form(
    session: Session,
    principal: StaffPrincipal,
    service: Service | None,
    *,
    failed: IntakeInvalid | None = None,
    filed: list[FiledUpload] | None = None,
    kept: list[common.KeptUpload] | None = None,
    values: Any = None,
) -> str:
    """The window's form; after a refusal, with the values typed and the files already handed in kept (ticked), so
    the clerk corrects the field at fault and chooses no file again."""
    services = session.scalars(select(Service).where(Service.active).order_by(Service.code)).all()
    centres = (
        session.scalars(select(Centre).where(Centre.active).order_by(Centre.code)).all()
        if principal.centre_code is None
        else []
    )
    needs_property = bool(service is not None and (service.definition or {}).get("needs_property"))
    detail_fields = [f for f in DETAIL_FIELDS if needs_property or f.key not in PROPERTY_KEYS]
    documents = [
        {"code": doc.code, "name": pick(doc.name_ar, doc.name_en), "field": DOC_PREFIX + doc.code}
        for doc in (required_documents(service) if service is not None else [])
    ]
    counts = counts_by_requirement(filed or [])
    items = [
        {"code": item.code, "name": pick(item.name_ar, item.name_en), "provided": item.provided}
        for item in (checklist(service, counts) if service is not None else [])
    ]
    shown = {"service_code", "applicant_name", "national_id", "applicant_phone", "applicant_email", "incomplete_reason"}
    shown |= {DETAILS_PREFIX + f.key for f in detail_fields}
    if centres:
        shown.add("centre_code")
    field_errors, general_errors = _form_errors(failed, filed or [], shown)
    field_ids = _field_ids(detail_fields, documents)
    summary: list[tuple[str | None, str]] = [
        (field_ids.get(name, name), message) for name, messages in field_errors.items() for message in messages
    ]
    summary += [(None, message) for message in general_errors]
    return render_template(
        "intake/new.html",
        services=services,
        service=service,
        centres=centres,
        detail_fields=detail_fields,
        documents=documents,
        other_field=DOC_PREFIX + OTHER,
        other_provided=counts.get(OTHER, 0),
        checklist=items,
        values=values if values is not None else (request.form if failed is not None else {}),
        field_errors=field_errors,
        field_ids=field_ids,
        summary=summary,
        failed=failed is not None,
        had_files=bool(filed) and len(kept or []) < len(filed or []),
        kept_by_field=_group_kept(kept or []),
        kept_field=common.KEPT_FIELD,
        accept=ACCEPTED_UPLOADS,
        principal=principal,
    )


def _group_kept(kept: list[common.KeptUpload]) -> dict[str, list[common.KeptUpload]]:
    grouped: dict[str, list[common.KeptUpload]] = defaultdict(list)
    for item in kept:
        grouped[item.field].append(item)
    return grouped


def _field_ids(detail_fields: list[DetailField], documents: list[dict[str, str]]) -> dict[str, str]:
    """The id of the input each form field name is shown in, for the error summary's links and aria-describedby."""
    ids = {"service_code": "service", "documents": "documents"}
    ids |= {DETAILS_PREFIX + f.key: f"d-{f.key}" for f in detail_fields}
    ids |= {doc["field"]: f"f-{doc['code']}" for doc in documents}
    ids[DOC_PREFIX + OTHER] = "f-OTHER"
    return ids


def _form_errors(
    failed: IntakeInvalid | None, filed: list[FiledUpload], shown: set[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Each service error next to its input: ``uploads[i]`` goes to the file input that sent upload i."""
    by_field: dict[str, list[str]] = defaultdict(list)
    general: list[str] = []
    if failed is None:
        return by_field, general
    for name, (arabic, english) in failed.errors.items():
        message = pick(arabic, english)
        if name.startswith("uploads[") and name.endswith("]") and name[8:-1].isdigit():
            index = int(name[8:-1])
            if index < len(filed):
                by_field[filed[index].field].append(f"{filed[index].filename}: {message}")
                continue
        if name == "uploads":
            by_field["documents"].append(message)
        elif name in shown:
            by_field[name].append(message)
        else:
            general.append(message)
    return by_field, general


# --- lists and the application page -------------------------------------------------------------------------


@bp.route("/applications")
@requires(Permission.APPLICATION_VIEW)
def index() -> ResponseReturnValue:
    principal = _principal()
    session = db_session()
    wanted = request.args.get("q", "").strip()
    if wanted:
        parsed = parse_tracking(wanted)
        if parsed is not None:
            return redirect(url_for(".show", tracking=parsed.text))
    rows = recent_applications(session, principal)
    progress = progress_by_application(session, [a.id for a in rows])
    return render_template(
        "intake/list.html", applications=rows, progress=progress, query=wanted, bad_query=bool(wanted),
        principal=principal,
    )  # fmt: skip


@bp.route("/applications/<tracking>")
@requires(Permission.APPLICATION_VIEW)
def show(tracking: str) -> ResponseReturnValue:
    principal = _principal()
    application = application_for(db_session(), principal, tracking)
    if tracking != application.tracking_number:
        return redirect(url_for(".show", tracking=application.tracking_number))
    audit("application.view", f"application:{application.tracking_number}", commit=True)
    return application_page(application, principal)


def application_page(
    application: Application,
    principal: StaffPrincipal,
    *,
    workflow_error: str | None = None,
    workflow_form: str | None = None,
    values: dict[str, str] | None = None,
    add_failed: IntakeInvalid | None = None,
    add_filed: list[FiledUpload] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The application page, with its workflow panel; the decision views render it again with a refusal, the
    document view with the refusals of the scans it could not add."""
    from web.decisions.panel import build_panel
    from workflow.routing import open_completion_items

    session = db_session()
    service = application.service
    definition_docs = {doc.code: doc for doc in required_documents(service)}
    missing = [
        pick(definition_docs[c].name_ar, definition_docs[c].name_en) if c in definition_docs else c
        for c in application.missing_documents or []
    ]
    current = current_documents(application.documents)
    counts: dict[str, int] = {}
    for document in current:
        counts[document.requirement] = counts.get(document.requirement, 0) + 1
    requested = {item.code: item for item in open_completion_items(session, application)}
    listed = checklist(service, counts)
    items: list[dict[str, Any]] = [
        {"code": item.code, "name": pick(item.name_ar, item.name_en), "provided": item.provided,
         "field": DOC_PREFIX + item.code, "requested": requested.get(item.code)}
        for item in listed
    ]
    can_add = principal.can(Permission.APPLICATION_CREATE) and application.status in ADDABLE_STATUSES
    add_errors, add_general = _form_errors(add_failed, add_filed or [], {DOC_PREFIX + i.code for i in listed}
                                           | {DOC_PREFIX + OTHER})
    names = {code: pick(doc.name_ar, doc.name_en) for code, doc in definition_docs.items()}
    names[OTHER] = _("مستندات أخرى")
    detail_labels = {f.key: pick(f.label_ar, f.label_en) for f in DETAIL_FIELDS}
    progress = progress_of(application)
    user = session.get(User, principal.id)
    panel = build_panel(session, application, user) if user is not None else None
    if panel is not None:
        panel.error, panel.error_form, panel.values = workflow_error, workflow_form, values or {}
    body = render_template(
        "intake/application.html",
        application=application,
        service=service,
        checklist=items,
        current_ids={d.id for d in current},
        can_add_documents=can_add,
        add_errors=add_errors,
        add_general_errors=add_general,
        other_field=DOC_PREFIX + OTHER,
        accept=ACCEPTED_UPLOADS,
        missing=missing,
        requirement_names=names,
        detail_labels=detail_labels,
        progress=progress,
        OcrStatus=OcrStatus,
        principal=principal,
        workflow=panel,
        id_check=application_check(application),
        attachment_signatures=signatures_of(session, [d.id for d in application.documents]),
        trail=(audit_trail.build(session, trail_for(session, f"application:{application.tracking_number}", 5000),
                                 request.args.get("trail", 1, type=int) or 1)
               if principal.can(Permission.AUDIT_READ) else None),
        trail_clock=audit_trail.clock,
        legal_holds=holds_of(session, application.id),
        download_name=download_name,
        display_original=display_original,
        trail_url=lambda n: url_for("intake.show", tracking=application.tracking_number, trail=n),
    )
    return body, status


@bp.route("/applications/<tracking>/documents", methods=["POST"])
@requires(Permission.APPLICATION_CREATE)
def add_documents(tracking: str) -> ResponseReturnValue:
    """The window adds scans to a registered application (per checklist item, as at intake): same refusals, and
    nothing is stored when any file is refused."""
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    filed = collect_uploads(request.files, application.service)
    try:
        result = common.add(principal, application.id, filed)
    except IntakeInvalid as exc:
        return application_page(application, principal, add_failed=exc, add_filed=filed,
                                status=common.add_refusal_status(exc.codes))
    except common.ArchiveUnavailable as exc:
        unavailable = IntakeInvalid({"archive": (exc.message_ar, exc.message_en)}, {"archive": "store_unavailable"})
        return application_page(application, principal, add_failed=unavailable, add_filed=filed, status=503)
    names = ("، " if common.is_arabic() else ", ").join(sorted({d.filename for d in result.documents}))
    flash(_("أضيف إلى ملف الطلب: %(files)s. تجري قراءتها الآن.", files=names), "info")
    return redirect(url_for(".show", tracking=application.tracking_number) + "#documents", code=303)


@bp.route("/applications/<tracking>/status.json")
@requires(Permission.APPLICATION_VIEW)
def status(tracking: str) -> ResponseReturnValue:
    application = application_for(db_session(), _principal(), tracking)
    progress = progress_of(application)
    response = jsonify(
        {
            "tracking_number": application.tracking_number,
            "status": application.status,
            "ocr": progress.as_json(),
            "version": progress.version,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/applications/<tracking>/receipt.pdf")
@requires(Permission.APPLICATION_VIEW)
def receipt(tracking: str) -> ResponseReturnValue:
    application = application_for(db_session(), _principal(), tracking)
    audit("receipt.download", f"application:{application.tracking_number}", commit=True)
    return receipt_response(application, runtime().settings.base_url)


# --- downloads ----------------------------------------------------------------------------------------------


@bp.route("/documents/<int:document_id>/original")
@requires(Permission.APPLICATION_VIEW)
def original(document_id: int) -> ResponseReturnValue:
    document = document_for(db_session(), _principal(), document_id)
    _audit_document("document.download", document)
    return send_object(
        document.sha256, media_type=document.media_type, filename=document.filename,
        fallback=f"document-{document.id}{_suffix(document.filename)}",
    )  # fmt: skip


@bp.route("/documents/<int:document_id>/searchable.pdf")
@requires(Permission.APPLICATION_VIEW)
def searchable(document_id: int) -> ResponseReturnValue:
    document = document_for(db_session(), _principal(), document_id)
    if not document.searchable_pdf_sha256:
        abort(404)
    _audit_document("document.searchable_pdf", document)
    stem = document.filename.rsplit(".", 1)[0] if "." in document.filename else document.filename
    return send_object(
        document.searchable_pdf_sha256, media_type="application/pdf", filename=f"{stem}-ocr.pdf",
        fallback=f"document-{document.id}-ocr.pdf", disposition="inline",
    )  # fmt: skip


@bp.route("/pages/<int:page_id>/preview.jpg")
@requires(Permission.APPLICATION_VIEW)
def preview(page_id: int) -> ResponseReturnValue:
    page = page_for(db_session(), _principal(), page_id)
    if not page.preview_sha256:
        abort(404)
    _audit_page("page.view", page)
    name = f"page-{page.id}.jpg"
    return send_object(page.preview_sha256, media_type="image/jpeg", filename=name, fallback=name, disposition="inline")


@bp.route("/pages/<int:page_id>/words.json")
@requires(Permission.APPLICATION_VIEW)
def words(page_id: int) -> ResponseReturnValue:
    page = page_for(db_session(), _principal(), page_id)
    if not page.words_sha256:
        abort(404)
    _audit_page("page.words", page)
    name = f"page-{page.id}-words.json"
    return send_object(
        page.words_sha256, media_type="application/json", filename=name, fallback=name, disposition="inline"
    )


def _audit_document(action: str, document: Document) -> None:
    audit(action, f"application:{document.application.tracking_number}", commit=True, document=document.id,
          sha256=document.sha256)


def _audit_page(action: str, page: Page) -> None:
    audit(action, f"application:{page.document.application.tracking_number}", commit=True, document=page.document_id,
          page=page.index)


def _suffix(filename: str) -> str:
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""


def _public(body: str, status_code: int = 200) -> Response:
    response = Response(body, status=status_code, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
