"""What the intake pages and the intake API share: parse the request, call the service, stream stored objects.

Nothing here decides anything about an application: validation, the checklist, the write order and tracking
numbers belong to :mod:`intake.service`. This module only turns a multipart request into ``Upload`` objects, runs
the service in one committed transaction, queues the OCR afterwards, applies the centre rule to what a member of
staff may look at, and sends store objects with safe headers.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from flask import Response, abort, request, stream_with_context
from flask_babel import get_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import FileStorage, MultiDict

from archive.models import Application, Centre, Document, OcrStatus, Page, Service, User
from archive.store import IntegrityError, ObjectNotFound, StoreError, StoreUnavailable
from intake.dates import show_day
from intake.fields import DETAIL_FIELDS
from intake.national_id import EGYPT
from intake.service import (
    OTHER,
    AddedDocuments,
    RegisteredApplication,
    Upload,
    add_documents,
    register_application,
    required_documents,
)
from intake.tracking import parse_tracking
from ocr.inputs import SNIFF_BYTES
from web.auth.principal import StaffPrincipal
from web.errors import N_, ExplainedError
from web.runtime import db_session, runtime

log = logging.getLogger(__name__)

DOC_PREFIX = "doc."
"""Multipart field of an uploaded file: ``doc.<REQUIREMENT_CODE>`` (repeatable) or ``doc.OTHER``."""
DETAILS_PREFIX = "details."
"""Form field of an application detail: ``details.plot_number`` and so on (see intake.fields.DETAIL_FIELDS)."""

SMALL_OBJECT_BYTES = 16 * 1024 * 1024
"""Objects up to this size are read and hash-verified in full before the first byte is sent."""

ACCEPTED_UPLOADS = "application/pdf,image/jpeg,image/png,image/tiff,.pdf,.jpg,.jpeg,.png,.tif,.tiff"

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "received": (N_("تم استلام الطلب"), "Received"),
    "in_review": (N_("قيد المراجعة"), "Under review"),
    "awaiting_signature": (N_("في انتظار التوقيع"), "Awaiting signature"),
    "returned": (N_("أعيد للاستكمال"), "Returned for completion"),
    "approved": (N_("تم الاعتماد"), "Approved"),
    "rejected": (N_("مرفوض"), "Rejected"),
    "issued": (N_("صدر الترخيص"), "Permit issued"),
}
OCR_LABELS: dict[str, tuple[str, str]] = {
    OcrStatus.PENDING: (N_("في الانتظار"), "Waiting"),
    OcrStatus.RUNNING: (N_("جارٍ التعرف على النص"), "Reading the text"),
    OcrStatus.DONE: (N_("تمت القراءة"), "Read"),
    OcrStatus.FAILED: (N_("تعذرت القراءة"), "Could not be read"),
}
CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "window": (N_("الشباك الواحد"), "One-stop window"),
    "api": (N_("الواجهة البرمجية"), "API"),
    "import": (N_("استيراد من الماسح الضوئي"), "Scanner import"),
}
MONTHS_AR = (
    "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
    "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
)  # fmt: skip
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

STORED_COPY_DAMAGED = (
    N_("تعذر إرسال الملف: النسخة المحفوظة منه لم تجتز فحص السلامة (لا تطابق بصمتها المسجلة)، فلم يُرسل منها شيء. "
       "أُبلغ مسؤول النظام."),
    "The file cannot be sent: its stored copy failed the integrity check (it does not match its recorded "
    "fingerprint), so nothing was sent. The administrator has been alerted.",
)
ARCHIVE_UNAVAILABLE = (
    N_("تعذر حفظ المستندات في الأرشيف الآن، ولم يُسجَّل الطلب. حاول مرة أخرى بعد قليل؛ وإذا تكرر ذلك فأبلغ مسؤول النظام."),
    "The documents cannot be saved in the archive right now, so the application was not registered. Try again "
    "shortly, and tell the administrator if it keeps happening.",
)
STORED_COPY_MISSING = (
    N_("تعذر إرسال الملف: النسخة المحفوظة منه غير موجودة في الأرشيف. أُبلغ مسؤول النظام."),
    "The file cannot be sent: its stored copy is missing from the archive. The administrator has been alerted.",
)


def is_arabic() -> bool:
    return str(get_locale()) == "ar"


def pick(arabic: str, english: str) -> str:
    """The Arabic or the English text, by the interface language (for texts that come as a pair, not via gettext)."""
    return arabic if is_arabic() else english


def local_date(value: datetime | None) -> str:
    """``23 نوفمبر 2026`` / ``23 November 2026`` in Cairo time: a date inside a sentence (tables use ``table_date``)."""
    if value is None:
        return ""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(EGYPT)
    months = MONTHS_AR if is_arabic() else MONTHS_EN
    return f"{local.day} {months[local.month - 1]} {local.year}"


def long_date(value: date | None) -> str:
    """A calendar date (no time zone): ``23 نوفمبر 2026`` / ``23 November 2026``."""
    if value is None:
        return ""
    months = MONTHS_AR if is_arabic() else MONTHS_EN
    return f"{value.day} {months[value.month - 1]} {value.year}"


def local_time(value: datetime | None) -> str:
    """Date and time in Cairo, e.g. ``23 نوفمبر 2026 14:05``."""
    if value is None:
        return ""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(EGYPT)
    return f"{local_date(value)} {local:%H:%M}"


def table_date(value: datetime | date | None) -> str:
    """``05/12/2026``: a date in a table, a list or a field of facts (the rule in docs/ARCHITECTURE.md: columns of
    dd/mm/yyyy line up and compare at a glance; prose keeps ``local_date``'s words). A moment is taken in Cairo
    time; a calendar date (a permit's expiry) as it is."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return show_day(value)
    return show_day((value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(EGYPT).date())


def table_time(value: datetime | None) -> str:
    """``05/12/2026 14:05`` in Cairo time, for tables and lists (see ``table_date``)."""
    if value is None:
        return ""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(EGYPT)
    return f"{show_day(local.date())} {local:%H:%M}"


def file_size(size: int) -> str:
    """``740 KB`` / ``12.5 MB`` (Latin digits and units, shown in a left-to-right isolate)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


# --- finding applications, with the centre rule -------------------------------------------------------


def may_see(principal: StaffPrincipal, application: Application) -> bool:
    """Staff tied to a centre see that centre's applications only; staff without a centre see all of them."""
    return principal.centre_code is None or application.centre.code == principal.centre_code


def find_application(session: Session, tracking: str) -> Application | None:
    """The application with this tracking number, read tolerantly (lower case, Arabic digits, spaces, hyphens)."""
    parsed = parse_tracking(tracking)
    if parsed is None:
        return None
    return session.scalar(
        select(Application)
        .where(Application.tracking_number == parsed.text)
        .options(selectinload(Application.documents).selectinload(Document.pages))
    )


def application_for(session: Session, principal: StaffPrincipal, tracking: str) -> Application:
    """The application, or 404 if it does not exist *or* belongs to another centre (its existence stays private)."""
    application = find_application(session, tracking)
    if application is None or not may_see(principal, application):
        abort(404)
    return application


def document_for(session: Session, principal: StaffPrincipal, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None or not may_see(principal, document.application):
        abort(404)
    return document


def page_for(session: Session, principal: StaffPrincipal, page_id: int) -> Page:
    page = session.get(Page, page_id)
    if page is None or not may_see(principal, page.document.application):
        abort(404)
    return page


def recent_applications(session: Session, principal: StaffPrincipal, limit: int = 100) -> list[Application]:
    query = select(Application).join(Application.centre).order_by(Application.created_at.desc(), Application.id.desc())
    if principal.centre_code is not None:
        query = query.where(Centre.code == principal.centre_code)
    return list(session.scalars(query.limit(limit)))


@dataclass
class OcrProgress:
    """How far the OCR of an application (or of a list of pages) has come."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    searchable: int = 0

    @property
    def done(self) -> int:
        return self.counts.get(OcrStatus.DONE, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(OcrStatus.FAILED, 0)

    @property
    def waiting(self) -> int:
        return self.counts.get(OcrStatus.PENDING, 0) + self.counts.get(OcrStatus.RUNNING, 0)

    @property
    def complete(self) -> bool:
        return self.waiting == 0

    @property
    def version(self) -> str:
        """Changes whenever something a viewer of the page would see changes (the page polls for it)."""
        states = ",".join(f"{k}:{self.counts[k]}" for k in sorted(self.counts))
        return f"{self.total};{states};{self.searchable}"

    def as_json(self) -> dict[str, Any]:
        return {
            "pages": self.total,
            "done": self.done,
            "failed": self.failed,
            "pending": self.counts.get(OcrStatus.PENDING, 0),
            "running": self.counts.get(OcrStatus.RUNNING, 0),
            "complete": self.complete,
        }


def progress_of(application: Application) -> OcrProgress:
    progress = OcrProgress()
    for document in application.documents:
        if document.searchable_pdf_sha256:
            progress.searchable += 1
        for page in document.pages:
            progress.total += 1
            progress.counts[page.status] = progress.counts.get(page.status, 0) + 1
    return progress


def progress_by_application(session: Session, application_ids: Iterable[int]) -> dict[int, OcrProgress]:
    """OCR progress of many applications in one query (for lists)."""
    ids = list(application_ids)
    result: dict[int, OcrProgress] = {i: OcrProgress() for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(Document.application_id, Page.status, func.count(Page.id))
        .join(Page, Page.document_id == Document.id)
        .where(Document.application_id.in_(ids))
        .group_by(Document.application_id, Page.status)
    )
    for application_id, status, count in rows:
        item = result[application_id]
        item.total += int(count)
        item.counts[status] = item.counts.get(status, 0) + int(count)
    return result


# --- registering ----------------------------------------------------------------------------------------


class ArchiveUnavailable(RuntimeError):
    """The object store could not take the originals; nothing was registered (the transaction was rolled back)."""

    def __init__(self) -> None:
        super().__init__(ARCHIVE_UNAVAILABLE[1])
        self.message_ar, self.message_en = ARCHIVE_UNAVAILABLE


@dataclass(frozen=True)
class FiledUpload:
    """One uploaded file with the form field it came from (to show an error next to the right input)."""

    field: str
    filename: str
    upload: Upload


def collect_uploads(files: MultiDict[str, FileStorage], service: Service | None) -> list[FiledUpload]:
    """Every non-empty ``doc.<CODE>`` file of the request, in the service's order, then OTHER, then the rest.

    The streams are werkzeug's spooled temporary files: nothing is read here, the service copies them in chunks.
    """
    order = [doc.code for doc in required_documents(service)] if service is not None else []
    order.append(OTHER)
    fields = [DOC_PREFIX + code for code in order]
    fields += sorted(k for k in files if k.startswith(DOC_PREFIX) and k not in fields)
    filed: list[FiledUpload] = []
    for name in fields:
        requirement = name[len(DOC_PREFIX):]
        for storage in files.getlist(name):
            if not storage.filename:
                continue  # an empty <input type=file> still sends a part
            filed.append(FiledUpload(name, storage.filename, Upload(requirement, storage.filename, storage.stream)))
    return filed


KEPT_FIELD = "kept"
"""Form field of a file already handed in with a registration that failed on another field (a signed token)."""
KEPT_MAX_AGE = 4 * 3600
"""A kept file is offered again for four hours; after that the clerk chooses it again (the sweeper removes it)."""
_KEPT_SALT = "sijill.intake.kept-upload"


@dataclass(frozen=True)
class KeptUpload:
    """A file of a refused registration, kept on the server so the clerk need not choose it again."""

    token: str
    field: str
    requirement: str
    filename: str
    sha256: str
    size: int
    file_id: str
    """Name of the copy in the spool directory."""


def _kept_serializer() -> Any:
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_KEPT_SALT)


def _kept_dir() -> Path:
    directory = runtime().settings.data_dir / "kept-uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _drop_stale_kept(directory: Path, now: float) -> None:
    for path in directory.glob("*.upload"):
        try:
            if now - path.stat().st_mtime > KEPT_MAX_AGE:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def keep_uploads(filed: list[FiledUpload], refused: set[int], *, owner: int) -> list[KeptUpload]:
    """Keep every upload of a refused registration that was not itself refused, for the clerk's next attempt.

    The copies go to a private spool directory on the server (``<data>/kept-uploads``), never to the archive: a
    refused registration still stores nothing there. Each is named by a random id and offered back through a token
    signed with the app's secret and bound to the clerk's account (a form cannot name a file it was not given);
    copies older than :data:`KEPT_MAX_AGE` are removed whenever files are kept.
    """
    import hashlib
    import secrets
    import time

    directory = _kept_dir()
    _drop_stale_kept(directory, time.time())
    serializer = _kept_serializer()
    kept: list[KeptUpload] = []
    for i, item in enumerate(filed):
        stream = item.upload.stream
        seek = getattr(stream, "seek", None)
        if i in refused or seek is None:
            continue
        name = secrets.token_hex(16)
        target = directory / f"{name}.upload"
        digest = hashlib.sha256()
        try:
            seek(0)
            with target.open("xb") as sink:
                while chunk := stream.read(1024 * 1024):
                    digest.update(chunk)
                    sink.write(chunk)
            size = target.stat().st_size
        except OSError as exc:
            target.unlink(missing_ok=True)
            log.warning("could not keep %r for the form: %s", item.filename, exc)
            continue
        data = {"f": item.field, "r": item.upload.requirement, "n": item.filename, "i": name,
                "k": digest.hexdigest(), "s": size, "u": owner}
        kept.append(KeptUpload(serializer.dumps(data), item.field, item.upload.requirement, item.filename,
                               digest.hexdigest(), size, name))
    return kept


def kept_uploads(tokens: Iterable[str], *, owner: int) -> list[KeptUpload]:
    """The kept files the form sends back (ticked), each token checked; forged, foreign or stale ones are dropped."""
    from itsdangerous import BadSignature

    serializer = _kept_serializer()
    result: list[KeptUpload] = []
    seen: set[str] = set()
    for token in list(tokens)[:200]:
        try:
            data = serializer.loads(token, max_age=KEPT_MAX_AGE)
        except BadSignature:
            continue
        if not isinstance(data, dict) or data.get("u") != owner or data.get("i") in seen:
            continue
        name = str(data.get("i", ""))
        if not re.fullmatch(r"[0-9a-f]{32}", name) or not (_kept_dir() / f"{name}.upload").is_file():
            continue
        seen.add(name)
        result.append(KeptUpload(token, str(data["f"]), str(data["r"]), str(data["n"]), str(data["k"]),
                                 int(data["s"]), name))
    return result


def reopen(kept: list[KeptUpload]) -> list[FiledUpload]:
    """The kept files as uploads again (the intake service spools, hashes and inspects them as any upload)."""
    directory = _kept_dir()
    return [FiledUpload(k.field, k.filename, Upload(k.requirement, k.filename, (directory / f"{k.file_id}.upload")
                                                    .open("rb"))) for k in kept]


def discard_kept(kept: list[KeptUpload]) -> None:
    """Remove kept copies once a registration used them."""
    directory = _kept_dir()
    for item in kept:
        (directory / f"{item.file_id}.upload").unlink(missing_ok=True)


def collect_details(form: Mapping[str, str], *, only_known: bool) -> dict[str, str]:
    """``details.<key>`` form fields as the service's ``details`` mapping (empty values are left to the service)."""
    known = {f.key for f in DETAIL_FIELDS}
    details: dict[str, str] = {}
    for name, value in form.items():
        if name.startswith(DETAILS_PREFIX):
            key = name[len(DETAILS_PREFIX):]
            if key in known or not only_known:
                details[key] = value
    return details


def counts_by_requirement(filed: Iterable[FiledUpload]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in filed:
        counts[item.upload.requirement] = counts.get(item.upload.requirement, 0) + 1
    return counts


def register(
    principal: StaffPrincipal,
    *,
    centre_code: str,
    service_code: str,
    form: Mapping[str, str],
    details: Mapping[str, Any],
    filed: list[FiledUpload],
    channel: str,
    session: Session | None = None,
    before_commit: Callable[[Session, RegisteredApplication], None] | None = None,
) -> RegisteredApplication:
    """Run :func:`intake.service.register_application` in one committed transaction, then queue the OCR.

    The transaction is a session of its own, or ``session`` (the API's request session, which holds its
    Idempotency-Key claim); ``before_commit`` adds the caller's rows to it (the key's stored answer).
    Raises :class:`intake.errors.IntakeInvalid` (nothing stored, nothing written) as the service does, and
    :class:`ArchiveUnavailable` when the object store is down (nothing written; blobs already put are swept later).
    The caller's ``session`` is left uncommitted on those errors (the request's teardown rolls it back).
    """
    rt = runtime()
    try:
        with rt.db.session() if session is None else nullcontext(session) as session:
            result = register_application(
                session,
                rt.store,
                centre_code=centre_code,
                service_code=service_code,
                applicant_name=form.get("applicant_name", ""),
                national_id=form.get("national_id", ""),
                applicant_phone=form.get("applicant_phone", ""),
                applicant_email=form.get("applicant_email") or None,
                details=details,
                uploads=[item.upload for item in filed],
                created_by=session.get(User, principal.id),
                channel=channel,
                incomplete_reason=form.get("incomplete_reason") or None,
                limits=rt.limits,
            )
            if before_commit is not None:
                before_commit(session, result)
            session.commit()
    except StoreUnavailable as exc:
        log.error("intake refused: the object store is unavailable: %s", exc)
        raise ArchiveUnavailable() from exc
    log.info(
        "application %s registered by %s (%s): %d documents, %d pages",
        result.tracking_number, principal.username, channel, len(result.application.documents), len(result.page_ids),
    )  # fmt: skip
    open_workflow(result.application.id)
    enqueue_ocr(result.page_ids)
    if any(d.media_type == "application/pdf" for d in result.application.documents):
        check_signatures_soon()
    return result


def add(
    principal: StaffPrincipal,
    application_id: int,
    filed: list[FiledUpload],
    *,
    session: Session | None = None,
    before_commit: Callable[[Session, AddedDocuments], None] | None = None,
) -> AddedDocuments:
    """Run :func:`intake.service.add_documents` in one committed transaction, then queue the OCR of the new pages.

    Raises :class:`intake.errors.IntakeInvalid` (nothing stored, nothing written) as the service does, and
    :class:`ArchiveUnavailable` when the object store is down.
    """
    rt = runtime()
    try:
        with rt.db.session() if session is None else nullcontext(session) as session:
            application = session.get(Application, application_id)
            user = session.get(User, principal.id)
            if application is None or user is None:
                abort(404)
            result = add_documents(session, rt.store, application, [item.upload for item in filed], added_by=user,
                                   limits=rt.limits)
            if before_commit is not None:
                before_commit(session, result)
            session.commit()
    except StoreUnavailable as exc:
        log.error("documents refused: the object store is unavailable: %s", exc)
        raise ArchiveUnavailable() from exc
    log.info("%d documents (%d pages) added to application %s by %s", len(result.documents), len(result.page_ids),
             result.application.tracking_number, principal.username)
    enqueue_ocr(result.page_ids)
    return result


ADD_REFUSAL_STATUS = {"not_allowed": 403, "wrong_centre": 403, "closed": 409}
"""HTTP status of a refused addition by the code of its ``added_by``/``status`` error; any other problem is 400."""


def add_refusal_status(codes: Mapping[str, str]) -> int:
    for name in ("added_by", "status"):
        if name in codes:
            return ADD_REFUSAL_STATUS.get(codes[name], 400)
    return 400


def open_workflow(application_id: int) -> None:
    """Open the application's workflow (:func:`workflow.routing.ensure_workflow`) right after its registration, so
    the file is in the reviewers' inboxes at once.

    A separate transaction, after the registration's commit: a routing problem never costs the citizen the
    registration. Whatever fails here (a service without a signing chain, a database hiccup, another process opening
    it at the same moment) is logged; the periodic ``routing.open_pending`` task and the inbox page open what was
    left (:func:`workflow.routing.open_pending_workflows`).
    """
    from workflow.routing import RoutingRefused, ensure_workflow

    try:
        with runtime().db.session() as session:
            application = session.get(Application, application_id)
            if application is not None:
                ensure_workflow(session, application)
    except RoutingRefused as exc:
        log.info("no workflow opened for application %s: %s", application_id, exc)
    except Exception as exc:
        log.warning("workflow of application %s not opened now (%s: %s); it will be opened later",
                    application_id, type(exc).__name__, exc)


def enqueue_ocr(page_ids: list[int]) -> None:
    """Queue one OCR task per page, after the commit. A broker that is down is not the clerk's problem: the
    periodic ``ocr.requeue_stale`` task finds pages left waiting and queues them again."""
    if not page_ids:
        return
    try:
        from worker.dispatch import enqueue_pages

        enqueue_pages(runtime().settings, page_ids)
    except Exception as exc:
        log.warning(
            "could not queue OCR for %d pages (%s: %s); the stale-page task will queue them later",
            len(page_ids), type(exc).__name__, exc,
        )  # fmt: skip


def check_signatures_soon() -> None:
    """New PDFs were stored: have their signatures validated now rather than at the next beat (never in this
    request; :mod:`signing.attachments`). A broker that is down only delays it to the beat."""
    try:
        from worker.dispatch import enqueue_signature_check

        enqueue_signature_check(runtime().settings)
    except Exception as exc:
        log.warning("could not queue the signature check (%s: %s); the beat task will run it", type(exc).__name__, exc)


# --- sending stored objects -----------------------------------------------------------------------------


def content_disposition(disposition: str, filename: str, fallback: str) -> str:
    """``attachment; filename="…"; filename*=UTF-8''…`` (RFC 6266 / RFC 5987) for any, often Arabic, file name."""
    from werkzeug.http import dump_options_header

    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable() and ch not in '"\\/')
    if ascii_name == filename:
        return dump_options_header(disposition, {"filename": filename})
    if not PurePosixPath(ascii_name).stem.strip(" ._-"):
        ascii_name = fallback
    return dump_options_header(
        disposition, {"filename": ascii_name, "filename*": "UTF-8''" + quote(filename, safe="!#$&+^`|")}
    )


def send_object(
    key: str,
    *,
    media_type: str,
    filename: str,
    fallback: str,
    disposition: str = "attachment",
    transform: Callable[[bytes], bytes] | None = None,
) -> Response:
    """Send the stored object ``key`` with the type its bytes show, a name made from its content and no sniffing.

    The type comes from the content's magic bytes where they say (``media_type`` otherwise) and the download name is
    ``filename`` cleaned of bidi and control characters with that type's extension (:mod:`web.download_names`), so a
    PNG uploaded as ``scan.pdf`` downloads as ``scan.png``; the uploaded name stays in the database and on the page.

    Small objects are read and hash-verified completely before the first byte goes out, so a damaged copy
    gives a clear error page instead of a download. Larger ones are streamed holding back the last chunk until the
    hash checked out; on a mismatch the connection is cut short of ``Content-Length``, so the browser reports a
    failed download rather than saving damaged bytes, and the error is logged. With ``transform`` the whole
    (verified) object is read and what ``transform`` makes of it is sent instead (a draft permit's watermarked copy).
    """
    from web.download_names import detected_type, download_name

    store = runtime().store
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
        "ETag": f'"{key}"',
    }
    if transform is not None:
        headers["ETag"] = f'"{key}-{transform.__name__}"'
    if headers["ETag"].strip('"') in request.if_none_match:
        return Response(status=304, headers=headers)
    body: bytes | None = None
    try:
        size = store.stat(key).size
        if transform is not None:
            body = transform(store.get_bytes(key))
            head = body[:SNIFF_BYTES]
        elif size <= SMALL_OBJECT_BYTES:
            body = store.get_bytes(key)
            head = body[:SNIFF_BYTES]
        else:
            raw = store.iter_chunks(key)
            first = next(raw, b"")
            head = first[:SNIFF_BYTES]
            chunks = _held_back(key, itertools.chain([first], raw))
    except IntegrityError as exc:
        log.error("INTEGRITY: stored object %s failed its hash check and was not sent: %s", key, exc)
        raise ExplainedError(500, *STORED_COPY_DAMAGED, "integrity_error") from None
    except ObjectNotFound:
        log.error("INTEGRITY: stored object %s is referenced by the database but missing from the store", key)
        raise ExplainedError(500, *STORED_COPY_MISSING, "object_missing") from None
    except StoreUnavailable as exc:
        log.error("object store unavailable while sending %s: %s", key, exc)
        abort(503)
    except StoreError as exc:  # any other store fault: never a traceback page
        log.error("object store error while sending %s: %s", key, exc)
        abort(500)
    actual = detected_type(head, media_type)
    name = download_name(filename, actual, fallback)
    headers["Content-Disposition"] = content_disposition(disposition, name, download_name(fallback, actual, "file"))
    if body is not None:
        return Response(body, mimetype=actual, headers=headers)
    headers["Content-Length"] = str(size)
    return Response(stream_with_context(chunks), mimetype=actual, headers=headers)


def _held_back(key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield ``chunks`` one step late: the read that finds a hash mismatch happens before the last chunk goes."""
    try:
        pending = next(chunks, b"")
        for chunk in chunks:
            yield pending
            pending = chunk
    except IntegrityError as exc:
        log.error("INTEGRITY: stored object %s failed its hash check while streaming; download cut short: %s",
                  key, exc)
        raise
    if pending:
        yield pending


def receipt_response(application: Application, base_url: str) -> Response:
    """The citizen's receipt as an inline PDF (the window prints it; a portal hands it over)."""
    from intake.inquiry import record_access_code
    from intake.receipt import render_receipt  # WeasyPrint is heavy: load it when a receipt is first printed

    code = record_access_code(application, runtime().settings.secret_key)  # the same code on every reprint
    db_session().commit()
    pdf = render_receipt(application, base_url=base_url, access_code=code)
    name = f"receipt-{application.tracking_number}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": content_disposition("inline", name, name),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
