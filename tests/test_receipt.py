"""The Arabic receipt PDF: real Arabic text in logical order, the tracking number intact, a QR code that scans."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from archive.models import Application, Centre, Document, Service
from intake.catalogue import load_catalogue
from intake.receipt import arabic_date, pages_ar, render_receipt, tracking_url
from intake.tracking import format_tracking

BASE_URL = "https://sijill.example.gov.eg/"
TRACKING = format_tracking("SOH-01", 2026, 123)
# Bidi controls pdftotext wraps runs in (embeddings, overrides, isolates, marks): layout, not text.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def application() -> Application:
    """An application as the intake service leaves it (centre, service and documents attached), without a database."""
    permit = next(s for s in load_catalogue().services if s.code == "BUILD-PERMIT")
    service = Service(
        code=permit.code,
        name_ar=permit.name_ar,
        name_en=permit.name_en,
        legal_days=permit.legal_days,
        fee_piastres=permit.fee_piastres,
        catalogue_version="2026.11-1",
        definition=permit.definition_json(),
    )
    centre = Centre(code="SOH-01", name_ar="مركز خدمات المواطنين بمدينة سوهاج", name_en="Sohag", governorate_code="26")
    created = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already 24 November in Cairo
    return Application(
        tracking_number=TRACKING,
        centre=centre,
        service=service,
        applicant_name="محمد أحمد علي حسن",
        national_id="29001012601234",
        missing_documents=["SURVEY"],
        incomplete_reason="سيحضر المواطن الرفع المساحي",
        created_at=created,
        due_at=created + timedelta(days=permit.legal_days),
        documents=[
            Document(requirement="ID_COPY", page_count=2),
            Document(requirement="OWNERSHIP", page_count=3),
            Document(requirement="OWNERSHIP", page_count=1),
        ],
    )


@pytest.fixture(scope="module")
def receipt_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("receipt") / "receipt.pdf"
    path.write_bytes(render_receipt(application(), base_url=BASE_URL))
    return path


def pdftotext(path: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils is needed for this test"
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60)
    return _BIDI_CONTROLS.sub("", out.stdout.decode("utf-8"))


def test_one_a5_page(receipt_pdf: Path) -> None:
    assert receipt_pdf.read_bytes().startswith(b"%PDF-")
    document = pdfium.PdfDocument(str(receipt_pdf))
    try:
        assert len(document) == 1
        width, height = document.get_page_size(0)
    finally:
        document.close()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (148, 210)


def test_arabic_text_comes_back_in_logical_order(receipt_pdf: Path) -> None:
    text = pdftotext(receipt_pdf)
    lines = {" ".join(line.split()) for line in text.splitlines()}
    for phrase in [
        "إيصال استلام طلب",
        "مركز خدمات المواطنين بمدينة سوهاج",
        "رقم المتابعة",
        "طلب ترخيص أعمال بناء بأنواعه",  # the service name
        "محمد أحمد علي حسن",
        "المستندات المستلمة",
        "المستندات الناقصة",
    ]:
        assert phrase in lines, phrase
        assert phrase[::-1] not in text
    assert "• صورة بطاقة الرقم القومي — صفحتان" in lines
    assert "• الرفع المساحي" in lines
    # Where digits or punctuation meet Arabic, pdftotext puts the space on the other side of the run ("4صفحات"):
    # the order of words is right, so compare those lines without spaces.
    squeezed = {line.replace(" ", "") for line in lines}
    assert "•مستندالملكية—4صفحات" in squeezed  # two files of the same requirement are added up
    assert "سببالقبول:سيحضرالمواطنالرفعالمساحي" in squeezed
    assert "24نوفمبر2026" in squeezed  # the date in Cairo, not in UTC
    assert "24ديسمبر2026" in squeezed  # + 30 days
    # "30 يومًا" (DAYS(30)): pdftotext gives the number and the word as separate runs and drops the tanween mark
    assert "يوما" in squeezed and "30يوم" not in squeezed


def test_tracking_number_is_intact_and_the_national_id_masked(receipt_pdf: Path) -> None:
    text = pdftotext(receipt_pdf)
    assert TRACKING in text
    assert "**********1234" in text
    assert "29001012601234" not in text and "2900101" not in text


def test_qr_code_opens_the_public_status_page(receipt_pdf: Path, tmp_path: Path) -> None:
    assert shutil.which("pdftoppm") and shutil.which("zbarimg"), "poppler-utils and zbar-tools are needed"
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(receipt_pdf), str(tmp_path / "page")], check=True, timeout=60)
    [image] = sorted(tmp_path.glob("page*.png"))
    result = subprocess.run(["zbarimg", "-q", "--raw", str(image)], capture_output=True, check=True, timeout=60)
    assert result.stdout.decode().strip() == f"https://sijill.example.gov.eg/track/{TRACKING}"


def test_template_escapes_what_the_applicant_typed(tmp_path: Path) -> None:
    app = application()
    app.applicant_name = "<i>أحمد</i> & علي"
    path = tmp_path / "escaped.pdf"
    path.write_bytes(render_receipt(app, base_url=BASE_URL))
    [line] = [line for line in pdftotext(path).splitlines() if "أحمد" in line]
    # Shown as typed, not interpreted as markup (pdftotext reorders the neutral characters around the Arabic).
    assert sorted(line.replace(" ", "")) == sorted(app.applicant_name.replace(" ", ""))


def test_helpers() -> None:
    assert tracking_url("https://x.eg/", "A-1") == "https://x.eg/track/A-1"
    assert [pages_ar(n) for n in (1, 2, 3, 10, 11, 100, 103)] == [
        "صفحة واحدة", "صفحتان", "3 صفحات", "10 صفحات", "11 صفحة", "100 صفحة", "103 صفحات"]
    assert arabic_date(datetime(2026, 1, 31, 22, 30, tzinfo=UTC)) == "1 فبراير 2026"
