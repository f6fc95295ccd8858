"""Signing at the official's desk through the API: the queue, the permit to read, prepare a batch, complete a batch.

The desk agent ``sijill-sign`` (:mod:`signing.agent`) drives these; the private key never reaches the server, only
the token's certificate (to prepare) and signature values (to complete). Thin: each item calls
:mod:`workflow.deferred` inside its own savepoint, so one refused permit in a batch of fifty does not undo the
others; a refusal rolls back that item only and is reported with its code and both sentences.

Prepare and complete take an ``Idempotency-Key`` like the API's other POSTs (:mod:`web.api.idempotency`): the whole
batch, the key and the answer are one transaction, committed once at the end. An agent that lost the answer and
sends the batch again with the same key gets the first answer (the same ``prepared_id`` values to sign; the same
signed permits) and nothing is prepared or signed twice. A crash before that commit leaves nothing of the batch, so
the retry simply runs; an unreachable archive mid-batch likewise saves nothing (503).
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta
from typing import Any

from asn1crypto import x509
from flask import Response, abort, url_for
from flask_smorest import Blueprint

from archive.models import PermitStatus, PreparedSignature, User
from archive.roles import Permission
from archive.store import StoreUnavailable
from signing.errors import SigningRefused
from web.api import idempotency
from web.api.idempotency import idempotent, respond
from web.api.schemas import ApiError, CompleteRequest, CompleteResponse, PrepareRequest, PrepareResponse, Queue
from web.auth.principal import StaffPrincipal
from web.decisions.credentials import ca_chain, signing_options
from web.decisions.panel import permit_of, permit_pdf_response
from web.errors import ExplainedError
from web.intake.common import application_for, find_application, may_see
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime
from web.sealing_keys import permit_sealing_key
from web.verify.album_queue import queue_album
from workflow.deferred import DeskSigningOptions, finish_step_signature, prepare_step_signature
from workflow.routing import RoutingRefused, inbox

log = logging.getLogger(__name__)

blp = Blueprint("api_signing", __name__, url_prefix="/api/v1/signing",
                description="Signing at the official's desk with a PKCS#11 token (sijill-sign)")

BAD_CERTIFICATE = ExplainedError(
    400, "الشهادة المرسلة ليست شهادة صالحة بصيغة ⁦DER/base64⁩.", "The certificate sent is not a base64 DER "
    "certificate.", "bad_certificate")
BAD_SIGNATURE = ExplainedError(400, "قيمة التوقيع ليست بصيغة ⁦base64⁩.", "A signature value is not base64.",
                               "bad_signature_encoding")
ARCHIVE_DOWN = ExplainedError(503, "تعذر الوصول إلى الأرشيف الآن، ولم يُحفظ شيء. حاول مرة أخرى بعد قليل.",
                              "The archive cannot be reached right now and nothing was saved. Try again shortly.",
                              "archive_unavailable")


def _principal() -> StaffPrincipal:
    principal = current_principal()
    assert principal is not None  # @requires ran first
    return principal


def _user() -> User:
    user = db_session().get(User, _principal().id)
    if user is None:
        abort(403)
    return user


def desk_options() -> DeskSigningOptions:
    """The settings' signing level and chain, as for signatures made on the server."""
    settings = runtime().settings
    options = signing_options(settings)
    return DeskSigningOptions(
        revocation=options.revocation,
        timestamp_url=options.timestamp_url,
        embed_validation_info=options.embed_validation_info,
        ca_chain=tuple(ca_chain(settings.signing_ca_chain)),
        ttl=timedelta(seconds=settings.signing_prepared_ttl_s),
    )


def _refusal(exc: RoutingRefused | SigningRefused, **where: Any) -> dict[str, Any]:
    return {**where, "code": exc.code, "error": exc.message_en, "error_ar": exc.message_ar}


@blp.route("/queue")
@blp.response(200, Queue)
@requires(Permission.APPLICATION_SIGN)
def queue() -> dict[str, Any]:
    """The permits waiting for this official's signature, oldest application first, with a summary of each."""
    session = db_session()
    items = []
    for item in inbox(session, _user()):
        if not item.step.signs:
            continue
        application = item.application
        permit = permit_of(session, application)
        items.append({
            "tracking_number": application.tracking_number,
            "permit_number": permit.permit_number if permit is not None else None,
            "service_code": application.service_code,
            "service_name_ar": application.service.name_ar,
            "service_name_en": application.service.name_en,
            "applicant_name": application.applicant_name,
            "centre": application.centre.name_ar,
            "step_title_ar": item.step.title_ar,
            "step_title_en": item.step.title_en,
            "position": item.position,
            "of": item.of,
            "due_at": item.due_at,
            "overdue": item.overdue,
            "pdf_url": url_for("api_signing.permit_pdf", tracking=application.tracking_number),
        })
    return {"items": items}


