"""The permit PDF: Arabic in logical order, a QR code that scans, signature slots exactly on the printed boxes,
PDF/A."""

from __future__ import annotations

import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from signing.permit import (
    PermitFacts,
    RenderedPermit,
    Signatory,
    is_permit_number,
    new_verification_token,
    permit_number_for,
    render_permit,
    verification_path,
)
from signing.slots import SignatureSlot
from tests.signing_samples import (
    APPLICANT,
    CONDITIONS,
    FIELDS,
    SERVICE_NAME_AR,
    TOKEN,
    TRACKING,
    pdfa_problems,
    pdftotext,
    sample_facts,
    verify_url,
)

DPI = 150
_ARABIC_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")


def rasterise(pdf: bytes, tmp: Path, page: int = 0, dpi: int = DPI) -> Path:
    """One page as PNG with poppler, the way a printer or the QR test sees it."""
    assert shutil.which("pdftoppm"), "poppler-utils is needed for this test"
    source = tmp / f"raster-{page}.pdf"
    source.write_bytes(pdf)
    prefix = tmp / f"page-{page}"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-f", str(page + 1), "-l", str(page + 1), "-singlefile", str(source),
         str(prefix)],
        check=True, capture_output=True, timeout=60,
    )
    return prefix.with_suffix(".png")


@pytest.fixture(scope="module")
def facts() -> PermitFacts:
    return sample_facts()


@pytest.fixture(scope="module")
def permit(facts: PermitFacts) -> RenderedPermit:
    return render_permit(facts, verify_url=verify_url(facts.permit_number), slots_for=FIELDS)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("permit")


@pytest.fixture(scope="module")
def page_png(permit: RenderedPermit, tmp: Path) -> Path:
    return rasterise(permit.pdf, tmp)


@pytest.fixture(scope="module")
def text(permit: RenderedPermit, tmp: Path) -> str:
    return pdftotext(permit.pdf, tmp)


def test_one_a4_page(permit: RenderedPermit) -> None:
    assert permit.pdf.startswith(b"%PDF-1.")
    document = pdfium.PdfDocument(permit.pdf)
    try:
        assert len(document) == 1
        width, height = document.get_page_size(0)
    finally:
        document.close()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)


def test_arabic_words_come_out_whole_and_in_logical_order(text: str) -> None:
    lines = [line.strip() for line in text.splitlines()]
    for phrase in [
        "ترخيص",
        SERVICE_NAME_AR,
        APPLICANT,
        "جمهورية مصر العربية",
        "محافظة سوهاج",
        "مركز خدمات المواطنين بمدينة سوهاج",
        "رقم الترخيص",
        "رقم المتابعة",
        "بيانات العقار",
        "شارع الجمهورية",
        "الشروط",
        "رئيس الإدارة الهندسية",
        "رئيس مجلس المدينة",
        "امسح الرمز للتحقق من صحة",
        "إقامة مبنى سكني من أربعة أدوار",  # what the permit allows, from the catalogue
        "قانون البناء الصادر بالقانون رقم",  # its legal basis
        "السند القانوني",
    ]:
        assert phrase in text, phrase
    assert "ترخيص أعمال بناء" in lines  # the permit's own title on a line of its own, not the application's name
    for condition in CONDITIONS:
        words = [w for w in condition.split() if not w.isdigit()]
        assert all(w in text for w in words), condition
    # never reversed, never isolated presentation forms instead of letters
    assert "صيخرت" not in text
    assert not _ARABIC_PRESENTATION_FORMS.search(text)


def test_numbers_and_latin_runs_are_intact(text: str, facts: PermitFacts) -> None:
    assert facts.permit_number == "SOH01-BP-2026-000045"
    for run in [facts.permit_number, TRACKING, "29001012601234", "SRV-2026-0912", "Building works permit",
                verify_url(facts.permit_number), "Arab Republic of Egypt", "Head of the city council"]:
        assert run in text, run
    assert "BUILD-PERMIT" not in text and "**********" not in text  # no internal code; the holder's full ID
    # the dates: day and year around the Arabic month, digits never reversed
    assert re.search(r"24\s*نوفمبر\s*2026", text)
    assert re.search(r"23\s*نوفمبر\s*2027", text)
    assert "6202" not in text


def test_qr_code_scans_to_the_verification_url(page_png: Path, facts: PermitFacts) -> None:
    assert shutil.which("zbarimg"), "zbar-tools is needed for this test"
    out = subprocess.run(["zbarimg", "-q", "--raw", str(page_png)], capture_output=True, timeout=60)
    assert out.stdout.decode().strip() == verify_url(facts.permit_number)


