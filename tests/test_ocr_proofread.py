"""ocr.proofread: the Arabic comma and stop put back, and doubted non-words one OCR slip from a common word corrected.

Every case here is our own text, not the benchmark's: the slips are the kinds ``ara`` makes (dots moved, a letter
dropped or made up, the comma read as "»" or as a hamza), on words of a service centre's papers.
"""

from __future__ import annotations

import pytest

from ocr import recognise
from ocr.proofread import DOUBTED, correct_word, proofread, restore_punctuation
from ocr.recognise import Word
from ocr_evaluation.synthetic import A5, arabic_fonts, render_page


def line_of(*texts: str, line: int = 1, paragraph: int = 1, confidence: float = 90.0) -> list[Word]:
    """Words of one line, right to left as Arabic runs: the first text is the rightmost word."""
    return [Word(text, confidence, 1500 - 150 * i, 100 * line, 120, 40, 1, line, paragraph)
            for i, text in enumerate(texts)]


def texts(words: list[Word]) -> list[str]:
    return [word.text for word in words]


@pytest.mark.parametrize(("seen", "meant"), [
    ("التراخبص", "التراخيص"),  # ي read as its sibling ب
    ("المواطتين", "المواطنين"),  # ن read as ت
    ("المشروغ", "المشروع"),  # ع read as غ
    ("المستنداث:", "المستندات:"),  # the colon stays
    ("(الظلبات)", "(الطلبات)"),  # and the brackets
    ("مساجة", "مساحة"),  # ح read as ج
])
def test_a_doubted_non_word_becomes_the_common_word_one_slip_away(seen: str, meant: str) -> None:
    assert correct_word(seen, 40.0) == meant


@pytest.mark.parametrize("word", [
    "بعل",  # a true word, if rarer than its neighbour "بعد"
    "الادارى",  # the Egyptian spelling of "الإداري": a variant, not a slip
    "الموافقه",  # ه for ة: the same
    "وبمجالس",  # "مجالس" behind two prefixes
    "شت",  # two letters say too little
    "التقدبم",  # as near "التقديم" as "التقدم": a guess, so nothing changes
    "Sohag", "١٢٣٤", "الطلب2024", "",
    "المواطتين2", "xالمواطتين", "٣المواطتين",  # a slip beside a digit or a Latin letter: not this module's to judge
])
def test_words_that_are_not_slips_or_not_sure_ones_are_left(word: str) -> None:
    assert correct_word(word, 10.0) is None


def test_only_doubted_words_are_corrected() -> None:
    assert correct_word("التراخبص", DOUBTED - 1) == "التراخيص"
    assert correct_word("التراخبص", DOUBTED) is None


def test_true_prose_read_as_if_every_word_were_doubted_is_left_as_it_is() -> None:
    """Our own paragraph of a centre's notice, with prefixes, names, Egyptian spellings and rarer words."""
    notice = (
        "تعلن الوحدة المحلية لمركز ومدينة طهطا أن مواعيد استقبال طلبات التصالح في مخالفات البناء تبدأ يوم الأحد "
        "القادم، وعلى المواطنين المتقدمين إحضار صورة بطاقة الرقم القومى وعقد الملكية المسجل أو المشهر، ورسم "
        "كروكى للموقع معتمد من مهندس نقابى، مع سداد رسوم الفحص بالخزينة. وتهيب الوحدة بالسادة الملاك سرعة التقدم "
        "قبل انتهاء المهلة، وتؤكد أن الشباك الواحد يستقبل الطلبات يوميا عدا الجمعة والعطلات الرسمية، وأن الاستعلام "
        "عن الطلب متاح برقم الإيصال. وقد شارك في إعداد الخطة المهندس عبد الرحيم الجرجاوى مدير الإدارة الهندسية."
    )
    words = line_of(*notice.split(), confidence=0.0)
    out, changed = proofread(words)
    assert changed == 0, [(a, b) for a, b in zip(texts(words), texts(out), strict=True) if a != b]


def test_a_guillemet_that_closes_nothing_is_a_comma() -> None:
    words = line_of("استلم»", "الطلب»", "وأحاله", "للفحص.")
    assert texts(restore_punctuation(words)) == ["استلم،", "الطلب،", "وأحاله", "للفحص."]
    quoted = line_of("مشروع", "«الشباك", "الواحد»", "بالمركز")
    assert texts(restore_punctuation(quoted)) == texts(quoted)


def test_a_hamza_glued_to_a_common_word_is_a_comma_or_at_a_paragraphs_end_a_stop() -> None:
    """However sure Tesseract was: the comma and the hamza look alike to it, and the words say which it was."""
    first = line_of("سدد", "الرسومء", "واستلم", line=1, confidence=95.0)
    last = line_of("الإيصال", "كاملاء", line=2, confidence=95.0)  # "كاملا" ends the paragraph: leftmost, last line
    after = line_of("راجع", "الملفء", "ثم", "وقعه", line=3, paragraph=2, confidence=95.0)
    out = restore_punctuation(first + last + after)
    assert texts(out) == ["سدد", "الرسوم،", "واستلم", "الإيصال", "كاملا.", "راجع", "الملف،", "ثم", "وقعه"]
    true_hamzas = line_of("إنشاء", "البناء", "سماء", "للأعضاء", "جزء", "الرسومء2")
    assert texts(restore_punctuation(true_hamzas)) == texts(true_hamzas)


def test_proofreading_keeps_each_words_box_and_confidence() -> None:
    words = line_of("المواطتين»", "كافة", confidence=30.0)
    out, changed = proofread(words)
    assert changed == 1 and texts(out) == ["المواطنين،", "كافة"]
    assert [(w.left, w.top, w.width, w.confidence, w.line) for w in out] == \
        [(w.left, w.top, w.width, w.confidence, w.line) for w in words]


def test_an_amiri_page_keeps_its_commas_and_its_closing_stop() -> None:
    """Our own sentences in Amiri: ``ara`` reads each "،" as "»" and the paragraph's stop as a hamza; the reading
    with proofreading has the punctuation the page has."""
    amiri = [font for font in arabic_fonts() if font.name == "Amiri"]
    if not amiri:
        pytest.skip("Amiri is not installed (fonts-hosny-amiri)")
    lines = ["سلم المواطن الملف، وسدد الرسوم، وانتظر دوره أمام الشباك، حتى قبل الطلب.",
             "فحص المهندس الموقع، وكتب تقريره، ورفعه إلى رئيس الإدارة، ليعتمده."]
    page = render_page(lines, amiri[0].path, size=A5)
    raw = recognise(page.image, proofreading=False).text
    proofread_text = recognise(page.image).text
    assert "»" in raw  # what ara makes of Amiri's comma, or this test proves nothing
    assert "»" not in proofread_text
    assert proofread_text.count("،") >= raw.count("»") >= 4
