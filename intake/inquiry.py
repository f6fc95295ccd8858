"""The citizen's status inquiry (الاستعلام عن طلب): tracking number plus the access code printed on the receipt.

A receipt is handed around and photographed, so the tracking number alone is not a secret. Neither are the last four
digits of the national ID: the public verification page of a permit shows them. The second factor is therefore an
access code printed on the receipt only (:func:`access_code_for`): ten characters from an alphabet without look-alikes
(about 50 bits), derived with HMAC from the tracking number and the deployment's secret key, so every reprint of the
receipt carries the same code and nobody with only the database can compute it. The row keeps only the code's SHA-256
(``applications.access_code_sha256``, set when a receipt is printed, :func:`record_access_code`); an application
whose receipt was never printed cannot be looked up. :func:`inquire` answers with what the citizen may know — the
service, the centre, the current stage in plain words, the dates of each stage, the legal due date and, for a file
returned for completion, the reason the official gave *to the citizen* — and never internal notes (why a clerk
accepted a file incomplete, reassignments, resubmission notes, who decided), names, phone or documents.

No existence oracle: an unknown tracking number and a known one with the wrong code give the same ``None`` through
the same path (one indexed lookup, one constant-time comparison against the stored hash or a dummy), so callers
render one and the same refusal. A number that is not a tracking number at all (wrong check character) and a code
that cannot be one (length, characters) are refused *before* any lookup (:class:`InquiryInvalid`): that is a pure
function of the input and says nothing about what exists. Rate limits (per client address and per tracking number)
belong to the adapters (``web.ratelimit``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, ApplicationStatus, Transition, utcnow
from intake.normalise import compact
from intake.tracking import parse_tracking

__all__ = [
    "ACCESS_ALPHABET",
    "STAGES",
    "InquiryInvalid",
    "InquiryResult",
    "Milestone",
    "access_code_for",
    "inquire",
    "parse_inquiry",
    "record_access_code",
]

ACCESS_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""32 symbols, without 0/O and 1/I, which a citizen reading a receipt would confuse."""
ACCESS_LENGTH = 10

FINAL = {ApplicationStatus.APPROVED.value, ApplicationStatus.REJECTED.value, ApplicationStatus.ISSUED.value}

STAGES: dict[str, tuple[str, str]] = {
    "received": (
        "استُلم طلبك في المركز وينتظر أن تبدأ مراجعته.",
        "Your application was received at the centre and is waiting for review to start.",
    ),
    "in_review": (
        "طلبك قيد المراجعة لدى الإدارة المختصة.",
        "Your application is being reviewed by the competent department.",
    ),
    "awaiting_signature": (
        "روجع طلبك وينتظر توقيع المسؤولين على الترخيص.",
        "Your application has been reviewed and the permit is waiting for the officials' signatures.",
    ),
    "returned": (
        "أعيد طلبك للاستكمال: راجع المركز ومعك ما هو مطلوب أدناه.",
        "Your application was returned for completion: visit the centre with what is asked for below.",
    ),
    "approved": (
        "اعتُمد طلبك. راجع المركز لاستلام النتيجة.",
        "Your application was approved. Visit the centre to collect the result.",
    ),
    "rejected": (
        "رُفض طلبك. يمكنك الاستفسار عن السبب في المركز.",
        "Your application was rejected. You can ask for the reason at the centre.",
    ),
    "issued": (
        "صدر الترخيص وهو جاهز للاستلام من المركز.",
        "The permit has been issued and is ready for collection at the centre.",
    ),
}
"""What each status means, in plain words for the citizen (Arabic, English)."""

_CITIZEN_ACTIONS = {"open", "recommend", "approve", "sign", "reject", "return", "resubmit", "issue"}
_DUMMY_DIGEST = "0" * 64


class InquiryInvalid(ValueError):
    """The input cannot be an inquiry at all (checked before any lookup); ``field`` says which box to fix."""

    def __init__(self, field: str, code: str, message_ar: str, message_en: str) -> None:
        super().__init__(message_en)
        self.field = field
        self.code = code
        self.message_ar = message_ar
        self.message_en = message_en


@dataclass(frozen=True)
class Milestone:
    """One stage the file reached, and when (the first time it entered that status since the last return)."""

    status: str
    at: datetime


@dataclass(frozen=True)
class InquiryResult:
    tracking_number: str
    status: str
    stage_ar: str
    stage_en: str
    service_ar: str
    service_en: str
    centre_ar: str
    centre_en: str
    received_at: datetime
    due_at: datetime
    legal_days: int
    last_change_at: datetime
    finished_at: datetime | None
    overdue: bool
    return_reason: str | None
    """The reason given to the citizen when the file was returned for completion (only while it is returned)."""
    milestones: list[Milestone]


