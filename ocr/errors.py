"""Why a file or a page could not be read, in words a clerk can act on.

Every refusal carries a stable machine ``code`` (for the API, the audit trail and metrics), an Arabic sentence for the
clerk at the window (Arabic is the source language of the interface), an English sentence for logs and the English UI,
and ``details`` with the numbers behind the decision (size, pages, limit) so that support can tell a real scan from an
attack without opening the file.
"""

from __future__ import annotations

from typing import Any

# code -> (Arabic, English). Templates are filled from ``details``; a missing key leaves the sentence generic.
_MESSAGES: dict[str, tuple[str, str]] = {
    "empty_file": (
        "الملف فارغ ولا يحتوي على أي صفحة. برجاء إعادة المسح الضوئي ورفع الملف مرة أخرى.",
        "The file is empty and contains no page. Please scan it again and upload it once more.",
    ),
    "unsupported_type": (
        "نوع الملف غير مدعوم. الأنواع المقبولة هي PDF وJPEG وPNG وTIFF.",
        "This type of file is not supported. Accepted types are PDF, JPEG, PNG and TIFF.",
    ),
    "corrupt_file": (
        "الملف تالف أو غير مكتمل ولا يمكن قراءته. برجاء إعادة المسح الضوئي أو طلب نسخة سليمة.",
        "The file is damaged or incomplete and cannot be read. Please scan it again or ask for an intact copy.",
    ),
    "encrypted_pdf": (
        "ملف PDF محمي بكلمة مرور. برجاء رفع نسخة غير محمية.",
        "The PDF file is protected by a password. Please upload a copy without a password.",
    ),
    "too_large": (
        "حجم الملف {size_mb} ميجابايت وهو أكبر من الحد المسموح ({limit_mb} ميجابايت).",
        "The file is {size_mb} MB, larger than the allowed {limit_mb} MB.",
    ),
    "too_many_pages": (
        "عدد صفحات الملف {pages} وهو أكبر من الحد المسموح ({limit} صفحة). برجاء تقسيم الملف.",
        "The file has {pages} pages, more than the allowed {limit}. Please split it.",
    ),
    "too_many_frames": (
        "ملف TIFF يحتوي على أكثر من {limit} صفحة. برجاء تقسيم الملف.",
        "The TIFF file holds more than {limit} pages. Please split it.",
    ),
    "pixel_limit": (
        "الصفحة رقم {page_number} أكبر من أن تُعالج ({width}×{height} نقطة). برجاء المسح الضوئي بدقة لا تزيد عن 300 نقطة"
        " في البوصة.",
        "Page {page_number} is too large to process ({width}×{height} pixels). Please scan at no more than 300 dpi.",
    ),
}

CODES: frozenset[str] = frozenset(_MESSAGES)


class _Defaults(dict[str, Any]):
    """Leaves unknown ``{placeholders}`` visible instead of raising while formatting a message."""

    def __missing__(self, key: str) -> str:
        return "?"


class InputRejected(Exception):
    """A file refused before or while rasterising it. ``str(exc)`` is the English sentence."""

    def __init__(
        self,
        code: str,
        *,
        details: dict[str, Any] | None = None,
        message_ar: str | None = None,
        message_en: str | None = None,
    ) -> None:
        if code not in _MESSAGES:
            raise ValueError(f"unknown rejection code {code!r}")
        self.code = code
        self.details: dict[str, Any] = dict(details or {})
        template_ar, template_en = _MESSAGES[code]
        values = _Defaults(self.details)
        self.message_ar: str = message_ar or template_ar.format_map(values)
        self.message_en: str = message_en or template_en.format_map(values)
        super().__init__(self.message_en)

    def __repr__(self) -> str:
        return f"InputRejected(code={self.code!r}, details={self.details!r})"


class OcrFailed(Exception):
    """Tesseract could not read a page: it is missing, crashed, or ran past its time limit.

    Unlike InputRejected this is usually not the citizen's fault, so the worker may retry it.
    """

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr
