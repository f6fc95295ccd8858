"""A second, independent reading of a printed number: each digit's shape matched against the digits of real fonts.

Why: Tesseract's Arabic models misread Arabic-Indic digits systematically (measured on synthetic ID cards in Noto
Naskh: ٣ read as 2 and ٥ as 0 in the full page, in the line alone and with a digit whitelist; the whitelisted
``--psm 7``/``--psm 13`` passes over the number alone were worse than the first reading, often a handful of digits).
A reading that is wrong in one digit looks exactly like a different national ID, so one reader cannot tell a
misread from a different card. This reader fails differently: it cuts the number into its connected components
(every Arabic-Indic and Western digit is one stroke; two that touch are split at the thinnest column) and gives each
the digit whose rendered shape, in any of several installed fonts, is nearest, with a margin to the next digit. When
it and Tesseract read the same digits, the reading is trustworthy; when they differ, nobody should claim anything.

Pure input and output (numpy and OpenCV, no Tesseract): :func:`read_number` takes the pixels of one line and returns
the digits with a per-digit margin; :func:`read_numbers_on_page` finds the number lines of a page from the first
reading's word boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SCRIPTS = {"arabic": "٠١٢٣٤٥٦٧٨٩", "latin": "0123456789"}
SEPARATORS = "/"
"""Separators a row of digits may hold (:func:`read_runs`): a date's slash. Not the stop, which is Arabic-Indic
zero's shape, nor the dash, which Tesseract's English model reads well."""
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_NAMES = (
    "NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf", "NotoSansArabic-Regular.ttf",
    "NotoSansArabic-Bold.ttf", "NotoKufiArabic-Regular.ttf", "NotoKufiArabic-Bold.ttf", "Amiri-Regular.ttf",
    "Amiri-Bold.ttf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf",
)
"""Fonts whose digits are the references (those installed are used; the Docker image installs Noto and Amiri)."""
SIDE = 20
"""Each shape is compared as a SIDE x SIDE image (aspect kept)."""
GEOMETRY_WEIGHT = 1.5
"""How much height, width and vertical place count against the shape (٠ is a small dot at mid-height; ١ a bar)."""
MIN_DIGIT_WORD = 4
"""A word of the first reading with this many digits marks a number line."""
DOUBTFUL_WORD = 60.0
"""Below this confidence a word may be a number the first reading took for letters (a clean card's ٣٠١٠٥ read as
"لل كنا" at confidence 31-40): its line is read by shape too."""


@dataclass(frozen=True)
class DigitRead:
    digit: str
    """0-9 (Western), whatever the script printed."""
    margin: float
    """1 - best distance / second-best distance over the other digits: 0 is a toss-up, ~0.5 an unmistakable shape."""


@dataclass(frozen=True)
class NumberRead:
    digits: str
    """The digits read, left to right, as 0-9."""
    script: str
    """"arabic" or "latin": which digit set matched better."""
    reads: tuple[DigitRead, ...]

    @property
    def margin(self) -> float:
        """The least sure digit's margin (0 for no digits): a number is as trustworthy as its weakest digit."""
        return min((r.margin for r in self.reads), default=0.0)


@dataclass(frozen=True)
class _Reference:
    digit: str
    """"0"-"9", or a separator."""
    shape: np.ndarray
    geometry: np.ndarray


def installed_fonts() -> list[Path]:
    found = []
    for name in FONT_NAMES:
        for root in FONT_DIRS:
            hits = sorted(root.rglob(name)) if root.is_dir() else []
            if hits:
                found.append(hits[0])
                break
    return found


@lru_cache(maxsize=2)
def references(script: str) -> tuple[_Reference, ...]:
    """Each digit of ``script`` drawn in every installed font that has it, as shape and geometry."""
    return _reference_sets(script)[0]


@lru_cache(maxsize=2)
def _reference_sets(script: str) -> tuple[tuple[_Reference, ...], tuple[_Reference, ...]]:
    """The digits of ``script`` in every installed font that has all ten, and the same fonts' separators
    (``SEPARATORS``), measured against the font's digits (a date's "/" is as tall as a digit and reaches below)."""
    digits: list[_Reference] = []
    separators: list[_Reference] = []
    for path in installed_fonts():
        font = ImageFont.truetype(str(path), 72)
        masks: list[tuple[str, np.ndarray]] = []
        for number, char in enumerate(SCRIPTS[script] + SEPARATORS):
            if font.getmask(char).getbbox() is None:
                break
            canvas = Image.new("L", (160, 180), 0)
            ImageDraw.Draw(canvas).text((40, 30), char, font=font, fill=255)
            mask = np.asarray(canvas) > 127
            if not mask.any():
                break
            masks.append((str(number) if number < 10 else char, mask))
        if len(masks) < 10:
            continue
        boxes = [_box(mask) for _value, mask in masks[:10]]
        height = float(np.median([b[3] - b[1] for b in boxes]))
        middle = (np.median([b[1] for b in boxes]) + np.median([b[3] for b in boxes])) / 2
        for label, mask in masks:
            shape, geometry = _features(mask, height, float(middle))
            (digits if label.isdigit() else separators).append(_Reference(label, shape, geometry))
    return tuple(digits), tuple(separators)


