"""Marshmallow schemas of the API; they validate input and document the OpenAPI spec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate


class UtcDateTime(fields.DateTime):
    """ISO 8601 with its offset, always: SQLite hands back naive UTC datetimes, which would otherwise lose theirs."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    name = fields.String(load_default="api", validate=validate.Length(max=100))


class TokenResponse(Schema):
    token = fields.String(required=True, metadata={"description": "Shown once; send as 'Authorization: Bearer …'"})
    token_type = fields.String(required=True)


class Me(Schema):
    username = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
    centre = fields.String(allow_none=True)


class RequiredDocument(Schema):
    code = fields.String()
    name_ar = fields.String()
    name_en = fields.String()
    holds_national_id = fields.Boolean(metadata={"description": "The national ID card: its digits are read and "
                                                                "compared with the typed national ID"})


class ChainStep(Schema):
    step = fields.String()
    role = fields.String()
    department = fields.String()
    title_ar = fields.String()
    title_en = fields.String()
    legal_days = fields.Integer(allow_none=True, metadata={
        "description": "The step's own legal duration in calendar days from when the file reaches it; absent: the "
                       "step is due when the application is"})


class ServiceOut(Schema):
    code = fields.String()
    name_ar = fields.String()
    name_en = fields.String()
    legal_days = fields.Integer()
    fee_piastres = fields.Integer()
    catalogue_version = fields.String()
    required_documents = fields.List(fields.Nested(RequiredDocument))
    signing_chain = fields.List(fields.Nested(ChainStep))


class CentreOut(Schema):
    code = fields.String()
    name_ar = fields.String()
    name_en = fields.String()
    governorate_code = fields.String()


# --- applications ----------------------------------------------------------------------------------------


class DocumentCreated(Schema):
    id = fields.Integer()
    requirement = fields.String(metadata={"description": "Requirement code of the service, or OTHER"})
    filename = fields.String()
    page_count = fields.Integer()


class ApplicationCreated(Schema):
    tracking_number = fields.String(metadata={"example": "SOH01-2026-000123-K"})
    status = fields.String(metadata={"example": "received"})
    missing_documents = fields.List(fields.String(), metadata={"description": "Required documents not handed in"})
    receipt_url = fields.String(metadata={"description": "The receipt PDF (bearer token needed)"})
    status_url = fields.String(metadata={"description": "Status and OCR progress (bearer token needed)"})
    track_url = fields.String(metadata={"description": "The citizen's public status page (the receipt's QR code)"})
    documents = fields.List(fields.Nested(DocumentCreated))


class FieldError(Schema):
    code = fields.String(metadata={"description": "Stable code for programs, e.g. wrong_length, reason_required"})
    message_ar = fields.String()
    message_en = fields.String()
    field = fields.String(metadata={"description": "For uploads[i]: the multipart field of that file (doc.CODE)"})
    filename = fields.String(metadata={"description": "For uploads[i]: the file's name as uploaded"})


class InvalidApplication(Schema):
    status = fields.Integer(metadata={"example": 400})
    error = fields.String()
    error_ar = fields.String()
    code = fields.String(metadata={"example": "invalid"})
    field_errors = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(FieldError),
        data_key="fields",
        metadata={
            "description": "Every problem at once, by field: national_id, applicant_name, applicant_phone, "
            "service_code, centre_code, details.<key>, uploads (none at all), uploads[i] (the i-th file, "
            "0-based, in the order doc.<CODE> fields follow the service's required documents, then doc.OTHER), "
            "incomplete_reason"
        },
    )


class OcrSummary(Schema):
    pages = fields.Integer()
    done = fields.Integer()
    failed = fields.Integer()
    pending = fields.Integer()
    running = fields.Integer()
    complete = fields.Boolean(metadata={"description": "No page is waiting or running"})


class PageStatus(Schema):
    id = fields.Integer()
    index = fields.Integer(metadata={"description": "0-based position in the document"})
    status = fields.String(metadata={"description": "pending, running, done or failed"})
    attempts = fields.Integer()
    mean_confidence = fields.Float(allow_none=True, metadata={"description": "Tesseract's mean word confidence"})
    low_confidence = fields.Boolean(metadata={"description": "Recognition was poor: re-scan the page"})
    is_blank = fields.Boolean()
    error = fields.String(allow_none=True)
    text = fields.String(allow_none=True, metadata={"description": "The recognised text (Arabic and English)"})


