"""Registering an application at the one-stop window (or through the API): the intake write order.

:func:`register_application` works in four steps, and the order is the point:

a. validate every field and collect *all* errors (national ID, name, mobile, centre, service, the clerk's centre,
   property details, requirement codes);
b. copy each upload to a temporary file under the byte cap and let ``ocr.inputs.inspect`` accept it and count its
   pages; compare what was handed in with the service's required documents;
   → any problem so far raises :class:`~intake.errors.IntakeInvalid`: nothing was stored, no row was written;
c. put every original into the content-addressed object store (a retry or a duplicate upload is harmless);
d. in the caller's database transaction: allocate the tracking number, insert the application, its documents,
   one pending page row per page and the "received" SMS/e-mail in the outbox (:mod:`notify.outbox`), and flush.

A crash between (c) and (d) leaves only unreferenced blobs, which :mod:`archive.sweeper` removes after its grace
period; a crash in (d) rolls the transaction back and leaves nothing. Temporary files are always removed.

**Who commits: the caller.** The service flushes and never commits, so the caller can add its own rows (an audit
event) to the same transaction. Typical adapter code::

    try:
        with db.session() as session:            # commits on leaving the block, rolls back on an exception
            result = register_application(session, store, ..., limits=limits)
    except IntakeInvalid as exc:
        ...show exc.errors next to the fields...
    else:
        enqueue_ocr(result.page_ids)             # only after the commit, so workers find the rows

``IntakeInvalid`` is raised before anything is written, so catching it inside the ``with`` block is safe too. The
service knows nothing of Celery: queuing the OCR of ``page_ids`` is the caller's job.

**Documents after registration** (:func:`add_documents`) take the same road: the same spooling, inspection and
refusals (b), the originals into the store first (c), then the document and page rows, the audit event
``application.add_documents`` and the checklist (``missing_documents``) in the caller's transaction (d); the adapter
queues OCR after the commit, and the commit hook queues the manifest and the search index as for any change. Only
window staff may add (the permission to register, at the application's centre: one-stop, officials ask and the window
receives), and only while the file is still open or returned. A scan of a requirement already present is its next
*version*: every file of that requirement in one call gets ``version`` = newest + 1 and ``supersedes_id`` = the newest
earlier document; earlier versions stay in the archive and are listed. Files under ``OTHER`` are simply added. A scan
also answers the open completion item of its requirement (``completion_items``, see :mod:`workflow.routing`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import record_event
from archive.models import (
    Application,
    ApplicationStatus,
    Centre,
    Channel,
    CompletionItem,
    Document,
    OcrStatus,
    Page,
    Service,
    User,
    utcnow,
)
from archive.roles import Permission
from archive.store import ObjectStore
from intake.catalogue import RequiredDocument
from intake.errors import ErrorCollector, IntakeInvalid
from intake.fields import FieldInvalid, normalise_email, normalise_mobile, validate_details, validate_name
from intake.national_id import EGYPT, InvalidNationalId, parse_national_id
from intake.normalise import clean_line
from intake.tracking import allocate
from intake.uploads import SpooledUpload, Upload, UploadRejected, spool
from notify.outbox import record as record_notification
from ocr.limits import Limits

__all__ = [
    "OTHER",
    "AddedDocuments",
    "ChecklistItem",
    "IntakeInvalid",
    "RegisteredApplication",
    "Upload",
    "add_documents",
    "checklist",
    "current_documents",
    "missing_requirements",
    "register_application",
    "required_documents",
]

ADDABLE_STATUSES = frozenset(
    {
        ApplicationStatus.RECEIVED.value,
        ApplicationStatus.IN_REVIEW.value,
        ApplicationStatus.AWAITING_SIGNATURE.value,
        ApplicationStatus.RETURNED.value,
    }
)
"""Statuses in which the window may still add scans (a decided file is closed)."""

OTHER = "OTHER"
"""Requirement code for a supporting document that is not on the service's list."""

REASON_MAX = 2000


@dataclass(frozen=True)
class RegisteredApplication:
    """The new (flushed, not committed) application and the ids of its pages, in document and page order."""

    application: Application
    page_ids: list[int]

    @property
    def tracking_number(self) -> str:
        return self.application.tracking_number


@dataclass(frozen=True)
class ChecklistItem:
    """One required document of a service and how many uploads were handed in for it."""

    code: str
    name_ar: str
    name_en: str
    provided: int

    @property
    def missing(self) -> bool:
        return self.provided == 0


@dataclass(frozen=True)
class AddedDocuments:
    """Scans added to a registered application (flushed, not committed) and the ids of their pages."""

    application: Application
    documents: list[Document]
    page_ids: list[int]


