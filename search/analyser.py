"""The one text analyser of Sijill's search, used at index time and at query time by every engine.

It mirrors, step for step, the Elasticsearch analyser in :mod:`search.elastic` so that results do not change when a
deployment moves from the embedded engine to Elasticsearch:

=====================================  ==================================================================
here                                   Elasticsearch (``sijill_text`` analyser)
=====================================  ==================================================================
remove Quranic marks, superscript alef  ``mapping`` char filter ``sijill_marks``
words: runs of letters, digits, marks  ``standard`` tokenizer (UAX #29)
``str.lower``                          ``lowercase``
every Unicode decimal digit → 0-9      ``decimal_digit``
tashkeel, tatweel, alef forms, ى, ة    ``arabic_normalization`` (Lucene ``ArabicNormalizer``)
light10 prefixes and suffixes          ``arabic_stem`` (Lucene ``ArabicStemmer``)
Snowball English (Porter 2)            ``stemmer`` with ``language: porter2``
=====================================  ==================================================================

Known differences (tokenisation only): UAX #29 keeps ``3.5`` and ``a_b`` as one word, here they are two; neither
matters for names, national IDs (14 digits in one run) or OCR text. Diacritic and tatweel stripping use
``pyarabic`` and English stemming ``snowballstemmer``; the Arabic light stemmer is the seven prefixes and ten suffixes
of Lucene's ``ArabicStemmer`` (Larkey's light10), written out because no Python package implements that exact
algorithm and matching Elasticsearch is the point.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from pyarabic import araby

#: Marks Elasticsearch's ``arabic_normalization`` does not remove; both sides drop them before anything else.
EXTRA_MARKS = (
    [chr(c) for c in range(0x0610, 0x061B)]
    + [chr(c) for c in range(0x0653, 0x0660)]
    + ["\u0670"]
    + [chr(c) for c in range(0x06D6, 0x06DD)]
    + [chr(c) for c in range(0x06DF, 0x06E9)]
    + [chr(c) for c in range(0x06EA, 0x06EE)]
)
_EXTRA_MARKS_TABLE = {ord(c): None for c in EXTRA_MARKS}

# A word: letters, digits and Arabic combining marks (tashkeel would otherwise split a word in two; ``\w`` does not
# cover category Mn). The underscore is not part of a word.
_WORD = re.compile(r"(?:[^\W_]|[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED])+")

_DIGITS = {
    c: str(unicodedata.decimal(chr(c)))
    for c in range(sys.maxunicode + 1)
    if unicodedata.category(chr(c)) == "Nd" and not chr(c).isascii()
}
_ALEF_YEH_TEH = str.maketrans({"آ": "ا", "أ": "ا", "إ": "ا", "ى": "ي", "ة": "ه"})

# Lucene ArabicStemmer (light10), in Lucene's order: the first matching prefix is removed, then every suffix in turn.
ARABIC_PREFIXES = ("ال", "وال", "بال", "كال", "فال", "لل", "و")
ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي")
_LATIN = re.compile(r"[a-z]")
_english = snowballstemmer.stemmer("english")


@dataclass(frozen=True)
class Token:
    """One analysed word and where its original spelling sits in the text (for highlighting)."""

    term: str
    start: int
    end: int


def normalise(word: str) -> str:
    """Lower-case, ASCII digits, no diacritics or tatweel, one alef, ي for ى, ه for ة (no stemming)."""
    word = word.translate(_EXTRA_MARKS_TABLE).lower().translate(_DIGITS)
    word = araby.strip_tatweel(araby.strip_tashkeel(word))
    return word.translate(_ALEF_YEH_TEH)


def strip_arabic_prefix(word: str) -> str:
    """Remove the first light10 prefix that leaves enough of the word (a one-letter prefix needs four letters)."""
    n = len(word)
    for prefix in ARABIC_PREFIXES:
        if len(prefix) == 1 and n < 4:
            continue
        if n < len(prefix) + 2:
            continue
        if word.startswith(prefix):
            return word[len(prefix):]
    return word


def strip_arabic_suffixes(word: str) -> str:
    """Remove each light10 suffix in turn while at least two letters remain."""
    for suffix in ARABIC_SUFFIXES:
        if len(word) >= len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=200_000)
def analyse_word(word: str) -> str:
    """The index term of one word: normalised, Arabic light stem, English Porter 2 stem."""
    term = strip_arabic_suffixes(strip_arabic_prefix(normalise(word)))
    if _LATIN.search(term):
        term = _english.stemWord(term)
    return term


def prefix_term(word: str) -> str:
    """The term a prefix query (``word*``) looks for: normalised and without its Arabic prefix, never stemmed.

    Elasticsearch does not analyse prefix queries either, so both engines receive this same string.
    """
    return strip_arabic_prefix(normalise(word))


def tokens(text: str) -> list[Token]:
    """Every word of ``text`` with its term and its character span in ``text``."""
    out = []
    for match in _WORD.finditer(text):
        term = analyse_word(match.group())
        if term:
            out.append(Token(term, match.start(), match.end()))
    return out


def analyse(text: str) -> list[str]:
    """The terms of ``text`` in order (what the embedded engine stores and what a query is turned into)."""
    return [analyse_word(m.group()) for m in _WORD.finditer(text) if analyse_word(m.group())]
