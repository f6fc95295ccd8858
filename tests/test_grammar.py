"""Arabic count grammar: CLDR's six plural forms through Flask-Babel's ngettext (web) and archive.grammar (PDFs, SMS),
and one digit set per sentence."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale, ngettext
from sqlalchemy import select

from archive.db import Database
from archive.grammar import CHARACTERS, DAYS, DIGITS, PAGES, plural_category
from archive.models import Service
from archive.roles import Role
from intake.catalogue import load_catalogue, sync_catalogue
from intake.national_id import InvalidNationalId, parse_national_id
from web.i18n import SOURCE_DIR

# n -> CLDR category in Arabic; 100..102 go back to "other", 103 to "few", 111 to "many"
NUMBERS = {0: "zero", 1: "one", 2: "two", 3: "few", 10: "few", 11: "many", 99: "many", 100: "other", 101: "other",
           102: "other", 103: "few", 111: "many", 1000: "other"}


@pytest.mark.parametrize("n", sorted(NUMBERS))
def test_the_plural_category_is_cldr_arabic(n: int) -> None:
    assert plural_category(n) == NUMBERS[n]


def test_days_pages_digits_and_characters_agree_with_their_number() -> None:
    assert [DAYS(n) for n in (0, 1, 2, 3, 10, 11, 99, 100, 101, 103, 111)] == [
        "0 يوم", "يوم واحد", "يومان", "3 أيام", "10 أيام", "11 يومًا", "99 يومًا", "100 يوم", "101 يوم", "103 أيام",
        "111 يومًا"]
    assert [PAGES(n) for n in (1, 2, 7, 25, 200)] == ["صفحة واحدة", "صفحتان", "7 صفحات", "25 صفحة", "200 صفحة"]
    assert [DIGITS(n) for n in (1, 2, 4, 13, 14)] == ["رقم واحد", "رقمان", "4 أرقام", "13 رقمًا", "14 رقمًا"]
    assert CHARACTERS(2000) == "2000 حرف" and CHARACTERS(50) == "50 حرفًا" and CHARACTERS(5) == "5 أحرف"


def arabic_catalogue() -> list[tuple[tuple[str, str], tuple[str, ...]]]:
    with (SOURCE_DIR / "ar/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="ar")
    return [(m.id, tuple(m.string)) for m in catalog if m.id and isinstance(m.id, tuple)]


def test_every_count_in_the_interface_has_all_six_arabic_forms() -> None:
    """The extracted plural messages (scripts/i18n-update.sh) each carry zero, one, two, few, many and other."""
    entries = arabic_catalogue()
    assert len(entries) >= 8
    for (singular, _plural), forms in entries:
        assert len(forms) == 6 and all(forms), singular
        # few, many and other write the number; one and two say it in words
        assert all("%(num)s" in form for form in (forms[3], forms[4], forms[5])), singular
        assert "%(num)s" not in forms[1] and "%(num)s" not in forms[2], singular


@pytest.mark.parametrize("n,expected", [
    (0, "المدة القانونية: 0 يوم"), (1, "المدة القانونية: يوم واحد"), (2, "المدة القانونية: يومان"),
    (3, "المدة القانونية: 3 أيام"), (10, "المدة القانونية: 10 أيام"), (11, "المدة القانونية: 11 يومًا"),
    (30, "المدة القانونية: 30 يومًا"), (100, "المدة القانونية: 100 يوم"), (102, "المدة القانونية: 102 يوم"),
    (105, "المدة القانونية: 105 أيام"), (120, "المدة القانونية: 120 يومًا"),
])
def test_ngettext_renders_the_arabic_form_and_english_two(app: Flask, n: int, expected: str) -> None:
    with app.test_request_context("/"):
        with force_locale("ar"):
            assert ngettext("المدة القانونية: يوم واحد", "المدة القانونية: %(num)s يومًا", n) == expected
            assert expected == "المدة القانونية: " + DAYS(n)  # the web catalogue and archive.grammar agree
        with force_locale("en"):
            english = ngettext("المدة القانونية: يوم واحد", "المدة القانونية: %(num)s يومًا", n)
            assert english == ("Legal duration: 1 day" if n == 1 else f"Legal duration: {n} days")


@pytest.mark.parametrize("total,expected", [
    (1, "قُرئت 0 من صفحة واحدة"), (2, "قُرئت 0 من صفحتين"), (8, "قُرئت 0 من 8 صفحات"),
    (12, "قُرئت 0 من 12 صفحة"), (100, "قُرئت 0 من 100 صفحة"),
])
def test_pages_read_after_a_preposition(app: Flask, total: int, expected: str) -> None:
    with app.test_request_context("/"), force_locale("ar"):
        assert ngettext("قُرئت %(done)s من صفحة واحدة", "قُرئت %(done)s من %(num)s صفحة", total, done=0) == expected


def test_a_national_id_of_the_wrong_length_is_told_in_one_digit_set() -> None:
    for typed, count in (("2900101260123", "13 رقمًا"), ("2900", "4 أرقام"), ("29", "رقمان"), ("2", "رقم واحد")):
        with pytest.raises(InvalidNationalId) as caught:
            parse_national_id(typed)
        message = caught.value.message_ar
        assert message == f"الرقم القومي 14 رقمًا، والمدخل {count}.", message
        assert not re.search("[٠-٩]", message)


def test_the_legal_duration_on_the_pages_is_grammatical(login: object, database: Database) -> None:
    """The services page lists every catalogue service's duration with the right form and Latin digits only."""
    with database.session() as session:
        sync_catalogue(session, load_catalogue())
        for service, days in zip(session.scalars(select(Service).order_by(Service.code)), (1, 2, 11, 100, 103),
                                 strict=False):
            service.legal_days = days
    client = login(Role.CLERK)  # type: ignore[operator]
    html = client.get("/services").get_data(as_text=True)
    durations = re.findall(r"المدة القانونية: ([^<·]+)", html)
    assert len(durations) >= 4, html
    for text in durations:
        text = text.strip()
        n = int(re.search(r"\d+", text).group()) if re.search(r"\d+", text) else {"يوم واحد": 1, "يومان": 2}[text]
        assert text == DAYS(n), text
    assert not re.search(r"\d+ يوما(?!ن)", html) and not re.search("[٠-٩]", html)