def read_number(gray: np.ndarray, span: tuple[int, int] | None = None) -> NumberRead | None:
    """The digits of one line of printed digits (dark ink on light paper, the line roughly level), or None when the
    pixels hold nothing shaped like a row of digits. ``span`` (x from, x to) is where the number is thought to be;
    blobs centred outside it by more than a third of the line height (the label's letters) are left out."""
    components = _components(gray)
    if not components:
        return None
    height = float(np.median([h for _x, _y, _w, h, _m in components if h >= 0.5 * max(c[3] for c in components)]))
    tall = [c for c in components if c[3] >= 0.6 * height]
    if not tall:
        return None
    top = float(np.median([c[1] for c in tall]))
    bottom = float(np.median([c[1] + c[3] for c in tall]))
    middle = (top + bottom) / 2
    row = [c for c in components if c[1] + c[3] >= top - 0.25 * height and c[1] <= bottom + 0.25 * height]
    if span is not None:
        row = [c for c in row if span[0] - height / 3 <= c[0] + c[2] / 2 <= span[1] + height / 3]
    row = _split_touching(row, height)
    row.sort(key=lambda c: c[0])
    best: NumberRead | None = None
    for script in SCRIPTS:
        bank = _bank(script, separators=False)
        if bank is None:
            continue
        reads = tuple(_classify(_features(mask, height, middle, (x, y, w, h)), bank) for x, y, w, h, mask in row)
        read = NumberRead("".join(r.digit for r in reads), script, reads)
        if best is None or _mean_margin(read) > _mean_margin(best):
            best = read
    return best


WORD_GAP = 0.35
PITCH = 1.25
SPACE = 2.5
WIDE_GAP = 1.0
"""Where two numbers of a row part (:func:`read_runs`): an ink gap of at least ``WORD_GAP`` of the digits' height
that is also a wider step from blob centre to blob centre than inside a number (``PITCH`` times the row's median
step) or a wider gap (``SPACE`` times the row's median gap); or an ink gap of ``WIDE_GAP``. Measured on rows of our
own in the four benchmark fonts (14-digit IDs, rows of three amounts, dates): the ink gaps alone do not tell, inside
a number 0.0-0.32 of the height in the Noto fonts but up to 0.69 in Amiri (its ١ is a thin bar with wide
bearings), between numbers from 0.44 (Noto Sans) to 1.17 (Amiri). Most digits are set at a fixed advance, so the
centre steps tell: 0.71-1.12 of the row's median step inside a number, 1.45-2.06 between numbers; but Noto Sans
draws ٠ and ١ off their advance's centre, and "١٧٥٠ ١١٧" stepped only 1.09 across the space. There the gap
itself stands out: inside a number at most 1.8 times the row's median gap (Amiri's ID 1.5), across a space 2.9-3.5
times; that rule parts Arabic-Indic runs only, as it cut Western numbers after a 1 ("1 979", "29801 092744479" on
the seed-7 pages of ``bench/ocr_accuracy.py``)."""


@dataclass(frozen=True)
class Run:
    """One number of a row: where its ink lies in the strip (x from, x to) and what its shapes read."""

    left: int
    right: int
    read: NumberRead


