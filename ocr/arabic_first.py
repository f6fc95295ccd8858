"""Arabic first: every page is read with the Arabic model alone; Latin and Arabic-Indic digits only where it doubts.

Why not ``-l ara+eng``: with both models Tesseract lets the English one compete for every word, and on Arabic-only
pages it wins now and then with Latin junk ("عمارة" -> "ck", 3-13 Latin letters a page, measured on pages nobody
here wrote), while the recognition costs ~1.75x as long. Why not ``ara`` alone: it reads Latin words (trade names,
e-mail addresses, reference codes) as Arabic junk, and Arabic-Indic digits (٢٩٠٠١٠١٢٦٠١٢٣٤ on an ID card) as
"79.:1١171017176": the ``ara`` 4.1.0 model has barely seen them.

So a second look, only at the lines the Arabic reading doubts (a word under ``DOUBT`` confidence, or characters no
Arabic word has). Those lines are cut out of the page, stacked into one small image, and read twice, each time in
one Tesseract process: by ``eng`` for Latin, and by the ``Arabic`` script model restricted to digits for
Arabic-Indic numbers (that model reads them well; it prints some as their Persian forms, which are mapped back).
Within a line, the words of the three readings are matched by their horizontal overlap, and a group of Arabic words
is replaced only when the other reading is confident and clearly more confident than the Arabic one
(``MIN_CONFIDENCE``, ``MIN_LEAD``), and looks like what it claims to be: ASCII letters or digits, or Arabic-Indic
digits only. A Latin reading must also be confirmed by script detection: the ``Arabic`` script model, which has both
alphabets, must see more Latin than Arabic letters in the same span (the English model alone read a doubted "ولا"
as "Ug" with confidence 91), and a Latin replacement needs ``MIN_LATIN`` letters or digits; the script model's own
Latin reading may win too (it read an e-mail address at 87 where ``eng`` gave 29). A confidently read Arabic word is
never replaced, which is what keeps Arabic-only pages free of Latin letters. The replaced words are put in reading
order from their positions (``logical_order``); a Latin run stays left to right inside the Arabic line.

Three further kinds of evidence, each measured on degraded pages (see the constants): the script model's confident
Arabic words replace ``ara``'s junk (``STRONG_ARABIC``: Amiri's ligatures), a name's words join a Latin run already
accepted beside them (``NEXT_TO_A_RUN``), and an Arabic word's box that reaches into a confident long number is cut
at the number's edge (``_split_at_numbers``). Last, runs of Arabic-Indic digits that no model read as digits (``ara``
writes Arabic junk, the script model Latin look-alikes) are read by digit shape (``_numbers_by_shape``).

Cost: nothing on a page the Arabic model reads confidently; otherwise two small readings of the stacked lines by
engines already loaded in this process (``ocr.engine``: no process start, no image file), bounded by ``MAX_LINES``.
The digit-shape reading adds no Tesseract call: one connected-components pass (~2 ms) over each line that is low
(``DIGIT_ROW``) or has a reading shaped like a number.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ocr.digit_shapes import read_runs
from ocr.engine import read
from ocr.lexicon import is_word, known_here
from ocr.tesseract import installed_languages

DOUBT = 60.0
"""A line is looked at again when one of its words scored below this. Correct Arabic words score ~85-97, and
slightly doubted ones 60-85 on degraded pages; Latin words and Arabic-Indic digits that ``ara`` misread score 0-45
(and a line with one of them seldom lacks such a word), so reading lines again from 75 down cost more than it found."""
MIN_CONFIDENCE = {"eng": 50.0, "Arabic": 45.0}
"""The other reading of a group of words must be at least this confident ..."""
MIN_LEAD = {"eng": 15.0, "Arabic": 15.0}
"""... and beat the Arabic reading of the same place by this many points. The ``Arabic`` script model reads a
line's Arabic-Indic digits right with confidences of only ~50-65 (measured on four fonts), where ``ara`` gives the
same place 0-15; it is read without a whitelist, because restricted to digits it forces the line's words into
digits too, with confidence 0, and reading the digits cut out alone lost the line's context and read worse."""
ADDRESS_MIN_CONFIDENCE = 30.0
"""A Latin reading shaped like an e-mail or web address (``looks_like_address``) needs only this much confidence in
place of ``MIN_CONFIDENCE``: its shape is the evidence. Measured on degraded mixed pages (noise, photo, JPEG, skew):
the English model read whole addresses right, or one letter off, at 40-49 ("mina.shenouda@qena.gov.eg" at 41), below
the bar for other words, and lost 20-30 characters a page; on Arabic text it never produced "x@y.z" or "www.x.y".
Nor does an address need to lead ``ara``'s reading of its place when that is junk (no word of it confident or
plausibly Arabic): "www.gena.gov.eg" at 32 over "08173.001/.60. الالالالالا" at 0 and 50. Over such junk it needs
no confidence at all (``JUNK_ADDRESS_MIN_CONFIDENCE``): on held-out pages (seed 31) the English model read
"www.luxor.gov.eg" exactly right at 3 and "mina.shenouda@qgena.gov.eg" at 15, where ``ara`` left 20-30 characters
of digits, dots and stutters."""
JUNK_ADDRESS_MIN_CONFIDENCE = 0.0
STRONG_LATIN = 85.0
STRONG_LETTERS = 6
"""An English reading this confident (length-weighted), in a run of confident English words with at least this many
letters, may replace the Arabic one without the script model reading Latin there too, as long as the script model
sees hardly any Arabic letters in the span (at most ``ARABIC_SHARE`` of its characters): measured, the script model
read a confidently read "Al Amal Store Co." (93-97) and "PERMIT-AMEND" (91) as Arabic-Indic digits, which the plain
script check counted against Latin. The English model's confident junk on Arabic words is short ("Ug" at 91, "awl" at
81) and the script model reads those as Arabic."""
ARABIC_SHARE = 1 / 3
MIN_LATIN = 3
"""Letters and digits a Latin replacement needs in one of its words: the English model's guesses at doubted short
Arabic words are short ("on", "Ug"), or scraps that only add up to three ("5" and "yd" for Amiri's "للمركز", which
the script model read as "Jjl" at 45), and a real Latin run (a name, a code, an address) has a longer word."""
THIN = 0.6
"""Doubtful "lines" lower than this share of the page's median line are not read again: they are rows of
tashkeel or dots that Tesseract took for lines (measured on a vowelled Amiri scan), where the English model finds
"ve" and "ell"."""
MAX_LINES = 60
"""At most this many doubtful lines are read again on one page (a page of noise must not cost minutes)."""
SECOND_LOOK_VARIABLES = {"tessedit_do_invert": "0"}
"""The cut-out lines are dark ink on white paper (the cleaned page): Tesseract need not try each doubtful line again
as white on black, which it does by default for every line it reads with low confidence, as these lines are."""
LEXICON_ARABIC = 60.0
"""The script model's reading of an Arabic word that is a dictionary word (``ocr.lexicon``) replaces ``ara``'s
non-word at this confidence, if it is no less confident than ``ara``'s (``_a_word_for_a_non_word``). A line with
such a non-word read below ``STRONG_ARABIC`` is read by the script model even when nothing else on it is doubted
(``_non_words``). Measured on three corpora of 32 pages (seeds 2026, 7, 31), the dictionary changed 20 words to
the truth and 4 away from it: "بعد" to "بعل", and three on lines the script model now read for a non-word, where
its reading also moved other decisions (an e-mail address lost its first letter)."""
STRONG_ARABIC = 85.0
"""The ``Arabic`` script model's reading of an Arabic word may replace ``ara``'s reading of the same place when at
least this confident (and ``MIN_LEAD`` ahead of it, with no word of ``ara``'s group this confident). Measured on
degraded Amiri pages: where ``ara`` 4.1.0 broke a line of Amiri ligatures into junk ("طلب بيان صلاحية موقع للبناء"
read as "طلب يان عملا حية موقم لليناء" at 0-46), the script model, which the second look runs anyway, read the same
words right at 87-93; on Arabic words it reads at 85 and more it was wrong only in writing Persian letters (ک, ی
or ھ), which are mapped back or make the word ineligible (``arabic_word``)."""
NEXT_TO_A_RUN = 35.0
"""A Latin word (or a short one like "Co" read at ``STRONG_LATIN``) next to a run of Latin words (not an address:
that stands alone) already accepted on the line, with no confident
Arabic word between them, needs only this much confidence and ``MIN_LEAD`` over a doubted, implausible Arabic reading
of its place: "Nile" of "Nile Tech Co." was read at 38 over ``ara``'s junk at 0 on a phone photo, the "Co" of "Qena
Print Co." at 97 over ``ara``'s "من" at 72 (two letters, too short for ``MIN_LATIN``). An Arabic-only page has no
accepted Latin run, so this adds no Latin letter there."""
WORD_SHAPE = 4
"""Arabic letters a script-model reading needs to count as an Arabic word's shape (``_script_reads_a_word``)."""
NEXT_TO_A_RUN_OVER_ARABIC = 70.0
"""Beside an accepted run, even a plausible Arabic reading (``PLAUSIBLE``) gives way to a capitalised Latin word
read at least this confidently, which the script model confirms as Latin and which leads by ``MIN_LEAD``: "Print"
at 76 (the script model: "Prin" at 87) over ``ara``'s "غصتوط" at 58 on a JPEG page. Both Latin-knowing models read
Kufi's "وعنوانه" as "dilgicg" at 91-92 beside "Red Sea Office": in lower case, so it stays Arabic."""
LATIN_LANG = "eng"
DIGITS_LANG = "Arabic"
"""The Arabic script model (Debian ``tesseract-ocr-script-arab``): unlike ``ara`` it knows the Arabic-Indic digits."""
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
DIGIT_SEPARATORS = "/-.:,٫٬"
_PERSIAN_TO_ARABIC = str.maketrans(PERSIAN + "کھ", ARABIC_INDIC + "كه")
"""The script model's Persian digits, kaf and heh as their Arabic forms."""
_PERSIAN_YEH_INSIDE = re.compile("ی(?=[\u0621-\u064a])")
"""A Persian yeh before another letter is the Arabic yeh (both are dotted there); at a word's end it may be either
ي or ى, so a word ending in it is not taken (``arabic_word``)."""
_BASIC_ARABIC = re.compile("[\u0621-\u063a\u0641-\u064a]+")
_WESTERN_TO_ARABIC = str.maketrans("0123456789", ARABIC_INDIC)
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3]")
_ASCII_LETTER = re.compile("[A-Za-z]")
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)
_JUNK = re.compile(r"[\[\]|©®{}<>_~^`\\]")


