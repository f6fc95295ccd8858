"""Is the page upright, upside down, or on its side? (0/90/180/270 degrees.)

Tesseract's own detector (``--psm 0``, the ``osd`` model) was measured here on Arabic pages: right on full pages
but ~0.5 s each, and it gives up ("Too few characters") on a page of two lines, a common case for our forms. So:

1. **Axis, geometrically.** The projection profile across text lines is far sharper than along them (ratio ~3 on a
   full Arabic page, ~1.6 on a two-line page), so comparing the best profile of the page with that of its transpose
   says whether lines run across or down the page, at any skew up to ±15°. Milliseconds.
2. **Up or down, by reading.** Two of the longest text lines (600 px of each at most), levelled and scaled to
   ~48 px, are stacked once upright and once turned 180° into one small image that Tesseract (``ara+eng``, one
   process) reads. Upright Arabic reads with mean word confidence ~85-93, upside-down with ~20-50, so the better
   half wins. When the axis is unclear (a single line, tables) the other axis's two candidates join the same
   stack. Measured here: 120/120 right over three Arabic fonts, 1-11 lines, noise, 0 and 9° skew and each of the
   four rotations, and 16/16 on English pages; ~0.25-0.3 s of Tesseract CPU a page. Reading with ``ara`` alone
   costs half as much, because ``ara+eng`` re-reads every doubtful (upside-down) word with the English model, but
   it turned upright English pages upside down, so both languages stay.
3. **When reading cannot decide** (no legible words, e.g. a photo), the page stays as it is, unless the axis is
   clearly vertical and the page as it lies reads no better (a straight dark edge can fake a vertical axis: a
   scanner's black band turned an upright page on its side this way); then the side is chosen by where Arabic
   lines carry their ink: ascenders and dots put most of a line's mass above the baseline, the densest row.
   A page whose reading as it lies is already confident is never turned.

Rotations are counter-clockwise degrees, as in ``PIL.Image.rotate`` and ``numpy.rot90``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ocr.borders import remove_edge_bands
from ocr.engine import read
from ocr.skew import (
    MIN_POINTS,
    Gray,
    InkPoints,
    Skew,
    estimate_skew,
    ink_mask,
    ink_points,
    rotate_gray,
    runs,
    shrink,
)

AXIS_MARGIN = 1.25
"""Profile-sharpness ratio above which the text axis is taken as known (text pages measured 1.6–3.9)."""
MIN_CONFIDENCE = 50.0
"""The winning reading must be at least this legible (mean word confidence, 0-100) ..."""
MIN_LEAD = 12.0
"""... and lead the runner-up by this much, or the geometric answer stands."""
UPRIGHT_CONFIDENT = 75.0
"""A page that reads as it lies with at least this confidence stays as it is (upside-down text measured 20-50,
sideways text cut crosswise reads as fragments)."""
MIN_CHARACTERS = 4
SHARE = 0.4
"""A candidate competes only if it yields this share of the most characters any candidate yields: a few fragments
of a line cut crosswise (the wrong axis) can be read confidently, but they are few."""
LINE_HEIGHT = 48
"""Pixels per text line (ascenders to descenders) in the image Tesseract reads: about the ~36 px its LSTM scales
every line to. Larger costs time and, measured with Amiri's tall ascenders, can make Tesseract find no text at all."""
LINE_WIDTH = 600
"""Most pixels of one line that are read (~15 Arabic letters at that scale)."""
MAX_LINES = 2
SECTION_GAP = 2 * LINE_HEIGHT
WORK_LONG_SIDE = 1800


@dataclass(frozen=True)
class OrientationGuess:
    rotation: int
    """Counter-clockwise degrees to apply: 0, 90, 180 or 270."""
    method: str
    """"reading", "geometry" or "none", for the timings page and for debugging odd pages."""
    confidences: dict[int, float]


@dataclass(frozen=True)
class Axes:
    """Which way the lines run (``text_axes``), with what was measured on the way: the deskew step reuses it."""

    axes: list[int]
    """[0] across the page, [90] down it, [0, 90] unclear, [] too little ink to say."""
    points: InkPoints | None = None
    """The page's ink at analysis scale, edge bands removed (None when too little to say anything)."""
    across: Skew | None = None
    """The skew of lines running across the page, from ``points``."""


def measure_axes(gray: Gray) -> Axes:
    """Which way the lines run, from geometry alone (milliseconds), and the measurements that say so."""
    gray, _ = remove_edge_bands(gray)  # a long straight dark band would dominate both profiles and every line
    points = ink_points(gray)
    if len(points) < MIN_POINTS:
        return Axes([])
    across, down = estimate_skew(points), estimate_skew(points.transposed())
    ratio = across.peakiness / down.peakiness
    return Axes([0] if ratio >= AXIS_MARGIN else [90] if ratio <= 1 / AXIS_MARGIN else [0, 90], points, across)


