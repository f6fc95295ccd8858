"""Make a scanned page easy to read: greyscale, flatten, crop, denoise, contrast, blank check, orientation, deskew.

The order matters and is fixed:

1. **perspective**: a phone photo's sheet, a trapezoid on a darker desk, is found and warped flat and upright
   (``ocr.perspective``); scans are left alone;
2. **crop**, because a black scanner lid around the sheet, or the thin ragged black bands a scanner leaves along
   the edges, would pass for ink in every later step (``ocr.borders``; measured: such bands made orientation turn
   an upright page on its side, CER 2% -> 89%);
3. **denoise** (median filter, 3x3 or larger on very noisy scans) before anything measures ink: it removes
   salt-and-pepper specks and sensor grain while keeping Arabic dots (~8 px at 300 dpi). Non-local means is ~25x
   slower for little gain (docs: TOOLCHAIN.md);
4. **contrast**: divide by a smooth estimate of the paper (shadows, yellowed paper and uneven lighting become flat
   white) and stretch so ink is near black. The page stays greyscale; Tesseract binarises it well once the paper
   is flat, whereas a global Otsu on a noisy page would eat thin strokes;
5. **blank_detect** on the clean page; a blank page skips orientation and deskew (there is nothing to align);
6. **orientation** (0/90/180/270, see ``ocr.orientation``) then **deskew** (±15°, see ``ocr.skew``).

Every step can be switched off and is timed, so that benchmarks can show what each costs and gains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image

from ocr.borders import crop_borders, crop_page, remove_edge_bands
from ocr.orientation import Axes, detect_rotation, measure_axes
from ocr.perspective import dewarp
from ocr.skew import MAX_SKEW, Gray, estimate_skew, ink_points, rotate_gray
from ocr.tones import median, median_deviation, percentile

T = TypeVar("T")

__all__ = ["CleanResult", "CleanupOptions", "clean", "crop_borders", "crop_page", "denoise", "deskew", "is_blank",
           "noise_level", "normalise_contrast", "remove_edge_bands", "to_gray"]

BLANK_INK_SHARE = 0.00005
"""A page is blank below 0.005% of its area in ink (specks removed, margins ignored). Measured on 300-dpi A4 pages:
one line of 12-pt Arabic is ~0.04%, a single short word ~0.008%, a lone page number ~0.002%, and the dust of a noisy
empty scan 0% once specks are dropped. So a page with one word is read, and a page with only its number is not."""
BLANK_INK_DEPTH = 48
"""Grey levels below the paper that count as ink for the blank test."""
BLANK_MARGIN = 0.04
"""Share of each edge ignored by the blank test: punch holes, staple shadows and scanner edges live there."""
NO_NOISE = 1.0
"""Noise level (see ``noise_level``) below which a page without specks is not filtered at all: a born-digital or
very clean page has nothing to remove, and the median filter only rounds its strokes (measured on Noto Kufi pages:
CER 3.8 -> 6.9 % on a clean scan with edge bands, 1.4 -> 4.7 % on a blurred one; 2.4 % and 1.2 % without it)."""
MAX_SPECKS = 8
"""Isolated dark specks (1-4 px blobs) per 512-px tile above which a noise-free page is still filtered."""
STRONG_NOISE = 10.0
SEVERE_NOISE = 15.0
"""Noise levels (see ``noise_level``) above which the median filter grows to 5x5, then to two 5x5 passes."""
MIN_SKEW = 0.1
"""Smaller corrections are not worth a resampling of the page."""


@dataclass(frozen=True)
class CleanupOptions:
    """Which steps run. All on by default; ``CleanupOptions.none()`` gives the raw page in greyscale."""

    orientation: bool = True
    deskew: bool = True
    perspective: bool = True
    denoise: bool = True
    contrast: bool = True
    crop: bool = True
    blank_detect: bool = True
    orientation_defer: bool = False
    """When the lines clearly run across the page (geometry, milliseconds), leave up-or-down to the caller's first
    reading (``orientation_method`` "deferred"): ``ocr.pipeline`` reads the page as it lies and runs the full
    orientation pass only when that reading is doubtful. The full pass cost 35% of the time on upright pages."""
    orientation_lang: str = "ara+eng"
    """Languages Tesseract reads the orientation sample with. "ara" alone halves the step's cost but turns upright
    English pages upside down (measured), so use it only for batches known to be Arabic."""

    @classmethod
    def none(cls) -> CleanupOptions:
        """Every step off: the page only becomes greyscale (for baselines in benchmarks)."""
        return cls(orientation=False, deskew=False, perspective=False, denoise=False, contrast=False, crop=False,
                   blank_detect=False)


@dataclass
class CleanResult:
    image: Image.Image
    """The cleaned page, mode "L", with the input's ``info["dpi"]`` carried over."""
    rotation: int = 0
    """Counter-clockwise degrees applied to put the text upright: 0, 90, 180 or 270."""
    skew_angle: float = 0.0
    """Counter-clockwise degrees applied to level the lines (as ``PIL.Image.rotate``): a page scanned turned 7°
    counter-clockwise gets -7."""
    is_blank: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step that ran, by step name."""
    crop_box: tuple[int, int, int, int] | None = None
    """(left, top, right, bottom) kept of the input image when dark borders were cut away; None if nothing was cut."""
    orientation_method: str = ""
    """How the rotation was decided: "reading", "geometry" or "none" (empty if the step did not run)."""
    sheet_corners: tuple[tuple[float, float], ...] | None = None
    """Corners (top-left, top-right, bottom-right, bottom-left) of a photographed sheet that was flattened."""


def clean(image: Image.Image, options: CleanupOptions = CleanupOptions()) -> CleanResult:
    """Run the enabled steps on one page and say what each did and cost."""
    timings: dict[str, float] = {}

    def timed(step: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            timings[step] = timings.get(step, 0.0) + time.perf_counter() - started

    gray = timed("grayscale", lambda: to_gray(image))
    result = CleanResult(image=image, timings=timings)
    if options.perspective:
        gray, quad = timed("perspective", lambda: dewarp(gray))
        if quad is not None:
            result.sheet_corners = tuple((float(x), float(y)) for x, y in quad.corners)
    if options.crop:
        gray, result.crop_box = timed("crop", lambda: crop_page(gray))
    if options.denoise:
        gray = timed("denoise", lambda: denoise(gray))
    if options.contrast:
        gray = timed("contrast", lambda: normalise_contrast(gray))
    if options.blank_detect:
        result.is_blank = timed("blank_detect", lambda: is_blank(gray))
    if not result.is_blank:
        measured: Axes | None = None
        if options.orientation:
            measured = timed("orientation", lambda: measure_axes(gray))
            axes = measured.axes
            if options.orientation_defer and axes == [0]:
                result.orientation_method = "deferred"
            else:
                guess = timed("orientation", lambda: detect_rotation(gray, lang=options.orientation_lang, axes=axes))
                result.rotation, result.orientation_method = guess.rotation, guess.method
                if guess.rotation:
                    gray = np.ascontiguousarray(np.rot90(gray, k=guess.rotation // 90))
                    measured = None  # measured on the page as it lay
        if options.deskew:
            gray, result.skew_angle = timed("deskew", lambda: deskew(gray, measured))
    result.image = Image.fromarray(gray, "L")
    if "dpi" in image.info:
        result.image.info["dpi"] = image.info["dpi"]
    return result


def to_gray(image: Image.Image) -> Gray:
    """8-bit luminance as a contiguous array (colour scans keep their tone, not their hue)."""
    return np.array(image.convert("L"), dtype=np.uint8)


def noise_level(gray: Gray) -> float:
    """Sensor noise, in grey levels: the robust spread of (page - its 3x3 median) over five 512-px tiles.

    Text edges are a minority of any tile, so the median absolute deviation ignores them. Measured: a clean page 0;
    our synthetic scanner noise of sigma 18 (a tired office scanner) ~9, sigma 40 ~13, sigma 60 ~18, sigma 80 ~22.
    """
    spreads = []
    for tile in _tiles(gray):
        residual = tile.astype(np.int16) - cv2.medianBlur(tile, 3).astype(np.int16)
        spreads.append(1.4826 * median_deviation(residual))
    return float(np.median(spreads))


def _tiles(gray: Gray, size: int = 512) -> list[Gray]:
    """Five sample tiles (centre and four around it): enough to judge a page's noise in a few milliseconds."""
    height, width = gray.shape
    size = min(size, height, width)
    anchors = [(0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)]
    return [
        gray[int((height - size) * fy) : int((height - size) * fy) + size,
             int((width - size) * fx) : int((width - size) * fx) + size]
        for fy, fx in anchors
    ]  # fmt: skip


