"""ocr.cleanup: each step does its job on pages whose truth is known, and can be switched off."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from ocr import CleanupOptions, clean
from ocr.cleanup import crop_borders, crop_page, denoise, normalise_contrast, remove_edge_bands
from ocr.skew import estimate_skew, ink_points
from ocr_evaluation import synthetic
from tests.ocr_pages import FORM_LINES, blank_scan, latin_page, scanned, text_page, with_black_border

ONLY_DESKEW = CleanupOptions(orientation=False, blank_detect=False)


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return text_page()


def residual_skew(image: Image.Image) -> float:
    return estimate_skew(ink_points(np.asarray(image.convert("L")))).angle


@pytest.mark.parametrize("angle", [7.0, -12.0, 2.5])
def test_deskew_recovers_a_known_angle(page: Image.Image, angle: float) -> None:
    """A page turned ``angle`` degrees counter-clockwise is turned back by -angle, within half a degree."""
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    result = clean(tilted, ONLY_DESKEW)
    assert result.skew_angle == pytest.approx(-angle, abs=0.5)
    assert abs(residual_skew(result.image)) <= 0.3
    assert result.rotation == 0 and "deskew" in result.timings


@pytest.mark.parametrize("angle", [4.0, -9.0])
def test_deskew_reuses_the_orientation_steps_measurement(page: Image.Image, angle: float) -> None:
    """With orientation on, the skew measured to find the text's axis levels the page (it is not measured twice),
    and it levels it as the deskew step alone does."""
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    alone = clean(tilted, ONLY_DESKEW)
    together = clean(tilted, CleanupOptions(blank_detect=False))
    assert together.rotation == 0
    assert together.skew_angle == pytest.approx(alone.skew_angle, abs=0.1)
    assert together.skew_angle == pytest.approx(-angle, abs=0.5)


def test_deskew_keeps_the_corners_of_a_steep_page(page: Image.Image) -> None:
    """At 12° the rotated text would leave the canvas; the canvas grows instead of cutting lines off."""
    tilted = page.rotate(-12, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    result = clean(tilted, CleanupOptions(orientation=False, denoise=False, contrast=False, crop=False,
                                          blank_detect=False))
    ink_before = int((np.asarray(tilted) < 128).sum())
    ink_after = int((np.asarray(result.image) < 128).sum())
    assert ink_after == pytest.approx(ink_before, rel=0.03)


def test_deskew_levels_a_single_line() -> None:
    line = text_page(FORM_LINES[3:4]).rotate(-6, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    assert clean(line, ONLY_DESKEW).skew_angle == pytest.approx(6, abs=0.5)


def test_deskew_leaves_a_photo_alone() -> None:
    """Blobs and shading have no lines: whatever angle sharpens their profile most is not a skew."""
    rng = np.random.default_rng(1)
    photo = np.full((3508, 2480), 255, np.uint8)
    for _ in range(60):
        centre, radius = (int(rng.integers(0, 2480)), int(rng.integers(0, 3508))), int(rng.integers(20, 200))
        cv2.circle(photo, centre, radius, int(rng.integers(0, 120)), -1)
    result = clean(Image.fromarray(photo), ONLY_DESKEW)
    assert result.skew_angle == 0.0


def test_a_straight_page_is_left_alone(page: Image.Image) -> None:
    result = clean(page, ONLY_DESKEW)
    assert result.skew_angle == 0.0
    assert result.image.size == page.size


@pytest.mark.parametrize("turned", [90, 180, 270])
def test_orientation_puts_a_turned_page_upright(page: Image.Image, turned: int) -> None:
    only_orientation = CleanupOptions(orientation=True, deskew=False, denoise=False, contrast=False, crop=False,
                                      blank_detect=False)
    result = clean(page.rotate(turned, expand=True), only_orientation)
    assert (result.rotation + turned) % 360 == 0
    assert np.array_equal(np.asarray(result.image), np.asarray(page))  # exactly the upright page, not just its size
    assert result.orientation_method == "reading"


def test_orientation_reads_english_pages_too() -> None:
    """Foreign certificates come in English: reading with Arabic alone would turn an upright English page over."""
    english = latin_page()
    assert clean(english, CleanupOptions(deskew=False)).rotation == 0
    assert clean(english.rotate(180), CleanupOptions(deskew=False)).rotation == 180


def test_orientation_leaves_an_upright_page(page: Image.Image) -> None:
    result = clean(page, CleanupOptions(deskew=False))
    assert result.rotation == 0


def test_orientation_and_deskew_together_on_a_noisy_scan() -> None:
    upright = text_page(FORM_LINES[:5])
    sideways = scanned(upright.rotate(4, resample=Image.Resampling.BICUBIC, fillcolor=255).rotate(270, expand=True))
    result = clean(sideways)
    assert result.rotation == 90
    assert result.skew_angle == pytest.approx(-4, abs=0.5)
    assert result.image.width < result.image.height  # portrait again
    assert set(result.timings) >= {"crop", "denoise", "contrast", "blank_detect", "orientation", "deskew"}


def test_orientation_on_a_two_line_page() -> None:
    """Tesseract's own OSD gives up on so few characters; ours still reads the page."""
    short = text_page(FORM_LINES[:2])
    assert clean(short.rotate(180), CleanupOptions(deskew=False)).rotation == 180


