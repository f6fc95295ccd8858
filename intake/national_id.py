"""Egyptian national ID numbers (الرقم القومي): normalise, validate the structure, decode what it says.

Layout of the 14 digits: ``C YYMMDD GG SSSS K`` — century of birth (2 = 1900s, 3 = 2000s), birth date, governorate
of birth (the brief's list; 88 = born abroad), a four-digit sequence whose last digit is odd for men and even for
women, and a final check digit.

Why the check digit is NOT verified
-----------------------------------
The Civil Status Organisation has never published the algorithm. What circulates is contradictory: the weighted
sum ``(2,7,6,5,4,3,2,7,6,5,4,3,2)`` mod 11 with ``check = (11 - sum % 11) % 10`` (posted on GitHub, Reddit and in
several packages), Luhn (other notebooks and packages), and a third package that says its checksum is "verified but
undisclosed". People who tried these against real cards report that the mod-11 formula "gives wrong results for
many IDs issued after the year 2000" (r/algorithms, 2025), and at least one maintained validator
(Egypt.Net.Core) turned its checksum off by default "to prevent false rejections" because the algorithm "is not
publicly documented". The formulas also disagree with each other, so at most one can be right, and there is no
authoritative sample here to decide which. Refusing a citizen at the window because of a guessed checksum is worse
than accepting a mistyped digit that the clerk re-reads from the card, so the 14th digit is only required to be a
digit. Every other rule below is strict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from archive.grammar import DIGITS
from intake.normalise import compact

EGYPT = ZoneInfo("Africa/Cairo")
LENGTH = 14

CENTURIES = {"2": 1900, "3": 2000}

GOVERNORATES: dict[str, tuple[str, str]] = {
    "01": ("القاهرة", "Cairo"),
    "02": ("الإسكندرية", "Alexandria"),
    "03": ("بورسعيد", "Port Said"),
    "04": ("السويس", "Suez"),
    "11": ("دمياط", "Damietta"),
    "12": ("الدقهلية", "Dakahlia"),
    "13": ("الشرقية", "Sharqia"),
    "14": ("القليوبية", "Qalyubia"),
    "15": ("كفر الشيخ", "Kafr El Sheikh"),
    "16": ("الغربية", "Gharbia"),
    "17": ("المنوفية", "Monufia"),
    "18": ("البحيرة", "Beheira"),
    "19": ("الإسماعيلية", "Ismailia"),
    "21": ("الجيزة", "Giza"),
    "22": ("بني سويف", "Beni Suef"),
    "23": ("الفيوم", "Fayoum"),
    "24": ("المنيا", "Minya"),
    "25": ("أسيوط", "Assiut"),
    "26": ("سوهاج", "Sohag"),
    "27": ("قنا", "Qena"),
    "28": ("أسوان", "Aswan"),
    "29": ("الأقصر", "Luxor"),
    "31": ("البحر الأحمر", "Red Sea"),
    "32": ("الوادي الجديد", "New Valley"),
    "33": ("مطروح", "Matrouh"),
    "34": ("شمال سيناء", "North Sinai"),
    "35": ("جنوب سيناء", "South Sinai"),
    "88": ("خارج الجمهورية", "Born abroad"),
}
"""Governorate of birth as coded in digits 8-9: (Arabic name, English name)."""


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label_ar(self) -> str:
        return "ذكر" if self is Sex.MALE else "أنثى"


class InvalidNationalId(ValueError):
    """The text is not a well-formed national ID; ``code`` is stable for programs, the messages are for people."""

    def __init__(self, code: str, message_ar: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_ar = message_ar
        self.message_en = message_en


@dataclass(frozen=True)
class NationalId:
    """A structurally valid national ID and what it encodes."""

    normalised: str
    """Fourteen ASCII digits: what is stored and searched."""
    birth_date: date
    governorate_code: str
    governorate_name_ar: str
    governorate_name_en: str
    sex: Sex

    @property
    def sequence(self) -> str:
        return self.normalised[9:13]

    @property
    def masked(self) -> str:
        return mask_national_id(self.normalised)


def today_in_egypt() -> date:
    return datetime.now(EGYPT).date()


def parse_national_id(text: str, *, today: date | None = None) -> NationalId:
    """Validate ``text`` and decode it, or raise :class:`InvalidNationalId` naming the first rule it breaks.

    Accepts Arabic-Indic and Persian digits and ignores spaces, dashes and direction marks. ``today`` (default: the
    date in Cairo) is the limit for the birth date.
    """
    digits = compact(text or "")
    if not digits:
        raise InvalidNationalId("empty", "الرقم القومي مطلوب.", "The national ID is required.")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidNationalId(
            "not_digits",
            "الرقم القومي يتكون من أرقام فقط.",
            "The national ID may contain digits only.",
        )
    if len(digits) != LENGTH:
        raise InvalidNationalId(
            "wrong_length",
            f"الرقم القومي 14 رقمًا، والمدخل {DIGITS(len(digits))}.",
            f"The national ID has 14 digits; this one has {len(digits)}.",
        )
    century = CENTURIES.get(digits[0])
    if century is None:
        raise InvalidNationalId(
            "bad_century",
            "الرقم الأول من الرقم القومي يجب أن يكون 2 (مواليد 1900-1999) أو 3 (مواليد 2000 فما بعدها).",
            "The first digit must be 2 (born 1900-1999) or 3 (born 2000 or later).",
        )
    try:
        birth = date(century + int(digits[1:3]), int(digits[3:5]), int(digits[5:7]))
    except ValueError:
        raise InvalidNationalId(
            "bad_date",
            "تاريخ الميلاد في الرقم القومي (الأرقام 2-7) ليس تاريخًا صحيحًا.",
            "The birth date in the national ID (digits 2-7) is not a real date.",
        ) from None
    if birth > (today or today_in_egypt()):
        raise InvalidNationalId(
            "future_birth",
            "تاريخ الميلاد في الرقم القومي لم يأتِ بعد.",
            "The birth date in the national ID is in the future.",
        )
    code = digits[7:9]
    names = GOVERNORATES.get(code)
    if names is None:
        raise InvalidNationalId(
            "unknown_governorate",
            f"كود المحافظة {code} في الرقم القومي (الرقمان 8 و9) غير معروف.",
            f"The governorate code {code} in the national ID (digits 8-9) is unknown.",
        )
    sex = Sex.MALE if int(digits[12]) % 2 else Sex.FEMALE
    return NationalId(
        normalised=digits,
        birth_date=birth,
        governorate_code=code,
        governorate_name_ar=names[0],
        governorate_name_en=names[1],
        sex=sex,
    )


def is_valid_national_id(text: str, *, today: date | None = None) -> bool:
    try:
        parse_national_id(text, today=today)
    except InvalidNationalId:
        return False
    return True


def mask_national_id(normalised: str) -> str:
    """All but the last four digits hidden, for receipts and public pages."""
    visible = normalised[-4:]
    return "*" * max(len(normalised) - len(visible), 0) + visible