class AttachmentSignature(Schema):
    field_name = fields.String()
    signer = fields.String(metadata={"description": "The common name in the signing certificate"})
    signed_at = fields.DateTime(allow_none=True, metadata={"description": "As the signer states it (not proven)"})
    timestamped_at = fields.DateTime(allow_none=True, metadata={"description": "Proven by a trusted timestamp"})
    level = fields.String(metadata={"description": "B-B, B-T, B-LT or B-LTA"})
    indication = fields.String(metadata={"description": "TOTAL_PASSED, INDETERMINATE or TOTAL_FAILED"})
    sub_indication = fields.String(allow_none=True)
    reasons_ar = fields.List(fields.String())
    reasons_en = fields.List(fields.String())


class DocumentStatus(Schema):
    id = fields.Integer()
    requirement = fields.String()
    filename = fields.String()
    media_type = fields.String()
    size_bytes = fields.Integer()
    page_count = fields.Integer()
    sha256 = fields.String()
    ocr_status = fields.String()
    searchable_pdf = fields.Boolean(metadata={"description": "The searchable PDF of the whole document is ready"})
    signature_check = fields.String(allow_none=True, metadata={
        "description": "PDFs: null until checked in the background, then none (no signature), too_large, or the "
                       "overall indication of its signatures (TOTAL_PASSED, INDETERMINATE, TOTAL_FAILED)"})
    signatures = fields.List(fields.Nested(AttachmentSignature), metadata={
        "description": "The signatures the uploaded PDF carries, each validated like a permit's"})
    pages = fields.List(fields.Nested(PageStatus))


class ApplicationOut(Schema):
    tracking_number = fields.String()
    status = fields.String()
    service_code = fields.String()
    catalogue_version = fields.String()
    centre_code = fields.String()
    channel = fields.String()
    applicant_name = fields.String()
    created_at = fields.DateTime()
    due_at = fields.DateTime(metadata={"description": "created_at plus the service's legal duration"})
    missing_documents = fields.List(fields.String())
    incomplete_reason = fields.String(allow_none=True)
    receipt_url = fields.String()
    track_url = fields.String()
    ocr = fields.Nested(OcrSummary)
    documents = fields.List(fields.Nested(DocumentStatus))


# --- public verification -----------------------------------------------------------------------------------


class VerifiedSignature(Schema):
    field_name = fields.String(metadata={"description": "The PDF signature field (one per signing step)"})
    signed = fields.Boolean(metadata={"description": "False for a step that has not signed yet"})
    role_ar = fields.String()
    role_en = fields.String()
    signer = fields.String(metadata={"description": "The signing official"})
    certificate_name = fields.String(metadata={"description": "The common name in the signing certificate"})
    signed_at = fields.DateTime(allow_none=True)
    timestamped = fields.Boolean(metadata={"description": "signed_at is proven by a trusted timestamp"})
    level = fields.String(metadata={"description": "PAdES baseline level in the file: B-B, B-T, B-LT or B-LTA"})
    indication = fields.String(
        metadata={"description": "TOTAL_PASSED, INDETERMINATE or TOTAL_FAILED (ETSI EN 319 102-1)"}
    )
    sub_indication = fields.String(allow_none=True)
    reasons_ar = fields.List(fields.String())
    reasons_en = fields.List(fields.String())


VALID_DOC = ("The permit is in force: genuine, issued, not revoked and not expired (status == valid). The one"
             " field to rely on before acting on a permit.")
GENUINE_DOC = ("The permit was issued by Sijill: the archive holds it and every signature of the archived copy passes"
               " validation. Stays true after a revocation or expiry (then valid is false): genuine says who made it,"
               " not whether it is still in force.")
STATUS_DOC = ("valid (genuine and in force), revoked, expired, draft (not issued yet) or unknown (the archive holds it"
              " but its signatures cannot be confirmed now)")


class RevisionChange(Schema):
    revision = fields.Integer(metadata={"description": "The PDF revision (0 is the original file)"})
    kind = fields.String(metadata={"description": (
        "signature, timestamp (document timestamp), validation_data (DSS), form, annotation, page_content or other")})
    field_name = fields.String()
    level = fields.String(metadata={"description": "pyHanko's modification level of this revision"})
    detail = fields.String(metadata={"description": "Why pyHanko's policy does not allow it (technical, English)"})