@pytest.mark.parametrize(
    ("make", "blank"),
    [
        (lambda: Image.new("L", (2480, 3508), 255), True),
        (lambda: blank_scan(seed=3), True),
        (lambda: blank_scan(seed=4).rotate(90, expand=True), True),
        (lambda: text_page(FORM_LINES[:1]), False),
        (lambda: scanned(text_page(FORM_LINES[:1])), False),
        (lambda: text_page(["نعم"]), False),
        (lambda: text_page(FORM_LINES[:3]), False),
    ],
    ids=["white", "noisy-blank", "noisy-blank-landscape", "one-line", "one-line-noisy", "one-word", "three-lines"],
)
def test_blank_detection(make: object, blank: bool) -> None:
    assert callable(make)
    result = clean(make())
    assert result.is_blank is blank
    if blank:  # nothing to align on a blank page: those steps are skipped
        assert "orientation" not in result.timings and "deskew" not in result.timings


def test_black_scanner_border_is_cropped(page: Image.Image) -> None:
    bordered = with_black_border(page, border=120)
    kept, box = crop_borders(np.asarray(bordered))
    assert box is not None
    left, top, right, bottom = box
    assert 120 <= left <= 140 and 120 <= top <= 140
    assert bordered.width - 140 <= right <= bordered.width - 120
    assert bordered.height - 140 <= bottom <= bordered.height - 120
    edges = np.concatenate([kept[:8].ravel(), kept[-8:].ravel(), kept[:, :8].ravel(), kept[:, -8:].ravel()])
    assert edges.min() > 200  # no black left along the edges
    assert crop_borders(np.asarray(page))[1] is None  # a page without border is not touched


def test_wedges_of_a_skewed_sheet_on_a_black_lid_turn_white(page: Image.Image) -> None:
    sheet = with_black_border(page.resize((1240, 1754)), border=80).rotate(
        5, resample=Image.Resampling.BICUBIC, fillcolor=12
    )
    result = clean(sheet, CleanupOptions(orientation=False))
    assert result.crop_box is not None
    gray = np.asarray(result.image)
    corners = [gray[:30, :30], gray[:30, -30:], gray[-30:, :30], gray[-30:, -30:]]
    assert min(int(corner.min()) for corner in corners) > 200
    assert result.skew_angle == pytest.approx(-5, abs=0.5)


def test_printed_frame_with_white_margins_is_not_cropped(page: Image.Image) -> None:
    framed = np.asarray(page).copy()
    framed[150:170, 150:-150] = framed[-170:-150, 150:-150] = 0
    framed[150:-150, 150:170] = framed[150:-150, -170:-150] = 0
    assert crop_borders(framed)[1] is None


def test_denoise_removes_specks_but_keeps_text(page: Image.Image) -> None:
    rng = np.random.default_rng(7)
    specked = np.asarray(page).copy()
    spots = rng.random(specked.shape) < 0.002
    specked[spots] = 0
    cleaned = denoise(specked)
    blank_area = (slice(2000, 3400), slice(200, 2200))  # below the text
    assert (specked[blank_area] < 128).sum() > 1000
    assert (cleaned[blank_area] < 128).sum() == 0
    text_ink = int((np.asarray(page) < 128).sum())
    assert int((cleaned < 128).sum()) == pytest.approx(text_ink, rel=0.1)


def test_denoise_leaves_a_noise_free_page_alone(page: Image.Image) -> None:
    """A born-digital page has nothing to filter: the median would only round its strokes. A scanned one is filtered."""
    assert np.array_equal(denoise(np.asarray(page)), np.asarray(page))
    noisy = np.asarray(scanned(page))
    assert not np.array_equal(denoise(noisy), noisy)


def test_contrast_flattens_shading_and_keeps_ink(page: Image.Image) -> None:
    """A page lit from one side: paper from 250 down to 150 across the width, ink still darker than its paper."""
    gray = np.asarray(page).astype(np.float32)
    light = np.linspace(1.0, 0.6, gray.shape[1], dtype=np.float32)[None, :]
    shaded = np.clip((gray * 0.96 + 6) * light, 0, 255).astype(np.uint8)
    flat = normalise_contrast(shaded)
    bright_side, dark_side = flat[2500:3300, 100:500], flat[2500:3300, -500:-100]  # paper only
    assert float(np.median(bright_side)) >= 245 and float(np.median(dark_side)) >= 245
    ink = np.asarray(page) < 100
    assert float(np.median(flat[ink])) < 60


