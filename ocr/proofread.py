"""A proofreader's pass over the Arabic reading: the slips ``ara`` makes that the page's words themselves give away.

Two kinds, both measured on pages of prose nobody here wrote (the seed articles, ``bench/ocr_accuracy.py --scripts
prose``) as well as on our own forms:

**The Arabic comma and stop.** ``ara`` 4.1.0 reads "،" as "»" on Amiri (122 times on 48 pages, where the texts had
no guillemet at all) and now and then as a hamza glued to the word ("عليها،" -> "عليهاء", "سوهاج،" -> "سوهاجء"),
as it read a paragraph's closing stop ("راضيا." -> "راضياء"). A "»" on a line with no "«" is a comma; a hamza that
turns a common word into an unknown one is a comma, or a stop at the end of a paragraph (``restore_punctuation``).

**Spelling.** ``ara`` 4.1.0 misreads some typefaces' letters in ways no second reading fixes. On Amiri, whose
ligatures stack letters (م over ح, ل over ب), it drops or swaps a letter of words it is fairly sure of ("مركز" ->
"مركد", "الهاتف" -> "الماتف", "مدينة" -> "مديئة"), and the ``Arabic`` script model mostly misreads them the same way.
What such a slip leaves is usually a string no Arabic writer uses, one edit away from a common word. That is the
classic noisy channel of spelling correction: the word meant is the candidate ``c`` that maximises
P(c) x P(seen | c), here in log10 units:

    score(c) = zipf(c) - cost(edit from c to what was seen)

``zipf`` is the word's frequency on the Zipf scale (log10 of its frequency per billion words) in ``wordfreq``'s large
Arabic list (Wikipedia, subtitles, news, the web; 3 MB); ``cost`` is how unlikely the slip is for an OCR engine
(``COSTS``): a letter read as its dotted sibling (ت for ن, ئ for ن) is cheap, a letter dropped or added dearer, any
other swap dearest.

Why so guarded: Arabic is dense, and a correctly read rarer word (a name, "بعل", "ضمن", "الفيوم") nearly always has a
far more common neighbour one edit away ("بعد", "من", "اليوم"). Corrected freely, the true texts of the benchmark
lost 68 words and the project's seed articles 32 of 2,271, and the reading got worse. So a word is touched only when
all of these hold:

- Tesseract doubted it (``DOUBTED``): the Amiri slips above scored 0-77, most correct words 85-97;
- it is (nearly) unknown (``RARE``), also in the spellings Egyptian writers use for the same word (no hamza, final
  ى for ي, ه for ة: "الاصلاح", "الإدارى"), which are variants, never corrections, and also behind a prefix
  (``CLITICS``): "بمجالس" is "مجالس" with "ب";
- both it and the correction have ``MIN_LETTERS``;
- one candidate is common (``COMMON``), beats the word as seen (``MARGIN``) and leads the runner-up (``LEAD``).

Measured with these settings (pages of 10 lines, four fonts, eight degradations; before -> after, mean CER): the seed
articles 1.28 -> 0.99 % and 1.14 -> 0.89 % (seeds 2026 and 7), our forms 0.93 -> 0.86 %, 1.447 -> 1.431 % and
1.199 -> 1.200 % (seeds 2026, 7 and 31); on the true text of the seed articles, read as if every word were doubted,
it changed 1 word of 2,271 ("مميكنة", a word of Egyptian officialese). The word's box and confidence stay; only its
text changes.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from functools import cache
from itertools import product
from typing import TYPE_CHECKING

from wordfreq import get_frequency_dict

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ocr.recognise import Word

__all__ = ["COMMON", "DOUBTED", "RARE", "correct_word", "load", "proofread", "restore_punctuation", "zipf"]

LETTERS = "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي"
"""The Arabic letters a candidate may be built from."""
SIBLINGS = ("بتثنيئى", "جحخ", "دذ", "رز", "سش", "صض", "طظ", "عغ", "فق", "هة", "اأإآل", "وؤ")
"""Letters that share a body and differ by dots, a hamza, or (ا and ل) a tail: the slips an OCR engine makes most.
Drawn from the Arabic letter forms, not from the benchmark's errors."""
COSTS = {"sibling": 1.5, "drop": 2.0, "add": 2.0, "other": 2.5}
"""log10 units of how unlikely each slip is: a candidate ``cost`` more common than the word as seen just balances
it. "drop" is a letter the reading left out (the candidate is one letter longer), "add" a letter it made up."""
DOUBTED = 80.0
"""Only words Tesseract scored below this are candidates for correction."""
RARE = 1.5
"""Only words rarer than this Zipf value (3 in 100 million words) are corrected. Allowing up to 2.5 (the Amiri slips
"وجلها" and "مرك" are 2.1) corrected more wrongly than rightly on our forms, and changed 8 true words of the seed
articles instead of 2."""
COMMON = 3.0
"""A correction must be at least this common (1 in a million words)."""
MARGIN = 1.0
"""... and score above the word as seen by more than this: at least ten times as likely, slip included. At 0 the
Amiri misreading "ومجلها" (of "وسجلها", which wordfreq barely knows) became "ومثلها", two letters off instead of one,
on three pages of five corpora; at 1.0 the seed articles read as well and our forms better."""
LEAD = 1.0
"""... and above the next candidate by at least this, or it is a guess between two words and nothing changes."""
HAMZA_LEAD = 2.0
"""A word read with a final hamza is a word and a comma when it is this much more common without the hamza."""
MIN_LETTERS = 3
"""Words and corrections shorter than this are left alone: two letters say too little ("لمر" read for "لمركز" is
not "لم")."""
CLITICS = ("وال", "فال", "بال", "كال", "لل", "و", "ف", "ب", "ل", "ك")
"""Prefixes Arabic writes onto a word ("و" and, "ب" with, "لل" for the). wordfreq counts "بمجالس" apart from
"مجالس", so a common word behind a prefix looks rare; it is valued as its stem less ``CLITIC_COST`` instead, which
keeps "ومؤكدة" or "بالقائمين" from being "corrected" by dropping the prefix."""
CLITIC_COST = 1.0

