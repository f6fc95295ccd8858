"""The whole life of one page, in one function: render, clean, read, and package the results.

A worker calls ``process_page`` once per page (the task is idempotent: same file, same page, same result), stores
what it returns, and moves on; pages of one document may run on different workers in parallel, and
``ocr.searchable_pdf.merge_pages`` assembles the document's PDF afterwards.

A blank page is not sent to Tesseract (nothing to read, and Tesseract can hallucinate words from scanner grain),
but it still gets a one-page PDF of its image, so the document's searchable PDF keeps every page of the original in
place: the archive copy must not silently lose the back of a form.

Orientation only when in doubt: the clean-up decides from geometry alone whether the lines run across the page; if
they do, the page is read as it lies, and only a doubtful reading (``orientation_in_doubt``) brings in the full
orientation pass and, if it turns the page, a second reading. Upright pages, nearly all of them, so skip the pass
that cost 35% of their time; an upside-down page costs one reading more than before.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.cleanup import CleanupOptions, clean
from ocr.digit_shapes import NumberRead, read_numbers_on_page
from ocr.inputs import render_page
from ocr.limits import Limits
from ocr.orientation import MIN_CHARACTERS, UPRIGHT_CONFIDENT, detect_rotation
from ocr.recognise import PageText, Word, recognise
from ocr.resolution import page_dpi
from ocr.searchable_pdf import image_pdf
from ocr.skew import count_text_lines

LOW_CONFIDENCE_THRESHOLD = 70.0
"""Pages whose mean word confidence falls below this are flagged for a clerk to check.

Measured here (``ara+eng``, an 11-line Arabic form degraded step by step, after cleanup):

    mean confidence   88-93   84-86   82.7   74.7   62.8   43.6
    character error   0-4%    4-5%    9%     13%    23%    67%

Above ~85 the text is fit for search as it is; between 70 and 85 a word here and there is wrong, still useful for
search; below 70 more than one character in eight is wrong and a person should look at the page. A higher bar would
flag most real-world scans (which score lower than synthetic pages) and teach the clerks to ignore the flag.
"""
MISSING_LINES_SHARE = 0.75
"""A page is also flagged when Tesseract returns fewer than this share of the text lines the page visibly has:
Tesseract can drop whole Arabic lines without lowering its confidence in the others."""
PREVIEW_LONG_SIDE = 1600
PREVIEW_QUALITY = 80


@dataclass
class PageResult:
    index: int
    """0-based page number in the source file."""
    text: str
    mean_confidence: float
    words: list[Word]
    line_count: int
    is_blank: bool
    rotation: int
    """Counter-clockwise degrees applied to put the page upright (0, 90, 180, 270)."""
    skew_angle: float
    """Counter-clockwise degrees applied to level its lines."""
    timings: dict[str, float]
    """Seconds: "render", each cleanup step that ran, "ocr" (or "pdf" for a blank page), "preview", "total"; and the
    parts of "ocr" (``PageText.timings``: "first_reading", "second_look", "proofread", "text_layer"), summed over
    the readings when an upside-down page is read again."""
    pdf: bytes
    """This page as a one-page searchable PDF (image only when blank)."""
    preview_jpeg: bytes
    """The cleaned page, at most PREVIEW_LONG_SIDE pixels on its long side, to show beside its text."""
    low_confidence: bool
    expected_lines: int = 0
    """Text lines counted geometrically on the cleaned page, to compare with ``line_count``."""
    dpi: int = 300
    crop_box: tuple[int, int, int, int] | None = None
    size: tuple[int, int] = (0, 0)
    """Width and height in pixels of the cleaned page (the image inside ``pdf``)."""
    warnings: list[str] = field(default_factory=list)
    """Why the page was flagged, in short machine words: "low_confidence", "missing_lines"."""
    numbers: list[NumberRead] = field(default_factory=list)
    """With ``read_numbers``: each line of the page holding a long number, read again by digit shape
    (``ocr.digit_shapes``), the second opinion on an ID card's number."""
    orientation_method: str = ""
    """How up was decided: "deferred" (lines across the page and the first reading confident: no orientation pass),
    "reading", "geometry" or "none" (``ocr.orientation``); empty when the step was off or the page blank."""


