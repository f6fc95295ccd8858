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


def test_digit_shapes_cut_a_row_into_its_numbers_and_read_a_dates_slashes() -> None:
    """A row of three amounts is three numbers (Amiri sets its ١ with gaps as wide as some word spaces), a date is
    one, with its slashes; an Arabic word's letters are read with no confidence."""
    from ocr.digit_shapes import read_runs

    for font in ("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
                 "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf"):
        runs = read_runs(_line("٦٠ ٥١٤ ١٣١٠", font))
        assert [r.read.digits for r in runs] == ["1310", "514", "60"], font  # left to right on the page
        assert all(r.read.script == "arabic" and r.read.margin > 0.3 for r in runs), font
        date = read_runs(_line("٢٠٢٥/١١/٠٩", font))
        assert [r.read.digits for r in date] == ["2025/11/09"], font
        words = read_runs(_line("وتعتمد اللجنة المحضر", font))
        assert all(r.read.margin < 0.15 for r in words), font


# --- ocr.arabic_first: Arabic-Indic runs the readings missed, read by digit shape (no Tesseract) -------------------


def _line(text: str, font: str) -> object:
    """One line drawn as the synthetic pages draw it (right to left, shaped), as a grayscale array."""
    import numpy as np

    from ocr_evaluation.synthetic import render_page

    page = render_page([text], __import__("pathlib").Path(font), size=(148.0, 60.0))
    return np.asarray(page.image.convert("L"))


def _ink_word(gray: object, text: str, confidence: float, model: str = "ara") -> object:
    """A word of the first reading covering all the line's ink."""
    import numpy as np

    from ocr.recognise import Word

    ink = np.asarray(gray) < 128
    ys, xs = np.nonzero(ink)
    return Word(text, confidence, int(xs.min()), int(ys.min()), int(xs.max() - xs.min()) + 1,
                int(ys.max() - ys.min()) + 1, 1, 1, model=model)


def _shape_read(text: str, font: str, ara: str, others: list[tuple[str, float]], row: bool = False) -> list:
    from ocr.arabic_first import Reading, _numbers_by_shape

    gray = _line(text, font)
    word = _ink_word(gray, ara, 20.0)
    readings = [Reading(t, c, word.left, word.left + word.width, "eng") for t, c in others]
    line, _count = _numbers_by_shape(gray, [word], readings, row=row)
    return line


FONTS_FOR_SHAPES = ("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
                    "/usr/share/fonts/truetype/noto/NotoKufiArabic-Regular.ttf",
                    "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf")


def test_an_id_of_arabic_indic_digits_read_as_junk_becomes_its_digits() -> None:
    """``ara`` read an ID alone on its line as Arabic junk, the English model as look-alike capitals: the shapes
    give the 14 digits, in Arabic-Indic digits."""
    for font in FONTS_FOR_SHAPES:
        line = _shape_read("٢٩٧٠٥١٤٢٦٠٣٨١٧", font, "لاو را", [("YAVOIEYI.YAIV", 30.0)])
        assert [w.text for w in line] == ["٢٩٧٠٥١٤٢٦٠٣٨١٧"], font
        assert line[0].model == "shape"


def test_a_row_of_arabic_indic_amounts_keeps_its_numbers_in_reading_order() -> None:
    """A low row read as plausible words (``row``: no reading needed), each number a word, the first on the
    right as the line is read."""
    for font in FONTS_FOR_SHAPES:
        line = _shape_read("٤٥ ٦٠٨ ١٢٧٥", font, "وامجم", [], row=True)
        assert " ".join(w.text for w in line) == "٤٥ ٦٠٨ ١٢٧٥", font


def test_a_date_after_its_label_keeps_the_label() -> None:
    from ocr.arabic_first import Reading, _numbers_by_shape
    from ocr.recognise import Word

    font = FONTS_FOR_SHAPES[0]
    gray = _line("تاريخ التحرير ٢٠٢٥/١١/٠٩", font)
    whole = _ink_word(gray, "", 0.0)
    # The label on the right (about the first half of the ink), read confidently; the date doubted.
    middle = whole.left + whole.width // 2
    label = Word("تاريخ التحرير", 93.0, middle, whole.top, whole.left + whole.width - middle, whole.height, 1, 1)
    date = Word("١١/٠0/1١١6", 27.0, whole.left, whole.top, middle - whole.left - 20, whole.height, 1, 1)
    reading = Reading("٢٠٢٥/١١/٠٩", 40.0, date.left, date.left + date.width, "Arabic")
    line, count = _numbers_by_shape(gray, [label, date], [reading])
    assert [w.text for w in line] == ["تاريخ التحرير", "٢٠٢٥/١١/٠٩"] and count == 1


