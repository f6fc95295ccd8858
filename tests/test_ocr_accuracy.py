"""OCR accuracy on synthetic Arabic pages, and the metrics and page generator the measurement rests on.

The pipeline tests run the real `ocr.pipeline.process_page` (OpenCV clean-up + Tesseract ara+eng) on pages drawn by
`ocr_evaluation.synthetic` with a fixed seed, so the ground truth is known exactly. Bounds were measured, then given a
margin; the measured values are in the comments next to them. Speed is never asserted here: see bench/ and
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr_evaluation import metrics, synthetic
from ocr_evaluation.metrics import cer, levenshtein, levenshtein_dp, normalise_for_cer, wer
from ocr_evaluation.synthetic import A5, SyntheticPage, arabic_fonts, corpus, render_page

pytestmark = pytest.mark.slow  # Tesseract on every benchmark page

SEED = 20261123
# Small pages keep the file fast: A5, 14 pt at 300 dpi, at most 14 lines (about 0.5 s of Tesseract a page).
MAX_LINES = 14
CLEAN_FONTS = ("Noto Naskh Arabic", "Noto Sans Arabic", "Noto Kufi Arabic")


def font_paths(names: tuple[str, ...]) -> list[Path]:
    found = {f.name: f.path for f in arabic_fonts()}
    missing = [n for n in names if n not in found]
    assert not missing, f"Arabic fonts missing (install fonts-noto-core, fonts-hosny-amiri): {missing}"
    return [found[n] for n in names]


@pytest.fixture(autouse=True)
def _one_tesseract_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unset, Tesseract oversubscribes the two cores (docs/shared TOOLCHAIN); the pipeline should set it itself too.
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")


def run_pipeline(pages: list[SyntheticPage], tmp: Path, *, cleanup: bool) -> list[str]:
    from ocr.cleanup import CleanupOptions
    from ocr.pipeline import process_page

    options = CleanupOptions() if cleanup else CleanupOptions.none()
    texts = []
    for i, page in enumerate(pages):
        path = tmp / f"page-{i}.png"
        if not path.exists():
            page.save(path)
        texts.append(process_page(path, 0, options=options).text)
    return texts


# ---------------------------------------------------------------------------------------------------------------------
# Accuracy through the whole pipeline.

@pytest.fixture(scope="module")
def clean_pages() -> list[SyntheticPage]:
    fonts = font_paths(CLEAN_FONTS)
    return list(corpus(len(fonts), SEED, degradations=("clean",), fonts=fonts, size=A5, max_lines=MAX_LINES))


@pytest.fixture(scope="module")
def clean_texts(clean_pages: list[SyntheticPage], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return run_pipeline(clean_pages, tmp_path_factory.mktemp("clean"), cleanup=True)


def test_clean_pages_are_read_accurately(clean_pages: list[SyntheticPage], clean_texts: list[str]) -> None:
    rates = [cer(page.truth, text) for page, text in zip(clean_pages, clean_texts, strict=True)]
    # Measured (Tesseract 5.3.0, ara 4.1.0) on this seed, clean-up on: Naskh 0.5 %, Sans 5.3 %, Kufi 2.4 %, mean
    # 2.7 %. On two neighbouring seeds the means were 3.5 % and 1.3 % and the worst page 7.5 % (Naskh). Most of what
    # remains is Tesseract printing a line's Latin run before its Arabic run ("Delta Foods الاسم التجاري:"), and a
    # few misread letters. The bounds leave room for another Tesseract or OpenCV build while a real regression (a
    # dropped line, a wrong language, mirrored text, a lossy step) costs far more than 10 % on a page.
    assert max(rates) < 0.10, rates
    assert sum(rates) / len(rates) < 0.05, rates


def test_the_measurement_can_fail(clean_pages: list[SyntheticPage], clean_texts: list[str]) -> None:
    """The same output compared with another page's truth scores far above the bound."""
    fonts = font_paths(CLEAN_FONTS[:1])
    other = next(corpus(1, SEED + 1, degradations=("clean",), fonts=fonts, size=A5, max_lines=MAX_LINES))
    assert other.truth != clean_pages[0].truth
    assert cer(other.truth, clean_texts[0]) > 0.3