def text_axes(gray: Gray) -> list[int]:
    """Which way the lines run, from geometry alone: [0] across the page, [90] down it, [0, 90] unclear, [] when
    there is too little ink to say."""
    return measure_axes(gray).axes


def detect_rotation(gray: Gray, *, lang: str = "ara+eng", timeout: float = 30.0,
                    axes: list[int] | None = None) -> OrientationGuess:
    """Decide how to turn a greyscale page (dark ink on light paper) so that its text reads upright.

    ``axes`` is ``text_axes(gray)`` when the caller has it already."""
    if axes is None:
        axes = text_axes(gray)
    gray, _ = remove_edge_bands(gray)
    if not axes:  # too little ink to say anything
        return OrientationGuess(0, "none", {})

    work = shrink(gray, min(1.0, WORK_LONG_SIDE / max(gray.shape)))
    bands: dict[int, Gray] = {}
    for axis in axes:
        band = _line_band(np.ascontiguousarray(np.rot90(work, k=axis // 90)))
        if band is not None:
            bands[axis] = band
            bands[axis + 180] = np.ascontiguousarray(band[::-1, ::-1])
    if not bands:
        return OrientationGuess(0, "none", {})

    readings = _read_stack(bands, lang=lang, timeout=timeout)
    decided = _decide(readings)
    if decided is None and axes == [90]:
        # Before turning a page on its side by geometry alone, read it as it lies: a straight dark edge (a scanner
        # band, a ruled frame) can make the vertical profile look sharper, while the text is in fact upright.
        upright = _line_band(work)
        if upright is not None:
            extra = _read_stack({0: upright, 180: np.ascontiguousarray(upright[::-1, ::-1])}, lang=lang,
                                timeout=timeout)
            readings.update(extra)
            decided = _decide(readings)
    confidences = {rotation: round(reading.confidence, 1) for rotation, reading in readings.items()}
    if decided is not None:
        return OrientationGuess(decided, "reading", confidences)
    if axes == [90] and 90 in bands:
        return OrientationGuess(90 if _baseline_bias(bands[90]) >= 0 else 270, "geometry", confidences)
    return OrientationGuess(0, "none", confidences)


def _decide(readings: dict[int, Reading]) -> int | None:
    """The rotation the readings clearly favour, or None.

    A candidate needs enough characters (SHARE of the most any candidate gave), a legible reading (MIN_CONFIDENCE)
    and a lead of MIN_LEAD over the runner-up. And a page whose reading as it lies is already confident
    (UPRIGHT_CONFIDENT) is never turned: a wrong turn costs the whole page, keeping it costs nothing.
    """
    if not readings:
        return None
    most = max(reading.characters for reading in readings.values())
    enough = max(MIN_CHARACTERS, SHARE * most)
    eligible = {rotation: reading for rotation, reading in readings.items() if reading.characters >= enough}
    ranked = sorted(eligible.items(), key=lambda item: item[1].confidence, reverse=True)
    if not ranked:
        return None
    best, winner = ranked[0]
    runner_up = ranked[1][1].confidence if len(ranked) > 1 else 0.0
    if winner.confidence < MIN_CONFIDENCE or winner.confidence - runner_up < MIN_LEAD:
        return None
    upright = eligible.get(0)
    if best != 0 and upright is not None and upright.confidence >= UPRIGHT_CONFIDENT:
        return 0
    return best


@dataclass(frozen=True)
class Reading:
    characters: int
    confidence: float
    """Mean word confidence (0-100), weighted by word length."""


def _line_band(work: Gray) -> Gray | None:
    """A few of the page's longest text lines, levelled, scaled and stacked: a small image worth reading.

    A line's core (rows with at least 1% ink) is widened halfway towards its neighbours so that ascenders, descenders
    and dots come along; at most MAX_LINES lines and LINE_WIDTH pixels of each are kept, which bounds the cost.
    """
    skew = estimate_skew(ink_points(work))
    level = rotate_gray(work, skew.angle) if abs(skew.angle) >= 0.2 else work
    mask = ink_mask(level)
    profile = np.convolve(mask.sum(axis=1), np.ones(3), mode="same")
    cores = [(t, b) for t, b in runs(profile > max(3, 0.01 * level.shape[1])) if b - t >= 3]
    if not cores:
        return None
    typical = float(np.median([b - t for t, b in cores]))
    inked = mask.sum(axis=1) > 0
    lines = []
    for i, (top, bottom) in enumerate(cores):
        if not 0.5 * typical <= bottom - top <= 2.5 * typical:
            continue
        above = (cores[i - 1][1] + top) // 2 if i > 0 else 0
        below = (bottom + cores[i + 1][0]) // 2 if i + 1 < len(cores) else level.shape[0]
        skip = max(1, int(0.3 * (bottom - top)))  # dots may float a few blank rows away from the letters
        first, last = _grow(inked, top, -1, above, skip), _grow(inked, bottom - 1, 1, below - 1, skip)
        lines.append((first, last + 1, top, bottom))
    if not lines:
        return None
    lines = sorted(sorted(lines, key=lambda line: -float(profile[line[2] : line[3]].sum()))[:MAX_LINES])
    factor = LINE_HEIGHT / float(np.median([bottom - top + int(0.6 * typical) for top, bottom, _, _ in lines]))
    strips: list[Gray] = []
    for top, bottom, core_top, core_bottom in lines:
        columns = np.nonzero(mask[core_top:core_bottom].any(axis=0))[0]
        left, right = int(columns[0]), int(columns[-1]) + 1
        span = int(LINE_WIDTH / factor)
        if right - left > span:  # the middle of a long line: cut words read equally badly both ways up
            left = (left + right - span) // 2
            right = left + span
        pad = int(0.3 * typical)
        strip = np.pad(level[top:bottom, max(0, left - pad) : right + pad], ((pad, pad), (0, 0)), constant_values=255)
        size = (max(1, round(strip.shape[1] * factor)), max(1, round(strip.shape[0] * factor)))
        resample = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        strips.append(np.asarray(cv2.resize(strip, size, interpolation=resample), dtype=np.uint8))
    width = max(strip.shape[1] for strip in strips)
    gap = np.full((LINE_HEIGHT // 2, width), 255, np.uint8)
    padded = []
    for strip in strips:
        right_aligned = np.hstack([np.full((strip.shape[0], width - strip.shape[1]), 255, np.uint8), strip])
        padded += [right_aligned, gap]
    return np.vstack(padded[:-1])


def _grow(inked: np.ndarray, start: int, step: int, limit: int, skip: int) -> int:
    """From ``start``, walk by ``step`` through inked rows (jumping blank gaps up to ``skip``) without passing
    ``limit``; the last inked row reached."""
    last, row, blank = start, start, 0
    while row != limit and blank <= skip:
        row += step
        if inked[row]:
            last, blank = row, 0
        else:
            blank += 1
    return last


def _read_stack(bands: dict[int, Gray], *, lang: str, timeout: float) -> dict[int, Reading]:
    """Read every candidate in one Tesseract run: characters read and their mean confidence, per candidate.

    The candidates are far apart (SECTION_GAP) so that Tesseract never merges lines of two candidates, and each word
    counts for the candidate its middle is nearest to.
    """
    width = max(band.shape[1] for band in bands.values()) + 2 * SECTION_GAP
    sections: list[tuple[int, float]] = []  # rotation, middle row
    rows: list[Gray] = [np.full((SECTION_GAP, width), 255, np.uint8)]
    y = SECTION_GAP
    for rotation, band in bands.items():
        row = np.full((band.shape[0], width), 255, np.uint8)
        row[:, width - SECTION_GAP - band.shape[1] : width - SECTION_GAP] = band
        rows += [row, np.full((SECTION_GAP, width), 255, np.uint8)]
        sections.append((rotation, y + band.shape[0] / 2))
        y += band.shape[0] + SECTION_GAP
    stack = Image.fromarray(np.vstack(rows), "L")
    tsv = read(stack, lang=lang, psm=6, dpi=300, timeout=timeout).tsv
    weighted = dict.fromkeys(bands, 0.0)
    characters = dict.fromkeys(bands, 0)
    for word in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text, conf = (word.get("text") or "").strip(), float(word.get("conf") or -1)
        if not text or conf < 0:
            continue
        middle = int(word["top"]) + int(word["height"]) / 2
        rotation = min(sections, key=lambda section: abs(section[1] - middle))[0]
        weighted[rotation] += conf * len(text)
        characters[rotation] += len(text)
    return {rotation: Reading(n, weighted[rotation] / n if n else 0.0) for rotation, n in characters.items()}


def _baseline_bias(band: Gray) -> float:
    """> 0 when the band's lines carry more ink above their densest row (upright Arabic), < 0 when below."""
    profile = ink_mask(band).sum(axis=1).astype(np.float64)
    score = 0.0
    for top, bottom in runs(profile > 0):
        segment = profile[top:bottom]
        peak = int(np.argmax(segment))
        score += float(segment[:peak].sum() - segment[peak + 1 :].sum())
    return score
