"""What the public verification page and its JSON say about a permit: status, key facts, each signature.

The verdict on the signatures is :func:`signing.validate.validate_pdf` of the archived current revision against the
active trust roots; the status is the permit row's (issued / revoked / expired / draft), read on every request, so a
revocation shows at once. Validating a PDF takes a noticeable fraction of a second, and the archived revision never
changes once stored (a new signature is a new revision with a new hash), so reports are cached in-process per
(revision, trust roots) for a few minutes (:class:`ReportCache`); the few minutes bound how long an expiry or a
change of trust roots takes to show.

No private data: the national ID is masked as on the permit, the applicant's name is shortened (see
:func:`mask_name`), and the phone number, the address and the documents are never shown.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Generic, TypeVar

from asn1crypto import x509 as asn1_x509
from flask import current_app
from sqlalchemy.orm import Session

from archive.models import Permit, PermitStatus, WorkflowStep
from archive.store import StoreError
from intake.national_id import EGYPT
from signing.public_name import mask_name
from signing.quiet_logs import quiet_pyhanko
from signing.validate import SignatureReport, ValidationReport, validate_pdf
from web.errors import N_
from web.runtime import runtime
from workflow.routing import active_trust_roots, field_name_for

log = logging.getLogger(__name__)

CACHE_KEY = "sijill_verify_cache"
CACHE_TTL_S = 300.0
CACHE_ENTRIES = 512

#: Status shown in the banner -> (Arabic, English, CSS tone).
STATES: dict[str, tuple[str, str, str]] = {
    "valid": (N_("ترخيص صحيح وسارٍ"), "Genuine and valid", "good"),
    "revoked": (N_("ترخيص ملغى"), "Revoked", "bad"),
    "expired": (N_("ترخيص منتهي الصلاحية"), "Expired", "warn"),
    "draft": (N_("لم يصدر بعد"), "Not issued yet", "muted"),
    "unknown": (N_("تعذر التحقق من صحة الترخيص"), "Could not be verified", "muted"),
}
INDICATIONS: dict[str, tuple[str, str, str]] = {
    "TOTAL_PASSED": (N_("صحيح"), "Passed", "good"),
    "INDETERMINATE": (N_("غير محدد"), "Indeterminate", "warn"),
    "TOTAL_FAILED": (N_("غير صحيح"), "Failed", "bad"),
}
ARCHIVE_UNREADABLE = (
    N_("تعذرت قراءة النسخة المؤرشفة من الترخيص للتحقق من توقيعاتها؛ حاول لاحقا."),
    "The archived copy of the permit could not be read to check its signatures; try again later.",
)

# --- the report cache -------------------------------------------------------------------------------------------


T = TypeVar("T")


@dataclass
class ReportCache(Generic[T]):
    """A small LRU of validation reports (or anything derived from an archived revision) with an expiry; thread-safe
    (the server serves from several threads)."""

    ttl_s: float = CACHE_TTL_S
    max_entries: int = CACHE_ENTRIES
    _items: OrderedDict[tuple[str, ...], tuple[float, T]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0

    def get(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is not None and now - found[0] < self.ttl_s:
                self._items.move_to_end(key)
                self.hits += 1
                return found[1]
            self.misses += 1
        report = compute()  # outside the lock: two first visitors may both validate, neither waits on the other
        with self._lock:
            self._items[key] = (now, report)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return report

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def report_cache() -> ReportCache[ValidationReport]:
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(CACHE_KEY, ReportCache())
    assert isinstance(cache, ReportCache)
    return cache


def roots_key(roots: Sequence[asn1_x509.Certificate]) -> str:
    return hashlib.sha256("".join(sorted(r.sha256.hex() for r in roots)).encode()).hexdigest()


# --- the view -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureView:
    field_name: str
    role_ar: str
    role_en: str
    signer: str
    """The official's name: from the workflow step that produced the signature, else the certificate's name."""
    certificate_name: str
    signed_at: datetime | None
    timestamped: bool
    level: str
    indication: str
    sub_indication: str | None
    reasons_ar: list[str]
    reasons_en: list[str]
    signed: bool = True


@dataclass(frozen=True)
class PermitView:
    state: str
    permit_number: str
    service_code: str
    service_ar: str
    service_en: str
    centre_ar: str
    centre_en: str
    governorate_ar: str
    governorate_en: str
    issued_on: date | None
    expires_on: date | None
    issued_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    national_id_masked: str
    applicant_masked: str
    indication: str | None
    reasons_ar: list[str]
    reasons_en: list[str]
    signatures: list[SignatureView]


def archived_report(session: Session, permit: Permit) -> ValidationReport | None:
    """The validation report of the permit's current archived revision (cached), or None if it cannot be read."""
    roots = active_trust_roots(session)
    key = (permit.current_pdf_sha256, roots_key(roots))

    def compute() -> ValidationReport:
        pdf = runtime().store.get_bytes(permit.current_pdf_sha256)
        # an archived file altered after signing makes pyHanko log stacks: one line naming the permit instead
        with quiet_pyhanko(f"verification: archived permit {permit.permit_number} "
                           f"({permit.current_pdf_sha256[:12]})", log):
            return validate_pdf(pdf, trust_roots=roots, allow_fetching=False)

    try:
        return report_cache().get(key, compute)
    except StoreError as exc:
        log.error("verification: archived permit %s (%s) unreadable: %s",
                  permit.permit_number, permit.current_pdf_sha256, exc)
        return None


