"""Egyptian national ID rules of the brief: structure, dates, governorates, sex; the check digit is not guessed."""

from __future__ import annotations

from datetime import date

import pytest

from intake.national_id import (
    GOVERNORATES,
    InvalidNationalId,
    NationalId,
    Sex,
    is_valid_national_id,
    mask_national_id,
    parse_national_id,
)

TODAY = date(2026, 11, 24)
VALID = "29001012601234"  # born 1 January 1990 in Sohag, sequence 0123 (odd: male), check digit 4


def nid(text: str) -> NationalId:
    return parse_national_id(text, today=TODAY)


def test_decodes_a_valid_id() -> None:
    result = nid(VALID)
    assert result.normalised == VALID
    assert result.birth_date == date(1990, 1, 1)
    assert result.governorate_code == "26"
    assert (result.governorate_name_ar, result.governorate_name_en) == ("سوهاج", "Sohag")
    assert result.sex is Sex.MALE
    assert result.sequence == "0123"


@pytest.mark.parametrize(
    "text",
    [
        "٢٩٠٠١٠١٢٦٠١٢٣٤",  # Arabic-Indic
        "۲۹۰۰۱۰۱۲۶۰۱۲۳۴",  # Eastern Arabic-Indic / Persian
        "2 900101 26 0123 4",
        "2-900101-26-0123-4",
        " ٢٩٠٠١٠١-26-01234 ",  # mixed digits and separators
        "\u200f29001012601234\u200f",  # right-to-left marks from a copied SMS
    ],
)
def test_normalises_digits_and_separators(text: str) -> None:
    assert nid(text).normalised == VALID


def test_sex_from_the_thirteenth_digit() -> None:
    assert nid("29001012601224").sex is Sex.FEMALE
    assert nid("29001012601204").sex is Sex.FEMALE
    assert nid("29001012601294").sex is Sex.MALE
    assert Sex.FEMALE.label_ar == "أنثى"


def test_twenty_first_century_and_born_abroad() -> None:
    result = nid("30502288801245")
    assert result.birth_date == date(2005, 2, 28)
    assert result.governorate_code == "88"
    assert result.governorate_name_en == "Born abroad"


def test_leap_days() -> None:
    assert nid("30002290100018").birth_date == date(2000, 2, 29)  # 2000 is a leap year
    with pytest.raises(InvalidNationalId) as info:
        nid("29902290100018")  # 1999 is not
    assert info.value.code == "bad_date"


def test_born_today_is_accepted_tomorrow_is_not() -> None:
    assert nid("32611240100011").birth_date == TODAY
    with pytest.raises(InvalidNationalId) as info:
        nid("32611250100011")
    assert info.value.code == "future_birth"


def test_every_listed_governorate_is_accepted() -> None:
    assert len(GOVERNORATES) == 28
    for code in GOVERNORATES:
        assert nid(f"2900101{code}01234").governorate_code == code


@pytest.mark.parametrize("code", ["00", "05", "10", "20", "30", "36", "87", "89", "99"])
def test_unlisted_governorates_are_refused(code: str) -> None:
    with pytest.raises(InvalidNationalId) as info:
        nid(f"2900101{code}01234")
    assert info.value.code == "unknown_governorate"
    assert code in info.value.message_en and code in info.value.message_ar


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   - ", "empty"),
        ("2900101260123", "wrong_length"),
        ("290010126012345", "wrong_length"),
        ("2900101260123X", "not_digits"),
        ("29001O12601234", "not_digits"),  # letter O for zero
        ("١٢٣", "wrong_length"),
        ("19001012601234", "bad_century"),
        ("49001012601234", "bad_century"),
        ("09001012601234", "bad_century"),
        ("29013012601234", "bad_date"),  # month 13
        ("29000012601234", "bad_date"),  # month 0
        ("29002302601234", "bad_date"),  # 30 February
        ("29004312601234", "bad_date"),  # 31 April
        ("29001002601234", "bad_date"),  # day 0
        ("39901012601234", "future_birth"),  # 2099
    ],
)
def test_specific_reasons(text: str, code: str) -> None:
    with pytest.raises(InvalidNationalId) as info:
        nid(text)
    error = info.value
    assert error.code == code
    assert isinstance(error, ValueError)
    assert error.message_en and error.message_ar
    assert any("\u0600" <= ch <= "\u06ff" for ch in error.message_ar)
    assert not is_valid_national_id(text, today=TODAY)


def test_check_digit_is_not_used_to_refuse() -> None:
    """The algorithm is unpublished and the circulating ones disagree (see the module docstring): all ten pass."""
    accepted = [nid(VALID[:13] + str(d)).normalised for d in range(10)]
    assert len(set(accepted)) == 10


def test_the_default_today_is_used() -> None:
    assert is_valid_national_id(VALID)
    assert not is_valid_national_id("39901012601234")


def test_mask_keeps_only_the_last_four_digits() -> None:
    assert mask_national_id(VALID) == "**********1234"
    assert nid(VALID).masked == "**********1234"
