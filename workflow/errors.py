"""Why the routing service refused an action, with a stable code and a sentence in Arabic and English.

Like :class:`signing.errors.SigningRefused` (which :func:`workflow.routing.sign_step` lets through for certificate and
signing problems), a refusal carries ``code`` for programs and tests and ``message_ar`` / ``message_en`` for people,
so the web layer never parses exception text. A refusal is raised before anything is written.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ROUTING_MESSAGES", "RoutingRefused"]

#: code -> (Arabic, English). The codes are part of the API: never rename one, only add.
ROUTING_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "one_stop": (
        "لا يجوز لموظف الشباك الذي استلم الطلب أن يبت فيه أو يوقعه (نظام الشباك الواحد).",
        "The clerk who took this application in may not decide or sign it (one-stop rule).",
    ),
    "not_your_step": (
        "هذه الخطوة ليست من اختصاصك.",
        "This step is not yours to act on.",
    ),
    "wrong_state": (
        "لا يمكن تنفيذ هذا الإجراء والطلب في حالته الحالية.",
        "This action is not possible in the application's current state.",
    ),
    "reason_required": (
        "اكتب سبب هذا الإجراء.",
        "Give the reason for this action.",
    ),
    "not_permitted": (
        "غير مصرح لك بهذا الإجراء.",
        "You are not permitted to do this.",
    ),
    "no_chain": (
        "لا توجد دورة عمل معرفة لهذه الخدمة في دليل الخدمات.",
        "The service catalogue defines no workflow for this service.",
    ),
    "no_permit": (
        "لم تُعد مسودة الترخيص بعد؛ افتح الترخيص للاطلاع عليه قبل التوقيع.",
        "The permit has not been prepared yet; open it to read it before signing.",
    ),
    "document_changed": (
        "تغير مستند الترخيص منذ أن اطلعت عليه؛ افتحه من جديد قبل التوقيع.",
        "The permit changed since you opened it; open it again before signing.",
    ),
    "bad_certificate": (
        "ملف الشهادة غير صالح.",
        "The certificate file is not valid.",
    ),
    "duplicate_certificate": (
        "هذه الشهادة مسجلة من قبل.",
        "This certificate is already registered.",
    ),
    "unknown_item": (
        "اختر المستندات الناقصة أو غير المقروءة من قائمة المستندات المطلوبة لهذه الخدمة.",
        "Choose the missing or unreadable papers from this service's list of required documents.",
    ),
    "items_outstanding": (
        "لم تُستكمل كل المستندات المطلوبة: ارفع كل مستند منها أو اكتب سبب إعادة التقديم بدونه.",
        "Not every paper asked for was provided: upload each one, or give the reason for resubmitting without it.",
    ),
    "documents_missing": (
        "مستندات مطلوبة ناقصة في ملف الطلب؛ لا يُعد الترخيص ولا يُعتمد الطلب ولا يُوقَّع حتى تُستكمل أو يأذن رئيس "
        "القسم بالمضي دونها مع ذكر السبب.",
        "Required documents are missing from the file; no permit is prepared, approved or signed until they are "
        "added or a head of department records an override with a reason.",
    ),
    "nothing_missing": (
        "لا توجد مستندات مطلوبة ناقصة في هذا الطلب.",
        "No required document is missing from this application.",
    ),
}


class RoutingRefused(Exception):
    """An action on an application's workflow was refused; nothing was written.

    ``detail`` (optional, English) says more for logs and tests, never shown in place of the sentences;
    ``message`` (optional) replaces the code's sentences with more precise ones (which papers are missing).
    """

    def __init__(
        self, code: str, detail: str | None = None, *, message: tuple[str, str] | None = None
    ) -> None:
        if code not in ROUTING_MESSAGES:
            raise ValueError(f"unknown routing refusal code {code!r}")
        self.code = code
        self.message_ar, self.message_en = message or ROUTING_MESSAGES[code]
        self.detail = detail
        super().__init__(self.message_en)

    def __str__(self) -> str:
        return self.message_en if not self.detail else f"{self.message_en} ({self.detail})"

    def __repr__(self) -> str:
        return f"RoutingRefused({self.code!r}, detail={self.detail!r})"