def test_western_digits_and_arabic_words_never_become_arabic_indic_digits() -> None:
    """Western digits stay Western (the shapes say which set: ``ara``'s "31981" for a row "319 81 125" becomes the
    row's numbers, whose digits it holds in order); an Arabic line doubted and read by the English model as a number
    ("395" at 85, as it read "المتابعة") keeps its words: letters are no digits' shapes."""
    for font in FONTS_FOR_SHAPES:
        western = _shape_read("319 81 125", font, "31981", [("319", 90.0)])
        assert not any(ch in "٠١٢٣٤٥٦٧٨٩" for w in western for ch in w.text), font
        assert " ".join(w.text for w in western) in ("31981", "319 81 125"), font  # ara's digits, or all of them
        for row in (False, True):
            arabic = _shape_read("وتعتمد اللجنة المحضر", font, "وتعتمد اللجنة", [("395", 85.0)], row=row)
            assert [w.text for w in arabic] == ["وتعتمد اللجنة"], font


def test_digit_shapes_on_a_strip_without_a_row() -> None:
    """Blank paper, or two blobs one above the other's line (no row between them): no run, and no error (the
    first version failed on the second, met on a skewed noisy page)."""
    import numpy as np

    from ocr.digit_shapes import read_runs

    blank = np.full((60, 200), 255, np.uint8)
    assert read_runs(blank) == []
    apart = blank.copy()
    apart[2:14, 20:30] = 0
    apart[44:56, 150:160] = 0
    assert read_runs(apart) == []


def _number_words(gray: object, texts: list[str], confidence: float = 95.0) -> list:
    """Words of the first reading over each number of a row, left to right on the page, where the shape reader
    places the numbers (only their boxes are taken from it; the ink gaps alone do not part Western numbers: a 1's
    bearings are as wide as a word space)."""
    import numpy as np

    from ocr.digit_shapes import read_runs
    from ocr.recognise import Word

    ys = np.nonzero((np.asarray(gray) < 128).any(axis=1))[0]
    top, height = int(ys.min()), int(ys.max() - ys.min()) + 1
    runs = read_runs(gray)
    assert len(runs) == len(texts), [r.read.digits for r in runs]
    return [Word(text, confidence, r.left, top, r.right - r.left, height, 1, 1) for text, r in zip(texts, runs,
                                                                                                    strict=True)]


def test_a_western_row_gets_back_the_digits_ara_dropped_and_no_others() -> None:
    """``ara`` read a table row's last amount confidently short ("5" at 96 for 975): the shapes hold its digits and
    more, so the row is read by shape, in Western digits. A digit ``ara`` read differently, with no other reading
    to agree with the shapes, stays as read; a row read right stays as it is."""
    from ocr.arabic_first import Reading, _numbers_by_shape

    font = FONTS_FOR_SHAPES[0]
    gray = _line("110 602 975", font)
    short = _number_words(gray, ["110", "602", "5"])
    line, count = _numbers_by_shape(gray, short, [], row=True)
    assert [w.text for w in line] == ["110", "602", "975"] and count == 1
    other = _number_words(gray, ["110", "602", "976"])
    assert [w.text for w in _numbers_by_shape(gray, other, [], row=True)[0]] == ["110", "602", "976"]
    english = [Reading("110602975", 70.0, other[0].left, other[2].left + other[2].width, "eng")]
    assert [w.text for w in _numbers_by_shape(gray, other, english, row=True)[0]] == ["110", "602", "975"]
    right = _number_words(gray, ["110", "602", "975"])
    assert _numbers_by_shape(gray, right, [], row=True)[1] == 0


def test_a_number_ara_left_out_comes_back_when_another_model_read_it() -> None:
    """``ara`` gave a row "296 325" for 296 712 325 (nothing at all over 712), the script model read 712 there: the
    shapes read 712 too, so it is put back; with no other reading of the place it is not invented."""
    from ocr.arabic_first import Reading, _numbers_by_shape

    gray = _line("296 712 325", FONTS_FOR_SHAPES[1])
    left, middle, right = _number_words(gray, ["296", "712", "325"])
    script = [Reading("712", 93.0, middle.left, middle.left + middle.width, "Arabic")]
    line, _count = _numbers_by_shape(gray, [left, right], script)
    assert [w.text for w in line] == ["296", "712", "325"]
    assert [w.text for w in _numbers_by_shape(gray, [left, right], [], row=True)[0]] == ["296", "325"]