def required_documents(service: Service) -> list[RequiredDocument]:
    """The service's required documents as the catalogue row lists them."""
    return [RequiredDocument(**doc) for doc in (service.definition or {}).get("required_documents", [])]


def checklist(service: Service, uploads_by_requirement: Mapping[str, int]) -> list[ChecklistItem]:
    """The waiting-hall list for ``service`` with the number of files handed in per requirement code.

    Only required documents are listed; files filed under ``OTHER`` or unknown codes are not counted here.
    """
    return [
        ChecklistItem(doc.code, doc.name_ar, doc.name_en, max(int(uploads_by_requirement.get(doc.code, 0)), 0))
        for doc in required_documents(service)
    ]


def current_documents(documents: Sequence[Document]) -> list[Document]:
    """The documents that count now: for each requirement its newest version (every file of it), and every OTHER."""
    newest: dict[str, int] = {}
    for document in documents:
        newest[document.requirement] = max(newest.get(document.requirement, 0), document.version or 1)
    return [d for d in documents if d.requirement == OTHER or (d.version or 1) == newest[d.requirement]]


def missing_requirements(service: Service, documents: Sequence[Document]) -> list[str]:
    """Required-document codes of ``service`` with no document at all, in the catalogue's order."""
    present = {d.requirement for d in documents}
    return [doc.code for doc in required_documents(service) if doc.code not in present]


def add_documents(
    session: Session,
    store: ObjectStore,
    application: Application,
    uploads: Sequence[Upload],
    *,
    added_by: User,
    limits: Limits,
    now: datetime | None = None,
) -> AddedDocuments:
    """Add scans to a registered application through the intake write order (see the module docstring).

    Raises :class:`IntakeInvalid` (nothing stored, nothing written) listing every problem: ``added_by`` with code
    ``not_allowed`` (no permission to register) or ``wrong_centre`` (another centre's window), ``status`` with
    ``closed`` (the file is decided), ``uploads`` with ``no_documents``, and ``uploads[i]`` with the intake refusals
    of each file (``unknown_requirement``, ``too_large``, the inspection's codes). Flushes, never commits.
    """
    now = _aware(now or utcnow())
    errors = ErrorCollector()
    uploads = [replace(u, requirement=clean_line(u.requirement or "").upper()) for u in uploads]
    if not added_by.can(Permission.APPLICATION_CREATE):
        errors.add("added_by", "not_allowed", "إضافة المستندات من اختصاص موظفي الشباك.",
                   "Only window staff add documents to an application.")
    elif added_by.centre_id is not None and added_by.centre_id != application.centre_id:
        errors.add("added_by", "wrong_centre", "لا يضيف المستندات إلا موظفو الشباك في المركز الذي استلم الطلب.",
                   "Only the window staff of the centre that took the application in add its documents.")
    if application.status not in ADDABLE_STATUSES:
        errors.add("status", "closed", "بُتّ في هذا الطلب، فلا تضاف إليه مستندات.",
                   "This application has been decided; no document can be added to it.")
    if not uploads:
        errors.add("uploads", "no_documents", "اختر ملفًا واحدًا على الأقل.", "Choose at least one file.")
    workdir = Path(tempfile.mkdtemp(prefix="sijill-add-"))
    try:
        spooled = _spool_all(uploads, application.service, workdir, limits, errors)
        errors.raise_if_any()
        _store_originals(store, spooled)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    existing = list(application.documents)
    newest: dict[str, Document] = {}
    for document in existing:
        best = newest.get(document.requirement)
        if best is None or (document.version or 1, document.id) > (best.version or 1, best.id):
            newest[document.requirement] = document
    added: list[Document] = []
    for item in spooled:
        previous = newest.get(item.requirement) if item.requirement != OTHER else None
        document = Document(
            requirement=item.requirement,
            filename=item.filename,
            media_type=item.info.media_type,
            sha256=item.sha256,
            size_bytes=item.size_bytes,
            page_count=item.info.page_count,
            ocr_status=OcrStatus.PENDING.value,
            created_at=now,
            version=(previous.version or 1) + 1 if previous is not None else 1,
            supersedes_id=previous.id if previous is not None else None,
            added_by_id=added_by.id,
            pages=[Page(index=i, status=OcrStatus.PENDING.value, attempts=0) for i in range(item.info.page_count)],
        )
        application.documents.append(document)
        added.append(document)
    session.flush()
    application.missing_documents = missing_requirements(application.service, application.documents)
    application.updated_at = now
    open_items = session.scalars(
        select(CompletionItem).where(
            CompletionItem.application_id == application.id,
            CompletionItem.closed_at.is_(None),
            CompletionItem.document_id.is_(None),
        )
    ).all()
    for completion in open_items:
        answer = next((d for d in added if d.requirement == completion.code), None)
        if answer is not None:
            completion.document_id = answer.id
    record_event(
        session, actor=added_by.username, action="application.add_documents",
        subject=f"application:{application.tracking_number}", at=now,
        details={"documents": [{"id": d.id, "sha256": d.sha256, "requirement": d.requirement, "version": d.version,
                                "supersedes": d.supersedes_id} for d in added],
                 "missing": list(application.missing_documents)},
    )
    session.flush()
    return AddedDocuments(application=application, documents=added,
                          page_ids=[page.id for document in added for page in document.pages])


