"""Arabic counts with CLDR's six plural forms, for texts written outside a web request (PDFs, SMS, e-mail, errors).

Arabic agrees a noun with its number in six ways (CLDR ``ar``: zero, one, two, few = n mod 100 in 3..10, many =
n mod 100 in 11..99, other = 100, 101, 102, ...): "يوم واحد", "يومان", "3 أيام", "11 يومًا", "100 يوم". The web pages
get the same forms from Flask-Babel's ``ngettext`` and the Arabic catalogue (``web/translations/ar``); this module
serves the domain services, which must not depend on Flask. The category comes from Babel's CLDR data, never from
rules written here, and ``tests/test_grammar.py`` checks both sources give the same words.

The digit rule (docs/ARCHITECTURE.md, "Numbers and digits"): every number Sijill writes uses the digits 0-9, in
Arabic as in English, so one sentence never mixes two digit sets; Arabic-Indic digits are accepted on input only.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale

_ARABIC = Locale("ar")


def plural_category(n: int) -> str:
    """CLDR plural category of ``n`` in Arabic: zero, one, two, few, many or other."""
    return str(_ARABIC.plural_form(abs(n)))


@dataclass(frozen=True)
class Forms:
    """The six ways to write a count of one noun; ``{n}`` is the number."""

    zero: str
    one: str
    two: str
    few: str
    many: str
    other: str

    def __call__(self, n: int) -> str:
        return str(getattr(self, plural_category(n))).format(n=n)


DAYS = Forms("{n} يوم", "يوم واحد", "يومان", "{n} أيام", "{n} يومًا", "{n} يوم")
PAGES = Forms("{n} صفحة", "صفحة واحدة", "صفحتان", "{n} صفحات", "{n} صفحة", "{n} صفحة")
DIGITS = Forms("{n} رقم", "رقم واحد", "رقمان", "{n} أرقام", "{n} رقمًا", "{n} رقم")
CHARACTERS = Forms("{n} حرف", "حرف واحد", "حرفان", "{n} أحرف", "{n} حرفًا", "{n} حرف")