@dataclass(frozen=True)
class Reading:
    """One word as a second reading saw it, in the page's pixel coordinates."""

    text: str
    confidence: float
    left: int
    right: int
    model: str


@dataclass
class Section:
    """A doubtful line cut out of the page: where it came from and where it sits in the stacked image."""

    line: int
    left: int
    top: int
    y_offset: int
    height: int
    end: int
    """Column of the stacked image where the line ends (the context word, read but not kept, lies beyond)."""


def doubtful(text: str, confidence: float) -> bool:
    """A word the Arabic reading is unsure of, or one whose characters say it is not an Arabic word."""
    return confidence < DOUBT or bool(_JUNK.search(text)) or bool(_ASCII_LETTER.search(text))


def looks_latin(text: str) -> bool:
    """ASCII with a letter or a digit: a Latin word, a code, an address, or Western digits ``ara`` misread; not a row
    of Arabic-Indic digits read as their Latin look-alikes."""
    return text.isascii() and any(ch.isalnum() for ch in text) and not looks_like_misread_digits(text)


DIGIT_LOOKALIKES = frozenset("AEHILMNOPQRTVWXY")
"""Letters (either case) the Latin-knowing models print for Arabic-Indic digits they take for Latin: ٧ V, ٨ A, ١ I/l,
٥ O/o, ٤ E, ٢ Y/T/r, ٣ P/W, ... (an ID card's ٢٨٥٠٣١٧٢٦٠٠٤٨٣ came out as "YAO HV OVA N THE" with ``ara+eng``)."""


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_WEB = re.compile(r"(?:https?://|w{3,5}\.)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/\S*)?", re.IGNORECASE)
_WWW_STUTTER = re.compile(r"^w{4,5}\.", re.IGNORECASE)
"""The English model doubles a letter of a repeated run on degraded pages ("Wwww.gena.gov.eg" at 43 for
"www.qena.gov.eg", measured on a blurred page): no web address starts with four w's, so it is read as "www."."""


def looks_like_address(text: str) -> bool:
    """An e-mail address (name@host.domain) or a web address (www.host.domain, http(s)://...), whole."""
    return bool(_EMAIL.fullmatch(text) or _WEB.fullmatch(text))


def tidy_address(text: str) -> str:
    """A host name in lower case, as it is written and compared (host names ignore case): the English model reads
    "www.aswan.gov.eg" as "WWW.aSWAN.GOV.eg" on degraded pages; an e-mail keeps its name's case."""
    if _EMAIL.fullmatch(text):
        name, host = text.rsplit("@", 1)
        return f"{name}@{host.lower()}"
    return _WWW_STUTTER.sub("www.", text.lower()) if _WEB.fullmatch(text) else text


def looks_like_misread_digits(text: str) -> bool:
    """Look-alike letters only, in capitals or in a casing no word has ("oVo"): a row of Arabic-Indic digits read as
    Latin. A real Latin run has other letters, or is written as words are ("Nile", "office")."""
    letters = "".join(ch for ch in text if ch.isascii() and ch.isalpha())
    if not letters or any(ch.upper() not in DIGIT_LOOKALIKES for ch in letters):
        return False
    return not (letters.islower() or (letters[0].isupper() and letters[1:].islower()))


def looks_like_digits(text: str) -> bool:
    """Mostly Arabic-Indic digits, perhaps with separators and a Western digit the model slipped in."""
    indic = sum(ch in ARABIC_INDIC for ch in text)
    return indic > 0 and indic >= 2 * sum(ch.isascii() and ch.isdigit() for ch in text) and all(
        ch in ARABIC_INDIC + DIGIT_SEPARATORS or (ch.isascii() and ch.isdigit()) for ch in text)


PLAUSIBLE = 50.0
"""An Arabic word read at least this confidently, of Arabic letters only (three or more), is never replaced by a Latin
reading. Measured: where ``ara`` misreads Latin it writes junk (digits, symbols, two-letter scraps: "(الاد." at 49,
"563" for "Sea" at 83), while both Latin-knowing models read Kufi's "وعنوانه" (``ara``: 56) as "dilgicg" at 91-92."""


_STUTTER = re.compile(r"(..?)\1\1")
"""One or two letters three times over ("الالالالالا"): what ``ara`` writes for a Latin address it cannot read, never
an Arabic word."""


def plausible_arabic(text: str, confidence: float) -> bool:
    """A word the Arabic reading has some confidence in and that looks like an Arabic word: letters only."""
    core = text.strip(".,:;،؛()")
    return (confidence >= PLAUSIBLE and len(core) >= 3 and all(_ARABIC_LETTER.fullmatch(ch) for ch in core)
            and not _STUTTER.search(core))


def has_arabic(text: str) -> bool:
    return bool(_ARABIC_LETTER.search(text))


def arabic_word(text: str) -> bool:
    """Letters of the Arabic alphabet only (two or more), perhaps with a closing stop or colon: what the script
    model's reading must be to replace ``ara``'s; no digit, no Latin letter, no Persian letter."""
    core = text.rstrip(".,:;،؛")
    return len(core) >= 2 and bool(_BASIC_ARABIC.fullmatch(core)) and not _STUTTER.search(core)


def second_models() -> tuple[str, ...]:
    """The second-look models installed here (Latin and/or digits); missing ones are skipped, never fatal."""
    installed = installed_languages()
    return tuple(model for model in (LATIN_LANG, DIGITS_LANG) if model in installed)


def reread_doubtful_lines(image: Image.Image, words: list, *, dpi: int, timeout: float = 60.0) -> tuple[list, int]:
    """The page's words with doubtful groups replaced by confident Latin or digit readings; and how many groups.

    ``words`` are ``ocr.recognise.Word`` objects from the Arabic reading of ``image`` (line numbers in reading
    order). The list returned keeps every line and its order; replaced words carry ``model`` "eng" or "Arabic".
    """
    lines: dict[int, list] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    height = {number: max(w.top + w.height for w in line) - min(w.top for w in line) for number, line in lines.items()}
    typical = float(np.median(list(height.values()))) if height else 0.0
    doubtful_lines = [
        number for number, line in lines.items()
        if (any(doubtful(w.text, w.confidence) and not plausible_arabic(w.text, w.confidence) for w in line)
            or _a_number_line(line))
        # a row of dots or tashkeel that Tesseract took for a line has no text; a line of digits alone is low too
        and (height[number] >= THIN * typical or _holds_a_number(lines[number]))
    ]
    models = second_models()
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    rows = {number for number, line in lines.items()
            if number not in doubtful_lines and height[number] < DIGIT_ROW * typical}
    pitch = _digit_pitch(words)
    mixed = {number for number, line in lines.items() if number not in doubtful_lines and number not in rows
             and any(_mixed_digit_sets(w.text) or _too_wide_for_its_digits(w, pitch) for w in line)}
    unknown = {number for number, line in lines.items() if height[number] >= THIN * typical and _non_words(line)}
    if not (doubtful_lines or unknown) or not models:
        return _rows_by_shape(gray, lines, rows, mixed, words)
    doubtful_lines = doubtful_lines[:MAX_LINES]
    unknown_only = [number for number in lines if number in unknown and number not in doubtful_lines]
    unknown_only = unknown_only[: max(0, MAX_LINES - len(doubtful_lines))]
    context = _context_word(gray, words)
    readings: dict[str, dict[int, list[Reading]]] = {model: {} for model in models}

    def second_reading(model: str, numbers: list[int]) -> None:
        if numbers:
            stack, sections = _stack_lines(gray, {number: lines[number] for number in numbers}, context)
            tsv = read(stack, lang=model, psm=6, dpi=dpi, timeout=timeout, variables=SECOND_LOOK_VARIABLES).tsv
            readings[model] = _place(tsv, sections, model)

    # eng first: the cheaper model says which doubtful lines the script model must look at; the script model also
    # reads every line with a non-word (``_non_words``), doubted or not
    if LATIN_LANG in models:
        second_reading(LATIN_LANG, doubtful_lines)
    if DIGITS_LANG in models:
        english = readings.get(LATIN_LANG)
        second_reading(DIGITS_LANG, [
            number for number in doubtful_lines if english is None or number in unknown
            or _worth_a_script_look(lines[number], english.get(number, []))] + unknown_only)
    replaced = 0
    out: list = []
    for number, line in lines.items():
        if number in unknown_only:  # read again for its non-words only: Arabic words may replace them, nothing else
            others = [r for r in readings.get(DIGITS_LANG, {}).get(number, []) if arabic_word(r.text)]
            line, count = _decide_line(line, others)
            replaced += count
            if number in rows or number in mixed:
                line, found = _numbers_by_shape(gray, line, [], row=number in rows)
                replaced += found
        elif number in doubtful_lines:
            others = [r for model in models for r in readings[model].get(number, [])]
            line, count = _decide_line(line, others, pitch)
            line, found = _numbers_by_shape(gray, line, others, row=height[number] < DIGIT_ROW * typical)
            replaced += count + found
        elif number in rows or number in mixed:
            line, found = _numbers_by_shape(gray, line, [], row=number in rows)
            replaced += found
        out.extend(line)
    return out, replaced


