"""ocr.digits: digits of every set as 0-9, and the national IDs a recognised page shows (pure, no Tesseract)."""

from __future__ import annotations

from ocr.digits import national_id, national_ids, plausible_national_id, western_digits


def test_every_digit_set_becomes_western() -> None:
    assert western_digits("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹ 0123456789") == "0123456789 0123456789 0123456789"
    assert western_digits("رقم القطعة ٣١٨") == "رقم القطعة 318"


def test_a_national_id_in_arabic_indic_digits_is_found() -> None:
    text = "جمهورية مصر العربية\nالرقم القومي ٢٨٥٠٣١٧٢٦٠٠٤٨٣\nتاريخ الإصدار ٢٠٢٤/٠٩/١٥"
    assert national_id(text) == "28503172600483"


def test_groups_split_by_spaces_and_direction_marks_are_joined() -> None:
    assert national_id("الرقم القومي \u200e2850317 2600483\u200e") == "28503172600483"
    assert national_id("٢٨٥٠٣١٧ ٢٦٠٠٤٨٣") == "28503172600483"
    mixed_sets = "۲۸۵۰۳۱۷٢٦٠٠٤٨٣"  # Persian forms from the script model, then Arabic-Indic
    assert national_id(mixed_sets) == "28503172600483"


def test_plausible_ids_come_first_and_others_are_still_listed() -> None:
    text = "رقم الطلب 99999999999999 والرقم القومي 30107092701935"
    found = national_ids(text)
    assert [c.digits for c in found] == ["30107092701935", "99999999999999"]
    assert found[0].plausible and not found[1].plausible
    assert found[0].written == "30107092701935"


def test_an_id_next_to_a_phone_number_on_one_line() -> None:
    text = "30107092701935 01012345678"
    assert national_id(text) == "30107092701935"


def test_numbers_that_are_not_ids() -> None:
    assert national_ids("رقم القطعة 318 والمساحة 452 مترا") == []
    assert national_id("2010709270193") is None  # 13 digits
    assert national_id("301070927019351") is None  # 15 digits in one run
    assert not plausible_national_id("40107092701935")  # century 4
    assert not plausible_national_id("30113092701935")  # month 13
    assert not plausible_national_id("30107099901935")  # governorate 99
    assert plausible_national_id("30107098801935")  # born abroad


# --- ocr.digit_shapes: the second reading, by digit shape ---------------------------------------------------------


def _strip(text: str, font: str, size: int = 48) -> object:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (60 + size * len(text), size * 2), 255)
    ImageDraw.Draw(image).text((30, size // 3), text, font=ImageFont.truetype(font, size), fill=0)
    return np.asarray(image)


def test_digit_shapes_read_arabic_indic_and_western_numbers() -> None:
    from ocr.digit_shapes import read_number, references

    assert len(references("arabic")) >= 40 and len(references("latin")) >= 40  # several installed fonts each
    naskh = "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf"
    read = read_number(_strip("٢٨٥٠٧٢١٢١٠٣٤٥٦", naskh))
    assert read is not None and (read.digits, read.script) == ("28507212103456", "arabic")
    assert read.margin > 0.25 and len(read.reads) == 14
    latin = read_number(_strip("29001012601235", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    assert latin is not None and (latin.digits, latin.script) == ("29001012601235", "latin")
    assert read_number(_strip("", naskh)) is None  # a blank strip holds no number


def test_digit_shapes_tell_the_confusable_arabic_indic_digits_apart() -> None:
    """٢ and ٣ (one hook or two), ٠ and ٥ (a dot or a ring): the pairs Tesseract's Arabic models confuse."""
    from ocr.digit_shapes import read_number

    for font in ("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
                 "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
                 "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf"):
        read = read_number(_strip("٢٣٢٣٠٥٠٥", font))
        assert read is not None and read.digits == "23230505", font
