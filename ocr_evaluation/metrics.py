"""Error rates of OCR output against a known text (character and word error rate).

``normalise_for_cer`` is for *measuring only*: it removes differences that are not recognition errors (Tesseract
prints "," for the Arabic comma, may or may not emit diacritics, adds invisible direction marks and blank lines).
It is deliberately lighter than the search normalisation (no alef or taa-marbuta folding, no stemming): a misread
letter must still count. Never use it to change stored text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence

# Arabic punctuation and separators -> their ASCII counterparts.
_PUNCTUATION = {
    "\u060c": ",",  # ، Arabic comma
    "\u061b": ";",  # ؛ Arabic semicolon
    "\u061f": "?",  # ؟ Arabic question mark
    "\u066a": "%",  # ٪ Arabic percent sign
    "\u066b": ".",  # ٫ Arabic decimal separator
    "\u066c": ",",  # ٬ Arabic thousands separator
    "\u06d4": ".",  # ۔ Arabic full stop
}
# Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹) digits -> 0-9.
_DIGITS = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}
_TABLE = str.maketrans({**{ord(k): v for k, v in _PUNCTUATION.items()}, **_DIGITS})

# Tashkeel (harakat, tanween, shadda, sukun, superscript alef, Quranic marks) and tatweel.
_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640]")
_SPACES = re.compile(r"[^\S\n]+")


def normalise_for_cer(text: str) -> str:
    """Text in the form compared by ``cer`` and ``wer``. For measuring only.

    NFC; Arabic comma, semicolon, question mark, percent and decimal/thousands separators to ASCII; Arabic-Indic
    digits to 0-9; tashkeel and tatweel removed; invisible format characters (direction marks, zero-width joiners)
    removed; runs of spaces collapsed to one, each line stripped, empty lines dropped, lines joined by "\\n".
    """
    text = unicodedata.normalize("NFC", text).translate(_TABLE)
    text = _MARKS.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Edit distance (insertions, deletions, substitutions, each costing 1) between two sequences.

    Uses rapidfuzz when it is installed (a test dependency); otherwise a pure-Python dynamic programme in
    O(len(a) * len(b)) time and O(min(len(a), len(b))) memory.
    """
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
        return levenshtein_dp(a, b)
    return int(Levenshtein.distance(a, b))


def levenshtein_dp(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """The pure-Python edit distance, two rows of the dynamic programme."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def cer(truth: str, hypothesis: str, *, normalise: bool = True) -> float:
    """Character error rate: edit distance / number of characters of the truth (after ``normalise_for_cer``).

    Can exceed 1 when the hypothesis is much longer than the truth. With an empty truth: 0.0 for an empty
    hypothesis, 1.0 otherwise.
    """
    if normalise:
        truth, hypothesis = normalise_for_cer(truth), normalise_for_cer(hypothesis)
    if not truth:
        return 0.0 if not hypothesis else 1.0
    return levenshtein(truth, hypothesis) / len(truth)


def wer(truth: str, hypothesis: str, *, normalise: bool = True) -> float:
    """Word error rate: edit distance over whitespace-separated words / number of words of the truth."""
    if normalise:
        truth, hypothesis = normalise_for_cer(truth), normalise_for_cer(hypothesis)
    truth_words, hypothesis_words = truth.split(), hypothesis.split()
    if not truth_words:
        return 0.0 if not hypothesis_words else 1.0
    return levenshtein(truth_words, hypothesis_words) / len(truth_words)
