"""The citizen's status inquiry (الاستعلام عن طلب): tracking number plus the last four digits of the national ID.

A receipt is handed around and photographed, so the tracking number alone is not a secret; the four digits are the
second factor only the applicant (and the centre) know. :func:`inquire` answers with what the citizen may know — the
service, the centre, the current stage in plain words, the dates of each stage, the legal due date and, for a file
returned for completion, the reason the official gave *to the citizen* — and never internal notes (why a clerk
accepted a file incomplete, reassignments, resubmission notes, who decided), names, phone or documents.

No existence oracle: an unknown tracking number and a known one with the wrong digits give the same ``None``
through the same path (one indexed lookup, one constant-time comparison against the stored digits or a dummy), so
callers render one and the same refusal. A number that is not a tracking number at all (wrong check character) and
digits that are not four digits are refused *before* any lookup (:class:`InquiryInvalid`): that is a pure function of
the input and says nothing about what exists. Rate limits (per client address and per tracking number) belong to the
adapters (``web.ratelimit``); four digits are only 10,000 guesses.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, ApplicationStatus, Transition, utcnow
from intake.normalise import compact
from intake.tracking import parse_tracking

__all__ = ["STAGES", "InquiryInvalid", "InquiryResult", "Milestone", "inquire", "parse_inquiry"]

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
_DUMMY_SUFFIX = "\x00\x00\x00\x00"


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


def parse_inquiry(tracking_number: str, id_last4: str) -> tuple[str, str]:
    """The canonical tracking number and the four ASCII digits, or :class:`InquiryInvalid` for the first bad box."""
    parsed = parse_tracking(tracking_number or "")
    if parsed is None:
        raise InquiryInvalid(
            "tracking_number",
            "bad_tracking_number",
            "رقم المتابعة غير صحيح. اكتبه كما هو مطبوع على الإيصال، مثل SOH01-2026-000123-K.",
            "This is not a valid tracking number. Type it as printed on the receipt, e.g. SOH01-2026-000123-K.",
        )
    digits = compact(id_last4 or "")
    if len(digits) != 4 or not digits.isascii() or not digits.isdigit():
        raise InquiryInvalid(
            "id_last4",
            "bad_id_last4",
            "اكتب آخر أربعة أرقام من الرقم القومي لصاحب الطلب.",
            "Type the last four digits of the applicant's national ID.",
        )
    return parsed.text, digits


def inquire(
    session: Session, tracking_number: str, id_last4: str, *, now: datetime | None = None
) -> InquiryResult | None:
    """The status of the application if the number exists *and* the digits match, else None (see module doc).

    Raises :class:`InquiryInvalid` for input that cannot be an inquiry, before touching the database.
    """
    number, digits = parse_inquiry(tracking_number, id_last4)
    # One small indexed lookup (id and national ID only) whether or not the number exists, then one comparison.
    row = session.execute(
        select(Application.id, Application.national_id).where(Application.tracking_number == number)
    ).first()
    stored = row.national_id[-4:] if row is not None else _DUMMY_SUFFIX
    matches = hmac.compare_digest(stored.encode(), digits.encode())
    if row is None or not matches:
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