def register_application(
    session: Session,
    store: ObjectStore,
    *,
    centre_code: str,
    service_code: str,
    applicant_name: str,
    national_id: str,
    applicant_phone: str,
    details: Mapping[str, Any] | None,
    uploads: Sequence[Upload],
    created_by: User | None,
    channel: str,
    incomplete_reason: str | None,
    limits: Limits,
    now: datetime | None = None,
    applicant_email: str | None = None,
) -> RegisteredApplication:
    """Validate, store the originals, then record the application in the session's transaction (flushed only).

    Raises :class:`IntakeInvalid` (nothing stored, nothing written) listing every problem. Store and database errors
    propagate as they are; the caller must then roll back (``Database.session()`` does). See the module docstring
    for the write order and who commits.
    """
    now = _aware(now or utcnow())
    errors = ErrorCollector()
    uploads = [replace(u, requirement=clean_line(u.requirement or "").upper()) for u in uploads]

    # (a) fields
    centre = _centre(session, centre_code, errors)
    service = _service(session, service_code, errors)
    _check_clerk(created_by, centre, errors)
    if channel not in {c.value for c in Channel}:
        errors.add("channel", "unknown_channel", "قناة تقديم غير معروفة.", f"Unknown channel {channel!r}.")
    nid = None
    try:
        nid = parse_national_id(national_id, today=now.astimezone(EGYPT).date())
    except InvalidNationalId as exc:
        errors.add("national_id", exc.code, exc.message_ar, exc.message_en)
    name = _field(errors, "applicant_name", validate_name, applicant_name)
    phone = _field(errors, "applicant_phone", normalise_mobile, applicant_phone)
    email = None
    try:
        email = normalise_email(applicant_email)
    except FieldInvalid as exc:
        errors.add("applicant_email", exc.code, exc.message_ar, exc.message_en)
    needs_property = bool(service is not None and (service.definition or {}).get("needs_property"))
    clean_details, detail_errors = validate_details(details, needs_property=needs_property)
    for key, problem in detail_errors.items():
        errors.add(f"details.{key}" if key else "details", problem.code, problem.message_ar, problem.message_en)
    reason = clean_line(incomplete_reason or "") or None
    if reason is not None and len(reason) > REASON_MAX:
        errors.add(
            "incomplete_reason",
            "too_long",
            "سبب قبول الطلب ناقصًا أطول من 2000 حرف.",
            "The reason is longer than 2000 characters.",
        )

    workdir = Path(tempfile.mkdtemp(prefix="sijill-intake-"))
    try:
        # (b) files and the checklist
        spooled = _spool_all(uploads, service, workdir, limits, errors)
        missing: list[str] = []
        if service is not None:
            handed_in = {u.requirement for u in uploads}
            missing = [doc.code for doc in required_documents(service) if doc.code not in handed_in]
        if not uploads and reason is None:
            errors.add(
                "uploads",
                "no_documents",
                "لم يُرفع أي مستند. ارفع المستندات أو اكتب سبب قبول الطلب بدونها.",
                "No document was uploaded. Upload the documents, or give the reason for accepting the application "
                "without them.",
            )
        elif missing and reason is None:
            assert service is not None
            names = {doc.code: doc for doc in required_documents(service)}
            errors.add(
                "incomplete_reason",
                "reason_required",
                "مستندات مطلوبة ناقصة: "
                + "، ".join(names[c].name_ar for c in missing)
                + ". ارفعها أو اكتب سبب قبول الطلب ناقصًا.",
                "Required documents are missing: "
                + ", ".join(names[c].name_en for c in missing)
                + ". Upload them, or give the reason for accepting the file incomplete.",
            )
        errors.raise_if_any()
        assert centre is not None and service is not None and nid is not None
        assert name is not None and phone is not None

        # (c) originals into the store, before any row can point at them
        _store_originals(store, spooled)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    # (d) one transaction (the caller's): tracking number, application, documents, pages
    application = Application(
        tracking_number=allocate(session, centre, now.astimezone(EGYPT).year),
        centre=centre,
        service=service,
        service_code=service.code,
        catalogue_version=service.catalogue_version,
        applicant_name=name,
        national_id=nid.normalised,
        applicant_phone=phone,
        applicant_email=email,
        details=clean_details,
        status=ApplicationStatus.RECEIVED.value,
        incomplete_reason=reason if missing else None,
        missing_documents=missing,
        channel=channel,
        created_by_id=created_by.id if created_by is not None else None,
        created_at=now,
        due_at=now + timedelta(days=service.legal_days),
        updated_at=now,
        documents=[
            Document(
                requirement=item.requirement,
                filename=item.filename,
                media_type=item.info.media_type,
                sha256=item.sha256,
                size_bytes=item.size_bytes,
                page_count=item.info.page_count,
                ocr_status=OcrStatus.PENDING.value,
                created_at=now,
                pages=[
                    Page(index=i, status=OcrStatus.PENDING.value, attempts=0)
                    for i in range(item.info.page_count)
                ],
            )
            for item in spooled
        ],
    )
    session.add(application)
    session.flush()
    record_event(
        session, actor=created_by.username if created_by is not None else None, action="application.register",
        subject=f"application:{application.tracking_number}", at=now,
        details={"service": service.code, "centre": centre.code, "channel": channel,
                 "documents": [{"sha256": d.sha256, "requirement": d.requirement} for d in application.documents],
                 "missing": missing, "incomplete_reason": application.incomplete_reason},
    )
    record_notification(session, application, "received", now=now)  # the outbox, in this same transaction
    session.flush()
    page_ids = [page.id for document in application.documents for page in document.pages]
    return RegisteredApplication(application=application, page_ids=page_ids)