_SIBLING = {letter: set(group) for group in SIBLINGS for letter in group}
_ARABIC_WORD = re.compile(r"^(\W*)([\u0621-\u064a]{2,})(\W*)$")
"""Punctuation, an Arabic word, punctuation: a word with a digit or a Latin letter beside its letters is no slip of
spelling (nor of a comma) that this module can judge."""
_HAMZA_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})
_SPELLING_OPTIONS = {**dict.fromkeys("اأإآ", "اأإآ"), **dict.fromkeys("يى", "يى"), **dict.fromkeys("هة", "هة")}
MAX_SPELLINGS = 256


def load() -> None:
    """Load wordfreq's Arabic list now (0.23 s measured, once per process), e.g. before timing pages: it is otherwise
    loaded by the first page with a doubted non-word."""
    _frequencies()


@cache
def _frequencies() -> dict[str, float]:
    """wordfreq's large Arabic list: each word's share of all words (wordfreq keeps the loaded list)."""
    return get_frequency_dict("ar", "large")


def zipf(word: str) -> float:
    """The word's Zipf frequency in wordfreq's large Arabic list; 0.0 for a word it never saw."""
    share = _frequencies().get(word)
    return math.log10(share) + 9.0 if share else 0.0


def _spellings(word: str) -> Iterator[str]:
    """The word as Egyptian writers may spell it: each alef with or without its hamza or madda, a final ي or ى, a
    final ة or ه. At most ``MAX_SPELLINGS`` (a word with many alefs varies only its first ones)."""
    options = [_SPELLING_OPTIONS.get(ch, ch) if ch in "اأإآ" or i == len(word) - 1 else ch
               for i, ch in enumerate(word)]
    count = 1
    for i, choice in enumerate(options):
        if count * len(choice) > MAX_SPELLINGS:
            options[i] = word[i]
        else:
            count *= len(choice)
    return ("".join(letters) for letters in product(*options))


def _variant_value(word: str) -> float:
    """The highest Zipf value of any spelling of the word (``_spellings``)."""
    frequencies = _frequencies()
    best = max((frequencies.get(spelling, 0.0) for spelling in _spellings(word)), default=0.0)
    return math.log10(best) + 9.0 if best else 0.0