def read_runs(gray: np.ndarray, leave_out: Sequence[tuple[int, int]] = ()) -> list[Run]:
    """A line strip's ink, cut into numbers at word spaces (``WORD_GAP``, ``PITCH``), each read as digits and
    separators in the script whose shapes it matches better, left to right; blobs centred in a ``leave_out`` span
    (words already read as letters) are not read. Every blob gets a digit or a separator: whether the run is a
    number is the margins' and the caller's call (a word's letters read as digits with margins ~0-0.45, printed
    digits ~0.4-0.95)."""
    components = [c for c in _components(gray) if not any(a <= c[0] + c[2] / 2 <= b for a, b in leave_out)]
    if not components:
        return []
    height = float(np.median([h for _x, _y, _w, h, _m in components if h >= 0.5 * max(c[3] for c in components)]))
    tall = [c for c in components if c[3] >= 0.6 * height]
    top = float(np.median([c[1] for c in tall]))
    bottom = float(np.median([c[1] + c[3] for c in tall]))
    middle = (top + bottom) / 2
    row = [c for c in components if c[1] + c[3] >= top - 0.25 * height and c[1] <= bottom + 0.25 * height]
    row = sorted(_split_touching(row, height), key=lambda c: c[0])
    if not row:
        return []
    steps = [(b[0] + b[2] / 2) - (a[0] + a[2] / 2) for a, b in pairwise(row)]
    pitch = float(np.median(steps)) if steps else 0.0
    gaps = [b[0] - (a[0] + a[2]) for a, b in pairwise(row)]
    spacing = float(np.median(gaps)) if gaps else 0.0
    groups: list[list[tuple[Component, bool]]] = []  # each blob, and whether a space may lie before it
    for component, step in zip(row, [0.0, *steps], strict=True):
        if groups:
            gap = component[0] - max(c[0] + c[2] for c, _ in groups[-1])
            if gap < WIDE_GAP * height and (gap < WORD_GAP * height or step < PITCH * pitch):
                groups[-1].append((component, gap >= WORD_GAP * height and gap >= SPACE * max(spacing, 1.0)))
                continue
        groups.append([(component, False)])
    out = []
    for group in groups:
        best: NumberRead | None = None
        for script in SCRIPTS:
            bank = _bank(script, separators=True)
            if bank is None:
                continue
            reads = tuple(_classify(_features(mask, height, middle, (x, y, w, h)), bank)
                          for (x, y, w, h, mask), _space in group)
            read = NumberRead("".join(r.digit for r in reads), script, reads)
            if best is None or _mean_margin(read) > _mean_margin(best):
                best = read
        if best is None:
            continue
        # Arabic-Indic digits part at a wide gap too (``SPACE``); Western ones do not: a Latin 1's bearings are as
        # wide ("1 979" for 1979 when they did).
        cuts = [0, *(i for i, (_c, space) in enumerate(group) if space and best.script == "arabic"), len(group)]
        for start, end in pairwise(cuts):
            part = group[start:end]
            reads = best.reads[start:end]
            out.append(Run(min(c[0] for c, _ in part), max(c[0] + c[2] for c, _ in part),
                           NumberRead("".join(r.digit for r in reads), best.script, reads)))
    return out