def speck_count(gray: Gray) -> float:
    """Median over the sample tiles of dark blobs of 1-4 pixels: dust and salt-and-pepper that the noise level,
    a robust spread, does not see when they are sparse. Clean text has none at 300 dpi (measured 0 on our fonts)."""
    counts = []
    for tile in _tiles(gray):
        paper = percentile(tile, 90)
        dark = (tile < 0.5 * paper).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
        counts.append(int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] <= 4)))
    return float(np.median(counts))


def denoise(gray: Gray) -> Gray:
    """A median filter sized to the noise: 3x3 for ordinary scans, 5x5 (once or twice) for very noisy ones.

    Measured on a page with heavy noise (sigma 60 plus 2% specks, noise level ~18): after a 3x3 median Tesseract ran
    for over two minutes and gave up; after two 5x5 passes it read the page in 0.5 s with a character error of 3%.
    On ordinary scans 3x3 keeps the thinnest strokes and Arabic dots (several pixels at 300 dpi) intact. A page with
    no measurable noise and no specks is returned as it is (see NO_NOISE).
    """
    level = noise_level(gray)
    if level < NO_NOISE and speck_count(gray) <= MAX_SPECKS:
        return gray
    if level < STRONG_NOISE:
        return np.asarray(cv2.medianBlur(gray, 3), dtype=np.uint8)
    once = cv2.medianBlur(gray, 5)
    return np.asarray(once if level < SEVERE_NOISE else cv2.medianBlur(once, 5), dtype=np.uint8)


