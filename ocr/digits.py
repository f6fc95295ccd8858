"""Numbers in recognised text: digits of every set as 0-9, and the 14-digit national IDs a page shows.

An ID card, an application form or a receipt may write its numbers in Arabic-Indic digits (٠-٩), in Western digits,
or (after OCR) partly in the Persian forms (۰-۹) the ``Arabic`` script model prints for some of them. OCR also splits
a long number where the card leaves a gap ("2900101 2601234"), and direction marks may sit between the groups.
``national_ids`` finds every run of exactly 14 digits, joining groups separated only by spaces, and ranks the runs
that are shaped like an Egyptian national ID (century 2 or 3, a real birth month and day, a known governorate code)
first. It only reads; deciding that an ID is valid for an application is ``intake.national_id``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGIT_SETS = ("0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹")
_TO_WESTERN = str.maketrans({ch: str(i) for digits in DIGIT_SETS[1:] for i, ch in enumerate(digits)})
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)
_RUNS = re.compile(r"\d+(?:[ \u00a0]\d+)*")  # \d matches every Unicode decimal digit; groups joined by spaces
NATIONAL_ID_LENGTH = 14
GOVERNORATE_CODES = frozenset(
    "01 02 03 04 11 12 13 14 15 16 17 18 19 21 22 23 24 25 26 27 28 29 31 32 33 34 35 88".split()
)


def western_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Persian digits written as 0-9 (everything else unchanged)."""
    return text.translate(_TO_WESTERN)


@dataclass(frozen=True)
class NationalIdCandidate:
    digits: str
    """The 14 digits, Western."""
    written: str
    """As they appear in the text (digit set and spaces kept), for showing next to the page."""
    plausible: bool
    """Shaped like an Egyptian national ID: century 2 or 3, month 01-12, day 01-31, a known governorate code."""


def plausible_national_id(digits: str) -> bool:
    if len(digits) != NATIONAL_ID_LENGTH or not digits.isascii() or not digits.isdigit():
        return False
    month, day = int(digits[3:5]), int(digits[5:7])
    return digits[0] in "23" and 1 <= month <= 12 and 1 <= day <= 31 and digits[7:9] in GOVERNORATE_CODES


def national_ids(text: str) -> list[NationalIdCandidate]:
    """Every 14-digit number in ``text`` (any digit set, groups split by spaces joined), plausible ones first, each
    once, in the order they appear otherwise."""
    found: list[NationalIdCandidate] = []
    seen: set[str] = set()
    for line in text.translate(_INVISIBLE).splitlines():
        for match in _RUNS.finditer(line):
            written = match.group()
            digits = western_digits(re.sub(r"\s", "", written))
            for candidate in _fourteen(digits, written):
                if candidate.digits not in seen:
                    seen.add(candidate.digits)
                    found.append(candidate)
    return sorted(found, key=lambda c: not c.plausible)


def national_id(text: str) -> str | None:
    """The first plausible national ID in ``text`` (Western digits), or None."""
    return next((c.digits for c in national_ids(text) if c.plausible), None)


def _fourteen(digits: str, written: str) -> list[NationalIdCandidate]:
    """A run of exactly 14 digits is one candidate; a run of groups that is longer (an ID next to a phone number on
    one line) gives the 14-digit groupings of consecutive groups."""
    if len(digits) == NATIONAL_ID_LENGTH:
        return [NationalIdCandidate(digits, written, plausible_national_id(digits))]
    groups = written.split()
    out = []
    for start in range(len(groups)):
        for end in range(start + 1, len(groups) + 1):
            part = western_digits("".join(groups[start:end]))
            if len(part) == NATIONAL_ID_LENGTH:
                out.append(NationalIdCandidate(part, " ".join(groups[start:end]), plausible_national_id(part)))
    return out
