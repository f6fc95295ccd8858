"""ocr.recognise, ocr.searchable_pdf and ocr.pipeline with the real Tesseract: text, boxes, PDFs, whole pages."""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.queues
import os
import subprocess
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFilter

from ocr import OcrFailed, PageText, clean, image_pdf, merge_pages, process_page, recognise
from ocr.pipeline import PREVIEW_LONG_SIDE
from ocr.skew import count_text_lines
from ocr.tesseract import tesseract_environment
from ocr_evaluation.synthetic import A5, arabic_fonts, render_page
from tests.ocr_pages import FORM_LINES, blank_scan, char_error_rate, normalise, save_pdf, scanned, text_page

TRUTH = "\n".join(FORM_LINES)


def arabic_letters(text: str) -> int:
    return sum(1 for ch in text if "\u0621" <= ch <= "\u064a")


def pdf_texts(pdf: bytes | Path) -> list[str]:
    """The text layer of every page, as pdfium extracts it (what a viewer's copy and search see)."""
    document = pdfium.PdfDocument(pdf if isinstance(pdf, bytes) else str(pdf))
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def shared_characters(truth: str, text: str) -> float:
    """Share of the truth's characters (as a multiset, order ignored) found in ``text``."""
    want, got = list(normalise(truth).replace(" ", "")), list(normalise(text).replace(" ", ""))
    pool: dict[str, int] = {}
    for ch in got:
        pool[ch] = pool.get(ch, 0) + 1
    found = 0
    for ch in want:
        if pool.get(ch, 0):
            pool[ch] -= 1
            found += 1
    return found / len(want)


@pytest.fixture(scope="module")
def read() -> PageText:
    return recognise(text_page())


def test_reads_a_clean_arabic_page(read: PageText) -> None:
    assert char_error_rate(TRUTH, read.text) < 0.03
    assert read.mean_confidence > 80
    assert len([line for line in read.text.splitlines() if line.strip()]) == len(FORM_LINES)
    assert "\u200e" not in read.text and "\u200f" not in read.text and "\f" not in read.text


def test_words_come_with_boxes_and_lines(read: PageText) -> None:
    width, height = text_page().size
    assert read.line_count == len(FORM_LINES)
    assert {word.line for word in read.words} == set(range(1, len(FORM_LINES) + 1))
    for word in read.words:
        assert word.text.strip() == word.text and word.text
        assert 0 <= word.confidence <= 100
        assert 0 <= word.left and word.left + word.width <= width and word.width > 0
        assert 0 <= word.top and word.top + word.height <= height and word.height > 0
    first = [word for word in read.words if word.line == 1]
    last = [word for word in read.words if word.line == len(FORM_LINES)]
    assert max(word.top for word in first) < min(word.top for word in last)
    assert " ".join(word.text for word in first) == read.text.splitlines()[0]
    assert read.mean_confidence == pytest.approx(sum(w.confidence for w in read.words) / len(read.words))


def test_the_pdf_is_one_a4_page_with_an_arabic_text_layer(read: PageText) -> None:
    with pikepdf.open(io.BytesIO(read.pdf)) as pdf:
        assert len(pdf.pages) == 1
        box = [float(v) for v in pdf.pages[0].MediaBox]
        assert box[2] == pytest.approx(595.3, abs=1.5) and box[3] == pytest.approx(841.9, abs=1.5)
    assert len(read.pdf) < 400_000  # the page image went in as a JPEG, not losslessly
    (layer,) = pdf_texts(read.pdf)
    assert arabic_letters(layer) > 0.8 * arabic_letters(TRUTH)
    assert shared_characters(TRUTH, layer) > 0.9
    poppler = subprocess.run(["pdftotext", "-", "-"], input=read.pdf, capture_output=True, check=True).stdout
    assert shared_characters(TRUTH, poppler.decode("utf-8")) > 0.9


def test_a_noisy_skewed_scan_reads_after_cleanup() -> None:
    scan = scanned(text_page().rotate(-3, resample=Image.Resampling.BICUBIC, fillcolor=255), seed=11)
    raw = recognise(scan)
    cleaned = recognise(clean(scan).image)
    assert char_error_rate(TRUTH, cleaned.text) < 0.05
    assert char_error_rate(TRUTH, cleaned.text) <= char_error_rate(TRUTH, raw.text)
    assert len(cleaned.pdf) < len(raw.pdf)  # flat white paper compresses; scanner grain does not


def test_tesseract_failures_become_ocr_failed() -> None:
    with pytest.raises(OcrFailed, match="longer than"):
        recognise(text_page(), timeout=0.01)
    with pytest.raises(OcrFailed, match="could not load the model 'no_such_language'"):
        recognise(text_page(FORM_LINES[:1]), lang="no_such_language")


