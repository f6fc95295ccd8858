"""The texts citizens receive, in Arabic: one short SMS and one e-mail per event.

SMS are kept short (an Arabic SMS segment holds 70 characters; these take two or three) and carry no personal data
beyond what the recipient already knows: the tracking number, the service, the centre and, when the file was returned
for completion, the reason the official wrote for the citizen. E-mails say the same with a greeting and the dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from archive.grammar import DAYS
from archive.models import Application

CAIRO = ZoneInfo("Africa/Cairo")
MONTHS_AR = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()

EVENTS = ("received", "returned", "approved", "permit_ready", "rejected")


@dataclass(frozen=True)
class Texts:
    sms: str
    subject: str
    email: str


def arabic_date(value: datetime) -> str:
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(CAIRO)
    return f"{local.day} {MONTHS_AR[local.month - 1]} {local.year}"


def texts_for(
    application: Application, event: str, reason: str | None = None, papers: Sequence[str] = ()
) -> Texts:
    """The SMS and e-mail for ``event`` on ``application`` (its service and centre loaded or loadable).

    ``papers``: for ``returned``, the names of the papers the citizen must bring (the checklist items the official
    named), said in the SMS before the reason and listed one per line in the e-mail.
    """
    number = application.tracking_number
    service = application.service.name_ar
    centre = application.centre.name_ar
    if event == "received":
        sms = (f"سجل: استلمنا طلبك ({service}) برقم متابعة {number}. "
               f"موعد الإنجاز القانوني {arabic_date(application.due_at)}.")
        subject = f"استلام طلبك رقم {number}"
        lines = [f"استلم {centre} طلبك: {service}.", f"رقم المتابعة: {number}",
                 f"تاريخ الاستلام: {arabic_date(application.created_at)}",
                 f"موعد الإنجاز القانوني: {arabic_date(application.due_at)}",
                 "احتفظ بالإيصال؛ يمكنك الاستعلام عن طلبك برقم المتابعة وآخر أربعة أرقام من رقمك القومي."]
    elif event == "returned":
        why = reason or "راجع المركز لمعرفة المطلوب"
        if papers:
            bring = "، ".join(papers)
            sms = (f"سجل: طلبك {number} أعيد للاستكمال. أحضر: {bring}. السبب: {why}. "
                   f"راجع {centre} ومعك الإيصال.")
            lines = [f"أعيد طلبك ({service}) للاستكمال.", f"رقم المتابعة: {number}", "المستندات المطلوب إحضارها:",
                     *(f"- {paper}" for paper in papers), f"السبب: {why}",
                     f"راجع {centre} ومعك الإيصال وهذه المستندات."]
        else:
            sms = f"سجل: طلبك {number} أعيد للاستكمال. المطلوب: {why}. راجع {centre} ومعك الإيصال."
            lines = [f"أعيد طلبك ({service}) للاستكمال.", f"رقم المتابعة: {number}", f"المطلوب: {why}",
                     f"راجع {centre} ومعك الإيصال والمستندات المطلوبة."]
        subject = f"طلبك رقم {number} يحتاج إلى استكمال"
    elif event == "approved":
        sms = f"سجل: تم اعتماد طلبك {number} ({service}). راجع {centre} لاستلام النتيجة."
        subject = f"اعتماد طلبك رقم {number}"
        lines = [f"تم اعتماد طلبك ({service}).", f"رقم المتابعة: {number}", f"راجع {centre} لاستلام النتيجة."]
    elif event == "permit_ready":
        sms = f"سجل: صدر الترخيص لطلبك {number} ({service}) وهو جاهز للاستلام من {centre}."
        subject = f"الترخيص جاهز: طلب رقم {number}"
        lines = [f"صدر الترخيص لطلبك ({service}) ووقّعه المسؤولون إلكترونيًا.", f"رقم المتابعة: {number}",
                 f"الترخيص جاهز للاستلام من {centre}."]
    elif event == "rejected":
        sms = f"سجل: نأسف، رُفض طلبك {number} ({service}). يمكنك الاستفسار عن السبب في {centre}."
        subject = f"نتيجة طلبك رقم {number}"
        lines = [f"نأسف لإبلاغك بأن طلبك ({service}) قد رُفض.", f"رقم المتابعة: {number}",
                 f"يمكنك الاستفسار عن السبب في {centre}."]
    else:
        raise ValueError(f"Unknown notification event {event!r}; known: {', '.join(EVENTS)}.")
    greeting = f"السيد/السيدة {application.applicant_name}،"
    email = "\n".join([greeting, "", *lines, "", "منظومة سجل لمراكز خدمات المواطنين"])
    return Texts(sms=sms, subject=subject, email=email)


def staff_reminder_texts(application: Application, step_title_ar: str, kind: str, days: int | None) -> Texts:
    """The e-mail to officials about a step nearing or past its legal due date (``kind``: ``due`` or ``overdue``).

    Staff get e-mail only; the SMS text is the e-mail's subject (kept for a gateway that might carry it later).
    """
    number = application.tracking_number
    service = application.service.name_ar
    due = arabic_date(application.due_at)
    if kind == "due":
        left = f"يبقى على موعده القانوني {DAYS(days)}" if days is not None else "يقترب موعده القانوني"
        subject = f"تذكير: الطلب {number}: {left}"
        lines = [f"الطلب {number} ({service}) في صندوقك: {step_title_ar}.",
                 f"الموعد القانوني لإنجازه: {due}؛ {left}.",
                 "افتح صندوق الوارد في منظومة سجل للبت فيه."]
    elif kind == "overdue":
        subject = f"تأخر: الطلب {number} تجاوز موعده القانوني"
        lines = [f"الطلب {number} ({service}) متأخر عن المدة القانونية في خطوة: {step_title_ar}.",
                 f"كان موعده القانوني {due}.",
                 "بصفتك رئيس الإدارة: تابع الطلب أو أعد إسناد الخطوة من صفحة الطلب."]
    else:
        raise ValueError(f"Unknown reminder kind {kind!r}; use due or overdue.")
    email = "\n".join(["السيد/السيدة الزميل(ة)،", "", *lines, "", "منظومة سجل لمراكز خدمات المواطنين"])
    return Texts(sms=subject, subject=subject, email=email)
