"""Read one page with Tesseract: text in reading order, word boxes with confidences, and a searchable PDF.

The page is recognised once, in this process (``ocr.engine``): the text and the TSV (word boxes and confidences)
come from the same recognition. The PDF is built here rather than by Tesseract's ``pdf`` renderer: the page image as
a JPEG (``pdf_image_quality``: a cleaned 300-dpi A4 page makes a PDF of ~0.2-0.4 MB, where a lossless image made 5
MB on a noisy scan) under our own invisible text layer in reading order (``ocr.searchable_pdf.searchable_page``),
which also carries the words the second look replaced. Recognition reads the image itself, not a JPEG of it.

Directional marks (U+200E/U+200F) that Tesseract puts around numbers in Arabic lines are removed from the text and
the words: they are display hints for a renderer, not content, and they break search and comparisons. The text is
stored in logical order and displays correctly in an ``dir="rtl"`` block.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field

from PIL import Image

from ocr.arabic_first import logical_order, reread_doubtful_lines
from ocr.engine import read
from ocr.proofread import proofread
from ocr.resolution import page_dpi
from ocr.searchable_pdf import TextWord, searchable_page

TESSERACT_VARIABLES = {"textord_noise_rejrows": "0"}
"""Tesseract's "reject noise-like rows" drops whole, clean Arabic lines now and then (the dots make a row look like
noise): measured on 16 cleaned pages x 2 JPEG qualities, it lost a line in 2 runs and keeping the rows lost none,
with no garbage rows added. The cleanup's median filter already removed the noise this rule was written for."""

_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)


@dataclass
class Word:
    text: str
    confidence: float
    """Tesseract's word confidence, 0-100."""
    left: int
    top: int
    width: int
    height: int
    """Box in pixels of the image that was read."""
    block: int
    """Tesseract's block number (1-based)."""
    line: int
    """Line number on the page (1-based, in reading order), across blocks and paragraphs."""
    paragraph: int = 1
    """Tesseract's paragraph number within the block (a blank line separates paragraphs in the text)."""
    model: str = "ara"
    """The model whose reading was kept: "ara", or "eng" / "Arabic" where ``ocr.arabic_first`` replaced it."""


@dataclass
class PageText:
    text: str
    """The page's text in reading order, one text line per line, blank lines between paragraphs."""
    mean_confidence: float
    """Mean word confidence (0-100) over the words read; 0.0 when there are none."""
    words: list[Word]
    line_count: int
    pdf: bytes
    """A one-page PDF: the page image with an invisible text layer."""
    replaced: int = 0
    """Groups of words the second look (``ocr.arabic_first``) replaced with a Latin or digit reading."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds of each part of the reading: "first_reading", "second_look", "proofread", "text_layer" (the PDF)."""


def recognise(
    image: Image.Image,
    lang: str = "ara",
    psm: int = 6,
    timeout: float = 120.0,
    pdf_image_quality: int = 75,
    dpi: int | None = None,
    second_look: bool = True,
    proofreading: bool = True,
) -> PageText:
    """Recognise a page once, producing text, word boxes and a searchable one-page PDF.

    ``lang`` "ara" (the default) reads the page with the Arabic model only; with ``second_look`` the lines it doubts
    are read again for Latin words and Arabic-Indic digits (``ocr.arabic_first``), which replace the Arabic reading
    only where they are clearly more confident; with ``proofreading`` the Arabic comma read as "»" or a hamza is put
back, and a doubted Arabic non-word one OCR slip away from a common word becomes that word (``ocr.proofread``).
    Any other ``lang`` is passed to Tesseract as it is.

    ``psm`` 6 (one uniform block) is the default because Tesseract's automatic layout (3) silently drops whole lines
    of Arabic on some fonts. ``pdf_image_quality`` is the JPEG quality of the page image inside the PDF. ``dpi`` sets
    the PDF page size; by default it comes from the image (see ``ocr.resolution.page_dpi``). Raises ``OcrFailed`` if
    Tesseract fails or runs past ``timeout`` seconds.
    """
    if image.mode not in ("L", "RGB"):
        image = image.convert("L")
    resolution = dpi or page_dpi(image)
    timings: dict[str, float] = {}
    step = time.perf_counter()
    output = read(image, lang=lang, psm=psm, dpi=resolution, timeout=timeout, variables=TESSERACT_VARIABLES)
    words = parse_tsv(output.tsv, model=lang)
    text = tidy_text(output.text)
    replaced = 0
    timings["first_reading"], step = time.perf_counter() - step, time.perf_counter()
    if second_look and lang == "ara":
        words, replaced = reread_doubtful_lines(image, words, dpi=resolution, timeout=timeout)
        if replaced:
            text = text_from_words(words)
        timings["second_look"], step = time.perf_counter() - step, time.perf_counter()
    if proofreading and lang == "ara":
        words, corrected = proofread(words)
        if corrected:
            text = text_from_words(words)
        timings["proofread"], step = time.perf_counter() - step, time.perf_counter()
    pdf = searchable_page(image, text_lines(words), dpi=resolution, quality=pdf_image_quality)
    timings["text_layer"] = time.perf_counter() - step
    scored = [word.confidence for word in words if word.confidence >= 0]
    return PageText(
        text=text,
        mean_confidence=sum(scored) / len(scored) if scored else 0.0,
        words=words,
        line_count=len({word.line for word in words}),
        pdf=pdf,
        replaced=replaced,
        timings=timings,
    )


def parse_tsv(tsv: str, model: str = "ara") -> list[Word]:
    """Words (level 5 rows with text) from Tesseract's TSV, with page-wide line numbers."""
    words: list[Word] = []
    lines: dict[tuple[int, int, int], int] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5":
            continue
        text = (row.get("text") or "").translate(_BIDI_MARKS).strip()
        if not text:
            continue
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        line = lines.setdefault(key, len(lines) + 1)
        words.append(
            Word(
                text=text,
                confidence=float(row["conf"]),
                left=int(row["left"]),
                top=int(row["top"]),
                width=int(row["width"]),
                height=int(row["height"]),
                block=key[0],
                line=line,
                paragraph=key[1],
                model=model,
            )
        )
    return words


def text_lines(words: list[Word]) -> list[list[TextWord]]:
    """The page's lines for the PDF's text layer: each line's words in reading order (from their positions)."""
    lines: dict[int, list[Word]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    return [[TextWord(w.text, w.left, w.top, w.left + w.width, w.top + w.height) for w in logical_order(line)]
            for line in lines.values()]


def text_from_words(words: list[Word]) -> str:
    """The page's text rebuilt from its words: one line per text line, a blank line between paragraphs."""
    out: list[str] = []
    previous: tuple[int, int] | None = None
    current: list[str] = []
    line_number = None
    for word in words:
        if word.line != line_number:
            if current:
                out.append(" ".join(current))
            current = []
            if previous is not None and (word.block, word.paragraph) != previous:
                out.append("")
            line_number, previous = word.line, (word.block, word.paragraph)
        current.append(word.text)
    if current:
        out.append(" ".join(current))
    return "\n".join(out)


def tidy_text(text: str) -> str:
    """Tesseract's txt output without the form feed, direction marks, trailing spaces or runs of blank lines."""
    text = text.replace("\f", "").translate(_BIDI_MARKS)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