def access_code_for(secret_key: str, tracking_number: str) -> str:
    """The access code of an application, as printed: ``ABCDE-FGH23`` (HMAC-SHA256 of the number under the secret)."""
    digest = hmac.new(secret_key.encode(), b"sijill-access-code:" + tracking_number.encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:8], "big")
    symbols = "".join(ACCESS_ALPHABET[(value >> (5 * i)) & 31] for i in range(ACCESS_LENGTH))
    return f"{symbols[:5]}-{symbols[5:]}"


def access_code_digest(code: str) -> str:
    return hashlib.sha256(b"sijill-access-code:" + normalise_access_code(code).encode()).hexdigest()


def normalise_access_code(code: str) -> str:
    """Upper case, ASCII digits (Arabic-Indic typed on a phone), no spaces or dashes."""
    return compact(code or "").upper()


def record_access_code(application: Application, secret_key: str) -> str:
    """The application's access code (to print on its receipt), its hash stored on the row (caller commits)."""
    code = access_code_for(secret_key, application.tracking_number)
    digest = access_code_digest(code)
    if application.access_code_sha256 != digest:
        application.access_code_sha256 = digest
    return code


def parse_inquiry(tracking_number: str, access_code: str) -> tuple[str, str]:
    """The canonical tracking number and the normalised code, or :class:`InquiryInvalid` for the first bad box."""
    parsed = parse_tracking(tracking_number or "")
    if parsed is None:
        raise InquiryInvalid(
            "tracking_number",
            "bad_tracking_number",
            "رقم المتابعة غير صحيح. اكتبه كما هو مطبوع على الإيصال، مثل SOH01-2026-000123-K.",
            "This is not a valid tracking number. Type it as printed on the receipt, e.g. SOH01-2026-000123-K.",
        )
    code = normalise_access_code(access_code)
    if len(code) != ACCESS_LENGTH or any(ch not in ACCESS_ALPHABET for ch in code):
        raise InquiryInvalid(
            "access_code",
            "bad_access_code",
            "اكتب رمز الاستعلام المطبوع على الإيصال: عشرة حروف وأرقام لاتينية، مثل ABCDE-FGH23.",
            "Type the access code printed on the receipt: ten Latin letters and digits, e.g. ABCDE-FGH23.",
        )
    return parsed.text, code


def inquire(
    session: Session, tracking_number: str, access_code: str, *, now: datetime | None = None
) -> InquiryResult | None:
    """The status of the application if the number exists *and* the code matches, else None (see module doc).

    Raises :class:`InquiryInvalid` for input that cannot be an inquiry, before touching the database.
    """
    number, code = parse_inquiry(tracking_number, access_code)
    # One small indexed lookup (id and hash only) whether or not the number exists, then one comparison.
    row = session.execute(
        select(Application.id, Application.access_code_sha256).where(Application.tracking_number == number)
    ).first()
    stored = (row.access_code_sha256 if row is not None else None) or _DUMMY_DIGEST
    matches = hmac.compare_digest(stored.encode(), access_code_digest(code).encode())
    if row is None or row.access_code_sha256 is None or not matches:
        return None
    application = session.get(Application, row.id)
    assert application is not None
    return _result(session, application, _aware(now or utcnow()))


def _result(session: Session, application: Application, now: datetime) -> InquiryResult:
    transitions = session.scalars(
        select(Transition)
        .where(Transition.application_id == application.id)
        .order_by(Transition.at, Transition.id)
    ).all()
    received = _aware(application.created_at)
    milestones = [Milestone(ApplicationStatus.RECEIVED.value, received)]
    return_reason = None
    for t in transitions:
        if t.action not in _CITIZEN_ACTIONS or t.to_status == t.from_status:
            continue
        if t.to_status == ApplicationStatus.RETURNED.value:
            return_reason = t.reason
        elif t.from_status == ApplicationStatus.RETURNED.value:
            return_reason = None
        milestones.append(Milestone(t.to_status, _aware(t.at)))
    last_change = milestones[-1].at
    due = _aware(application.due_at)
    finished = last_change if application.status in FINAL else None
    stage_ar, stage_en = STAGES.get(application.status, (application.status, application.status))
    return InquiryResult(
        tracking_number=application.tracking_number,
        status=application.status,
        stage_ar=stage_ar,
        stage_en=stage_en,
        service_ar=application.service.name_ar,
        service_en=application.service.name_en,
        centre_ar=application.centre.name_ar,
        centre_en=application.centre.name_en,
        received_at=received,
        due_at=due,
        legal_days=application.service.legal_days,
        last_change_at=last_change,
        finished_at=finished,
        overdue=finished is None and now > due,
        return_reason=return_reason if application.status == ApplicationStatus.RETURNED.value else None,
        milestones=milestones,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