def read_numbers_on_page(image: Image.Image, words: Sequence[object]) -> list[NumberRead]:
    """Every number line of a page read by shape. ``words`` is the first reading (objects with ``text``,
    ``confidence``, ``left``, ``top``, ``width``, ``height``, ``line``); a line is read when it has a word of at
    least ``MIN_DIGIT_WORD`` digits, or words the first reading doubted (below ``DOUBTFUL_WORD``: digits taken for
    letters). The strip read spans those words and one line height either side, so digits the first reading left
    out are seen too."""
    gray = np.asarray(image.convert("L"))
    lines: dict[int, list[object]] = {}
    for word in words:
        text = str(getattr(word, "text", ""))
        if any(ch.isdigit() for ch in text) or float(getattr(word, "confidence", 100.0)) < DOUBTFUL_WORD:
            lines.setdefault(int(getattr(word, "line", 0)), []).append(word)
    out = []
    for line_words in lines.values():
        numeric = [w for w in line_words if any(ch.isdigit() for ch in str(getattr(w, "text", "")))]
        if any(sum(ch.isdigit() for ch in str(getattr(w, "text", ""))) >= MIN_DIGIT_WORD for w in numeric):
            line_words = numeric  # the number was seen as digits: read where it is, not the doubted label beside it
        elif not any(float(getattr(w, "confidence", 100.0)) < DOUBTFUL_WORD for w in line_words):
            continue
        left = min(int(getattr(w, "left", 0)) for w in line_words)
        right = max(int(getattr(w, "left", 0)) + int(getattr(w, "width", 0)) for w in line_words)
        top = min(int(getattr(w, "top", 0)) for w in line_words)
        bottom = max(int(getattr(w, "top", 0)) + int(getattr(w, "height", 0)) for w in line_words)
        pad = max(4, bottom - top)
        x0, y0 = max(0, left - pad), max(0, top - pad // 2)
        strip = gray[y0:bottom + pad // 2, x0:right + pad]
        read = read_number(strip, span=(left - x0, right - x0)) if strip.size else None
        if read is not None and read.digits:
            out.append(read)
    return out


# --- shapes -----------------------------------------------------------------------------------------------------


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _features(
    mask: np.ndarray, height: float, middle: float, box: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The shape (normalised, aspect kept) and its geometry relative to the line: height, width, vertical place.
    With ``box`` (x, y, width, height in the strip), ``mask`` is the blob's own, cut to that box."""
    if box is None:
        x0, y0, x1, y1 = _box(mask)
        crop = mask[y0:y1, x0:x1].astype(np.uint8) * 255
    else:
        x0, y0, x1, y1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
        crop = mask.astype(np.uint8) * 255
    h, w = crop.shape
    side = max(h, w)
    square = np.zeros((side, side), np.uint8)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = crop
    small = cv2.GaussianBlur(cv2.resize(square, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255,
                             (3, 3), 0).flatten()
    shape = small / (float(np.linalg.norm(small)) or 1.0)
    geometry = np.array([h / height, w / height, ((y0 + y1) / 2 - middle) / height], np.float32)
    return shape, geometry


@dataclass(frozen=True)
class _Bank:
    """References stacked for one vectorised comparison (the per-reference loop cost ~1 ms a blob)."""

    labels: tuple[str, ...]
    index: np.ndarray
    """Each reference's place in ``labels``."""
    shapes: np.ndarray
    geometry: np.ndarray


@lru_cache(maxsize=4)
def _bank(script: str, separators: bool) -> _Bank | None:
    digits, others = _reference_sets(script)
    refs = digits + (others if separators else ())
    if not digits:
        return None
    labels = tuple(dict.fromkeys(ref.digit for ref in refs))
    return _Bank(labels, np.array([labels.index(ref.digit) for ref in refs]),
                 np.stack([ref.shape for ref in refs]), np.stack([ref.geometry for ref in refs]))


def _classify(features: tuple[np.ndarray, np.ndarray], bank: _Bank) -> DigitRead:
    """The nearest reference's label, and the margin to the nearest reference of another label."""
    shape, geometry = features
    distance = np.linalg.norm(bank.shapes - shape, axis=1) + GEOMETRY_WEIGHT * np.linalg.norm(
        bank.geometry - geometry, axis=1)
    nearest = np.full(len(bank.labels), np.inf)
    np.minimum.at(nearest, bank.index, distance)
    order = np.argsort(nearest, kind="stable")
    d1, d2 = float(nearest[order[0]]), float(nearest[order[1]])
    return DigitRead(bank.labels[int(order[0])], max(0.0, 1.0 - d1 / d2) if d2 > 0 else 0.0)


def _mean_margin(read: NumberRead) -> float:
    return sum(r.margin for r in read.reads) / len(read.reads) if read.reads else 0.0


Component = tuple[int, int, int, int, np.ndarray]
"""x, y, width, height in the strip, and the component's own mask, cut to that box."""


def _components(gray: np.ndarray) -> list[Component]:
    """Ink blobs of the strip, specks dropped: median filter, Otsu threshold, connected components."""
    if gray.ndim != 2 or min(gray.shape) < 8:
        return []
    smooth = cv2.medianBlur(np.ascontiguousarray(gray, dtype=np.uint8), 3)
    _t, ink = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, labels, stats, _centres = cv2.connectedComponentsWithStats(ink, connectivity=8)
    blobs = [(int(x), int(y), int(w), int(h), int(area)) for x, y, w, h, area in stats[1:count]]
    if not blobs:
        return []
    tallest = max(b[3] for b in blobs)
    height = float(np.median([b[3] for b in blobs if b[3] >= 0.5 * tallest]))
    out: list[Component] = []
    for index, (x, y, w, h, area) in enumerate(blobs, start=1):
        if area < 0.015 * height * height or h > 2.0 * height:
            continue
        out.append((x, y, w, h, labels[y:y + h, x:x + w] == index))
    return out


def _split_touching(row: list[Component], height: float) -> list[Component]:
    """Two digits a blur joined are one blob about twice as wide as a digit: cut it at its thinnest column."""
    out: list[Component] = []
    for x, y, w, h, mask in row:
        if w <= 1.15 * height or h < 0.5 * height:
            out.append((x, y, w, h, mask))
            continue
        pieces = max(2, round(w / (0.7 * height)))
        columns = mask.sum(axis=0).astype(float)
        cuts = []
        for k in range(1, pieces):
            centre = int(k * w / pieces)
            lo, hi = max(1, centre - w // (3 * pieces)), min(w - 1, centre + w // (3 * pieces) + 1)
            cuts.append(lo + int(np.argmin(columns[lo:hi])) if hi > lo else centre)
        edges = [0, *cuts, w]
        for a, b in pairwise(edges):
            part = mask[:, a:b]
            if part.any():
                px0, py0, px1, py1 = _box(part)
                out.append((x + a + px0, y + py0, px1 - px0, py1 - py0, part[py0:py1, px0:px1]))
    return out


__all__ = ["DigitRead", "NumberRead", "Run", "read_number", "read_numbers_on_page", "read_runs", "references"]