def normalise_contrast(gray: Gray) -> Gray:
    """Flatten the paper to white and stretch the ink towards black, gently.

    The paper is estimated by a grey closing (a local maximum that wipes out text) of an eighth-size copy, smoothed
    and clipped to at least 60% of the page's paper level so that dark photos are not bleached into white. Each pixel
    is divided by it. Then one tone curve: the paper's grain (median minus 4 robust deviations and up) becomes pure
    white, which also keeps the page's JPEG in the PDF small, and the darkest ink (0.5th percentile) black, with the
    gain capped at 3 so that a faint page does not turn grain into ink.
    """
    height, width = gray.shape
    small = cv2.resize(gray, (max(1, width // 8), max(1, height // 8)), interpolation=cv2.INTER_AREA)
    paper_level = percentile(small, 90)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    background = cv2.medianBlur(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), 5)
    background = np.maximum(background, np.uint8(max(1, round(0.6 * paper_level))))
    background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    flat = cv2.divide(gray, background, scale=255)  # uint8, saturating
    sample = flat[::4, ::4]
    middle = median(sample)
    spread = 1.4826 * median_deviation(sample)
    white = min(254.0, max(160.0, middle - 4 * spread))
    black = percentile(sample, 0.5)
    if black > 0.6 * white:  # no ink among the darkest 0.5%: only whiten the paper
        black = 0.0
    gain = min(3.0, 255.0 / max(1.0, white - black))
    black = white - 255.0 / gain  # white stays white; with the gain capped, black moves up
    levels = np.arange(256, dtype=np.float32)
    curve = np.clip((levels - black) * gain, 0, 255).astype(np.uint8)
    return np.asarray(cv2.LUT(flat, curve), dtype=np.uint8)


def is_blank(gray: Gray) -> bool:
    """True when, margins aside, the page holds less ink than BLANK_INK_SHARE of its area once specks are dropped.

    Measured on a half-size copy (4x fewer pixels to label). Ink is anything BLANK_INK_DEPTH darker than the paper
    (not "darker than half the paper": a blurred scan has no pixel that dark, yet is worth reading). Specks are
    connected blobs smaller than a square of 0.35% of the page's short side (~9x9 px at 300 dpi on A4: dust, toner
    grains, lone Arabic dots), which can survive the median filter on bad scans.
    """
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) if min(gray.shape) >= 400 else gray
    height, width = half.shape
    dy, dx = int(height * BLANK_MARGIN), int(width * BLANK_MARGIN)
    inner = half[dy : height - dy, dx : width - dx]
    if inner.size == 0:
        return True
    paper = percentile(inner[::4, ::4], 90)
    ink = (inner < paper - BLANK_INK_DEPTH).astype(np.uint8)
    budget = BLANK_INK_SHARE * inner.size
    if np.count_nonzero(ink) < budget:
        return True
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    smallest = (0.0035 * min(height, width)) ** 2
    return bool(areas[areas >= smallest].sum() < budget)


def deskew(gray: Gray, measured: Axes | None = None) -> tuple[Gray, float]:
    """Level the text lines (±MAX_SKEW degrees); returns the page and the counter-clockwise angle applied.

    ``measured`` is the orientation step's measurement of this same page (``ocr.orientation.measure_axes``): the
    skew of the lines across the page is measured there already, on the same ink with the edge bands left out, so
    it is not measured twice (~0.03 CPU s on an A5 page, a twentieth of its cost)."""
    if measured is not None and measured.points is not None and measured.across is not None:
        points, skew = measured.points, measured.across
    elif measured is not None and not measured.axes:
        return gray, 0.0  # too little ink to say which way lines run: none to level either
    else:
        points = ink_points(gray)
        skew = estimate_skew(points, MAX_SKEW)
    if abs(skew.angle) < MIN_SKEW or not skew.reliable:  # a photo or a smudge has no lines to level
        return gray, 0.0
    return rotate_gray(gray, skew.angle, keep_ink=points), skew.angle