def test_the_engine_reads_the_next_page_after_a_timeout() -> None:
    """The in-process engine is cleared after a page that ran out of time, so the next page is read in full."""
    page = text_page(FORM_LINES[:4])
    with pytest.raises(OcrFailed, match="longer than"):
        recognise(page, timeout=0.001, second_look=False)
    after = recognise(page, second_look=False)
    assert char_error_rate("\n".join(FORM_LINES[:4]), after.text) < 0.05


def _read_in_child(page: Image.Image, out: multiprocessing.queues.SimpleQueue) -> None:  # type: ignore[type-arg]
    out.put(recognise(page, second_look=False).text)


def test_a_forked_child_reads_with_its_own_engine() -> None:
    """Celery's prefork workers fork after the parent may have loaded a model: the child makes its own engine (the
    engines are keyed by process id) and reads the page as the parent does."""
    page = text_page(FORM_LINES[:3])
    in_parent = recognise(page, second_look=False).text  # the parent's engine for "ara" now exists
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()
    child = context.Process(target=_read_in_child, args=(page, out))
    child.start()
    child.join(120)
    assert child.exitcode == 0
    assert out.get() == in_parent


def test_the_engine_runs_with_one_openmp_thread() -> None:
    """The engine pins OpenMP to one thread in this process before libtesseract loads (unset, a page takes ~3x
    longer on two busy cores); the wheel's libtesseract has no OpenMP today, the setting keeps it so if it gains it."""
    import ocr.engine  # noqa: F401 - the import is what sets it

    assert os.environ["OMP_THREAD_LIMIT"] == "1"