def test_cleanup_helps_on_skewed_noisy_scans(tmp_path: Path) -> None:
    """Same degraded pages, same run: clean-up on must give a lower error rate than clean-up off."""
    fonts = font_paths(CLEAN_FONTS[:2])
    pages = list(corpus(len(fonts), SEED, degradations=("skew+noise",), fonts=fonts, size=A5, max_lines=MAX_LINES))
    raw = run_pipeline(pages, tmp_path, cleanup=False)
    cleaned = run_pipeline(pages, tmp_path, cleanup=True)
    raw_cer = float(np.mean([cer(p.truth, t) for p, t in zip(pages, raw, strict=True)]))
    cleaned_cer = float(np.mean([cer(p.truth, t) for p, t in zip(pages, cleaned, strict=True)]))
    # Measured on this seed (skew 1.5-5°, Gaussian sigma 25-40 + speckle): 11.3 % off, 5.8 % on; on two
    # neighbouring seeds 23 % -> 3.8 % and 13.8 % -> 1.2 %. Demand a clear gain, not just any.
    assert cleaned_cer < 0.8 * raw_cer, (cleaned_cer, raw_cer)


# ---------------------------------------------------------------------------------------------------------------------
# Metrics.

def test_normalisation_removes_only_what_is_not_a_recognition_error() -> None:
    assert normalise_for_cer("تحية طيبة وبعد،") == "تحية طيبة وبعد,"
    assert normalise_for_cer("سؤال؟ نعم؛ ٥٪") == "سؤال? نعم; 5%"
    assert normalise_for_cer("رقم ٢٠٢٦/٤٥١٧ و ۱۲") == "رقم 2026/4517 و 12"
    assert normalise_for_cer("سِجِلّ مُعَدَّل") == "سجل معدل"
    assert normalise_for_cer("مـــركز") == "مركز"
    assert normalise_for_cer("\u200fSJL-2026\u200e") == "SJL-2026"
    assert normalise_for_cer("  أ \t ب \n\n\n  ج  \n") == "أ ب\nج"
    assert normalise_for_cer("\u0627\u0654") == "\u0623"  # NFC composes alef + hamza above before marks are removed
    # A misread letter still counts: no alef, taa marbuta or alef maqsura folding.
    assert normalise_for_cer("أحمد مدرسة مصطفى") == "أحمد مدرسة مصطفى"


def test_cer_on_known_pairs() -> None:
    assert cer("abcd", "abcd") == 0.0
    assert cer("abcd", "abed") == 0.25
    assert cer("abcd", "") == 1.0
    assert cer("ab", "abab") == 1.0
    assert cer("", "") == 0.0
    assert cer("", "x") == 1.0
    assert cer("محمد", "محمود") == 0.25
    assert cer("تحية طيبة وبعد،", "\u200fتحية  طيبة وبعد,\n") == 0.0
    assert cer("تحية طيبة وبعد،", "تحية طيبة وبعد,", normalise=False) == pytest.approx(1 / 15)


def test_wer_on_known_pairs() -> None:
    assert wer("رقم القطعة 47", "رقم القطعة 47") == 0.0
    assert wer("رقم القطعة 47", "رقم القطعه 47") == pytest.approx(1 / 3)
    assert wer("a b c d", "a c d") == 0.25


def test_levenshtein_fallback_agrees_with_rapidfuzz(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    alphabet = list("ابتثجحخدذرزسشصضطظعغفقكلمنهوي 0123456789")
    pairs = [("kitten", "sitting"), ("", "abc"), ("abc", "")]
    for _ in range(200):
        a = "".join(rng.choice(alphabet, size=int(rng.integers(0, 30))))
        b = "".join(rng.choice(alphabet, size=int(rng.integers(0, 30))))
        pairs.append((a, b))
    expected = [levenshtein(a, b) for a, b in pairs]
    assert expected[0] == 3
    assert [levenshtein_dp(a, b) for a, b in pairs] == expected
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)  # import now fails: the module must fall back
    assert [metrics.levenshtein(a, b) for a, b in pairs] == expected
    assert metrics.levenshtein(["رقم", "القطعة"], ["رقم"]) == 1


# ---------------------------------------------------------------------------------------------------------------------
# The page generator.

def pixels(image: Image.Image) -> bytes:
    return image.mode.encode() + repr(image.size).encode() + image.tobytes()


def test_corpus_is_deterministic_for_a_seed() -> None:
    fonts = font_paths(CLEAN_FONTS[:2])
    recipes = ("clean", "skew+noise", "photo")

    def make(seed: int) -> Iterator[SyntheticPage]:
        return corpus(4, seed, degradations=recipes, fonts=fonts, size=A5, max_lines=6)

    first, second, other = list(make(7)), list(make(7)), list(make(8))
    assert [p.truth for p in first] == [p.truth for p in second]
    assert [pixels(p.image) for p in first] == [pixels(p.image) for p in second]
    assert [p.params for p in first] == [p.params for p in second]
    assert [p.truth for p in first] != [p.truth for p in other]
    # Every font, then every recipe.
    assert [p.recipe for p in first] == ["clean", "clean", "skew+noise", "skew+noise"]
    assert [p.degradations for p in first][2] == ("skew", "noise")
    assert len({p.font for p in first}) == 2
    # Page i does not depend on the pages before it.
    assert pixels(list(corpus(3, 7, degradations=recipes, fonts=fonts, size=A5, max_lines=6))[2].image) == pixels(
        first[2].image
    )


def test_text_is_varied_and_long_enough() -> None:
    rng = np.random.default_rng(0)
    lines = {line for _ in range(5) for line in synthetic.page_text(rng)}
    templates = {line for document in synthetic.DOCUMENTS for line in document}
    assert len(templates) >= 40
    assert len(lines) > len(templates)  # fields differ between pages
    assert any(any("a" <= ch.lower() <= "z" for ch in line) for line in lines)
    nid = synthetic.national_id_like(rng, "26")
    assert len(nid) == 14 and nid.isdigit() and nid[0] in "23" and nid[7:9] == "26"


def test_prose_pages_are_consecutive_paragraphs_of_the_text_given() -> None:
    """``--scripts prose``: someone else's text, drawn from a seeded start, whole paragraphs in their order."""
    paragraphs = ["الفقرة الأولى من المقال.", "", "الفقرة   الثانية\tمنه.", "الفقرة الثالثة.", "الفقرة الرابعة."]
    lines = synthetic.prose_text(np.random.default_rng(3), paragraphs, max_lines=3)
    kept = ["الفقرة الأولى من المقال.", "الفقرة الثانية منه.", "الفقرة الثالثة.", "الفقرة الرابعة."]
    start = kept.index(lines[0])
    assert lines == (kept[start:] + kept[:start])[:3]
    assert synthetic.prose_text(np.random.default_rng(3), paragraphs, 3) == lines  # seeded
    (font,) = font_paths(CLEAN_FONTS[:1])
    pages = list(corpus(2, 5, degradations=["clean"], fonts=[font], size=A5, script="prose", prose=paragraphs))
    assert all(page.truth.split("\n")[0] in kept for page in pages)
    with pytest.raises(ValueError, match="no prose"):
        synthetic.prose_text(np.random.default_rng(0), ["", "  "])


def test_render_page_draws_right_aligned_lines_and_keeps_only_what_fits() -> None:
    (font,) = font_paths(CLEAN_FONTS[:1])
    lines = ["طلب ترخيص أعمال بناء", "رقم", "رقم المتابعة: SJL-2026-004517"]
    page = render_page(lines, font, dpi=150, size=A5, margin_mm=20)
    assert page.truth == "\n".join(lines)
    assert page.image.mode == "L" and page.image.size == (round(148 / 25.4 * 150), round(210 / 25.4 * 150))
    ink = np.asarray(page.image) < 128
    right_edge = page.image.width - round(20 / 25.4 * 150)
    rows = np.flatnonzero(ink.any(axis=1))
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 5) + 1)
    assert len(bands) == 3
    rights = [int(np.flatnonzero(ink[band].any(axis=0)).max()) for band in bands]
    lefts = [int(np.flatnonzero(ink[band].any(axis=0)).min()) for band in bands]
    assert all(abs(r - right_edge) <= 4 for r in rights), (rights, right_edge)
    assert lefts[1] > lefts[0] and lefts[1] > lefts[2]  # the short line is short: aligned right, not left

    many = render_page([f"سطر رقم {i}" for i in range(200)], font, dpi=150, size=A5)
    assert 10 < len(many.truth.splitlines()) < 200
    assert many.truth.splitlines() == [f"سطر رقم {i}" for i in range(len(many.truth.splitlines()))]


def test_latin_that_the_arabic_font_lacks_is_drawn_with_the_fallback_font() -> None:
    (naskh,) = font_paths(CLEAN_FONTS[:1])
    font = synthetic._font(naskh, 40)
    glyphs = synthetic._Glyphs(font)
    assert glyphs.has("ب") and glyphs.has("7") and not glyphs.has("F")
    layout = synthetic._LineLayout(font, synthetic._font(synthetic.latin_fallback_font() or naskh, 40))
    runs = layout.pieces("طريقة السداد: Fawry رقم")
    assert [[p.text for p in run] for run in runs] == [["طريقة السداد: "], ["Fawry"], [" رقم"]]
    assert [run[0].font is font for run in runs] == [True, False, True]