@blp.route("/queue/<tracking>/permit.pdf")
@blp.doc(responses={"200": {"description": "The permit's current revision",
                            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
@requires(Permission.APPLICATION_SIGN)
def permit_pdf(tracking: str) -> Any:
    """The permit exactly as it stands before this official's signature (rendered now if it is the first)."""
    session = db_session()
    return permit_pdf_response(session, application_for(session, _principal(), tracking), _user())


@blp.route("/prepare", methods=["POST"])
@blp.arguments(PrepareRequest)
@blp.response(200, PrepareResponse)
@blp.alt_response(400, schema=ApiError, description="The certificate is not a certificate, or a malformed "
                                                    "Idempotency-Key; nothing was prepared")
@blp.alt_response(422, schema=ApiError, description="The body failed validation, or the Idempotency-Key was used for "
                                                    "a different request")
@blp.alt_response(503, schema=ApiError, description="The archive cannot be reached; nothing was prepared")
@blp.doc(parameters=[idempotency.PARAMETER])
@requires(Permission.APPLICATION_SIGN)
@idempotent
def prepare(payload: dict[str, Any]) -> Response:
    """Prepare each permit for a signature with this certificate; returns the bytes the token must sign for each.

    With an Idempotency-Key, a retry returns the first answer (the same preparations) and prepares nothing new."""
    try:
        certificate = x509.Certificate.load(base64.b64decode(payload["certificate"], validate=True))
        certificate.native  # noqa: B018 - parse fully now
    except (ValueError, TypeError, binascii.Error):
        raise BAD_CERTIFICATE from None
    session = db_session()
    principal = _principal()
    options = desk_options()
    prepared, refused = [], []
    for tracking in payload["tracking_numbers"]:
        application = find_application(session, tracking)
        if application is None or not may_see(principal, application):
            refused.append(_refusal(RoutingRefused("not_your_step", "unknown"), tracking_number=tracking))
            continue
        try:
            with session.begin_nested():
                row = prepare_step_signature(session, runtime().store, application, _user(), certificate, options,
                                             base_url=runtime().settings.base_url,
                                             sealing_key=permit_sealing_key(f"permit of {tracking}"))
        except (RoutingRefused, SigningRefused) as exc:
            log.info("desk preparation of %s by %s refused: %s (%s)", tracking, principal.username, exc.code,
                     exc.detail)
            refused.append(_refusal(exc, tracking_number=tracking))
            continue
        except StoreUnavailable:
            session.rollback()
            raise ARCHIVE_DOWN from None
        prepared.append({
            "tracking_number": application.tracking_number,
            "prepared_id": row.id,
            "to_sign": base64.b64encode(bytes(row.signed_attributes)).decode("ascii"),
            "digest_algorithm": row.digest_algorithm,
            "expires_at": row.expires_at,
        })
    return respond(session, PrepareResponse, {"prepared": prepared, "refused": refused})


@blp.route("/complete", methods=["POST"])
@blp.arguments(CompleteRequest)
@blp.response(200, CompleteResponse)
@blp.alt_response(400, schema=ApiError, description="A signature value is not base64, or a malformed "
                                                    "Idempotency-Key; nothing was signed")
@blp.alt_response(422, schema=ApiError, description="The body failed validation, or the Idempotency-Key was used for "
                                                    "a different request")
@blp.alt_response(503, schema=ApiError, description="The archive cannot be reached; nothing was signed")
@blp.doc(parameters=[idempotency.PARAMETER])
@requires(Permission.APPLICATION_SIGN)
@idempotent
def complete(payload: dict[str, Any]) -> Response:
    """Embed each signature value into its prepared permit after checking it; each permit is signed or refused.

    With an Idempotency-Key, a retry returns the first answer and signs nothing again."""
    try:
        values = [(item["prepared_id"], base64.b64decode(item["signature"], validate=True))
                  for item in payload["signatures"]]
    except (ValueError, binascii.Error):
        raise BAD_SIGNATURE from None
    session = db_session()
    principal = _principal()
    options = desk_options()
    signed, refused = [], []
    revisions: list[str] = []
    for prepared_id, value in values:
        row = session.get(PreparedSignature, prepared_id)
        tracking = row.step.application.tracking_number if row is not None and row.user_id == principal.id else None
        try:
            with session.begin_nested():
                finish_step_signature(session, runtime().store, prepared_id, _user(), value, options)
        except (RoutingRefused, SigningRefused) as exc:
            log.info("desk signature %s by %s refused: %s (%s)", prepared_id, principal.username, exc.code,
                     exc.detail)
            refused.append(_refusal(exc, prepared_id=prepared_id, tracking_number=tracking))
            continue
        except StoreUnavailable:
            session.rollback()
            raise ARCHIVE_DOWN from None
        application = find_application(session, tracking or "")
        permit = permit_of(session, application) if application is not None else None
        log.info("application %s signed at the desk by %s", tracking, principal.username)
        signed.append({
            "prepared_id": prepared_id,
            "tracking_number": tracking,
            "permit_number": permit.permit_number if permit is not None else "",
            "application_status": application.status if application is not None else "",
            "permit_status": permit.status if permit is not None else PermitStatus.DRAFT.value,
        })
        revisions.append(permit.current_pdf_sha256 if permit is not None else "")
    response = respond(session, CompleteResponse, {"signed": signed, "refused": refused})
    for sha in revisions:  # committed by now: the worker builds each new revision's album for the viewer
        queue_album(sha)
    return response
