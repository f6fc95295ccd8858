"""Applications through the API: register one with its scans (multipart), read its status and OCR, get its receipt.

The same service call as the one-stop window's form (:mod:`web.intake.common`), with ``channel="api"``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from flask import request as flask_request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, Channel, Service, User
from archive.roles import Permission
from intake.errors import IntakeInvalid
from intake.fields import DETAIL_FIELDS
from intake.id_card import application_check
from intake.service import RegisteredApplication
from signing.attachments import signatures_of
from web.api import idempotency
from web.api.case_file import checklist_json
from web.api.decisions import workflow_json
from web.api.idempotency import idempotent, remember
from web.api.schemas import ApiError, ApplicationCreated, ApplicationDetail, InvalidApplication
from web.auth.principal import StaffPrincipal
from web.errors import ExplainedError
from web.intake import common
from web.intake.common import (
    FiledUpload,
    application_for,
    collect_details,
    collect_uploads,
    receipt_response,
)
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime

blp = Blueprint("api_applications", __name__, url_prefix="/api/v1", description="Applications")

_FILES = {"type": "array", "items": {"type": "string", "format": "binary"}}
MULTIPART_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        "The application's fields and its scans. Each file goes in a field named doc.<REQUIREMENT_CODE> (one of the "
        "service's required_documents codes from GET /api/v1/services; repeat the field for several files) or "
        "doc.OTHER. PDF, JPEG, PNG or TIFF (multi-page allowed). When a required document is missing, "
        "incomplete_reason must say why the file is accepted without it."
    ),
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["service_code", "applicant_name", "national_id", "applicant_phone"],
                "properties": {
                    "service_code": {"type": "string", "example": "BUILD-PERMIT"},
                    "centre_code": {
                        "type": "string",
                        "example": "SOH-01",
                        "description": "Defaults to the centre of the token's account",
                    },
                    "applicant_name": {"type": "string", "example": "محمد أحمد عبد الله السيد"},
                    "national_id": {
                        "type": "string",
                        "example": "29001012601235",
                        "description": "14 digits; Arabic-Indic digits, spaces and dashes are accepted",
                    },
                    "applicant_phone": {"type": "string", "example": "01012345678"},
                    "applicant_email": {"type": "string", "description": "Optional: the citizen's notifications"},
                    "incomplete_reason": {"type": "string"},
                    **{
                        f"details.{f.key}": {"type": "string", "description": f.label_en}
                        for f in DETAIL_FIELDS
                    },
                    "doc.ID_COPY": {**_FILES, "description": "Example of a doc.<REQUIREMENT_CODE> field"},
                    "doc.OTHER": {**_FILES, "description": "Supporting documents not on the service's list"},
                },
                "additionalProperties": {
                    **_FILES,
                    "description": "doc.<REQUIREMENT_CODE>: the files of one required document",
                },
            }
        }
    },
}
PDF_RESPONSE = {
    "200": {
        "description": "The receipt (A5 PDF, Arabic, with the tracking number and the QR code of the status page)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _principal() -> StaffPrincipal:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal


def _absolute(path: str) -> str:
    return runtime().settings.base_url + path


@blp.route("/applications", methods=["POST"])
@blp.doc(requestBody=MULTIPART_BODY, parameters=[idempotency.PARAMETER])
@blp.response(201, ApplicationCreated)
@blp.alt_response(400, schema=InvalidApplication, description="Nothing was stored: every problem, by field")
@blp.alt_response(413, description="The request is larger than the upload limit")
@blp.alt_response(422, schema=ApiError, description="The Idempotency-Key was used for a different request")
@blp.alt_response(503, description="The archive cannot store the files right now; nothing was registered")
@requires(Permission.APPLICATION_CREATE)
@idempotent
def create_application() -> Any:
    """Register an application with its scans; OCR of every page is queued. Returns the tracking number.

    With an Idempotency-Key, a retry returns the first registration's answer and registers nothing new.
    """
    principal = _principal()
    form = flask_request.form
    session = db_session()
    code = form.get("service_code", "").strip().upper()
    service = session.scalar(select(Service).where(Service.code == code)) if code else None
    filed = collect_uploads(flask_request.files, service)
    answer: list[Response] = []

    def answer_in_the_same_transaction(_session: Session, result: RegisteredApplication) -> None:
        application = result.application
        tracking = application.tracking_number
        status_url = _absolute(url_for("api_applications.get_application", tracking=tracking))
        body = {
            "tracking_number": tracking,
            "status": application.status,
            "missing_documents": list(application.missing_documents or []),
            "receipt_url": _absolute(url_for("api_applications.get_receipt", tracking=tracking)),
            "status_url": status_url,
            "track_url": _absolute(url_for("inquiry.track", tracking=tracking)),
            "documents": [
                {"id": d.id, "requirement": d.requirement, "filename": d.filename, "page_count": d.page_count}
                for d in application.documents
            ],
        }
        answer.append(remember(ApplicationCreated, body, 201, {"Location": status_url}))

    try:
        common.register(
            principal,
            centre_code=form.get("centre_code") or principal.centre_code or "",
            service_code=form.get("service_code", ""),
            form=form,
            details=collect_details(form, only_known=False),
            filed=filed,
            channel=Channel.API,
            session=session,
            before_commit=answer_in_the_same_transaction,
        )
    except IntakeInvalid as exc:
        session.rollback()
        return _invalid(exc, filed)
    except common.ArchiveUnavailable as exc:
        session.rollback()
        raise ExplainedError(503, exc.message_ar, exc.message_en, "store_unavailable") from None
    return answer[0]


def _invalid(
    exc: IntakeInvalid,
    filed: list[FiledUpload],
    *,
    what: tuple[str, str] = (
        "The application cannot be registered; nothing was stored. See fields.",
        "لم يُسجَّل الطلب ولم يُحفظ شيء. راجع الحقول.",
    ),
) -> Response:
    fields: dict[str, dict[str, str]] = {}
    for name, (arabic, english) in exc.errors.items():
        entry = {"code": exc.codes.get(name, "invalid"), "message_ar": arabic, "message_en": english}
        if name.startswith("uploads[") and name.endswith("]") and name[8:-1].isdigit():
            index = int(name[8:-1])
            if index < len(filed):
                entry.update(field=filed[index].field, filename=filed[index].filename)
        fields[name] = entry
    response = jsonify(
        {
            "status": 400,
            "error": what[0],
            "error_ar": what[1],
            "code": "invalid",
            "fields": fields,
        }
    )
    response.status_code = 400
    return response


DOCUMENTS_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        "Scans to add to a registered application, as at registration: each file in a field named "
        "doc.<REQUIREMENT_CODE> (repeat the field for several files) or doc.OTHER. A scan of a requirement already "
        "present becomes its next version; earlier versions stay in the archive. Only window staff of the "
        "application's centre may add, while the file is open or returned for completion."
    ),
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "doc.SURVEY": {**_FILES, "description": "Example of a doc.<REQUIREMENT_CODE> field"},
                    "doc.OTHER": {**_FILES, "description": "Supporting documents not on the service's list"},
                },
                "additionalProperties": {**_FILES, "description": "doc.<REQUIREMENT_CODE>: files of one document"},
            }
        }
    },
}


class AddedDocument(Schema):
    id = fields.Integer()
    requirement = fields.String(metadata={"example": "SURVEY"})
    filename = fields.String()
    page_count = fields.Integer()
    version = fields.Integer(metadata={"description": "1, or the next version of a document already present"})
    supersedes = fields.Integer(allow_none=True, metadata={"description": "The earlier document it replaces"})
    sha256 = fields.String()


class DocumentsAdded(Schema):
    tracking_number = fields.String(metadata={"example": "SOH01-2026-000123-K"})
    status = fields.String(metadata={"example": "returned"})
    missing_documents = fields.List(fields.String(), metadata={"description": "Required documents still missing"})
    documents = fields.List(fields.Nested(AddedDocument))


@blp.route("/applications/<tracking>/documents", methods=["POST"])
@blp.doc(requestBody=DOCUMENTS_BODY)
@blp.response(201, DocumentsAdded)
@blp.alt_response(400, schema=InvalidApplication, description="Nothing was stored: every problem, by field")
@blp.alt_response(403, schema=InvalidApplication, description="Not window staff of the application's centre")
@blp.alt_response(404, description="No such application (or one of another centre)")
@blp.alt_response(409, schema=InvalidApplication, description="The application is decided; it takes no documents")
@blp.alt_response(413, description="The request is larger than the upload limit")
@blp.alt_response(503, description="The archive cannot store the files right now; nothing was added")
@blp.alt_response(422, schema=ApiError, description="The Idempotency-Key was used for a different request")
@blp.doc(parameters=[idempotency.PARAMETER])
@requires(Permission.APPLICATION_CREATE)
@idempotent
def add_documents(tracking: str) -> Any:
    """Add scans to a registered application (the same inspection, store, OCR, index and audit as intake).

    With an Idempotency-Key, a retry returns the first answer and adds nothing.
    """
    principal = _principal()
    session = db_session()
    application = application_for(session, principal, tracking)
    filed = collect_uploads(flask_request.files, application.service)
    answer: list[Response] = []

    def answer_in_the_same_transaction(_session: Session, result: Any) -> None:
        added = result.application
        body = {
            "tracking_number": added.tracking_number,
            "status": added.status,
            "missing_documents": list(added.missing_documents or []),
            "documents": [
                {"id": d.id, "requirement": d.requirement, "filename": d.filename, "page_count": d.page_count,
                 "version": d.version, "supersedes": d.supersedes_id, "sha256": d.sha256}
                for d in result.documents
            ],
        }
        answer.append(remember(DocumentsAdded, body, 201))

    try:
        common.add(principal, application.id, filed, session=session, before_commit=answer_in_the_same_transaction)
    except IntakeInvalid as exc:
        session.rollback()
        response = _invalid(exc, filed, what=("The documents cannot be added; nothing was stored. See fields.",
                                              "لم تُضف المستندات ولم يُحفظ شيء. راجع الحقول."))
        response.status_code = common.add_refusal_status(exc.codes)
        return response
    except common.ArchiveUnavailable as exc:
        session.rollback()
        raise ExplainedError(503, exc.message_ar, exc.message_en, "store_unavailable") from None
    return answer[0]


@blp.route("/applications/<tracking>")
@blp.response(200, ApplicationDetail)
@blp.alt_response(404, schema=ApiError, description="No such application (or one of another centre)")
@requires(Permission.APPLICATION_VIEW)
def get_application(tracking: str) -> dict[str, Any]:
    """Status of an application, its workflow (steps, transitions, permit, what the caller may do), its case file
    (per checklist item every version of its document: who uploaded it when, its pages' OCR status, a signed PDF's
    signature report) and the OCR of each document and page (text included once read).

    The tracking number is read tolerantly (lower case, Arabic-Indic digits). Applications of another centre are
    reported as not found to staff tied to a centre.
    """
    session = db_session()
    application: Application = application_for(session, _principal(), tracking)
    number = application.tracking_number
    signatures = signatures_of(session, [d.id for d in application.documents])
    return {
        "workflow": workflow_json(session, application, session.get(User, _principal().id)),
        "checklist": checklist_json(session, application),
        "national_id_check": _id_check(application),
        "tracking_number": number,
        "status": application.status,
        "service_code": application.service_code,
        "catalogue_version": application.catalogue_version,
        "centre_code": application.centre.code,
        "channel": application.channel,
        "applicant_name": application.applicant_name,
        "created_at": application.created_at,
        "due_at": application.due_at,
        "missing_documents": list(application.missing_documents or []),
        "incomplete_reason": application.incomplete_reason,
        "receipt_url": _absolute(url_for("api_applications.get_receipt", tracking=number)),
        "track_url": _absolute(url_for("inquiry.track", tracking=number)),
        "ocr": common.progress_of(application).as_json(),
        "documents": [
            {
                "id": d.id,
                "requirement": d.requirement,
                "filename": d.filename,
                "media_type": d.media_type,
                "size_bytes": d.size_bytes,
                "page_count": d.page_count,
                "sha256": d.sha256,
                "ocr_status": d.ocr_status,
                "searchable_pdf": d.searchable_pdf_sha256 is not None,
                "signature_check": d.signature_check,
                "signatures": [
                    {"field_name": g.field_name, "signer": g.signer_name, "signed_at": g.signing_time,
                     "timestamped_at": g.timestamp_time, "level": g.level, "indication": g.indication,
                     "sub_indication": g.sub_indication, "reasons_ar": g.reasons_ar, "reasons_en": g.reasons_en}
                    for g in signatures.get(d.id, [])
                ],
                "pages": [
                    {
                        "id": p.id,
                        "index": p.index,
                        "status": p.status,
                        "attempts": p.attempts,
                        "mean_confidence": p.mean_confidence,
                        "low_confidence": bool(p.low_confidence),
                        "is_blank": bool(p.is_blank),
                        "error": p.error,
                        "text": p.text,
                    }
                    for p in d.pages
                ],
            }
            for d in application.documents
        ],
    }


def _id_check(application: Application) -> dict[str, Any] | None:
    checked = application_check(application)
    if checked is None:
        return None
    result, document = checked
    return {"status": result.status, "digits_read": result.digits, "document_id": document.id}


@blp.route("/applications/<tracking>/receipt")
@blp.doc(responses=PDF_RESPONSE)
@requires(Permission.APPLICATION_VIEW)
def get_receipt(tracking: str) -> Response:
    """The citizen's receipt as a PDF, to print at the window or hand over in a portal."""
    application = application_for(db_session(), _principal(), tracking)
    return receipt_response(application, runtime().settings.base_url)
