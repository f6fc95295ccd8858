"""Why a signature was refused, in words an official can act on, in Arabic and English.

Signing fails for reasons the official can fix (a mistyped PIN, an unplugged token, an expired certificate) and for
reasons only an administrator can fix (a certificate not registered for this official, an untrusted issuer). The web
layer must show the right sentence without parsing exception text, so every refusal carries a stable ``code`` (for
programs, logs and tests) and both sentences (for people). ``str()`` is the English sentence, so logs and tracebacks
stay readable to the developers.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MESSAGES", "SigningRefused"]

#: code -> (Arabic, English). The codes are part of the API: never rename one, only add.
MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "wrong_pin": (
        "الرقم السري للشريحة غير صحيح.",
        "The token PIN is incorrect.",
    ),
    "pin_locked": (
        "الشريحة مقفلة بعد محاولات خاطئة متكررة؛ راجع جهة إصدار الشهادة.",
        "The token is locked after too many wrong PINs; contact the certificate issuer.",
    ),
    "token_not_found": (
        "لم يتم العثور على شريحة التوقيع؛ تأكد من توصيلها.",
        "The signing token was not found; check that it is plugged in.",
    ),
    "key_not_found": (
        "لم يتم العثور على مفتاح التوقيع على الشريحة.",
        "The signing key was not found on the token.",
    ),
    "certificate_not_found": (
        "لم يتم العثور على شهادة التوقيع على الشريحة.",
        "The signing certificate was not found on the token.",
    ),
    "bad_certificate": (
        "ملف الشهادة غير صالح.",
        "The certificate file is not valid.",
    ),
    "bad_passphrase": (
        "كلمة مرور ملف الشهادة غير صحيحة.",
        "The certificate file's passphrase is incorrect.",
    ),
    "credential_unreadable": (
        "تعذرت قراءة بيانات التوقيع (الملف أو الشريحة).",
        "The signing credential (file or token) could not be read.",
    ),
    "certificate_expired": (
        "انتهت صلاحية شهادة التوقيع.",
        "The signing certificate has expired.",
    ),
    "certificate_not_yet_valid": (
        "شهادة التوقيع لم تبدأ صلاحيتها بعد.",
        "The signing certificate is not valid yet.",
    ),
    "certificate_revoked": (
        "شهادة التوقيع ملغاة من جهة الإصدار.",
        "The signing certificate has been revoked by its issuer.",
    ),
    "certificate_unregistered": (
        "شهادة التوقيع غير مسجلة لهذا الموظف في النظام.",
        "The signing certificate is not registered for this official.",
    ),
    "certificate_untrusted": (
        "شهادة التوقيع غير صادرة من جهة تصديق معتمدة.",
        "The signing certificate does not chain to a trusted certification authority.",
    ),
    "certificate_unusable": (
        "شهادة التوقيع غير مخصصة للتوقيع على المستندات.",
        "The signing certificate is not meant for signing documents.",
    ),
    "revocation_unknown": (
        "تعذر التحقق من عدم إلغاء شهادة التوقيع؛ حاول لاحقا.",
        "Could not confirm that the signing certificate is not revoked; try again later.",
    ),
    "timestamp_failed": (
        "تعذر الحصول على ختم زمني موثوق؛ حاول لاحقا.",
        "Could not obtain a trusted timestamp; try again later.",
    ),
    "validation_info_failed": (
        "تعذر جمع بيانات التحقق طويل الأمد للتوقيع؛ حاول لاحقا.",
        "Could not collect the long-term validation data for the signature; try again later.",
    ),
    "field_missing": (
        "خانة التوقيع غير موجودة في المستند.",
        "The signature field does not exist in the document.",
    ),
    "field_already_signed": (
        "تم التوقيع في هذه الخانة من قبل.",
        "This signature field has already been signed.",
    ),
    "document_locked": (
        "المستند مقفل بتوقيع سابق ولا يقبل توقيعات أخرى.",
        "The document is locked by an earlier signature and accepts no further signatures.",
    ),
    "not_a_pdf": (
        "الملف ليس مستند PDF صالحا.",
        "The file is not a valid PDF document.",
    ),
    "signature_mismatch": (
        "التوقيع المرسل لا يطابق المستند المُعد للتوقيع بشهادتك المسجلة؛ لم يُوقَّع شيء.",
        "The signature sent does not match the prepared document under your registered certificate; nothing was "
        "signed.",
    ),
    "preparation_expired": (
        "انتهت مهلة المستند المُعد للتوقيع؛ أعد تجهيزه ثم وقّع مرة أخرى.",
        "The document prepared for signing has expired; prepare it again and sign again.",
    ),
    "preparation_not_found": (
        "لا يوجد مستند مُعد للتوقيع بهذا الرقم (ربما أعيد تجهيزه أو تم توقيعه).",
        "There is no document prepared for signing with this number (it may have been prepared again or signed).",
    ),
    "prepared_document_altered": (
        "تغير المستند المُعد للتوقيع في الأرشيف بعد تجهيزه؛ رُفض التوقيع. أعد تجهيزه.",
        "The prepared document changed in the archive after it was prepared; the signature was refused. Prepare "
        "it again.",
    ),
    "document_changed": (
        "تغير الترخيص بعد تجهيزه للتوقيع (وقّعه غيرك أو أعيد الطلب)؛ أعد تجهيزه.",
        "The permit changed after it was prepared for signing (someone else signed it or the file was returned); "
        "prepare it again.",
    ),
}


class SigningRefused(Exception):
    """A signing step refused to go on; ``code`` says why, ``message_ar`` / ``message_en`` say it to people.

    ``detail`` keeps the technical cause (library message) for logs; it is never shown to the official because it
    may be English-only, long, or leak internals.
    """

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown signing refusal code {code!r}")
        self.code = code
        self.message_ar, self.message_en = MESSAGES[code]
        self.detail = detail
        super().__init__(self.message_en)

    def __str__(self) -> str:
        return self.message_en

    def __repr__(self) -> str:
        return f"SigningRefused({self.code!r}, detail={self.detail!r})"