def state_of(permit: Permit, report: ValidationReport | None, today: date | None = None) -> str:
    today = today or datetime.now(EGYPT).date()
    if permit.status == PermitStatus.REVOKED.value:
        return "revoked"
    if permit.status == PermitStatus.DRAFT.value:
        return "draft"
    if permit.status == PermitStatus.EXPIRED.value or (permit.expires_on is not None and permit.expires_on < today):
        return "expired"
    if report is None or not report.passed:
        return "unknown"
    return "valid"


def signature_views(permit: Permit, report: ValidationReport | None) -> list[SignatureView]:
    """Each signature of ``report`` with the role and official of its workflow step, then the fields still empty."""
    steps: dict[str, WorkflowStep] = {field_name_for(s): s for s in permit.application.steps if s.signs}
    views = [_signature_view(sig, steps.get(sig.field_name)) for sig in (report.signatures if report else [])]
    for name in report.unsigned_fields if report else []:
        step = steps.get(name)
        if step is None:
            continue
        views.append(SignatureView(
            field_name=name, role_ar=step.title_ar, role_en=step.title_en, signer="", certificate_name="",
            signed_at=None, timestamped=False, level="", indication="", sub_indication=None, reasons_ar=[],
            reasons_en=[], signed=False,
        ))  # fmt: skip
    return views


def _signature_view(sig: SignatureReport, step: WorkflowStep | None) -> SignatureView:
    official = step.decided_by.full_name if step is not None and step.decided_by is not None else ""
    return SignatureView(
        field_name=sig.field_name,
        role_ar=step.title_ar if step is not None else "",
        role_en=step.title_en if step is not None else "",
        signer=official or sig.signer_name,
        certificate_name=sig.signer_name,
        signed_at=sig.timestamp_time or sig.signing_time,
        timestamped=sig.timestamp_time is not None,
        level=sig.level,
        indication=sig.indication,
        sub_indication=sig.sub_indication,
        reasons_ar=list(sig.reasons_ar),
        reasons_en=list(sig.reasons_en),
    )


def permit_view(session: Session, permit: Permit) -> PermitView:
    report = archived_report(session, permit)
    facts = permit.facts or {}
    application = permit.application
    reasons_ar = list(report.reasons_ar) if report is not None else [ARCHIVE_UNREADABLE[0]]
    reasons_en = list(report.reasons_en) if report is not None else [ARCHIVE_UNREADABLE[1]]
    return PermitView(
        state=state_of(permit, report),
        permit_number=permit.permit_number,
        service_code=application.service_code,
        service_ar=str(facts.get("service_name_ar") or application.service.name_ar),
        service_en=str(facts.get("service_name_en") or application.service.name_en),
        centre_ar=str(facts.get("centre_name_ar") or application.centre.name_ar),
        centre_en=str(facts.get("centre_name_en") or application.centre.name_en),
        governorate_ar=str(facts.get("governorate") or ""),
        governorate_en=str(facts.get("governorate_en") or ""),
        issued_on=_date(facts.get("issued_on")) if permit.status != PermitStatus.DRAFT.value else None,
        expires_on=(permit.expires_on or _date(facts.get("expires_on")))
        if permit.status != PermitStatus.DRAFT.value else None,
        issued_at=_aware(permit.issued_at),
        revoked_at=_aware(permit.revoked_at),
        revocation_reason=permit.revocation_reason if permit.status == PermitStatus.REVOKED.value else None,
        national_id_masked=str(facts.get("national_id_masked") or ""),
        applicant_masked=mask_name(str(facts.get("applicant_name") or "")),
        indication=report.indication if report is not None else None,
        reasons_ar=reasons_ar,
        reasons_en=reasons_en,
        signatures=signature_views(permit, report),
    )


def _date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
