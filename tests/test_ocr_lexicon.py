"""ocr.lexicon: the ara model's own dictionary, and the second look's use of it to choose between two Arabic words."""

from __future__ import annotations

import pytest

from ocr.arabic_first import Reading, _decide_line
from ocr.lexicon import arabic_words, is_word, known_here
from ocr.recognise import Word

pytestmark = pytest.mark.skipif(not known_here(), reason="the ara model's dictionary cannot be read here")


def _word(text: str, confidence: float, left: int, right: int) -> Word:
    return Word(text, confidence, left, 10, right - left, 40, 1, 1)


def _script(text: str, confidence: float, left: int, right: int) -> Reading:
    return Reading(text, confidence, left, right, "Arabic")


def test_the_dictionary_is_the_models_own() -> None:
    assert len(arabic_words()) > 50_000
    for word in ("الطلب", "المحلية", "الموافقة", "ترخيص", "البناء"):
        assert is_word(word) and is_word(word + ":") and is_word("(" + word + ")"), word
    for misreading in ("الطاب", "الموافمة", "لمرك", "وفما", "Permit", "١٢٣", "", "|..", "©", "+", "و"):
        assert not is_word(misreading), misreading


def test_a_dictionary_word_replaces_a_non_word_the_script_model_outreads() -> None:
    """Amiri's ligatures: ``ara`` read "الموافمة" (72) and "وفما" (30) where the script model read "الموافقة" (80)
    and "وفقا" (85), words of the dictionary: they replace the non-words without the usual 15-point lead."""
    line = [_word("قرر:", 93, 1440, 1510), _word("الموافمة", 72, 1290, 1420), _word("على", 93, 1215, 1270),
            _word("وفما", 30, 845, 914)]
    others = [_script("قرر:", 88, 1440, 1510), _script("الموافقة", 80, 1290, 1420), _script("على", 93, 1215, 1270),
              _script("وفقا", 85, 845, 914)]
    out, replaced = _decide_line(line, others)
    assert replaced == 2
    assert [w.text for w in out] == ["قرر:", "الموافقة", "على", "وفقا"]


def test_arabic_for_arabic_keeps_aras_order() -> None:
    """Tesseract boxed "الترخيص" over the three words before it; replacing "وفما" must not move it there."""
    line = [_word("الموافقة", 92, 1290, 1420), _word("على", 93, 1215, 1270), _word("منح", 93, 1140, 1200),
            _word("الترخيص", 92, 938, 1419), _word("وفما", 30, 845, 914)]
    out, replaced = _decide_line(line, [_script("وفقا", 85, 845, 914)])
    assert replaced == 1
    assert [w.text for w in out] == ["الموافقة", "على", "منح", "الترخيص", "وفقا"]


def test_a_dictionary_word_stays_and_no_word_is_lost() -> None:
    """"بعد" (a word, 80) is not replaced by the script model's "بعل" (a word too, 95); nor "لمر ومدينة" by the
    script model's "ومدينة" alone (a word of ara's would be lost); nor a non-word by a less confident word."""
    line = [_word("بعد", 80, 1400, 1460), _word("لمر", 8, 906, 970), _word("ومدينة", 68, 754, 961),
            _word("الطاب", 75, 600, 700)]
    others = [_script("بعل", 95, 1400, 1460), _script("ومدينة", 90, 754, 961), _script("الطلب", 70, 600, 700)]
    out, replaced = _decide_line(line, others)
    assert replaced == 0 and [w.text for w in out] == ["بعد", "لمر", "ومدينة", "الطاب"]