def test_a_number_of_two_digit_sets_is_a_misread_however_confident() -> None:
    """A number is printed in one digit set: ``ara``'s "٠١/11/7١72" at 62 (above the doubt line) is read again by
    shape, with no model reading needed; a number in one set is not."""
    from ocr.arabic_first import _mixed_digit_sets, _numbers_by_shape
    from ocr.recognise import Word

    assert _mixed_digit_sets("٠١/11/7١72") and not _mixed_digit_sets("٢٠٢٤/١١/١٠") and not _mixed_digit_sets("2024")
    gray = _line("تاريخ التحرير ٢٠٢٥/١١/٠٩", FONTS_FOR_SHAPES[0])
    whole = _ink_word(gray, "", 0.0)
    middle = whole.left + whole.width // 2
    label = Word("تاريخ التحرير", 93.0, middle, whole.top, whole.left + whole.width - middle, whole.height, 1, 1)
    date = Word("٠٩/11/7١25", 62.0, whole.left, whole.top, middle - whole.left - 20, whole.height, 1, 1)
    line, count = _numbers_by_shape(gray, [label, date], [])
    assert [w.text for w in line] == ["تاريخ التحرير", "٢٠٢٥/١١/٠٩"] and count == 1


def test_digit_shapes_part_noto_sans_numbers_whose_steps_hide_the_space() -> None:
    """Noto Sans draws ٠ and ١ off their advance's centre: across the space of "١٧٥٠ ١١٧" the centres stepped no
    more than inside a number, and the two amounts came out as one ("1750117"); the gap itself tells. Western
    numbers are not cut at a 1's wide bearings."""
    from ocr.digit_shapes import read_runs

    sans = "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf"
    assert [r.read.digits for r in read_runs(_line("٢٩٤ ١١٧ ١٧٥٠", sans))] == ["1750", "117", "294"]
    assert [r.read.digits for r in read_runs(_line("١٦٦ ٤٤٤ ١٧٥", sans))] == ["175", "444", "166"]
    assert [r.read.digits for r in read_runs(_line("٣٠١٠١١٠١١١٠٠١٠", sans))] == ["30101101110010"]
    assert [r.read.digits for r in read_runs(_line("1979 123 1025", sans))] == ["1979", "123", "1025"]


def test_an_id_ara_saw_a_scrap_of_is_read_whole() -> None:
    """``ara`` found one "word" ("لا") over the first few digits of an ID alone on its line and nothing over the
    rest: the shape reading follows the ink beyond the word, so all 14 digits come out, not 4."""
    from dataclasses import replace

    from ocr.arabic_first import _numbers_by_shape

    for font in FONTS_FOR_SHAPES:
        gray = _line("٢٨٥٠٤٢٨٢٧٤٤٥٥٥", font)
        whole = _ink_word(gray, "لا", 31.0)
        scrap = replace(whole, width=whole.width // 4)  # the leftmost quarter of the row
        line, _count = _numbers_by_shape(gray, [scrap], [], row=True)
        assert [w.text for w in line] == ["٢٨٥٠٤٢٨٢٧٤٤٥٥٥"], font


def test_a_number_boxed_wider_than_its_digits_is_read_again_by_shape() -> None:
    """``ara`` read Amiri's "234" as "4" at 95, boxed over the whole number: a line nobody doubted. The box has room
    for more digits at the page's pitch (its other numbers), so the line is read by shape and the dropped digits
    come back; a number boxed as wide as its digits is left alone."""
    from dataclasses import replace

    from PIL import Image

    from ocr.arabic_first import _digit_pitch, _too_wide_for_its_digits, reread_doubtful_lines

    gray = _line("587 2019 3310", FONTS_FOR_SHAPES[2])
    right = _number_words(gray, ["587", "2019", "3310"])
    assert not any(_too_wide_for_its_digits(w, _digit_pitch(right)) for w in right)
    short = [replace(right[0], text="7"), *right[1:]]
    assert _too_wide_for_its_digits(short[0], _digit_pitch(short))
    words, replaced = reread_doubtful_lines(Image.fromarray(gray), short, dpi=300)
    assert replaced == 1 and [w.text for w in words] == ["587", "2019", "3310"]
    assert reread_doubtful_lines(Image.fromarray(gray), right, dpi=300)[1] == 0