def test_tesseract_always_gets_one_openmp_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset or set higher, OpenMP oversubscribes the cores and a page takes ~3x longer (docs TOOLCHAIN.md)."""
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    monkeypatch.setenv("TESSDATA_PREFIX", "/usr/share/tesseract-ocr/5/tessdata")
    environment = tesseract_environment()
    assert environment["OMP_THREAD_LIMIT"] == "1"
    assert environment["TESSDATA_PREFIX"] == "/usr/share/tesseract-ocr/5/tessdata"  # the rest passes through


def test_merge_pages_keeps_every_page_and_its_text(tmp_path: Path, read: PageText) -> None:
    second = recognise(text_page(FORM_LINES[5:]))
    on_disk = tmp_path / "page2.pdf"
    on_disk.write_bytes(second.pdf)
    blank = image_pdf(Image.new("L", (2480, 3508), 255), dpi=300)
    out = io.BytesIO()
    assert merge_pages([read.pdf, on_disk, blank], out, title="طلب قيد ميلاد") == 3
    texts = pdf_texts(out.getvalue())
    assert len(texts) == 3
    assert shared_characters(TRUTH, texts[0]) > 0.9
    assert shared_characters("\n".join(FORM_LINES[5:]), texts[1]) > 0.9
    assert texts[2].strip() == ""
    with pikepdf.open(io.BytesIO(out.getvalue())) as merged:
        assert str(merged.docinfo["/Title"]) == "طلب قيد ميلاد"
        assert str(merged.Root.Lang) == "ar"
    path_out = tmp_path / "merged.pdf"
    assert merge_pages(iter([on_disk, on_disk]), path_out) == 2
    assert len(pdf_texts(path_out)) == 2
    with pytest.raises(ValueError):
        merge_pages([], io.BytesIO())


def test_process_page_from_file_to_results(tmp_path: Path) -> None:
    upside_down = scanned(text_page().rotate(3, resample=Image.Resampling.BICUBIC, fillcolor=255).rotate(180))
    document = save_pdf([upside_down, blank_scan()], tmp_path / "application.pdf")

    page = process_page(document, 0)
    assert page.index == 0 and not page.is_blank
    assert page.rotation == 180 and page.skew_angle == pytest.approx(-3, abs=0.5)
    assert page.orientation_method == "reading"  # the first reading, upside down, was in doubt
    assert char_error_rate(TRUTH, page.text) < 0.05
    assert page.line_count == len(FORM_LINES) and page.expected_lines == len(FORM_LINES)
    assert not page.low_confidence and page.warnings == []
    assert set(page.timings) >= {"render", "crop", "denoise", "contrast", "blank_detect", "orientation", "deskew",
                                 "ocr", "preview", "total"}
    assert page.timings["total"] >= page.timings["ocr"] + page.timings["render"]
    # the reading's parts, over both readings of the page turned upside down, are parts of "ocr" (bench/ explains
    # the pipeline's time page by page with them)
    parts = ("first_reading", "second_look", "proofread", "text_layer")
    assert all(page.timings[part] >= 0 for part in parts)
    assert sum(page.timings[part] for part in parts) <= page.timings["ocr"]
    preview = Image.open(io.BytesIO(page.preview_jpeg))
    assert preview.format == "JPEG" and max(preview.size) == PREVIEW_LONG_SIDE
    assert shared_characters(TRUTH, pdf_texts(page.pdf)[0]) > 0.9

    blank = process_page(document, 1)
    assert blank.is_blank and blank.text == "" and blank.words == [] and not blank.low_confidence
    assert "ocr" not in blank.timings and "orientation" not in blank.timings
    assert pdf_texts(blank.pdf) == [""]  # still a page, so the document keeps its page count
    assert merge_pages([page.pdf, blank.pdf], io.BytesIO()) == 2


def test_an_unreadable_page_is_flagged(tmp_path: Path) -> None:
    smudged = tmp_path / "smudged.png"
    text_page().filter(ImageFilter.GaussianBlur(6)).save(smudged, dpi=(300, 300))
    page = process_page(smudged, 0)
    assert not page.is_blank  # a blurred page still has ink worth reading ...
    assert page.low_confidence and "low_confidence" in page.warnings  # ... but a person should check it
    assert page.mean_confidence < 70


def test_an_upright_page_skips_the_orientation_pass(tmp_path: Path) -> None:
    """The lines run across the page and the first reading is confident: up is not in doubt, so the orientation
    pass (a Tesseract run of its own) is not made."""
    path = tmp_path / "upright.png"
    scanned(text_page(), seed=5).save(path, dpi=(300, 300))
    page = process_page(path, 0)
    assert page.rotation == 0 and page.orientation_method == "deferred"
    assert char_error_rate(TRUTH, page.text) < 0.05


# Our own lines in full tashkeel: the marks above and below each line make rows of their own when a small gap parts
# them from the letters, and Amiri's dots float far from their letters.
VOWELLED = (
    "يُقَدِّمُ الْمُوَاطِنُ طَلَبَهُ إِلَى مُوَظَّفِ الشُّبَّاكِ",
    "وَتُحَالُ الْأَوْرَاقُ إِلَى الْإِدَارَةِ الْهَنْدَسِيَّةِ",
    "ثُمَّ يُعْتَمَدُ الْقَرَارُ مِنْ رَئِيسِ الْوَحْدَةِ",
    "وَيُسَلَّمُ التَّرْخِيصُ فِي مُدَّتِهِ الْقَانُونِيَّةِ",
)


@pytest.mark.parametrize("font", [f.path for f in arabic_fonts()], ids=lambda p: p.stem)
def test_dots_and_tashkeel_are_not_counted_as_lines(font: Path) -> None:
    page = render_page(VOWELLED * 3, font, size=A5)
    assert count_text_lines(page.image) == len(page.truth.splitlines())
    assert count_text_lines(scanned(page.image, seed=4)) == len(page.truth.splitlines())


def test_a_correctly_read_vowelled_scan_is_not_flagged_for_missing_lines(tmp_path: Path) -> None:
    """Noto Sans in tashkeel: Tesseract reads every line, and before the fix the marks' rows doubled the lines
    expected (17 for 8), so the page was flagged "missing_lines"."""
    sans = next(f.path for f in arabic_fonts() if f.name == "Noto Sans Arabic")
    page = render_page(VOWELLED * 2, sans, size=A5)
    path = tmp_path / "vowelled.png"
    scanned(page.image, seed=8).save(path, dpi=(300, 300))
    result = process_page(path, 0)
    assert result.expected_lines == result.line_count == len(page.truth.splitlines())
    assert "missing_lines" not in result.warnings


def test_really_missing_lines_are_still_flagged() -> None:
    """The count must still see every real line: half a page of text read as three lines is a dropped block."""
    page = text_page()
    assert count_text_lines(page) == len(FORM_LINES)
    assert count_text_lines(text_page(FORM_LINES[:3])) == 3


def test_the_text_layer_keeps_numbers_and_latin_runs_in_reading_order() -> None:
    """pdftotext (what indexers and copy-paste use) returned Tesseract's layer with numbers reversed inside Arabic
    lines ("رقم القطعة 245" as "542"); now every word sits at its box in its own direction."""
    lines = ("رقم القطعة 318 والمساحة 452 مترا", "الاسم التجاري Golden Nile Trading", "الرقم القومي 30107092701935")
    naskh = next(f.path for f in arabic_fonts() if f.name == "Noto Naskh Arabic")
    read = recognise(render_page(lines, naskh, size=A5).image)
    layer = subprocess.run(["pdftotext", "-", "-"], input=read.pdf, capture_output=True, check=True).stdout.decode()
    layer = normalise(layer)
    assert "318" in layer and "452" in layer and "813" not in layer, layer
    assert "30107092701935" in layer, layer
    assert "رقم القطعة" in layer and "الرقم القومي" in layer, layer
    assert "Golden Nile Trading" in layer, layer  # replaced by the second look, left to right inside the line