class RevisionEntry(Schema):
    number = fields.Integer()
    kind = fields.String(metadata={"description": (
        "signature, timestamp (an archive timestamp of a renewal), or unsigned (the file as it is now, with changes"
        " after its last signature)")})
    title_ar = fields.String()
    title_en = fields.String()
    after_ar = fields.String(metadata={"description": "What changed after it, in plain Arabic"})
    after_en = fields.String(metadata={"description": "What changed after it, in plain English"})
    tone = fields.String(metadata={"description": "good, warn or bad"})
    signed_at = fields.DateTime(allow_none=True, metadata={"description": "The timestamp's time, else the signer's"})
    timestamped = fields.Boolean()
    image_url = fields.String(metadata={"description": (
        "A small picture of the first page at this state (archived permit only; empty for uploads)")})
    revision = fields.Integer()
    end = fields.Integer(metadata={"description": "The state is the file's first `end` bytes"})
    sha256 = fields.String(metadata={"description": "SHA-256 of that state"})
    field_name = fields.String()
    certificate_name = fields.String()
    coverage = fields.String()
    modification_level = fields.String(allow_none=True, metadata={"description": (
        "pyHanko's verdict on everything appended after it: NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS, OTHER")})
    docmdp_ok = fields.Boolean(allow_none=True)
    suspicious = fields.String()
    changes = fields.List(fields.Nested(RevisionChange))


class Verification(Schema):
    valid = fields.Boolean(metadata={"description": VALID_DOC})
    genuine = fields.Boolean(metadata={"description": GENUINE_DOC})
    status = fields.String(metadata={"description": STATUS_DOC})
    status_ar = fields.String()
    permit_number = fields.String()
    service_code = fields.String()
    service_ar = fields.String()
    service_en = fields.String()
    centre_ar = fields.String()
    centre_en = fields.String()
    issued_on = fields.Date(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)
    applicant = fields.String(metadata={"description": "First name and an initial only"})
    national_id_masked = fields.String(metadata={"description": "Only the last four digits"})
    indication = fields.String(allow_none=True, metadata={"description": "Overall verdict on the archived copy"})
    reasons_ar = fields.List(fields.String())
    reasons_en = fields.List(fields.String())
    signatures = fields.List(fields.Nested(VerifiedSignature))
    revisions = fields.List(fields.Nested(RevisionEntry), metadata={"description": (
        "The revision viewer: each signature and archive timestamp of the archived permit, with what changed after"
        " it. Empty while revisions_pending is true")})
    revisions_pending = fields.Boolean(metadata={"description": (
        "True while the analysis and pictures of the permit's signed revisions are being prepared by the server (a"
        " permit signed or renewed moments ago): revisions is empty for now; ask again in a minute or two")})


class CopyCheck(Schema):
    kind = fields.String(metadata={"description": (
        "What the uploaded file is. identical: byte for byte the archived permit. earlier_state: byte for byte an"
        " earlier archival state holding every signature (only later time stamps or validation data missing):"
        " genuine. before_signatures: a draft from before all signatures. extended: the genuine permit with"
        " something appended. other: none of this permit's states. too_complex: beyond the size, revision, object"
        " or time limits, not checked further. busy: too many checks at once, try again (status 503)")})
    genuine = fields.Boolean(metadata={"description": "kind is identical or earlier_state: this file is the permit"
                                                      " as the archive made it"})
    valid = fields.Boolean(metadata={"description": "genuine, and the permit is in force (status == valid)"})
    status = fields.String(metadata={"description": "The permit's status: " + STATUS_DOC})
    headline_ar = fields.String()
    headline_en = fields.String()
    sentences_ar = fields.List(fields.String(), metadata={"description": "The verdict in plain Arabic"})
    sentences_en = fields.List(fields.String(), metadata={"description": "The verdict in plain English"})
    size = fields.Integer()
    sha256 = fields.String()
    signatures_in_copy = fields.Integer(allow_none=True, metadata={
        "description": "For an archived state: how many signatures it holds"})
    indication = fields.String(allow_none=True, metadata={
        "description": "Overall validation of the uploaded bytes (null when not validated)"})
    sub_indication = fields.String(allow_none=True)
    reasons_ar = fields.List(fields.String())
    reasons_en = fields.List(fields.String())
    signatures = fields.List(fields.Nested(VerifiedSignature))
    revisions = fields.List(fields.Nested(RevisionEntry), metadata={"description": (
        "The uploaded file's own signatures and what changed after each (empty when not validated, or when the"
        " time limit left no room for it)")})