def _rows_by_shape(
    gray: np.ndarray, lines: dict[int, list], rows: set[int], mixed: set[int], words: list
) -> tuple[list, int]:
    """The page's words with its low lines and its lines with a number of two digit sets read by digit shape
    (``_numbers_by_shape``), when nothing was doubted."""
    if not rows and not mixed:
        return words, 0
    out: list = []
    replaced = 0
    for number, line in lines.items():
        if number in rows or number in mixed:
            line, found = _numbers_by_shape(gray, line, [], row=number in rows)
            replaced += found
        out.extend(line)
    return out, replaced


WIDE_NUMBER_MIN_CONFIDENCE = 30.0
"""A Western number ``ara`` boxed too wide for its digits (``_too_wide_for_its_digits``) is replaced by the English
model's reading of the same place when that holds all of ``ara``'s digits in order and more, at this confidence:
the box is the evidence that digits are missing. Measured on Amiri codes: ``ara`` read "583-672-128" as "583-672-8"
at 85 and "851-144-820" as "851-144-0" at 73; the English model read both whole, at 84 and 34."""
ROOM_FOR_A_DIGIT = 0.8
"""A Western number whose box has room for this many more digits than it holds (at the page's digit pitch) is read
again by shape: ``ara`` read Amiri's "234" as "4" at 95 and "43" as "3" at 97, each boxed over the whole number (86
px for one digit where the page's numbers took 28-29 px a digit), measured on a JPEG page of the benchmark."""


_DIGIT_GROUPS = re.compile(r"[0-9]+(?:[-/.][0-9]+)*")


def _digit_pitch(words: list) -> float:
    """Pixels a Western digit takes on this page: the median width per digit of its confidently read numbers of three
    or more digits (0.0 when it has none)."""
    widths = [w.width / len(w.text) for w in words
              if len(w.text) >= 3 and w.text.isascii() and w.text.isdigit() and w.confidence >= STRONG_LATIN]
    return float(np.median(widths)) if widths else 0.0


def _too_wide_for_its_digits(word: Any, pitch: float) -> bool:
    """Whether a number of Western digits, or of groups of them joined by "-", "/" or "." (a code, a date), is boxed
    wide enough to hold another digit it does not show. A separator is counted as wide as a digit, which it never is
    (so a real "12-4" is not read again): ``ara`` read Amiri's "583-672-128" as "583-672-8" at 85 and "851-144-820"
    as "851-144-0" at 73, each boxed over the whole code (311 px for nine characters at 28 px a digit)."""
    core = word.text.strip(".,:;،؛()")
    if not pitch or not _DIGIT_GROUPS.fullmatch(core):
        return False
    return bool(word.width > (len(core) + ROOM_FOR_A_DIGIT) * pitch)


def _mixed_digit_sets(text: str) -> bool:
    """Arabic-Indic and Western digits in one word: a number is printed in one set, so ``ara`` misread it, however
    confident ("٠١/11/7١72" at 62 for the date ١٠/١١/٢٠٢٤); its line is read by digit shape, with no Tesseract call."""
    return any(ch in ARABIC_INDIC for ch in text) and any(ch in "0123456789" for ch in text)


def _non_words(line: list) -> bool:
    """Whether ``ara`` read a word of Arabic letters below ``STRONG_ARABIC`` that is no word of its dictionary."""
    return known_here() and any(arabic_word(w.text) and w.confidence < STRONG_ARABIC and not is_word(w.text)
                                for w in line)


def _worth_a_script_look(line: list, english: list[Reading]) -> bool:
    """Whether the ``Arabic`` script model should read a doubtful line too: the English model found Latin there that
    could replace the Arabic reading (the script model must confirm it), or the line may hold Arabic-Indic digits
    (the English model printed their look-alike capitals, or the Arabic reading has digits in a doubted word).
    Measured: on degraded Arabic-only pages most doubtful lines need neither, and the script model is the dearer
    of the two (a 9 MB model against 4 MB)."""
    if _decide_line(line, english)[1]:  # without the script model, the English reading would replace something
        return True
    if any(looks_like_misread_digits(r.text) for r in english):
        return True
    return any(doubtful(w.text, w.confidence) and any(ch.isdigit() for ch in w.text) for w in line)