def _dark(pixel: Any) -> bool:
    return pixel < 110


def assert_box_drawn_at(png: Path, slot: SignatureSlot, page_height_pt: float, dpi: int = DPI) -> None:
    """The slot's rectangle is exactly the printed border: dark edges (to within 1 pt), blank inside."""
    image = Image.open(png).convert("L")
    scale = dpi / 72
    x1, y1, x2, y2 = slot.box
    left, right = x1 * scale, x2 * scale
    top, bottom = (page_height_pt - y2) * scale, (page_height_pt - y1) * scale
    pixels = image.load()
    assert pixels is not None

    def edge_fraction(points: list[tuple[int, int]]) -> float:
        hits = 0
        for x, y in points:
            # the border is 1 pt (2 px at 150 dpi) wide, inside the border box: look 2 px around the expected line
            if any(_dark(pixels[x + dx, y + dy]) for dx in range(-2, 3) for dy in range(-2, 3)
                   if (dx == 0 or dy == 0)):
                hits += 1
        return hits / len(points)

    xs = range(round(left) + 6, round(right) - 6, 3)
    ys = range(round(top) + 6, round(bottom) - 6, 3)
    inset = 1.5 * scale  # half the 1 pt border, inside the box
    assert edge_fraction([(x, round(top + inset / 2)) for x in xs]) > 0.97, "top edge"
    assert edge_fraction([(x, round(bottom - inset / 2)) for x in xs]) > 0.97, "bottom edge"
    assert edge_fraction([(round(left + inset / 2), y) for y in ys]) > 0.97, "left edge"
    assert edge_fraction([(round(right - inset / 2), y) for y in ys]) > 0.97, "right edge"
    inside = [pixels[x, y] for x in range(round(left) + 8, round(right) - 8, 2)
              for y in range(round(top) + 8, round(bottom) - 8, 2)]
    assert sum(_dark(p) for p in inside) == 0, "the box must be empty"
    # and nothing dark just outside the left and right edges (the box is not larger than the slot)
    outside = [pixels[round(left) - 6, y] for y in ys] + [pixels[round(right) + 6, y] for y in ys]
    assert sum(_dark(p) for p in outside) == 0


def test_slots_are_where_the_boxes_are_printed(permit: RenderedPermit, page_png: Path) -> None:
    assert [s.field_name for s in permit.slots] == list(FIELDS)
    assert all(s.page == 0 for s in permit.slots)
    with pikepdf.open(BytesIO(permit.pdf)) as doc:
        media_box = [float(v) for v in doc.pages[0].MediaBox]
    assert media_box[:2] == [0, 0]
    for slot in permit.slots:
        x1, y1, x2, y2 = slot.box
        assert 0 < x1 < x2 < media_box[2] and 0 < y1 < y2 < media_box[3]
        assert 60 < x2 - x1 and 60 < y2 - y1 < 80  # about 25 mm high
        assert_box_drawn_at(page_png, slot, media_box[3])
    first, second = permit.slots
    assert first.box[0] > second.box[2], "right to left: the first signatory signs on the right"
    assert first.box[1] == second.box[1]
    assert first.box[1] < 300, "the signatures are at the bottom of the page"


def test_pdfa_3b_markers(permit: RenderedPermit) -> None:
    assert pdfa_problems(permit.pdf) == []
    with pikepdf.open(BytesIO(permit.pdf)) as doc:
        assert "/Info" not in doc.trailer  # metadata in XMP only, so that signing cannot make them disagree
        meta = doc.open_metadata()
        assert meta.get("dc:title") == "ترخيص رقم SOH01-BP-2026-000045"
        assert doc.Root.Lang == "ar"


def test_long_permit_moves_the_whole_signature_block_to_the_next_page(tmp: Path) -> None:
    conditions = [f"شرط إضافي رقم {i} يلتزم به المرخص له طوال مدة سريان الترخيص دون استثناء" for i in range(1, 36)]
    facts = sample_facts(conditions=conditions)
    rendered = render_permit(facts, verify_url=verify_url(facts.permit_number), slots_for=FIELDS)
    assert {s.page for s in rendered.slots} == {1}
    png = rasterise(rendered.pdf, tmp, page=1)
    for slot in rendered.slots:
        assert_box_drawn_at(png, slot, 841.89)
    text = pdftotext(rendered.pdf, tmp)
    assert "شرط إضافي رقم" in text and "2 / 2" in text