# --- signing at the desk (sijill-sign) ---


class QueueItem(Schema):
    tracking_number = fields.String()
    permit_number = fields.String(allow_none=True)
    service_code = fields.String()
    service_name_ar = fields.String()
    service_name_en = fields.String()
    applicant_name = fields.String()
    centre = fields.String()
    step_title_ar = fields.String()
    step_title_en = fields.String()
    position = fields.Integer(metadata={"description": "1-based position of the step in the chain"})
    of = fields.Integer()
    due_at = fields.DateTime(metadata={"description": "The signing step's legal due date"})
    overdue = fields.Boolean()
    pdf_url = fields.String(metadata={"description": "The permit's current revision (what the official signs)"})


class Queue(Schema):
    items = fields.List(fields.Nested(QueueItem))


class PrepareRequest(Schema):
    certificate = fields.String(
        required=True, metadata={"description": "The token's signing certificate, DER in base64"},
        validate=validate.Length(min=1, max=20000),
    )
    tracking_numbers = fields.List(fields.String(validate=validate.Length(min=1, max=40)), required=True,
                                   validate=validate.Length(min=1, max=200))


class Refusal(Schema):
    tracking_number = fields.String(allow_none=True)
    prepared_id = fields.Integer(allow_none=True)
    code = fields.String()
    error = fields.String(metadata={"description": "English sentence"})
    error_ar = fields.String(metadata={"description": "Arabic sentence"})


class PreparedOut(Schema):
    tracking_number = fields.String()
    prepared_id = fields.Integer()
    to_sign = fields.String(metadata={"description": "Base64 of the CMS signed attributes; sign them with the "
                                                     "token key (SHA-256, RSA PKCS#1 v1.5 or ECDSA)"})
    digest_algorithm = fields.String()
    expires_at = fields.DateTime()


class PrepareResponse(Schema):
    prepared = fields.List(fields.Nested(PreparedOut))
    refused = fields.List(fields.Nested(Refusal))


class SignatureIn(Schema):
    prepared_id = fields.Integer(required=True)
    signature = fields.String(required=True, metadata={"description": "Raw signature value, base64"},
                              validate=validate.Length(min=1, max=4096))


class CompleteRequest(Schema):
    signatures = fields.List(fields.Nested(SignatureIn), required=True, validate=validate.Length(min=1, max=200))


class SignedOut(Schema):
    prepared_id = fields.Integer()
    tracking_number = fields.String()
    permit_number = fields.String()
    application_status = fields.String()
    permit_status = fields.String()


class CompleteResponse(Schema):
    signed = fields.List(fields.Nested(SignedOut))
    refused = fields.List(fields.Nested(Refusal))
class InquiryRequest(Schema):
    tracking_number = fields.String(required=True, validate=validate.Length(min=1, max=40),
                                    metadata={"description": "As printed on the receipt, e.g. SOH01-2026-000123-K"})
    access_code = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=20),
                                metadata={"description": "The access code printed on the receipt, e.g. ABCDE-FGH23"})


class Milestone(Schema):
    status = fields.String()
    at = fields.DateTime()


class Inquiry(Schema):
    tracking_number = fields.String()
    status = fields.String(metadata={"description": "received, in_review, awaiting_signature, returned, approved, "
                                                    "rejected or issued"})
    status_ar = fields.String()
    status_en = fields.String()
    stage_ar = fields.String(metadata={"description": "What the status means for the citizen, in plain Arabic"})
    stage_en = fields.String()
    service_ar = fields.String()
    service_en = fields.String()
    centre_ar = fields.String()
    centre_en = fields.String()
    received_at = fields.DateTime()
    due_at = fields.DateTime(metadata={"description": "Received plus the service's legal duration"})
    legal_days = fields.Integer()
    last_change_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "Still open after the legal due date"})
    return_reason = fields.String(allow_none=True, metadata={"description": "What to complete, while returned"})
    milestones = fields.List(fields.Nested(Milestone))


