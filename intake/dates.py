"""A day typed by a person: dd/mm/yyyy as Egyptians write it (Arabic-Indic digits too), or ISO yyyy-mm-dd.

The interface shows and takes dates as dd/mm/yyyy in both languages, never the browser's ``mm/dd/yyyy`` date box;
links and the API keep ISO ``yyyy-mm-dd``, so both are read here. Day first is the only reading of ``03/04/2026``
(3 April): the month-first order is never guessed.
"""

from __future__ import annotations

import re
from datetime import date

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_DAY_FIRST = re.compile(r"(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")

# the pattern attribute of a date input (HTML pattern, anchored by the browser): dd/mm/yyyy or yyyy-mm-dd, any digits
INPUT_PATTERN = r"[0-9٠-٩]{1,2}[/.\-][0-9٠-٩]{1,2}[/.\-][0-9٠-٩]{4}|[0-9٠-٩]{4}-[0-9٠-٩]{1,2}-[0-9٠-٩]{1,2}"


def parse_day(text: str) -> date:
    """The day ``text`` names; ``ValueError`` if it is not one (a wrong shape or a day that does not exist)."""
    value = text.strip().translate(_DIGITS)
    if len(value) > 20:
        raise ValueError("too long for a date")
    if match := _DAY_FIRST.fullmatch(value):
        day, month, year = (int(part) for part in match.groups())
    elif match := _ISO.fullmatch(value):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValueError(f"not a date: {text!r}")
    return date(year, month, day)


def show_day(value: date | None) -> str:
    """``05/12/2026``: how every date is shown in the interface, in both languages."""
    return value.strftime("%d/%m/%Y") if value is not None else ""