def test_directions_follow_the_bidi_rules_for_our_lines() -> None:
    d = "".join(synthetic._directions("رقم: SJL-2021-94"))
    assert d == "RRRRR" + "L" * 11
    assert "".join(synthetic._directions("1- صورة")) == "LRRRRRR"
    assert "".join(synthetic._directions("في 2024/6/1 م")) == "RRR" + "L" * 8 + "RR"


def test_degradations_are_pure_and_seeded() -> None:
    (font,) = font_paths(CLEAN_FONTS[:1])
    page = render_page(["طلب بيان صلاحية", "قطعة رقم 47"], font, dpi=100, size=A5)
    before = pixels(page.image)
    for name, degrade in synthetic.DEGRADATIONS.items():
        a, params_a = degrade(page.image, np.random.default_rng(3))
        b, params_b = degrade(page.image, np.random.default_rng(3))
        assert pixels(page.image) == before, name
        assert pixels(a) == pixels(b) and params_a == params_b, name
        assert pixels(a) != before, name
    skewed, params = synthetic.DEGRADATIONS["skew"](page.image, np.random.default_rng(3))
    assert skewed.width > page.image.width and 1.5 <= abs(params["skew_angle"]) <= 5
    photo, _ = synthetic.DEGRADATIONS["photo"](page.image, np.random.default_rng(3))
    corner = np.asarray(photo.convert("L"))[:5, :5]
    assert photo.mode == "RGB" and corner.mean() < 128  # the page lies on a darker background
    low, _ = synthetic.DEGRADATIONS["low_contrast"](page.image, np.random.default_rng(3))
    assert np.asarray(low).min() > 100  # the darkest ink is grey
    with pytest.raises(ValueError, match="unknown degradation"):
        list(corpus(1, 0, degradations=("smudge",)))


def test_scanner_border_darkens_the_edges() -> None:
    blank = Image.new("L", (400, 600), 255)
    bordered = np.asarray(synthetic.scanner_border(blank, np.random.default_rng(0)))
    edges = [bordered[0, :], bordered[-1, :], bordered[:, 0], bordered[:, -1]]
    assert sum(int(edge.mean() < 60) for edge in edges) >= 2
    assert bordered[200:400, 100:300].min() == 255



def _mean_cer(pages: list[SyntheticPage], texts: list[str]) -> float:
    return float(np.mean([cer(p.truth, t) for p, t in zip(pages, texts, strict=True)]))


def test_cleanup_is_not_worse_on_scanner_borders(tmp_path: Path) -> None:
    """Thin, ragged black bands along the edges: clean-up must remove them, not mistake them for text lines."""
    fonts = font_paths(CLEAN_FONTS)
    pages = list(corpus(len(fonts), SEED, degradations=("border",), fonts=fonts, size=A5, max_lines=MAX_LINES))
    raw, cleaned = (_mean_cer(pages, run_pipeline(pages, tmp_path, cleanup=on)) for on in (False, True))
    # Measured on this seed: 3.5 % off, 2.7 % on (Naskh 2.3 -> 0.2, Sans 5.7 -> 5.5, Kufi 2.5 -> 2.4). Before the
    # bands were removed explicitly, clean-up made these pages worse: 5.2 % on (Naskh 7.3 %, Kufi 6.0 %), and on
    # the A4 benchmark one page went from 2.4 % to 89 % when orientation turned it on its side.
    assert cleaned <= raw + 0.01, (cleaned, raw)
    assert cleaned < 0.06, cleaned


def test_cleanup_flattens_phone_photos(tmp_path: Path) -> None:
    """A page photographed at an angle on a dark desk: clean-up finds the sheet, warps it flat and reads it."""
    fonts = font_paths(CLEAN_FONTS)
    pages = list(corpus(len(fonts), SEED, degradations=("photo",), fonts=fonts, size=A5, max_lines=MAX_LINES))
    raw, cleaned = (_mean_cer(pages, run_pipeline(pages, tmp_path, cleanup=on)) for on in (False, True))
    # Measured on this seed: 6.7 % off, 2.1 % on (Sans 16.4 -> 4.6 %: converging lines break Tesseract's single
    # block). Without the perspective step clean-up gave 8.2 %, worse than nothing.
    assert cleaned < 0.6 * raw, (cleaned, raw)
    assert cleaned < 0.05, cleaned