def _context_word(gray: np.ndarray, words: list) -> np.ndarray | None:
    """The page's most confidently read Arabic word, cut out: set at the start (right) of every doubtful line.

    Measured: a line of Arabic-Indic digits alone (an ID card's number) is read by the ``Arabic`` model as Latin
    look-alikes ("YV1V.OVEVEOO" for ٢٧٦٠٧٠٥٢٧٤٧٤٥٥), the same line after an Arabic word as digits. The word's own
    reading is dropped (``_place``)."""
    arabic = [w for w in words if w.confidence >= 90 and len(w.text) >= 4 and has_arabic(w.text)
              and not doubtful(w.text, w.confidence)]
    if not arabic:
        return None
    best = max(arabic, key=lambda w: (w.confidence, len(w.text)))
    pad = max(4, best.height // 3)
    top, left = max(0, best.top - pad), max(0, best.left - pad)
    return gray[top : best.top + best.height + pad, left : best.left + best.width + pad]


def _stack_lines(
    gray: np.ndarray, lines: dict[int, list], context: np.ndarray | None = None
) -> tuple[Image.Image, list[Section]]:
    """The doubtful lines cut out (their words' box, padded) and stacked right-aligned with wide gaps between them,
    so that Tesseract never joins two of them into one line; ``context`` (an Arabic word) to the right of each line
    that has no confident Arabic word of its own (measured: on labelled lines it made the digits read worse)."""
    crops: list[tuple[int, np.ndarray, int, int]] = []
    height, width = gray.shape
    paper = float(np.percentile(gray[::8, ::8], 90))
    for number, words in lines.items():
        top = min(w.top for w in words)
        bottom = max(w.top + w.height for w in words)
        pad = max(4, (bottom - top) // 3)
        top, bottom = max(0, top - pad), min(height, bottom + pad)
        # The whole inked width of the line, not just its words' boxes: the Arabic model may have found a single
        # letter in a row of Arabic-Indic digits, and the rest of the row must be read too.
        inked = np.nonzero((gray[top:bottom] < 0.6 * paper).sum(axis=0) >= 2)[0]
        left = min([w.left for w in words] + ([int(inked[0])] if len(inked) else []))
        right = max([w.left + w.width for w in words] + ([int(inked[-1]) + 1] if len(inked) else []))
        left, right = max(0, left - 2 * pad), min(width, right + 2 * pad)
        crops.append((number, gray[top:bottom, left:right], left, top))
    gap = max(24, max(crop.shape[0] for _, crop, _, _ in crops) // 2)
    fitted = {number: _fit(context, crop.shape[0]) if context is not None else None for number, crop, _, _ in crops}
    extra = max((c.shape[1] + crop.shape[0] for (_, crop, _, _), c in zip(crops, fitted.values(), strict=True)
                 if c is not None), default=0)
    stack_width = max(crop.shape[1] for _, crop, _, _ in crops) + extra + 2 * gap
    rows = [np.full((gap, stack_width), 255, np.uint8)]
    sections: list[Section] = []
    y = gap
    for number, crop, left, top in crops:
        row = np.full((crop.shape[0], stack_width), 255, np.uint8)
        x = stack_width - gap - extra - crop.shape[1]
        row[:, x : x + crop.shape[1]] = crop
        word = fitted[number] if not any(has_arabic(w.text) and w.confidence >= DOUBT for w in lines[number]) else None
        if word is not None:  # a word space wider than any inside the line, then the context word
            start = x + crop.shape[1] + crop.shape[0]
            row[: word.shape[0], start : start + word.shape[1]] = word
        rows += [row, np.full((gap, stack_width), 255, np.uint8)]
        sections.append(Section(number, left - x, top, y, crop.shape[0], x + crop.shape[1]))
        y += crop.shape[0] + gap
    return Image.fromarray(np.vstack(rows), "L"), sections


def _fit(word: np.ndarray, height: int) -> np.ndarray:
    """The context word scaled to a line's height (at most that height), so that both read at one size."""
    factor = min(2.0, max(0.5, height / word.shape[0]))
    size = (max(1, round(word.shape[1] * factor)), min(height, max(1, round(word.shape[0] * factor))))
    return np.asarray(cv2.resize(word, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC),
                      dtype=np.uint8)


def _place(tsv: str, sections: list[Section], model: str) -> dict[int, list[Reading]]:
    """Words of a second reading, each given to the section its middle lies in, in page coordinates."""
    out: dict[int, list[Reading]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = unicodedata.normalize("NFC", (row.get("text") or "").translate(_BIDI_MARKS).strip())
        confidence = float(row.get("conf") or -1)
        if row.get("level") != "5" or not text or confidence < 0:
            continue
        middle = int(row["top"]) + int(row["height"]) / 2
        section = next((s for s in sections if s.y_offset <= middle < s.y_offset + s.height), None)
        if section is None or int(row["left"]) + int(row["width"]) / 2 > section.end:
            continue
        if not looks_like_address(text) and looks_like_address(text.replace("|", "l")):
            text = text.replace("|", "l")  # "www.|uxor.gov.eg": no address has a bar; the models write it for l
        if looks_like_address(text):
            text = tidy_address(text)
        if model == DIGITS_LANG:
            text = _PERSIAN_YEH_INSIDE.sub("ي", text.translate(_PERSIAN_TO_ARABIC))
            if looks_like_digits(text):  # one number is written in one set: a stray Western digit joins the rest
                text = text.translate(_WESTERN_TO_ARABIC)
        left = int(row["left"]) + section.left
        out.setdefault(section.line, []).append(Reading(text, confidence, left, left + int(row["width"]), model))
    return {number: _joined_addresses(readings) for number, readings in out.items()}


def _joined_addresses(readings: list[Reading]) -> list[Reading]:
    """A line's readings with an e-mail address that the model split at its dots put back together: the English
    model read "mina.shenouda@sohag.gov.eg" on a phone photo as "mina", "shenouda@sohag" and "goveg", three words
    at 59-92. A word that is a name and a host with no domain (``_SPLIT_AT``) is joined with the Latin words right
    beside it (letters and digits, no gap wider than ``JOIN_GAP`` letter heights, each read at
    ``ADDRESS_MIN_CONFIDENCE`` or more) when the whole, joined by dots, is an address."""
    ordered = sorted(readings, key=lambda r: r.left)
    for i, reading in enumerate(ordered):
        if not _SPLIT_AT.fullmatch(reading.text) or reading.confidence < ADDRESS_MIN_CONFIDENCE:
            continue
        height = max(1, reading.right - reading.left) / max(1, len(reading.text)) * 2  # about a letter's height
        start = end = i
        while start > 0 and _joinable(ordered[start - 1], ordered[start].left - ordered[start - 1].right, height):
            start -= 1
        while end + 1 < len(ordered) and _joinable(ordered[end + 1], ordered[end + 1].left - ordered[end].right,
                                                   height):
            end += 1
        parts = ordered[start : end + 1]
        joined = tidy_address(".".join(r.text.strip(".") for r in parts))
        if len(parts) > 1 and looks_like_address(joined):
            whole = Reading(joined, min(r.confidence for r in parts), parts[0].left, parts[-1].right, reading.model)
            return [r for r in readings if r not in parts] + [whole]
    return readings


def _joinable(piece: Reading, gap: int, height: float) -> bool:
    """Whether ``piece``, ``gap`` pixels from the address being joined, is a piece of it."""
    return (gap <= JOIN_GAP * height and bool(_LATIN_PART.fullmatch(piece.text))
            and piece.confidence >= ADDRESS_MIN_CONFIDENCE)


JOIN_GAP = 1.0
"""Widest gap, in letter heights, between the pieces of a split address (``_joined_addresses``)."""
_LATIN_PART = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SPLIT_AT = re.compile(r"[A-Za-z][A-Za-z0-9._-]*@[A-Za-z][A-Za-z0-9-]*")
"""A name and a host with no domain after it ("shenouda@sohag"): an address cut at its dots."""


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return shared > 0.4 * min(a[1] - a[0], b[1] - b[0])


def _score(items: list[tuple[str, float]]) -> float:
    """Mean confidence weighted by length."""
    total = sum(len(text) for text, _ in items)
    return sum(len(text) * confidence for text, confidence in items) / total if total else 0.0


def _decide_line(line: list, others: list[Reading], pitch: float = 0.0) -> tuple[list, int]:
    """Replace groups of Arabic words by a confident other reading of the same place; keep the line's order.

    ``pitch`` is the page's digit pitch (``_digit_pitch``): with it, a number ``ara`` boxed too wide for its digits
    takes the English model's fuller reading of it (``WIDE_NUMBER_MIN_CONFIDENCE``)."""
    if not others:
        return line, 0
    english = [r for r in others if r.model == LATIN_LANG and looks_latin(r.text)]
    line = _split_at_numbers(line, english)
    best: list[tuple[set[int], list[Reading], float]] = []  # (ara word indices, replacement, lead)
    script_model = [r for r in others if r.model == DIGITS_LANG]
    roles = [  # (what the reading should be, which model read it, what it must look like)
        ("latin", LATIN_LANG, looks_latin),
        ("latin", DIGITS_LANG, looks_latin),  # the script model has Latin too, and sometimes reads it better
        ("digits", DIGITS_LANG, looks_like_digits),
        ("arabic", DIGITS_LANG, arabic_word),  # and Amiri's ligatures better than ara 4.1.0
    ]
    runs = _strong_runs(line, english)
    covered = _under_strong_latin(line, english)
    for role, model, fit in roles:
        threshold = min(STRONG_ARABIC, LEXICON_ARABIC) if role == "arabic" else MIN_CONFIDENCE[
            LATIN_LANG if role == "latin" else DIGITS_LANG]
        candidates = [r for r in others if r.model == model and fit(r.text) and r.confidence >= (
            JUNK_ADDRESS_MIN_CONFIDENCE if role == "latin" and looks_like_address(r.text) else
            min(threshold, WIDE_NUMBER_MIN_CONFIDENCE) if role == "latin" and pitch and _western_number([r])
            else threshold)]
        for group, readings in _groups(line, candidates):  # each word on its own merits: no junk rides along
            ours = _score([(line[i].text, line[i].confidence) for i in group])
            theirs = _score([(r.text, r.confidence) for r in readings])
            if role == "arabic":  # Arabic for Arabic: never a Latin letter; never over a confident reading
                if not all(line[i].confidence < STRONG_ARABIC for i in group):
                    continue
                strong_arabic = all(r.confidence >= STRONG_ARABIC for r in readings) and (
                    theirs >= ours + MIN_LEAD[DIGITS_LANG]) and not (  # a dictionary word stays ("بعد", not "بعل")
                    known_here() and len(group) == len(readings) and all(is_word(line[i].text) for i in group))
                if (strong_arabic and _as_long([line[i] for i in group], readings)) or _a_word_for_a_non_word(
                        [line[i] for i in group], readings, ours, theirs):
                    best.append((group, readings, theirs - ours))
                continue
            strong = role == "latin" and model == LATIN_LANG and _strong_latin(readings, script_model, runs)
            number = role == "latin" and model == LATIN_LANG and _western_number(readings) and _a_number_here(
                [line[i] for i in group])
            ara_digits = "".join(ch for i in group for ch in line[i].text if ch.isdigit())
            their_digits = "".join(ch for r in readings for ch in r.text if ch.isdigit())
            fuller = number and len(their_digits) > len(ara_digits) and (theirs >= STRONG_LATIN or (
                theirs >= WIDE_NUMBER_MIN_CONFIDENCE and _subsequence(ara_digits, their_digits)
                and all(_too_wide_for_its_digits(line[i], pitch) for i in group)))
            if not fuller and any(r.confidence < threshold and not looks_like_address(r.text) for r in readings):
                continue  # below the bar only as the fuller reading of a number boxed too wide
            confirmed = role == "latin" and model == LATIN_LANG and _confirmed_address(
                readings, script_model, [line[i] for i in group])
            if role == "latin" and any(plausible_arabic(line[i].text, line[i].confidence) for i in group) and not (
                    confirmed or (strong and (_inside_a_run(readings, runs)
                                              or not _arabic_elsewhere(line, group | covered)))):
                continue  # a clean Arabic word read with some confidence stays Arabic, unless Latin surrounds it
            address = confirmed or (role == "latin" and all(looks_like_address(r.text) for r in readings) and not any(
                plausible_arabic(line[i].text, line[i].confidence) or _confident_reading(line[i]) for i in group))
            lead = MIN_LEAD[LATIN_LANG if role == "latin" else DIGITS_LANG]
            if theirs < ours + lead and not (fuller or address) and not (
                    strong and not any(has_arabic(line[i].text) and line[i].confidence >= DOUBT for i in group)):
                continue  # so a confidently read Arabic group (85 and more) always stays
            alnum = max(sum(ch.isalnum() for ch in r.text) for r in readings)
            if role == "latin" and not strong and alnum < (2 if number else MIN_LATIN):
                continue  # "on", "Ug", "5 yd": the English model's guesses at a doubted short Arabic word
            if role == "latin" and model == LATIN_LANG and not (
                    strong or number or _script_agrees(readings, script_model)):
                continue
            best.append((group, readings, theirs - ours))
    chosen: list[tuple[set[int], list[Reading]]] = []
    taken: set[int] = set()
    # A whole address outranks the pieces of it another reading found (the script model's "k.ta" at 88 inside the
    # English model's "k.tahtawy@luxor.gov.eg" at 92, which led by less over the longer junk it replaces).
    for group, readings, _ in sorted(best, key=lambda item: (
            not all(looks_like_address(r.text) for r in item[1]), -item[2])):
        if group & taken:
            continue
        chosen.append((group, readings))
        taken |= group
    chosen += _next_to_latin_runs(line, others, chosen, taken)
    if not chosen:
        return line, 0
    every = [r for _, readings in chosen for r in readings]
    chosen = [(group, _with_inner_marks(line, group, readings, every, others)) for group, readings in chosen]
    latin = [r for _, readings in chosen for r in readings if looks_latin(r.text)]
    chosen = [(group, _closing_stop(line, group, readings, latin)) for group, readings in chosen]
    out: list = []
    start_of = {min(group): (group, readings) for group, readings in chosen}
    for i, word in enumerate(line):
        if i not in taken and _scrap_inside(word, latin):
            continue
        if i in start_of:
            group, readings = start_of[i]
            top = min(line[j].top for j in group)
            bottom = max(line[j].top + line[j].height for j in group)
            out.extend(replace(word, text=reading.text, confidence=reading.confidence, left=reading.left,
                               width=reading.right - reading.left, top=top, height=bottom - top, model=reading.model)
                       for reading in readings)
        elif i not in taken:
            out.append(word)
    if all(arabic_word(r.text) for _, readings in chosen for r in readings):
        # Arabic words for Arabic words, each in its place: ``ara``'s order stands. Sorting by boxes would move a
        # word whose box Tesseract drew too wide ("الترخيص" boxed over three words before it, measured).
        return out, len(chosen)
    return logical_order(out), len(chosen)


SHAPE_MARGIN = 0.5
SHAPE_LEAST = 0.15
"""A run read by digit shape (``ocr.digit_shapes.read_runs``) becomes Arabic-Indic digits when its blobs' mean margin
is at least ``SHAPE_MARGIN`` and its least sure blob's at least ``SHAPE_LEAST``. Measured, every run the shape reader
was given on the 16 digits pages and the 16 Arabic-only and mixed pages of ``bench/ocr_accuracy.py`` (4 fonts x
clean, noise, JPEG, photo): runs of printed Arabic-Indic digits had mean margins 0.54-0.79 and least margins 0.20-0.63
(0.20 and 0.29: one blurred digit of a 14-digit ID on JPEG pages); runs of Arabic letters and scraps, mean 0.08-0.44
and least 0.00-0.33. On clean rows of our own in the four fonts: digits 0.42-0.89 (least), Arabic words 0.00-0.11."""
DIGIT_ROW = 0.69
"""A line lower than this share of the page's median line has no letter with an ascender or a descender: it may be
a row of Arabic-Indic digits that ``ara`` read as plausible words ("وامجم ومسا" at 51 and 69 for ١٥ ٣٣٨ ١٣٢٥), which
the second look never reads. Measured on the 16 digits pages (``bench/ocr_accuracy.py --scripts digits``): rows of
numbers 0.46-0.77 of the median line, lines of Arabic words 0.70 and more (a line of short place names)."""
SHORT_CAPITALS = 4
"""A Latin replacement of at most this many letters and digits, all capitals, is not kept out of the shape reading:
the English model took ١٧٥ for "FIV" at 50 and more (F is no look-alike, so ``_decide_line`` accepted it); the
shape reader with its margins decides whether the ink is digits."""
LOOKALIKE_SHARE = 0.75
"""Share of a reading's letters that must be look-alike capitals for it to count as a misread number when it is not
all look-alikes (``_number_like``); the shape reader's margins still decide (a real code in capitals, "PERMIT-AMEND",
is kept out as an accepted Latin word, and its letters are no digits' shapes)."""
SHAPE_MODEL = "shape"
"""``Word.model`` of a number read by digit shape."""


def _numbers_by_shape(gray: np.ndarray, line: list, others: list[Reading], row: bool = False) -> tuple[list, int]:
    """The line with each run of Arabic-Indic digits that its readings missed read again by digit shape; and how
    many runs were replaced.

    Why: ``ara`` 4.1.0 reads such runs as Arabic junk ("لاو را" for ٢٥١٠٧١٣٢٧٨٢٦٦٨), and the script model reads a
    row of them alone as Latin look-alikes ("TIT" for ٢١٢), which ``_decide_line`` rightly refuses as Latin; the
    shape reader (``ocr.digit_shapes.read_runs``) reads the same ink as digits with wide margins. Evidence, all of
    it: the ink is not under a word read as letters (``_letters_kept``); a reading of the place looks like a number
    (digits of either set, or look-alike capitals: ``_number_like``); every blob's shape is a digit (or a date's
    slash) with margins ``SHAPE_MARGIN`` and ``SHAPE_LEAST``; and the digits are the Arabic-Indic set (Western
    digits are left to the English model, which reads them well). Cost: nothing on a line without a number-like
    reading; else one connected-components pass over the line's strip (numpy and OpenCV, no Tesseract).

    ``row``: a line too low for Arabic letters (``DIGIT_ROW``): its height is the evidence in place of a reading,
    and all its ink outside strongly read Arabic words must read as Arabic-Indic digits, two or more."""
    evidence = [(r.left, r.right, r.text) for r in others if _number_like(r.text)] + [
        (w.left, w.left + w.width, w.text) for w in line if not _letters_kept(w) and _number_like(w.text)]
    if not line or (not evidence and not row):
        return line, 0
    kept = [(w.left, w.left + w.width) for w in line if _letters_kept(w, row)]
    spans = [(w.left, w.left + w.width) for w in line if not _letters_kept(w, row)] + [
        (r.left, r.right) for r in others]
    top = min(w.top for w in line)
    bottom = max(w.top + w.height for w in line)
    pad = max(4, (bottom - top) // 3)
    band = gray[max(0, top - pad) : bottom + pad]
    left, right = _inked_extent(band, min(a for a, _ in spans + kept), max(b for _, b in spans + kept),
                                reach=bottom - top)
    left, right = max(0, left - 2 * pad), min(gray.shape[1], right + 2 * pad)
    strip = band[:, left:right]
    runs = read_runs(strip, leave_out=[(a - left, b - left) for a, b in kept])
    shaped = [(run.left + left, run.right + left, run.read) for run in runs]
    printed = [(a, b, read) for a, b, read in shaped if _printed_number(read)]
    found = _western_by_shape(line, others, [(a, b, read) for a, b, read in printed if read.script == "latin"])
    if not row or len(printed) == len(shaped):  # a low line must be digits throughout: not dots, not a short word
        indic = []
        for a, b, read in printed:
            if read.script != "arabic":
                continue
            seen = [t for x0, x1, t in evidence if _overlap((a, b), (x0, x1))]
            if not row and (not seen or (len(read.digits) == 1 and not any(
                    ch.isdigit() for t in seen for ch in t))):
                continue  # a lone blob (an alef is a ١) needs a reading that saw a digit there
            indic.append((a, b, read.digits.translate(_WESTERN_TO_ARABIC), read.margin))
        if not row or sum(ch.isdigit() for _, _, digits, _ in indic for ch in digits) >= 2:
            found += indic
    if not found:
        return line, 0
    inside = {i for i, w in enumerate(line) if not _letters_kept(w, row) and any(
        a <= w.left + w.width / 2 <= b or _overlap((a, b), (w.left, w.left + w.width)) for a, b, _, _ in found)}
    # Confidence on Tesseract's scale from the least sure digit's margin: 50 for a toss-up, 65 at SHAPE_LEAST, 100
    # from a margin of 0.5 (a shape unlike any other digit's).
    numbers = [replace(line[0], text=text, confidence=round(100 * min(1.0, 0.5 + margin), 1), left=a, width=b - a,
                       top=top, height=bottom - top, model=SHAPE_MODEL) for a, b, text, margin in found]
    return logical_order([w for i, w in enumerate(line) if i not in inside] + numbers), len(found)


def _inked_extent(band: np.ndarray, left: int, right: int, reach: int) -> tuple[int, int]:
    """The span ``left``-``right`` of a line's band widened over the ink that continues it, across gaps of at most
    ``reach`` columns: ``ara`` may find one "word" in a row of digits ("لا" over 4 of an ID's 14 digits, the rest
    unread), and the whole row must be read by shape."""
    paper = float(np.percentile(band[::4, ::4], 90)) if band.size else 255.0
    inked = (band < 0.6 * paper).sum(axis=0) >= 2
    columns = np.nonzero(inked)[0]
    if not len(columns):
        return left, right
    while True:
        before = columns[(columns < left) & (columns >= left - reach)]
        after = columns[(columns > right) & (columns <= right + reach)]
        if not len(before) and not len(after):
            return left, right
        left = int(before.min()) if len(before) else left
        right = int(after.max()) + 1 if len(after) else right


def _printed_number(read: Any) -> bool:
    """A run whose every blob is shaped like a printed digit or a date's slash (``SHAPE_MARGIN``, ``SHAPE_LEAST``),
    with a digit, and no slash at either end or two in a row."""
    text = read.digits
    return (bool(read.reads) and sum(r.margin for r in read.reads) / len(read.reads) >= SHAPE_MARGIN
            and read.margin >= SHAPE_LEAST and any(ch.isdigit() for ch in text)
            and text[0] not in DIGIT_SEPARATORS and text[-1] not in DIGIT_SEPARATORS and "//" not in text)


def _western_by_shape(
    line: list, others: list[Reading], runs: list[tuple[int, int, Any]]
) -> list[tuple[int, int, str, float]]:
    """Western numbers read by shape that replace the Western digits read at their place, where the readings lost
    digits or spaces: ``ara`` read table rows' last amount confidently short ("5" at 96 for 975, "0" for 1600) or
    two amounts as one ("744425"). A group of runs replaces the words under it (digits and separators only) when
    the shapes hold the same digits with other spaces, or ``ara``'s digits with more (none changed, some added), or
    digits another model read there too (the English model's "110602975"): never a digit the readings did not
    see, unless ``ara`` dropped it. A run where ``ara`` read nothing at all is added when another model read its
    digits there (``_seen_by_others``)."""
    numeric = [i for i, w in enumerate(line) if not _letters_kept(w) and _western_number(
        [Reading(w.text, 0, 0, 0, "")])]
    groups: list[tuple[list[tuple[int, int, Any]], set[int]]] = []
    out = []
    for run in sorted(runs, key=lambda r: r[0]):
        under = {i for i in numeric if _overlap((run[0], run[1]), (line[i].left, line[i].left + line[i].width))}
        if not under:
            if not any(_overlap((run[0], run[1]), (w.left, w.left + w.width)) for w in line) and _seen_by_others(
                    run, others):  # a number ara left out ("296 325" for 296 712 325), another model read
                out.append((run[0], run[1], run[2].digits, run[2].margin))
            continue
        if groups and groups[-1][1] & under:
            groups[-1][0].append(run)
            groups[-1][1].update(under)
        else:
            groups.append(([run], under))
    for group_runs, under in groups:
        words = sorted((line[i] for i in under), key=lambda w: w.left)
        ours = "".join(ch for w in words for ch in w.text if ch.isdigit())
        shapes = "".join(ch for _, _, read in group_runs for ch in read.digits if ch.isdigit())
        texts = [read.digits for _, _, read in group_runs]
        if texts == [w.text for w in words]:
            continue  # nothing to change
        span = (group_runs[0][0], group_runs[-1][1])
        seen = "".join(ch for r in others if _overlap(span, (r.left, r.right)) for ch in r.text if ch in "0123456789")
        if shapes == ours or (ours and _subsequence(ours, shapes)) or (len(shapes) >= 2 and shapes in seen):
            out += [(a, b, read.digits, read.margin) for a, b, read in group_runs]
    return out


def _seen_by_others(run: tuple[int, int, Any], others: list[Reading]) -> bool:
    """Whether a second reading of the run's place holds its digits, two or more, in a row."""
    digits = "".join(ch for ch in run[2].digits if ch.isdigit())
    seen = "".join(ch for r in others if _overlap((run[0], run[1]), (r.left, r.right)) for ch in r.text
                   if ch in "0123456789")
    return len(digits) >= 2 and digits in seen


def _subsequence(short: str, long: str) -> bool:
    """``short``'s characters in ``long`` in order, with others between or around them."""
    rest = iter(long)
    return all(ch in rest for ch in short)


def _letters_kept(word: Any, row: bool = False) -> bool:
    """A word read as letters and kept: an Arabic word read with confidence (``DOUBT``), or a Latin or Arabic word a
    second reading put there. Its ink is never read as digits. A merely plausible word is not kept: ``ara`` read
    the last digits of an ID as "كنا" at 59; its letters' shapes keep a real word from turning into digits. On a
    low ``row`` only a strongly read Arabic word (``STRONG_ARABIC``) is kept: ``ara`` read a row of Arabic-Indic
    digits as "وامجم ومسا" at 51 and 69, the English model as "Yee" at 63."""
    if row:
        return has_arabic(word.text) and word.confidence >= STRONG_ARABIC
    if word.model != "ara":
        letters = "".join(ch for ch in word.text if ch.isascii() and ch.isalpha())
        if letters.isupper() and sum(ch.isalnum() for ch in word.text) <= SHORT_CAPITALS:
            return False  # "FIV" for ١٧٥: the English model's short capitals may be digits' look-alikes
        return not looks_like_digits(word.text) and not _western_number([Reading(word.text, 0, 0, 0, "")])
    return has_arabic(word.text) and word.confidence >= DOUBT


def _number_like(text: str) -> bool:
    """A reading that may be a number: a digit of either set, or Latin look-alike capitals of Arabic-Indic digits,
    all of them or nearly (``LOOKALIKE_SHARE``: the English model read an ID as "¥-T-SIATTAVAOT", S no look-alike)."""
    if any(ch.isdigit() for ch in text) or looks_like_misread_digits(text):
        return True
    letters = [ch for ch in text if ch.isascii() and ch.isalpha()]
    return len(letters) >= 4 and sum(ch.isupper() for ch in letters) >= LOOKALIKE_SHARE * len(letters) and sum(
        ch.upper() in DIGIT_LOOKALIKES for ch in letters) >= LOOKALIKE_SHARE * len(letters)


MIN_SPLIT_DIGITS = 4
"""A confident English number with at least this many digits may cut ``ara``'s box of a neighbouring word
(``_split_at_numbers``)."""


def _split_at_numbers(line: list, english: list[Reading]) -> list:
    """The line with each Arabic word that reaches into a confidently read long number cut back to where the number
    starts or ends, its text kept. Measured on a noisy page: ``ara``'s box for "ورقم" (read "وورقم" at 71) took in
    half of the 14-digit ID before it, so the number's English reading (88) overlapped an Arabic word and could not
    replace ``ara``'s "06 1 2"; cut at the number's edge, the word stays and the digits are replaced. A word lying
    wholly under the number is left alone (the number then never replaces it: ``_a_number_here``)."""
    numbers = [r for r in english if r.confidence >= STRONG_LATIN and _western_number([r])
               and _digits([r]) >= MIN_SPLIT_DIGITS]
    if not numbers:
        return line
    out = []
    for word in line:
        left, right = word.left, word.left + word.width
        if has_arabic(word.text):
            for number in numbers:
                if left < number.left < right and number.left - left >= 0.2 * word.width:
                    right = min(right, number.left)  # the word sticks out on the number's left
                elif left < number.right < right and right - number.right >= 0.2 * word.width:
                    left = max(left, number.right)
        out.append(word if (left, right) == (word.left, word.left + word.width)
                   else replace(word, left=left, width=right - left))
    return out


def _under_strong_latin(line: list, english: list[Reading]) -> set[int]:
    """Words of the line that a confident English reading (``STRONG_LATIN``, a real word, not digit look-alikes)
    covers: on a Latin line ``ara`` writes confident-looking Arabic letters for some Latin words (".أمعما" at 66 for
    "Dept." at 93), which must not count as the Arabic around a Latin run (``_arabic_elsewhere``)."""
    strong = [r for r in english if r.confidence >= STRONG_LATIN and _letters([r]) >= 2
              and not looks_like_misread_digits(r.text)]
    return {i for i, w in enumerate(line)
            if any(_overlap((w.left, w.left + w.width), (r.left, r.right)) for r in strong)}


def _next_to_latin_runs(
    line: list, others: list[Reading], chosen: list[tuple[set[int], list[Reading]]], taken: set[int]
) -> list[tuple[set[int], list[Reading]]]:
    """Latin words next to a Latin run already accepted on the line (``NEXT_TO_A_RUN``), word by word outwards, over
    ``ara`` readings that are doubted and not plausibly Arabic, or plausible but out-read by a capitalised word that
    the script model confirms as Latin (``NEXT_TO_A_RUN_OVER_ARABIC``); ``taken`` grows with them."""
    script_model = [r for r in others if r.model == DIGITS_LANG]
    accepted = [r for _, readings in chosen for r in readings
                if looks_latin(r.text) and _letters([r]) and not looks_like_address(r.text)]
    if not accepted:
        return []
    tall = float(np.median([w.height for w in line]))
    added: list[tuple[set[int], list[Reading]]] = []
    for _ in range(len(line)):
        found = False
        for model in (LATIN_LANG, DIGITS_LANG):
            candidates = [r for r in others if r.model == model and looks_latin(r.text)
                          and not looks_like_misread_digits(r.text)
                          and ((r.confidence >= NEXT_TO_A_RUN and _long_enough(r)) or _both_read(r, others)
                               or _short_name_word(r))]
            for group, readings in _groups(line, candidates):
                words = [line[i] for i in group]
                # Both Latin-knowing models read these very letters, and ``ara`` no Arabic word: the place is Latin,
                # however confident ``ara``'s scrap ("اع." at 88 for the "El" of "El Nour Pharmacy Co.", read "El" at
                # 33 and ",El" at 55) or however close its plausible-looking junk ("وصتصصوام" at 83 under
                # "Planning", read at 96 by both).
                agreed = all(_both_read(r, others) for r in readings) and (
                    not any(plausible_arabic(w.text, w.confidence) for w in words)
                    or all(r.confidence >= STRONG_LATIN for r in readings))
                if group & taken or (any(w.confidence >= STRONG_ARABIC for w in words) and not agreed):
                    continue
                short = [r for r in readings if not (r.confidence >= NEXT_TO_A_RUN and _long_enough(r))
                         and not _both_read(r, others)]
                if short and any(is_word(w.text) or (arabic_word(w.text) and w.confidence >= DOUBT) for w in words):
                    continue  # a short name's word only over junk: never over an Arabic word
                if any(plausible_arabic(w.text, w.confidence) for w in words) and not (
                        all(r.confidence >= NEXT_TO_A_RUN_OVER_ARABIC and _capitalised(r.text) for r in readings)
                        and (model == DIGITS_LANG or _script_agrees(readings, script_model))):
                    continue
                over_junk = bool(short) and not any(arabic_word(w.text) for w in words)  # "ا4." at 59 under "Al"
                if not (agreed or over_junk) and _score([(r.text, r.confidence) for r in readings]) < _score(
                        [(w.text, w.confidence) for w in words]) + MIN_LEAD[LATIN_LANG]:
                    continue
                span = (min(r.left for r in readings), max(r.right for r in readings))
                if not any(_beside(span, (r.left, r.right), line, taken | group, tall) for r in accepted):
                    continue
                if model == LATIN_LANG and not agreed and any(r.confidence < STRONG_LATIN for r in readings) and (
                        _script_reads_a_word(span, script_model)):
                    continue
                added.append((group, readings))
                taken |= group
                accepted += readings
                found = True
        if not found:
            break
    return added


def _script_reads_a_word(span: tuple[int, int], script_model: list[Reading]) -> bool:
    """Whether the script model read a whole Arabic word of ``WORD_SHAPE`` letters or more across ``span``, and no
    Latin there: script detection against a Latin word that only sits beside a run. ``ara`` read "وسجلها" after
    "Qena Print Co." on a JPEG Amiri page as "وعجلها" at 32, the English model as "Ley" at 52, the script model as
    "وسجليا" (at 20, but six Arabic letters: the shape of an Arabic word, not of a name's). Only a Latin word read
    below ``STRONG_LATIN`` is kept out so: the script model read "Nile" of "Nile Tech Co." as "عاأل." at 0 where the
    English model read it at 89."""
    seen = [r for r in script_model if _overlap(span, (r.left, r.right))]
    return bool(seen) and not _script_sees_latin(span, script_model) and any(
        arabic_word(r.text) and len(_ARABIC_LETTER.findall(r.text)) >= WORD_SHAPE for r in seen)


def _both_read(reading: Reading, others: list[Reading]) -> bool:
    """Whether the other Latin-knowing model read the same letters and digits at the same place, as a name's word
    would be written (capitalised or in capitals, two or more letters): two models agreeing on "El" or "Planning" is
    evidence neither gives alone. In lower case it is not: both read Kufi's "وعنوانه" as "dilgicg" at 91-92."""
    core = "".join(ch for ch in reading.text if ch.isalnum())
    if len(core) < 2 or not core.isascii() or not _capitalised(core):
        return False
    return any(other.model != reading.model and other.model in (LATIN_LANG, DIGITS_LANG)
               and "".join(ch for ch in other.text if ch.isalnum()) == core
               and _overlap((reading.left, reading.right), (other.left, other.right)) for other in others)


def _capitalised(text: str) -> bool:
    word = text.strip(".,;:")
    return len(word) >= 2 and word[:1].isupper() and (word[1:].islower() or word[1:].isupper())


SHORT_NAME_WORD = 60.0
"""A capitalised two-letter word ("Al", "El") beside an accepted Latin run, over ``ara``'s junk (digits, symbols, no
dictionary word), joins the run at this confidence: "Al" of "Al Amal Store Co." was read at 62 over ``ara``'s
"|41..", and left out it let the digit-shape reader take "Al." for ٠٨١ (measured on three corpora: the company name's
first word lost on 7 pages)."""


def _short_name_word(reading: Reading) -> bool:
    core = reading.text.strip(".,;:")
    return (len(core) == 2 and core.isascii() and core[0].isupper() and core[1].islower()
            and reading.confidence >= SHORT_NAME_WORD)


def _long_enough(reading: Reading) -> bool:
    """A name's word: ``MIN_LATIN`` letters, capitalised ("Nile"), or two or more read confidently ("Co" at 97).
    Beside an accepted run the English model still guesses at doubted Arabic words, in lower case or with short
    scraps: "le," at 71, "ile," at 59 and "les" for "وسجلها" after "Qena Print Co.", "FU" at 45."""
    alnum = sum(ch.isalnum() for ch in reading.text)
    if alnum >= 2 and reading.confidence >= STRONG_LATIN:
        return True
    return alnum >= MIN_LATIN and _capitalised(reading.text) and not reading.text.strip(".,;:").isupper()


def _beside(a: tuple[int, int], b: tuple[int, int], line: list, taken: set[int], tall: float) -> bool:
    """Whether two spans of a line are neighbours: at most a word space or two apart (``tall``: the line's word
    height), with no confidently read Arabic word of ``ara`` left between them."""
    start, end = (a[1], b[0]) if a[1] <= b[0] else (b[1], a[0])
    if end - start > 1.5 * tall:
        return False
    return not any(start <= w.left + w.width / 2 <= end and has_arabic(w.text) and w.confidence >= DOUBT
                   for i, w in enumerate(line) if i not in taken)


def _scrap_inside(word: Any, latin: list[Reading]) -> bool:
    """A scrap ``ara`` left between two words of an accepted Latin run: one or two characters, doubted, with a Latin
    reading close on either side ("Nile ث Tech": a letter's tail read as a word at 19)."""
    if len(word.text) > 2 or word.confidence >= DOUBT:
        return False
    start, end = word.left, word.left + word.width
    middle = (start + end) / 2
    return any(r.left + r.right < 2 * middle and start - r.right <= word.height for r in latin) and any(
        r.left + r.right > 2 * middle and r.left - end <= word.height for r in latin)


_MARKS = frozenset("-–&/+")


def _closing_stop(line: list, group: set[int], readings: list[Reading], latin: list[Reading]) -> list[Reading]:
    """The replacement with the Latin run's closing stop, when ``ara`` saw it and the Latin-knowing models did not.

    The stop after "Al Amal Store Co." is drawn on the run's left, where the run meets the Arabic that follows it
    (``_stop_at_the_end``); ``ara`` read it as the end of its junk for the run's leftmost word ("اىل." over "Al"),
    the English model, reading "Al" there, dropped it (measured on held-out pages: the stop lost on most company
    names). The leftmost Latin word of the line's run then gets it in front, and ``logical_order`` moves it to the
    run's end."""
    if not latin or not readings:
        return readings
    first = min(readings, key=lambda r: r.left)
    if first is not min(latin, key=lambda r: r.left) or not first.text[:1].isalpha() or not _letters([first]):
        return readings
    leftmost = min((line[i] for i in group), key=lambda w: w.left)
    if not leftmost.text.endswith(".") or not has_arabic(leftmost.text) or any("." in r.text for r in latin
                                                                                 if r.text.endswith(".")):
        return readings
    return [replace(first, text="." + first.text) if r is first else r for r in readings]


def _with_inner_marks(
    line: list, group: set[int], readings: list[Reading], every: list[Reading], others: list[Reading]
) -> list[Reading]:
    """The replacement with the dashes, slashes and ampersands read between the line's accepted Latin words, inside
    the replaced words' span: "Dept." and "Nag" were taken from "State Property Dept. - Nag Hammadi City" and the "-"
    (read at 89-91 by both models) was lost, being no word (``looks_latin``). ``every`` is every accepted reading."""
    latin = [r for r in every if looks_latin(r.text)]
    if not latin or not all(looks_latin(r.text) for r in readings):
        return readings
    left = min(line[i].left for i in group)
    right = max(line[i].left + line[i].width for i in group)
    models = {r.model for r in readings}
    marks: list[Reading] = []
    for mark in sorted((r for r in others if r.model in models and r.text in _MARKS), key=lambda r: -r.confidence):
        if (left <= mark.left and mark.right <= right and min(x.left for x in latin) < mark.left
                and mark.right < max(x.right for x in latin)
                and not any(_overlap((mark.left, mark.right), (x.left, x.right)) for x in latin + marks)):
            marks.append(mark)  # one mark per place, from the more confident model
    return sorted(readings + marks, key=lambda r: r.left) if marks else readings


def _a_word_for_a_non_word(words: list, readings: list[Reading], ours: float, theirs: float) -> bool:
    """Whether the script model's Arabic words should replace ``ara``'s because they are words of the dictionary and
    ``ara``'s are not (``ocr.lexicon``), read at least ``LEXICON_ARABIC`` and no less confidently than ``ara``'s."""
    if not known_here() or theirs < max(LEXICON_ARABIC, ours):
        return False
    if not all(is_word(r.text) for r in readings):
        return False
    return _as_long(words, readings) and not all(is_word(w.text) for w in words)


def _as_long(words: list, readings: list[Reading]) -> bool:
    """Whether an Arabic replacement has about as many letters as ``ara``'s words it replaces: where ``ara`` boxed
    "ومدينة" over the "لمر" before it, the script model's "ومدينة" alone would lose a word, not read one better."""
    ours = sum(len(_ARABIC_LETTER.findall(w.text)) for w in words)
    theirs = sum(len(_ARABIC_LETTER.findall(r.text)) for r in readings)
    return 0.8 * ours <= theirs <= 1.25 * ours


def _confident_reading(word: Any) -> bool:
    """Whether ``ara`` read the word with confidence and it says something: an Arabic letter, or three letters or
    digits. ``ara`` read the "ww" of "www.qena.gov.eg" on a phone photo as "0." at 91, beside its junk at 5 and 48
    over the rest; such a scrap is no evidence against the address the English model read over the whole span."""
    return word.confidence >= DOUBT and (has_arabic(word.text) or sum(ch.isalnum() for ch in word.text) >= 3)


def _confirmed_address(latin: list[Reading], script_model: list[Reading], words: list) -> bool:
    """A whole e-mail or web address read by the English model (at ``ADDRESS_MIN_CONFIDENCE``) where the script
    model also reads Latin, over ``ara`` words none of which is a plausible Arabic word read at ``STRONG_ARABIC``.

    Measured on degraded pages (seed 7 of the benchmark's corpus, its own pages not tuned on): ``ara`` cuts an address
    into junk that now and then holds a short Arabic-looking scrap read with confidence ("واء" at 75, "و.لا" at 83,
    "©" at 89 under "y.gergawy@aswan.gov.eg", which the English model read whole at 91 and the script model as
    "y.gergawy@aswa¬.g0v.eg"). Such scraps kept the address out; two models reading Latin across the span, one of
    them a whole address, outweigh them. A real Arabic word read confidently stays."""
    if not script_model or not all(looks_like_address(r.text) for r in latin):
        return False
    if any(r.confidence < ADDRESS_MIN_CONFIDENCE for r in latin):
        return False
    if any(plausible_arabic(w.text, w.confidence) and w.confidence >= STRONG_ARABIC for w in words):
        return False
    return _script_agrees(latin, script_model)


def _script_agrees(latin: list[Reading], script_model: list[Reading]) -> bool:
    """Whether the ``Arabic`` script model, which knows Latin letters as well as Arabic ones, also sees Latin in the
    span the English model read: the script detection that keeps an Arabic word the Arabic model doubted ("ولا" at
    52) from becoming the English model's confident "Ug". Without that model, a Latin reading needs 3 characters."""
    if not script_model:
        return sum(ch.isalnum() for r in latin for ch in r.text) >= 3
    return _script_sees_latin((min(r.left for r in latin), max(r.right for r in latin)), script_model)


def _script_sees_latin(span: tuple[int, int], script_model: list[Reading]) -> bool:
    """Whether the script model's readings across ``span`` hold more Latin letters and digits than Arabic letters
    and Arabic-Indic digits."""
    seen = "".join(r.text for r in script_model if _overlap(span, (r.left, r.right)))
    latin_characters = sum(1 for ch in seen if ch.isascii() and ch.isalnum())
    return latin_characters > len(_ARABIC_LETTER.findall(seen)) + sum(ch in ARABIC_INDIC for ch in seen)


def _strong_runs(line: list, english: list[Reading]) -> dict[Reading, list[Reading]]:
    """For each confident English reading (``STRONG_LATIN``), its run: the confident English readings next to it, up
    to a confidently read Arabic word that no confident English reading covers ("Al Amal Store Co." is one run of
    13 letters, read word by word)."""
    strong = sorted((r for r in english if r.confidence >= STRONG_LATIN), key=lambda r: r.left)
    walls = [w.left + w.width / 2 for w in line if has_arabic(w.text) and w.confidence >= DOUBT]
    runs: list[list[Reading]] = []
    for reading in strong:
        if runs and not any(runs[-1][-1].right <= wall <= reading.left for wall in walls):
            runs[-1].append(reading)
        else:
            runs.append([reading])
    return {reading: run for run in runs for reading in run}


def _a_number_line(line: list) -> bool:
    """A line of digits and separators alone (a phone number, a date, a year wrapped onto its own line): ``ara`` reads
    such lines confidently wrong ("20/08/2024" as "4 2", "1979" as "1/9"), so they are always read again."""
    text = "".join(w.text for w in line)
    return sum(ch.isdigit() for ch in text) >= 2 and all(ch.isdigit() or ch in DIGIT_SEPARATORS for ch in text)


def _holds_a_number(line: list) -> bool:
    """Whether the Arabic reading found two digits or more on the line (of either set): a number alone on its line
    (a phone number, a year wrapped onto the next line) is lower than the page's lines of Arabic letters, without
    being a row of dots. Measured: "01030477396" alone on its line was read by ``ara`` as "6ه2ش1)" and skipped as
    thin; ``eng`` reads such lines right."""
    return sum(ch.isdigit() for w in line for ch in w.text) >= 2


def _western_number(readings: list[Reading]) -> bool:
    """Western digits with separators only: script detection has nothing to say about them (the script model may
    print the same number in Arabic-Indic digits), so where the Arabic reading saw a number too (``_a_number_here``)
    the English reading needs only to be confident and lead; with more digits than the Arabic one and confidence
    ``STRONG_LATIN``, not even lead (``ara`` read "113" as "3" at 80-90, "43" as "3"; ``eng`` gave 94-96)."""
    text = "".join(r.text for r in readings)
    return any(ch.isdigit() for ch in text) and all(ch in "0123456789" + DIGIT_SEPARATORS for ch in text)


def _a_number_here(words: list) -> bool:
    """Whether the Arabic reading of these words saw digits and no word it could trust as Arabic: the English model
    also reads Arabic words as numbers ("المتابعة" as "395" at 85), so a number replaces only a number."""
    return any(ch.isdigit() for w in words for ch in w.text) and not any(
        plausible_arabic(w.text, w.confidence) or (has_arabic(w.text) and w.confidence >= DOUBT) for w in words)


def _digits(readings: list[Reading]) -> int:
    return sum(ch.isdigit() for r in readings for ch in r.text)


def _arabic_elsewhere(line: list, group: set[int]) -> bool:
    """Whether the line has a confidently read Arabic word outside ``group``: without one, the line is a Latin line
    ("Finance Dept. - Qus City Council") whose first word ``ara`` happened to read as Arabic letters. The caller puts
    the words under confident English readings into ``group`` too (``_under_strong_latin``)."""
    return any(has_arabic(w.text) and w.confidence >= DOUBT for i, w in enumerate(line) if i not in group)


def _letters(readings: list[Reading]) -> int:
    return sum(ch.isascii() and ch.isalpha() for r in readings for ch in r.text)


def _inside_a_run(latin: list[Reading], runs: dict[Reading, list[Reading]]) -> bool:
    """Whether confident English words of the same run lie on both sides of these: a word in the middle of "State
    Property Dept. - Akhmim City Council" is Latin even where ``ara`` read it as a clean Arabic word."""
    left, right = min(r.left for r in latin), max(r.right for r in latin)
    run = [other for r in latin for other in runs.get(r, [])]
    return any(other.right <= left for other in run) and any(other.left >= right for other in run)


def _strong_latin(latin: list[Reading], script_model: list[Reading], runs: dict[Reading, list[Reading]]) -> bool:
    """A confident English reading of a real Latin run (``STRONG_LATIN``, ``STRONG_LETTERS`` letters in its run)
    where the script model sees hardly any Arabic letters: it may have read the run as digits or junk, not Arabic."""
    if (_score([(r.text, r.confidence) for r in latin]) < STRONG_LATIN
            or max(_letters(runs.get(r, [])) for r in latin) < STRONG_LETTERS
            or any(looks_like_misread_digits(r.text) for r in latin)):
        return False
    span = (min(r.left for r in latin), max(r.right for r in latin))
    seen = "".join(r.text for r in script_model if _overlap(span, (r.left, r.right)))
    return len(_ARABIC_LETTER.findall(seen)) <= ARABIC_SHARE * len(seen)


def logical_order(line: list) -> list:
    """A line's words in reading order, from their positions: right to left when the line has Arabic, each run of
    words without Arabic letters (a trade name, an address, a number) left to right inside it, as the Unicode
    bidirectional algorithm orders an Arabic paragraph; a line without Arabic left to right."""
    if not any(_right_to_left(word.text) for word in line):
        return sorted(line, key=lambda w: w.left)
    visual = sorted(line, key=lambda w: -(w.left + w.width))
    out: list = []
    run: list = []
    for word in [*visual, None]:
        if word is not None and not _right_to_left(word.text):
            run.append(word)
            continue
        out.extend(_stop_at_the_end(run[::-1]))
        run = []
        if word is not None:
            out.append(word)
    return out


def _right_to_left(text: str) -> bool:
    """Arabic letters, or a number in Arabic-Indic digits: in an Arabic paragraph, numbers of Arabic-Indic digits
    separated by spaces follow one another from right to left (the bidirectional algorithm makes the spaces between
    them right-to-left), as the synthetic pages draw a row of them ("٣٥٤ ٢١٢ ١٣٧٥": ٣٥٤ on the right). Western
    digits keep their runs left to right, as the first reading always ordered them."""
    return has_arabic(text) or (any(ch in ARABIC_INDIC for ch in text) and not any(ch.isascii() and ch.isalnum()
                                                                                   for ch in text))


def _stop_at_the_end(run: list) -> list:
    """A Latin run inside an Arabic line with its closing stop back at its end: "Nile Tech Co." is drawn with the
    stop on the run's left (the bidirectional algorithm gives a stop between Latin and Arabic the line's direction),
    so the models read ".Nile Tech Co"; in reading order the stop closes the run."""
    if not run or len(run[0].text) < 2 or run[0].text[0] not in ".,;:" or not run[0].text[1].isalpha():
        return run
    stop = run[0].text[0]
    run = [replace(run[0], text=run[0].text[1:]), *run[1:]]
    return [*run[:-1], replace(run[-1], text=run[-1].text + stop)]


def _groups(line: list, readings: list[Reading]) -> list[tuple[set[int], list[Reading]]]:
    """Connected groups of (Arabic words, other words) that overlap horizontally."""
    spans = [(w.left, w.left + w.width) for w in line]
    parent = list(range(len(line) + len(readings)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for j, reading in enumerate(readings):
        for i, span in enumerate(spans):
            if _overlap(span, (reading.left, reading.right)):
                parent[find(len(line) + j)] = find(i)
    groups: dict[int, tuple[set[int], list[Reading]]] = {}
    for i in range(len(line)):
        groups.setdefault(find(i), (set(), []))[0].add(i)
    for j, reading in enumerate(readings):
        root = find(len(line) + j)
        if root in groups:
            groups[root][1].append(reading)
    return [(group, found) for group, found in groups.values() if found]