def process_page(
    path: Path,
    index: int,
    limits: Limits = Limits(),  # noqa: B008 - frozen
    options: CleanupOptions = CleanupOptions(),  # noqa: B008 - frozen
    lang: str = "ara",
    read_numbers: bool = False,
) -> PageResult:
    """Render page ``index`` of ``path``, clean it, read it, and return everything the archive keeps about it.

    ``read_numbers`` (an ID card) also reads each line with a long number by digit shape, on the cleaned page the
    words' boxes belong to (``PageResult.numbers``).

    Raises ``InputRejected`` for a file that cannot be read and ``OcrFailed`` when Tesseract fails.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    step = time.perf_counter()
    page = render_page(Path(path), index, limits)
    timings["render"] = time.perf_counter() - step
    dpi = page_dpi(page)

    cleaned = clean(page, replace(options, orientation_defer=True))
    del page  # one page of pixels at a time
    timings.update(cleaned.timings)
    image = cleaned.image
    rotation, orientation_method = cleaned.rotation, cleaned.orientation_method
    if cleaned.sheet_corners is not None:  # a flattened photo: its pixels no longer match the photo's size
        dpi = page_dpi(image)

    step = time.perf_counter()
    warnings: list[str] = []
    numbers: list[NumberRead] = []
    if cleaned.is_blank:
        text, confidence, words, line_count, expected = "", 0.0, [], 0, 0
        pdf = image_pdf(image, dpi=dpi)
        timings["pdf"] = time.perf_counter() - step
    else:
        read = recognise(image, lang=lang, dpi=dpi)
        timings["ocr"] = time.perf_counter() - step
        parts = dict(read.timings)
        if cleaned.orientation_method == "deferred" and orientation_in_doubt(read):
            step = time.perf_counter()
            guess = detect_rotation(np.asarray(image), lang=options.orientation_lang, axes=[0])
            timings["orientation"] = timings.get("orientation", 0.0) + time.perf_counter() - step
            orientation_method = guess.method
            if guess.rotation:
                step = time.perf_counter()
                image = image.rotate(guess.rotation, expand=True)
                rotation = guess.rotation
                read = recognise(image, lang=lang, dpi=dpi)
                timings["ocr"] += time.perf_counter() - step
                parts = {part: parts.get(part, 0.0) + seconds for part, seconds in read.timings.items()}
        timings.update(parts)
        text, confidence, words, line_count, pdf = (
            read.text, read.mean_confidence, read.words, read.line_count, read.pdf
        )
        step = time.perf_counter()
        expected = count_text_lines(image)
        timings["line_count"] = time.perf_counter() - step
        if read_numbers:
            step = time.perf_counter()
            numbers = read_numbers_on_page(image, words)
            timings["numbers"] = time.perf_counter() - step
        if confidence < LOW_CONFIDENCE_THRESHOLD:
            warnings.append("low_confidence")
        if expected >= 3 and line_count < MISSING_LINES_SHARE * expected:
            warnings.append("missing_lines")

    step = time.perf_counter()
    preview = preview_jpeg(image)
    timings["preview"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    return PageResult(
        index=index,
        text=text,
        mean_confidence=confidence,
        words=words,
        line_count=line_count,
        is_blank=cleaned.is_blank,
        rotation=rotation,
        skew_angle=cleaned.skew_angle,
        timings=timings,
        pdf=pdf,
        preview_jpeg=preview,
        low_confidence=bool(warnings),
        expected_lines=expected,
        dpi=dpi,
        crop_box=cleaned.crop_box,
        size=image.size,
        warnings=warnings,
        numbers=numbers,
        orientation_method=orientation_method,
    )


def orientation_in_doubt(read: PageText) -> bool:
    """Whether the first reading of a page whose lines run across it could be of an upside-down page: upright text
    reads with mean word confidence ~80-95, upside-down Arabic with ~20-50 (``ocr.orientation``); a page with
    hardly any words says nothing either way."""
    characters = sum(len(word.text) for word in read.words)
    return read.mean_confidence < UPRIGHT_CONFIDENT or characters < 2 * MIN_CHARACTERS


def preview_jpeg(image: Image.Image, long_side: int = PREVIEW_LONG_SIDE, quality: int = PREVIEW_QUALITY) -> bytes:
    """A JPEG of the page no larger than ``long_side`` pixels, for the screen beside the text.

    Why bilinear and no Huffman optimisation: the preview was ~5 % of a short page's CPU. Pillow's bilinear filter
    widens with the reduction (it averages every source pixel, like LANCZOS, without LANCZOS's six-lobe kernel), and
    ``reducing_gap`` first halves an A4 scan by plain box averaging (``Image.reduce``); measured on a 300 dpi A5 page,
    0.039 -> 0.014 CPU s, the JPEG 3 % larger without ``optimize`` (an extra pass over the data). The text and the PDF
    do not depend on it."""
    preview = image.copy()
    preview.thumbnail((long_side, long_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    preview.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