def _store_originals(store: ObjectStore, spooled: Sequence[SpooledUpload]) -> None:
    """Put every spooled original into the content-addressed store (before any row points at it)."""
    for item in spooled:
        with item.path.open("rb") as fh:
            key = store.put(fh)
        if key != item.sha256:
            raise RuntimeError(f"The store filed {item.filename!r} under {key}, not its SHA-256 {item.sha256}.")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _field(errors: ErrorCollector, field: str, validate: Callable[[str], str], value: str) -> str | None:
    try:
        result = validate(value)
    except FieldInvalid as exc:
        errors.add(field, exc.code, exc.message_ar, exc.message_en)
        return None
    return result


def _centre(session: Session, code: str, errors: ErrorCollector) -> Centre | None:
    code = clean_line(code or "").upper()
    centre = session.scalar(select(Centre).where(Centre.code == code)) if code else None
    if centre is None:
        errors.add("centre_code", "unknown_centre", "المركز غير معروف.", f"There is no centre with the code {code!r}.")
        return None
    if not centre.active:
        errors.add("centre_code", "inactive_centre", "هذا المركز متوقف عن العمل.", f"The centre {code} is not active.")
        return None
    return centre


def _service(session: Session, code: str, errors: ErrorCollector) -> Service | None:
    code = clean_line(code or "").upper()
    service = session.scalar(select(Service).where(Service.code == code)) if code else None
    if service is None:
        errors.add("service_code", "unknown_service", "الخدمة غير معروفة.", f"There is no service {code!r}.")
        return None
    if not service.active:
        errors.add(
            "service_code",
            "inactive_service",
            "هذه الخدمة غير متاحة حاليًا.",
            f"The service {code} is not offered at present.",
        )
        return None
    return service


def _check_clerk(user: User | None, centre: Centre | None, errors: ErrorCollector) -> None:
    """A member of staff may register only if allowed to, and a clerk tied to a centre only at that centre."""
    if user is None:
        return
    if not user.can(Permission.APPLICATION_CREATE):
        errors.add(
            "created_by",
            "not_allowed",
            "هذا الحساب غير مصرح له بتسجيل الطلبات.",
            "This account may not register applications.",
        )
        return
    if centre is not None and user.centre_id is not None and user.centre_id != centre.id:
        errors.add(
            "centre_code",
            "wrong_centre",
            "لا يمكنك تسجيل طلبات إلا في المركز الذي تعمل به.",
            "You may register applications only at the centre you work at.",
        )


def _spool_all(
    uploads: Sequence[Upload], service: Service | None, workdir: Path, limits: Limits, errors: ErrorCollector
) -> list[SpooledUpload]:
    known = {doc.code for doc in required_documents(service)} | {OTHER} if service is not None else None
    spooled: list[SpooledUpload] = []
    for i, upload in enumerate(uploads):
        field = f"uploads[{i}]"
        if known is not None and upload.requirement not in known:
            errors.add(
                field,
                "unknown_requirement",
                "نوع المستند غير مطلوب لهذه الخدمة.",
                f"{upload.requirement!r} is not a document of this service.",
            )
            continue
        try:
            spooled.append(spool(upload, workdir, limits))
        except UploadRejected as exc:
            errors.add(field, exc.code, exc.message_ar, exc.message_en)
    return spooled