def test_none_leaves_the_page_alone(page: Image.Image) -> None:
    options = CleanupOptions.none()
    assert not any([options.orientation, options.deskew, options.perspective, options.denoise, options.contrast,
                    options.crop, options.blank_detect])
    result = clean(page.convert("RGB"), options)
    assert result.image.mode == "L"
    assert np.array_equal(np.asarray(result.image), np.asarray(page))
    assert (result.rotation, result.skew_angle, result.is_blank, result.crop_box) == (0, 0.0, False, None)
    assert set(result.timings) == {"grayscale"}


def test_every_step_is_timed_and_dpi_is_kept(page: Image.Image) -> None:
    result = clean(page)
    assert set(result.timings) == {"grayscale", "perspective", "crop", "denoise", "contrast", "blank_detect",
                                   "orientation", "deskew"}
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert result.image.info.get("dpi") == (300, 300)


def bordered(page: Image.Image, seed: int) -> Image.Image:
    """The page with the synthetic scanner's thin, ragged black bands along its edges."""
    out = synthetic.scanner_border(page, np.random.default_rng(seed))
    out.info["dpi"] = (300, 300)
    return out


# Seed 6 gives bands on all four sides (checked below): the vertical ones are long dark lines.
BANDS_SEED = 6


def test_thin_ragged_scanner_bands_are_whitened_and_cut(page: Image.Image) -> None:
    gray = np.asarray(bordered(page, BANDS_SEED))
    assert all(float(np.mean(edge < 60)) > 0.9 for edge in (gray[0], gray[-1], gray[:, 0], gray[:, -1]))
    kept, box = crop_page(gray)
    assert box is not None
    assert kept.shape == (box[3] - box[1], box[2] - box[0])
    strips = (kept[:80], kept[-80:], kept[:, :80], kept[:, -80:])
    assert [int((strip < 128).sum()) for strip in strips] == [0, 0, 0, 0]  # no sliver of a band is left
    text = np.asarray(page)[600:2600, 300:2200] < 128  # the text itself is kept, pixel for pixel
    left, top = box[0], box[1]
    assert np.array_equal(kept[600 - top : 2600 - top, 300 - left : 2200 - left] < 128, text)
    assert remove_edge_bands(np.asarray(page))[1] is None  # a page without bands is not touched


@pytest.mark.parametrize(("seed", "crop"), [(6, True), (7, True), (10, True), (10, False)])
def test_orientation_leaves_an_upright_bordered_page_upright(page: Image.Image, seed: int, crop: bool) -> None:
    """Long dark bands down the sides made the page look as if its lines ran vertically, and it was turned (these
    four cases turned it 270, 90, 90 and 90 degrees before). Even with the crop step off, orientation ignores them."""
    result = clean(bordered(page, seed), CleanupOptions(crop=crop, deskew=False))
    assert result.rotation == 0, result.orientation_method
    assert result.orientation_method == "reading"


def test_orientation_still_turns_a_bordered_page_that_is_upside_down(page: Image.Image) -> None:
    result = clean(bordered(page.rotate(180), BANDS_SEED), CleanupOptions(deskew=False))
    assert result.rotation == 180


def test_a_phone_photo_is_flattened_and_a_scan_is_not(page: Image.Image) -> None:
    photo = synthetic.photo_warp(page, np.random.default_rng(4))
    result = clean(photo, CleanupOptions(orientation=False))
    assert result.sheet_corners is not None and "perspective" in result.timings
    gray = np.asarray(result.image)
    edges = np.concatenate([gray[:10].ravel(), gray[-10:].ravel(), gray[:, :10].ravel(), gray[:, -10:].ravel()])
    assert float(np.mean(edges > 200)) > 0.99  # the dark desk is gone
    assert abs(result.skew_angle) < 1.0  # the lines came out level from the warp, not from deskew
    # The lines of the flattened page are parallel: the top and bottom halves have the same (small) skew.
    half = gray.shape[0] // 2
    top, bottom = residual_skew(Image.fromarray(gray[:half])), residual_skew(Image.fromarray(gray[half:]))
    assert abs(top - bottom) < 0.5, (top, bottom)
    raw = clean(photo, CleanupOptions(orientation=False, perspective=False))
    assert raw.sheet_corners is None

    for scan in (page, bordered(page, BANDS_SEED), with_black_border(page, border=120)):
        assert clean(scan, CleanupOptions(orientation=False)).sheet_corners is None