def test_shop_licence_with_one_signatory_and_no_expiry(tmp: Path) -> None:
    facts = sample_facts(
        permit_number=permit_number_for(TRACKING, "SHOP-LICENCE"),
        service_code="SHOP-LICENCE",
        service_name_ar="طلب ترخيص تشغيل محل",
        service_name_en="Shop operating licence",
        property_details=None,
        shop_details={"shop_name": "بقالة النور", "activity": "بقالة وتموين", "address": "15 شارع النيل، سوهاج",
                      "commercial_register": "CR-55123"},
        expires_on=None,
        signatories=[("رئيس مجلس المدينة", "Head of the city council", "د. خالد عبد الرحمن")],
    )
    rendered = render_permit(facts, verify_url=verify_url(facts.permit_number), slots_for=["approve_council"])
    assert facts.permit_number == "SOH01-SL-2026-000045"
    assert [s.field_name for s in rendered.slots] == ["approve_council"]
    text = pdftotext(rendered.pdf, tmp)
    for phrase in ["بيانات المحل", "بقالة النور", "بقالة وتموين", "غير محدد المدة", "CR-55123", "طلب ترخيص تشغيل محل"]:
        assert phrase in text, phrase
    assert "بيانات العقار" not in text


def test_permit_numbers() -> None:
    assert permit_number_for("SOH01-2026-000045-K", "BUILD-PERMIT") == "SOH01-BP-2026-000045"
    assert permit_number_for(" soh01-2026-000045-k ", "VALIDITY") == "SOH01-VS-2026-000045"
    assert permit_number_for("CAI12-2027-123456-Z", "ROAD-WORKS-PERMIT") == "CAI12-RWP-2027-123456"
    assert permit_number_for("CAI12-2027-123456-Z", "FENCE") == "CAI12-FE-2027-123456"
    assert is_permit_number("SOH01-BP-2026-000045")
    assert not is_permit_number("SOH01-2026-000045-K")
    assert not is_permit_number("SOH01-BP-2026-000045/../x")
    for bad in ["SOH01-2026-45-K", "", "SOH01-BP-2026-000045"]:
        with pytest.raises(ValueError):
            permit_number_for(bad, "BUILD-PERMIT")


def test_verification_tokens_are_long_unique_and_url_safe() -> None:
    tokens = [new_verification_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens[:50]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)  # 32 base64 characters = 192 bits >= 128
    assert verification_path("SOH01-BP-2026-000045", TOKEN) == f"/v/SOH01-BP-2026-000045/{TOKEN}"
    with pytest.raises(ValueError):
        verification_path("SOH01-BP-2026-000045", "short")
    with pytest.raises(ValueError):
        verification_path("../etc", TOKEN)
    with pytest.raises(ValueError):
        verification_path("SOH01-BP-2026-000045", TOKEN + "/x")


@pytest.mark.parametrize(
    ("change", "slots"),
    [
        ({"national_id_masked": "29001012601234"}, FIELDS),  # an unmasked national ID is refused
        ({"national_id_masked": "٢٩٠٠١٠١٢٦٠١٢٣٤"}, FIELDS),
        ({"national_id": "2900101260123"}, FIELDS),  # the printed full ID: 14 ASCII digits
        ({"national_id": "<b>29001012601234</b>"}, FIELDS),
        ({}, FIELDS[:1]),  # one field for two signatories
        ({}, ("approve.department", "approve_council")),  # dots make hierarchical field names
        ({}, ("same", "same")),
        ({"signatories": []}, ()),
    ],
)
def test_bad_input_is_refused(change: dict[str, object], slots: tuple[str, ...]) -> None:
    facts = sample_facts(**change)
    with pytest.raises(ValueError):
        render_permit(facts, verify_url=verify_url(facts.permit_number), slots_for=slots)


def test_a_draft_reading_copy_carries_the_watermark_and_the_revision_is_untouched(
    permit: RenderedPermit, tmp: Path
) -> None:
    from signing.permit import watermark_draft

    marked = watermark_draft(permit.pdf)
    text = pdftotext(marked, tmp)
    assert "مسودة — غير صالح" in text and "DRAFT — not valid" in text  # shaped Arabic, real text
    assert "ترخيص أعمال بناء" in text  # the permit is still all there under it
    assert "مسودة" not in pdftotext(permit.pdf, tmp)
    assert marked.startswith(b"%PDF-") and marked != permit.pdf


def test_signatory_tuples_and_named_tuples_are_the_same() -> None:
    assert Signatory("a", "b", "c") == ("a", "b", "c")