def _candidates(core: str) -> dict[str, float]:
    """Every common word one slip away from ``core``, with its score."""
    scores: dict[str, float] = {}

    def consider(candidate: str, cost: float) -> None:
        value = zipf(candidate)
        if value >= COMMON and len(candidate) >= MIN_LETTERS and value - cost > scores.get(candidate, -math.inf):
            scores[candidate] = value - cost

    for i, seen in enumerate(core):
        consider(core[:i] + core[i + 1:], COSTS["add"])
        for letter in LETTERS:
            if letter != seen:
                kind = "sibling" if letter in _SIBLING.get(seen, ()) else "other"
                consider(core[:i] + letter + core[i + 1:], COSTS[kind])
    for i in range(len(core) + 1):
        for letter in LETTERS:
            consider(core[:i] + letter + core[i:], COSTS["drop"])
    return scores


def _seen_value(core: str) -> float:
    """How common the word as read is: its own Zipf value, that of another spelling of it, or its stem's behind a
    prefix (``CLITICS``), whichever is highest."""
    value = _variant_value(core)
    for clitic in CLITICS:
        stem = core.removeprefix(clitic)
        if stem != core and len(stem) >= MIN_LETTERS:
            value = max(value, _variant_value(stem) - CLITIC_COST)
    return value


@cache
def _correction(core: str) -> str | None:
    if len(core) < MIN_LETTERS:
        return None
    seen = _seen_value(core)
    if seen >= RARE:
        return None
    variant = core.translate(_HAMZA_ALEF)
    ranked = sorted(((score, word) for word, score in _candidates(core).items()
                     if word.translate(_HAMZA_ALEF) != variant), reverse=True)
    if not ranked:
        return None
    best_score, best = ranked[0]
    if best_score <= seen + MARGIN or (len(ranked) > 1 and best_score - ranked[1][0] < LEAD):
        return None
    return best


def _hamza_for_a_stop(core: str) -> str | None:
    """``core`` without the final hamza it was read with, when that makes a rare word a common one (by
    ``HAMZA_LEAD``: "كاملاء" passes for "ك" + "املاء", 1.9, where "كاملا" is 4.6)."""
    if len(core) <= MIN_LETTERS or not core.endswith("ء"):
        return None
    stem = _seen_value(core[:-1])
    return core[:-1] if stem >= COMMON and stem - _seen_value(core) >= HAMZA_LEAD else None


def correct_word(text: str, confidence: float) -> str | None:
    """The corrected spelling of a word Tesseract read as ``text`` at ``confidence``, or None to leave it.

    Punctuation around the letters stays as read ("للمركد:" -> "للمركز:"); a word with digits, Latin letters or
    letters split by punctuation is left alone."""
    if confidence >= DOUBTED:
        return None
    match = _ARABIC_WORD.match(text)
    if match is None:
        return None
    before, core, after = match.groups()
    corrected = _correction(core)
    return None if corrected is None else before + corrected + after


def restore_punctuation(words: list[Word]) -> list[Word]:
    """The words with the Arabic comma and stop ``ara`` misread put back.

    A "»" on a line with no "«" is a comma. A hamza glued to a word that is unknown with it and common without it
    ("عليهاء") is a comma, or a full stop when the word ends its paragraph (the last word of the paragraph's last
    line: the leftmost, as Arabic runs right to left), which is where ``ara`` read "راضيا." as "راضياء"."""
    quoting = {word.line for word in words if "«" in word.text}
    last_line: dict[tuple[int, int], int] = {}
    for word in words:
        key = (word.block, word.paragraph)
        last_line[key] = max(last_line.get(key, 0), word.line)
    leftmost: dict[int, Word] = {}
    for word in words:
        if word.line == last_line[word.block, word.paragraph] and (
                word.line not in leftmost or word.left < leftmost[word.line].left):
            leftmost[word.line] = word
    out: list[Word] = []
    for word in words:
        text = word.text
        if "»" in text and word.line not in quoting:
            text = text.replace("»", "،")
        match = _ARABIC_WORD.match(text)
        stem = _hamza_for_a_stop(match.group(2)) if match else None
        if match and stem is not None:
            stop = "." if leftmost.get(word.line) is word else "،"
            text = match.group(1) + stem + stop + match.group(3)
        out.append(word if text == word.text else replace(word, text=text))
    return out


def proofread(words: list[Word]) -> tuple[list[Word], int]:
    """The page's words with the Arabic comma and stop put back (``restore_punctuation``) and each doubted non-word
    corrected (``correct_word``), and how many words changed."""
    out: list[Word] = []
    for word in restore_punctuation(words):
        text = correct_word(word.text, word.confidence)
        out.append(word if text is None else replace(word, text=text))
    return out, sum(before.text != after.text for before, after in zip(words, out, strict=True))