# --- decisions and the inbox (web.api.decisions) ---------------------------------------------------------------------

REASON = validate.Length(max=2000)


class ApiError(Schema):
    """Every refusal and error of the API: a stable code for programs, a sentence in English and in Arabic.

    ``web.errors`` makes these bodies; it is also flask-smorest's ``ERROR_SCHEMA`` (``web.api.SijillApi``), so every
    operation's ``default`` response documents it.
    """

    status = fields.Integer(metadata={"example": 409})
    code = fields.String(metadata={"description": "Stable code: one_stop, not_your_step, wrong_state, "
                                                  "reason_required, not_permitted, idempotency_key_reused, …"})
    error = fields.String(metadata={"description": "English sentence"})
    error_ar = fields.String(metadata={"description": "Arabic sentence"})
    details = fields.Dict(metadata={"description": "For 422: every invalid field of the body"})
    detail = fields.String(metadata={"description": "More about this refusal, when there is more to say"})
    field_errors = fields.Dict(
        keys=fields.String(), data_key="fields", metadata={"description": "Problems by field (see each operation)"}
    )


class ReturnItemIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "A required_documents code of the service (GET /api/v1/services)"})
    problem = fields.String(load_default="missing", validate=validate.OneOf(["missing", "unreadable"]))


class DecisionRequest(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["recommend", "approve", "reject", "return"]),
                           metadata={"description": "recommend (a reviewer step), approve (a step that does not "
                                                    "sign), reject or return (both need a reason)"})
    reason = fields.String(load_default="", validate=REASON,
                           metadata={"description": "Required for reject and return; shown to the citizen on return"})
    items = fields.List(fields.Nested(ReturnItemIn), load_default=list, validate=validate.Length(max=50),
                        metadata={"description": "For return: the checklist items to bring, each missing or "
                                                 "unreadable; the citizen's SMS/e-mail names them"})


class ReassignRequest(Schema):
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1000),
                              metadata={"description": "0-based position of the step in the chain"})
    to_user = fields.String(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "Username of the official who takes the step"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResubmitRequest(Schema):
    note = fields.String(load_default="", validate=REASON,
                         metadata={"description": "What the citizen brought to complete the file"})
    answers = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                          values=fields.String(validate=REASON), load_default=dict,
                          metadata={"description": "For each paper the return asked for and no scan was added "
                                                   "(POST …/documents): code → why the file goes on without it"})


class OverrideRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "Why the file may go on without its missing documents"})


class RevokeRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class StepOut(Schema):
    position = fields.Integer(metadata={"description": "0-based"})
    step = fields.String(metadata={"description": "The catalogue's step code"})
    title_ar = fields.String()
    title_en = fields.String()
    role = fields.String()
    department = fields.String()
    signs = fields.Boolean(metadata={"description": "A signer step adds a PAdES signature to the permit"})
    status = fields.String(metadata={"description": "waiting, active, done, returned or cancelled"})
    assignee = fields.String(allow_none=True, metadata={"description": "Username, when a head reassigned it"})
    activated_at = UtcDateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    decision = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class TransitionOut(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    action = fields.String(metadata={"description": "open, recommend, approve, sign, reject, return, resubmit, "
                                                    "reassign, issue, revoke"})
    from_status = fields.String()
    to_status = fields.String()
    step_position = fields.Integer(allow_none=True)
    actor = fields.String(allow_none=True, metadata={"description": "Username; null for the system"})
    reason = fields.String(allow_none=True)


class PermitOut(Schema):
    permit_number = fields.String()
    status = fields.String(metadata={"description": "draft, issued, revoked or expired"})
    revision = fields.String(metadata={"description": "SHA-256 of the current revision: send it as "
                                                      "seen_pdf_sha256 when signing"})
    issued_at = UtcDateTime(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)
    pdf_url = fields.String(metadata={"description": "The current revision (signers of the file)"})


class CompletionItemOut(Schema):
    code = fields.String()
    problem = fields.String(metadata={"description": "missing or unreadable"})
    document_id = fields.Integer(allow_none=True, metadata={"description": "The scan added for it, if any"})
    answer_reason = fields.String(allow_none=True)


class WorkflowOut(Schema):
    completion_items = fields.List(fields.Nested(CompletionItemOut), metadata={
        "description": "Papers the last return asked for that are still open (the window collects them)"})
    missing_documents = fields.List(fields.String(), metadata={
        "description": "Required documents missing from the file now; no approval or signature until they are "
                       "added or a head overrides"})
    override = fields.Dict(allow_none=True, metadata={
        "description": "A head's override of missing documents: codes, reason, by, at"})
    steps = fields.List(fields.Nested(StepOut))
    transitions = fields.List(fields.Nested(TransitionOut))
    permit = fields.Nested(PermitOut, allow_none=True)
    actions = fields.List(fields.String(), metadata={
        "description": "What the caller may do now: recommend, approve, return, reject, sign, resubmit, revoke, "
                       "reassign (the service decides again when it is posted)"})


class DecisionResult(Schema):
    tracking_number = fields.String()
    status = fields.String(metadata={"description": "The application's status after the decision"})
    transition = fields.Nested(TransitionOut, metadata={"description": "The transition this request recorded"})
    workflow = fields.Nested(WorkflowOut)


class InboxStep(Schema):
    position = fields.Integer(metadata={"description": "1-based position of the active step"})
    of = fields.Integer()
    title_ar = fields.String()
    title_en = fields.String()
    signs = fields.Boolean()


class InboxEntry(Schema):
    tracking_number = fields.String()
    status = fields.String()
    service_code = fields.String()
    service_name_ar = fields.String()
    service_name_en = fields.String()
    applicant_name = fields.String()
    centre_code = fields.String()
    created_at = UtcDateTime()
    due_at = UtcDateTime(metadata={"description": "The active step's legal due date: when the file reached the step "
                                                  "plus the step's duration, or the application's when it has none"})
    application_due_at = UtcDateTime(metadata={"description": "The application's legal due date (received plus the "
                                                              "service's legal duration), what governance measures"})
    overdue = fields.Boolean(metadata={"description": "The step's due date has passed"})
    days_left = fields.Integer(metadata={"description": "Calendar days in Egypt to the step's legal due date "
                                                        "(negative: late)"})
    step = fields.Nested(InboxStep, allow_none=True)
    flags = fields.List(fields.String(), metadata={"description": "What the official should know: reminder_sent "
                                                                  "(the step's officials were reminded of the due "
                                                                  "date), overdue_reported (the heads were told), "
                                                                  "national_id_mismatch (the ID card reads another "
                                                                  "number than the typed national ID)"})
    url = fields.String(metadata={"description": "GET /api/v1/applications/<tracking>"})


class InboxOut(Schema):
    items = fields.List(fields.Nested(InboxEntry), metadata={"description": "Steps waiting for the caller"})
    returned = fields.List(fields.Nested(InboxEntry), metadata={
        "description": "Files returned for completion at the caller's centre (window staff only)"})


class NationalIdCheck(Schema):
    status = fields.String(metadata={
        "description": "match; mismatch (a different, structurally valid national ID read with good confidence); or "
                       "unreadable (the number could not be read reliably: nothing is claimed either way)"})
    digits_read = fields.String(allow_none=True, metadata={
        "description": "The typed ID on a match, the other national ID on a mismatch, and what was read (any length, "
                       "or null) when unreadable"})
    document_id = fields.Integer(metadata={"description": "The ID card's document that was read"})


class Uploader(Schema):
    username = fields.String()
    full_name = fields.String()


class PageOcr(Schema):
    id = fields.Integer()
    index = fields.Integer(metadata={"description": "0-based position in the document"})
    status = fields.String(metadata={"description": "OCR status: pending, running, done or failed"})
    mean_confidence = fields.Float(allow_none=True, metadata={"description": "Tesseract's mean word confidence"})
    low_confidence = fields.Boolean(metadata={"description": "Recognition was poor: re-scan the page"})
    is_blank = fields.Boolean()
    error = fields.String(allow_none=True)


class SignatureLine(Schema):
    signer = fields.String(metadata={"description": "The common name in the signing certificate"})
    indication = fields.String(metadata={"description": "TOTAL_PASSED, INDETERMINATE or TOTAL_FAILED"})
    sub_indication = fields.String(allow_none=True)
    verdict_ar = fields.String(metadata={"example": "توقيع صحيح"})
    verdict_en = fields.String(metadata={"example": "Valid signature"})
    time = UtcDateTime(allow_none=True, metadata={"description": "The trusted timestamp's time if any, else the time "
                                                                 "the signer states"})
    time_proven = fields.Boolean(metadata={"description": "time comes from a trusted timestamp"})
    level = fields.String(metadata={"description": "B-B, B-T, B-LT or B-LTA"})
    reasons_ar = fields.List(fields.String())
    reasons_en = fields.List(fields.String())


class SignatureReport(Schema):
    check = fields.String(metadata={"description": "pending (not checked yet), none (no signature), too_large, or "
                                                   "the overall indication"})
    signed = fields.Boolean(metadata={"description": "The PDF carries at least one signature"})
    count = fields.Integer()
    valid = fields.Integer()
    invalid = fields.Integer()
    indeterminate = fields.Integer()
    signatures = fields.List(fields.Nested(SignatureLine))


class DocumentFile(Schema):
    id = fields.Integer()
    version = fields.Integer()
    current = fields.Boolean(metadata={"description": "Part of the newest version of its checklist item"})
    supersedes = fields.Integer(allow_none=True, metadata={"description": "The earlier document this scan replaced"})
    filename = fields.String()
    media_type = fields.String(metadata={"description": "Content type as inspected at upload"})
    size_bytes = fields.Integer()
    sha256 = fields.String(metadata={"description": "SHA-256 of the original bytes (its key in the archive)"})
    uploaded_at = UtcDateTime()
    uploaded_by = fields.Nested(Uploader, allow_none=True, metadata={
        "description": "The window official who added it (the registering clerk for the files of the registration)"})
    page_count = fields.Integer()
    ocr_status = fields.String()
    searchable_pdf = fields.Boolean()
    pages = fields.List(fields.Nested(PageOcr))
    signature_report = fields.Nested(SignatureReport, allow_none=True, metadata={
        "description": "PDFs only (null otherwise): the signatures it carries, as the application page shows them"})


class DocumentVersion(Schema):
    version = fields.Integer(metadata={"description": "1 for the registration's files; each rescan is the next"})
    current = fields.Boolean(metadata={"description": "The version that counts now; earlier ones stay archived"})
    uploaded_at = UtcDateTime()
    uploaded_by = fields.Nested(Uploader, allow_none=True)
    added_after_registration = fields.Boolean()
    files = fields.List(fields.Nested(DocumentFile))


class ChecklistEntry(Schema):
    code = fields.String(metadata={"example": "SURVEY", "description": "Required-document code, or OTHER"})
    name_ar = fields.String()
    name_en = fields.String()
    required = fields.Boolean(metadata={"description": "On the service's checklist (false for OTHER)"})
    provided = fields.Boolean()
    requested = fields.String(allow_none=True, metadata={
        "description": "missing or unreadable when the last return asked for this item and it is still open"})
    versions = fields.List(fields.Nested(DocumentVersion), metadata={"description": "Oldest first"})


class ApplicationDetail(ApplicationOut):
    """An application with its workflow (GET /api/v1/applications/<tracking>)."""

    workflow = fields.Nested(WorkflowOut)
    checklist = fields.List(fields.Nested(ChecklistEntry), metadata={
        "description": "The case file: per checklist item (the catalogue's order, then OTHER) every version of its "
                       "document, as the application page shows it"})
    national_id_check = fields.Nested(
        NationalIdCheck, allow_none=True,
        metadata={"description": "The ID card read by OCR against the typed national ID (null until read); a flag "
                                 "for the reviewer, never a refusal"})


class HoldRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "Why the hold is placed or released (written to the audit trail)"})


class HoldOut(Schema):
    id = fields.Integer()
    active = fields.Boolean(metadata={"description": "True until the hold is released"})
    reason = fields.String()
    placed_at = UtcDateTime()
    placed_by = fields.String(metadata={"description": "Username of the auditor or administrator"})
    released_at = UtcDateTime(allow_none=True)
    released_by = fields.String(allow_none=True)
    release_reason = fields.String(allow_none=True)
    objects = fields.Integer(metadata={"description": "Objects and manifests whose store hold was set or lifted "
                                                      "by this call"})


class HoldsOut(Schema):
    tracking_number = fields.String()
    held = fields.Boolean(metadata={"description": "Whether a hold is active now"})
    holds = fields.List(fields.Nested(HoldOut), metadata={"description": "Newest first"})
