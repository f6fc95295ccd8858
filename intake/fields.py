"""Validators for the applicant's fields: name, mobile number and the property details.

Each returns the normalised value (what is stored) or raises :class:`FieldInvalid` with a code and a message in both
languages; the service turns those into one :class:`~intake.errors.IntakeInvalid`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archive.grammar import CHARACTERS
from intake.normalise import ascii_digits, clean_line, compact

NAME_MAX = 200
_NAME_PUNCTUATION = frozenset(".'-ʼ’")
_MOBILE_RE = re.compile(r"01[0125][0-9]{8}")


class FieldInvalid(ValueError):
    def __init__(self, code: str, message_ar: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_ar = message_ar
        self.message_en = message_en


def _required() -> FieldInvalid:
    return FieldInvalid("required", "هذا الحقل مطلوب.", "This field is required.")


def validate_name(value: str) -> str:
    """A person's full name: letters (any script, diacritics allowed), at least two words, at most 200 characters."""
    name = clean_line(value or "")
    if not name:
        raise _required()
    if len(name) > NAME_MAX:
        raise FieldInvalid("too_long", "الاسم أطول من 200 حرف.", "The name is longer than 200 characters.")
    for ch in name:
        if ch != " " and ch not in _NAME_PUNCTUATION and unicodedata.category(ch)[0] not in "LM":
            raise FieldInvalid(
                "invalid_characters",
                "الاسم يتكون من حروف فقط، بلا أرقام أو رموز.",
                "The name may contain letters only, no digits or symbols.",
            )
    if len(name.split()) < 2:
        raise FieldInvalid(
            "full_name_required",
            "اكتب الاسم بالكامل (الاسم واسم الأب على الأقل).",
            "Write the full name (at least the given name and the father's name).",
        )
    return name


def normalise_mobile(value: str) -> str:
    """An Egyptian mobile number as 11 ASCII digits ``01[0125]XXXXXXXX``; ``+20``/``0020`` prefixes are accepted."""
    digits = compact(value or "").lstrip("+")
    if not digits:
        raise _required()
    if digits.startswith("0020"):
        digits = digits[2:]
    if digits.startswith("20") and len(digits) == 12:
        digits = "0" + digits[2:]
    if not _MOBILE_RE.fullmatch(digits):
        raise FieldInvalid(
            "invalid_phone",
            "رقم المحمول غير صحيح: 11 رقمًا يبدأ بـ 010 أو 011 أو 012 أو 015.",
            "The mobile number is not valid: 11 digits starting with 010, 011, 012 or 015.",
        )
    return digits


@dataclass(frozen=True)
class DetailField:
    key: str
    label_ar: str
    label_en: str
    kind: str  # "text" or "area"
    max_length: int = 200
    property_required: bool = False
    """Required when the service needs property details (needs_property in the catalogue)."""


DETAIL_FIELDS: tuple[DetailField, ...] = (
    DetailField("plot_number", "رقم القطعة", "Plot number", "text", 32, property_required=True),
    DetailField("street", "الشارع", "Street", "text", 200),
    DetailField("district", "الحي / القرية", "District / village", "text", 100, property_required=True),
    DetailField("area_m2", "المساحة (م²)", "Area (m²)", "area", property_required=True),
    DetailField("notes", "ملاحظات", "Notes", "text", 1000),
)
"""The details an application may carry; the web form can be generated from this list."""

MAX_AREA_M2 = 10_000_000


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(r"[^@\s<>(),;:\"\[\]]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r")+")


def normalise_email(value: str | None) -> str | None:
    """An optional e-mail address for notifications: None when empty, the domain lower-cased; a plain
    ``local@domain.tld`` check only (whether it exists is the SMTP server's answer, recorded per attempt)."""
    text = clean_line(value or "")
    if not text:
        return None
    if len(text) > 254 or not _EMAIL_RE.fullmatch(text):
        raise FieldInvalid("invalid_email", "عنوان البريد الإلكتروني غير صحيح.", "This is not a valid e-mail address.")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def validate_details(
    details: Mapping[str, Any] | None, *, needs_property: bool
) -> tuple[dict[str, Any], dict[str, FieldInvalid]]:
    """Normalise ``details``; returns (clean details, errors by key). Unknown keys are refused, empty values dropped."""
    known = {f.key: f for f in DETAIL_FIELDS}
    clean: dict[str, Any] = {}
    errors: dict[str, FieldInvalid] = {}
    if details is None:
        details = {}
    if not isinstance(details, Mapping):
        errors[""] = FieldInvalid("invalid", "بيانات العقار غير صالحة.", "The property details are malformed.")
        return clean, errors
    for key in details:
        if key not in known:
            errors[str(key)] = FieldInvalid(
                "unknown_field", "حقل غير معروف في بيانات الطلب.", f"Unknown field {key!r} in the details."
            )
    for spec in DETAIL_FIELDS:
        raw = details.get(spec.key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if needs_property and spec.property_required:
                errors[spec.key] = FieldInvalid(
                    "required",
                    f"{spec.label_ar}: مطلوب لهذه الخدمة.",
                    f"{spec.label_en}: required for this service.",
                )
            continue
        try:
            clean[spec.key] = _area(raw) if spec.kind == "area" else _text(raw, spec)
        except FieldInvalid as exc:
            errors[spec.key] = exc
    return clean, errors


def _text(raw: Any, spec: DetailField) -> str:
    if not isinstance(raw, str | int):
        raise FieldInvalid("invalid", f"{spec.label_ar}: قيمة غير صالحة.", f"{spec.label_en}: not a valid value.")
    text = clean_line(ascii_digits(str(raw)))
    if len(text) > spec.max_length:
        raise FieldInvalid(
            "too_long",
            f"{spec.label_ar}: أطول من {CHARACTERS(spec.max_length)}.",
            f"{spec.label_en}: longer than {spec.max_length} characters.",
        )
    return text


def _area(raw: Any) -> int | float:
    invalid = FieldInvalid(
        "invalid_area",
        "المساحة يجب أن تكون رقمًا موجبًا بالمتر المربع.",
        "The area must be a positive number of square metres.",
    )
    if isinstance(raw, bool):
        raise invalid
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        # ٫ is the Arabic decimal separator and ٬ the thousands separator; an ASCII comma is ambiguous, so refused.
        text = "".join(ascii_digits(raw).split()).replace("٫", ".").replace("٬", "")
        try:
            value = float(text)
        except ValueError:
            raise invalid from None
    else:
        raise invalid
    if not math.isfinite(value) or value <= 0 or value > MAX_AREA_M2:
        raise invalid
    value = round(value, 2)
    return int(value) if value.is_integer() else value
