"""The ID card checks the typed national ID (intake.id_card): digits read by the real OCR, the flag on the page, in the
API and in the inbox; and the digit reader itself on texts as OCR gives them (Arabic-Indic, spaced, next to others).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from archive.models import Application, Document, Page, User
from intake.catalogue import load_catalogue
from intake.digitise import digitise_page
from intake.id_card import MATCH, MISMATCH, UNREADABLE, ShapeReading, compare, national_ids_in
from intake.service import Upload, register_application
from ocr.limits import Limits
from tests import clock
from tests.intake_files import NASKH, png_bytes
from tests.test_api_decisions import token
from tests.test_web_routing import CLERK, REVIEWER, World, make_world
from workflow.routing import ensure_workflow

TYPED = "29001012601234"


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


# --- the digit reader ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("الرقم القومي ٢٩٠٠١٠١٢٦٠١٢٣٤", ["29001012601234"]),
    ("٢ ٩٠٠١٠١ ٢٦ ٠١٢٣ ٤", ["29001012601234"]),  # printed in groups
    ("رقم: 2900-1012-6012-34 .", ["29001012601234"]),
    ("۲۹۰۰۱۰۱۲۶۰۱۲۳۴", ["29001012601234"]),  # Eastern Arabic-Indic (Persian) digits
    ("تاريخ الإصدار 2019/05 الرقم 30105152101567 المهنة مهندس", ["30105152101567"]),
    ("12345 29001012601234", ["29001012601234"]),  # a number before it is a separate group
    ("290010126012345", []),  # fifteen digits glued together are no national ID
    ("2900101260123", []),
    ("بطاقة تحقيق الشخصية", []),
    ("29001012601234\n29001012601234", ["29001012601234"]),
])
def test_fourteen_digit_numbers_are_found_as_ocr_writes_them(text: str, expected: list[str]) -> None:
    assert national_ids_in(text) == expected


def test_the_verdict_is_three_valued_and_one_unsure_reader_never_flags() -> None:
    other = "30105152101567"  # a valid national ID that is not the typed one
    assert compare(TYPED, [TYPED, other]).status == MATCH
    assert compare(TYPED, [], [ShapeReading(TYPED, 0.01)]) == compare(TYPED, [], [ShapeReading(TYPED, 0.01)])
    assert compare(TYPED, [], [ShapeReading(TYPED, 0.01)]).status == MATCH  # a misread is never exactly the typed ID
    assert compare(TYPED, []) == compare(TYPED, [], text="بطاقة") and compare(TYPED, []).status == UNREADABLE
    assert compare(TYPED, []).digits is None
    # Tesseract alone, however plausible its number: unreadable, with what it read
    assert compare(TYPED, [other]) == type(compare(TYPED, []))(UNREADABLE, other)
    # the shape reader alone: only when every digit is sure
    assert compare(TYPED, [], [ShapeReading(other, 0.3)]).status == MISMATCH
    assert compare(TYPED, [], [ShapeReading(other, 0.2)]).status == UNREADABLE
    # both readers read the same valid number: a mismatch even when the shapes are unsure
    assert compare(TYPED, [other], [ShapeReading(other, 0.05)]) == type(compare(TYPED, []))(MISMATCH, other)
    # not a valid national ID (century 9, month 99; a birth date in the future): never a mismatch
    for bad in ("99999999999999", "39912312601234"):
        assert compare(TYPED, [bad], [ShapeReading(bad, 0.9)]).status == UNREADABLE
    # too few digits read: unreadable, showing them (a thumb over the card)
    result = compare(TYPED, [], [ShapeReading("2900101260", 0.4)])
    assert result == type(result)(UNREADABLE, "2900101260")
    assert compare(TYPED, [], text="الرقم القومي ٢٩٠٠ ١٠١٢ ٦٠").digits == "2900101260"
    # of two confident different numbers, the one closest to the typed ID is shown
    closer = "29001012601236"
    assert compare(TYPED, [other, closer], [ShapeReading(other, 0.5), ShapeReading(closer, 0.5)]).digits == closer


def test_the_catalogue_marks_the_id_card() -> None:
    for service in load_catalogue().services:
        holders = [d.code for d in service.required_documents if d.holds_national_id]
        assert holders == ["ID_COPY"], service.code


# --- end to end: real OCR, the page, the API, the inbox ---------------------------------------------------------------


def card(number: str, label: str = "") -> bytes:
    """A plain ID card scan: four lines, the number last (after ``label`` if given)."""
    page = Image.new("L", (1000, 630), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(NASKH), 44)
    for i, line in enumerate(("جمهورية مصر العربية", "بطاقة تحقيق الشخصية", "محمد أحمد علي", label + number)):
        draw.text((960, 60 + 110 * i), line, font=font, fill=0, direction="rtl", language="ar", anchor="ra")
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()


def register_with_card(world: World, card_png: bytes) -> str:
    with world.session() as s:
        result = register_application(
            s, world.rt.store, centre_code="SOH-01", service_code="VALIDITY", applicant_name="محمد أحمد علي",
            national_id=TYPED, applicant_phone="01012345678",
            details={"plot_number": "3", "street": "شارع الجلاء", "district": "الكوثر", "area_m2": "120"},
            uploads=[Upload("ID_COPY", "بطاقة.png", io.BytesIO(card_png)),
                     Upload("OWNERSHIP", "عقد.png", io.BytesIO(png_bytes("عقد بيع 29001012601239"))),
                     Upload("SITE_PLAN", "كروكي.png", io.BytesIO(png_bytes("كروكي الموقع")))],
            created_by=s.scalar(select(User).where(User.username == CLERK)), channel="window",
            incomplete_reason=None, limits=Limits(), now=clock.NOW,
        )  # fmt: skip
        ensure_workflow(s, result.application, now=clock.NOW)
        return result.tracking_number


def read_all_pages(world: World, tracking: str, tmp_path: Path) -> None:
    with world.session() as s:
        ids = list(s.scalars(select(Page.id).join(Document).join(Application)
                             .where(Application.tracking_number == tracking)))
    for page_id in ids:
        digitise_page(world.rt.db, world.rt.store, page_id, work_dir=tmp_path)


def test_a_card_that_reads_another_number_is_flagged_with_the_digits_read(world: World, tmp_path: Path) -> None:
    differs = register_with_card(world, card("29001012601235", "الرقم القومي "))
    agrees = register_with_card(world, card(TYPED, "الرقم القومي "))
    for tracking in (differs, agrees):
        read_all_pages(world, tracking, tmp_path)
    with world.session() as s:
        checks = {(a.tracking_number, d.requirement): (d.id_check, d.id_digits)
                  for d, a in s.execute(select(Document, Application).join(Application))}
    assert checks[(differs, "ID_COPY")] == (MISMATCH, "29001012601235")
    assert checks[(agrees, "ID_COPY")] == (MATCH, TYPED)
    assert checks[(differs, "OWNERSHIP")] == (None, None)  # only the catalogue's ID card item is read for this

    reviewer = world.client(REVIEWER)
    html = reviewer.get(f"/applications/{differs}").get_data(as_text=True)
    assert 'id="id-mismatch" data-digits="29001012601235"' in html
    assert 'id="id-match"' in reviewer.get(f"/applications/{agrees}").get_data(as_text=True)
    inbox = reviewer.get("/inbox").get_data(as_text=True)
    assert inbox.count('data-flag="national_id_mismatch"') == 1

    client = world.app.test_client()
    headers = token(client, REVIEWER)
    detail = client.get(f"/api/v1/applications/{differs}", headers=headers).get_json()
    assert detail["national_id_check"]["status"] == "mismatch"
    assert detail["national_id_check"]["digits_read"] == "29001012601235"
    items = {e["tracking_number"]: e["flags"] for e in client.get("/api/v1/inbox", headers=headers).get_json()["items"]}
    assert items[differs] == ["national_id_mismatch"] and items[agrees] == []
    # never a refusal: the reviewer decides the flagged file as any other
    decided = client.post(f"/api/v1/applications/{differs}/decisions", headers=headers,
                          json={"action": "recommend", "reason": "الرقم المقروء خطأ في التعرف؛ البطاقة مطابقة"})
    assert decided.status_code == 200


def test_an_egyptian_card_in_arabic_indic_digits_is_read_and_compared(world: World, tmp_path: Path) -> None:
    """The card prints ٢٨٥٠٧٢١٢١٠٣٤٥٦ (another person's number): the flag shows 14 digits read off it. Whether every
    digit is read right is the OCR's accuracy (issue 14); the check must not call a different card a match."""
    tracking = register_with_card(world, card("٢٨٥٠٧٢١٢١٠٣٤٥٦", "الرقم القومي "))
    read_all_pages(world, tracking, tmp_path)
    with world.session() as s:
        document = s.scalar(select(Document).join(Application).where(Application.tracking_number == tracking,
                                                                     Document.requirement == "ID_COPY"))
        assert document is not None
        assert document.id_check == MISMATCH, (document.id_check, document.id_digits)
        assert document.id_digits is not None and len(document.id_digits) == 14 and document.id_digits.isascii()
        assert document.id_digits.startswith("28")  # read off the card, not the typed 290…


def test_a_card_that_cannot_be_read_reliably_says_so_and_is_not_flagged(world: World, tmp_path: Path) -> None:
    """A thumb over the number's end: the page says the number could not be read reliably and shows what was read;
    the inbox carries no flag; the API says unreadable."""
    tracking = register_with_card(world, degraded_card("30105152101567", cover=0.35))
    read_all_pages(world, tracking, tmp_path)
    with world.session() as s:
        document = s.scalar(select(Document).join(Application).where(Application.tracking_number == tracking,
                                                                     Document.requirement == "ID_COPY"))
        assert document is not None and document.id_check == UNREADABLE
        assert document.id_digits and len(document.id_digits) < 14
        readings = [r for p in document.pages for r in (p.number_readings or [])]
        assert readings and all({"digits", "margin", "script"} <= set(r) for r in readings)
    reviewer = world.client(REVIEWER)
    html = reviewer.get(f"/applications/{tracking}").get_data(as_text=True)
    assert f'id="id-unreadable" data-digits="{document.id_digits}"' in html and 'id="id-mismatch"' not in html
    assert "تعذرت قراءة الرقم من صورة البطاقة بثقة كافية" in html
    assert 'data-flag="national_id_mismatch"' not in reviewer.get("/inbox").get_data(as_text=True)
    client = world.app.test_client()
    detail = client.get(f"/api/v1/applications/{tracking}", headers=token(client, REVIEWER)).get_json()
    assert detail["national_id_check"]["status"] == "unreadable"
    assert detail["national_id_check"]["digits_read"] == document.id_digits


# --- synthetic cards: an honest card is never flagged; a card with another valid number is ------------------------

FONT_DIR = Path("/usr/share/fonts/truetype/noto")
CARD_FONTS = {"naskh": NASKH, "sans": FONT_DIR / "NotoSansArabic-Regular.ttf",
              "kufi": FONT_DIR / "NotoKufiArabic-Regular.ttf",
              "amiri": Path("/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf")}
INDIC = "٠١٢٣٤٥٦٧٨٩"


def indic(number: str) -> str:
    return "".join(INDIC[int(d)] for d in number)


def degraded_card(number: str, *, font: str = "naskh", size: int = 44, noise: float = 0.0, blur: float = 0.0,
                  seed: int = 0, cover: float = 0.0) -> bytes:
    """An ID card scan printed in ``font``, the number in Arabic-Indic digits, with Gaussian noise (σ in grey levels)
    and blur (px); ``cover`` hides that share of the number's left end (a thumb on the card)."""
    import numpy as np
    from PIL import ImageFilter

    page = Image.new("L", (1000, 630), 255)
    draw = ImageDraw.Draw(page)
    face = ImageFont.truetype(str(CARD_FONTS[font]), size)
    lines = ("جمهورية مصر العربية", "بطاقة تحقيق الشخصية", "محمد أحمد علي", "الرقم القومي " + indic(number))
    for i, line in enumerate(lines):
        draw.text((960, 60 + 110 * i), line, font=face, fill=0, direction="rtl", language="ar", anchor="ra")
    if cover:
        left, top, right, bottom = draw.textbbox((960, 390), lines[3], font=face, direction="rtl", language="ar",
                                                 anchor="ra")
        label = draw.textlength("الرقم القومي ", font=face, direction="rtl", language="ar")
        width = (right - left - label) * cover
        draw.rectangle((left - 5, top - 5, left + width, bottom + 5), fill=255)
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(page, dtype=float) + np.random.default_rng(seed).normal(0.0, noise, (630, 1000))
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype("uint8")).save(out, "PNG")
    return out.getvalue()


def verdict(png: bytes, typed: str, tmp_path: Path) -> tuple[str, str | None]:
    """Both readings of the card as the worker makes them (``process_page`` with ``read_numbers``), then the check."""
    from intake.id_card import ShapeReading
    from ocr.pipeline import process_page

    path = tmp_path / "card.png"
    path.write_bytes(png)
    page = process_page(path, 0, read_numbers=True)
    result = compare(typed, national_ids_in(page.text), [ShapeReading(n.digits, n.margin) for n in page.numbers],
                     text=page.text)
    return result.status, result.digits


HONEST = [  # (national ID, font, size, noise σ, blur px): each printed on the card and typed the same
    ("30504190152000", "naskh", 44, 0, 0.0), ("24811072104758", "naskh", 44, 15, 0.8),
    ("27202090181177", "naskh", 44, 45, 1.5), ("22311248848561", "naskh", 36, 30, 1.5),
    ("30411071246559", "sans", 56, 45, 1.5), ("26104248866236", "sans", 44, 15, 0.8),
    ("30008222617682", "kufi", 44, 45, 0.8), ("26001102797189", "kufi", 36, 45, 1.5),
    ("26404018832688", "amiri", 56, 15, 0.8), ("30406151289789", "amiri", 44, 0, 0.8),
    ("22010021205084", "amiri", 36, 45, 1.5), ("30512152786893", "naskh", 36, 45, 0.8),
]


def test_honest_cards_are_never_flagged_however_degraded(tmp_path: Path) -> None:
    """Tesseract alone misreads one or two Arabic-Indic digits on most of these (٣ as 2, ٥ as 0), which used to flag
    them; now each is a match or, when neither reading is sure, unreadable, never a mismatch."""
    verdicts = []
    for i, (number, font, size, noise, blur) in enumerate(HONEST):
        status, digits = verdict(degraded_card(number, font=font, size=size, noise=noise, blur=blur, seed=i), number,
                                 tmp_path)
        assert status != MISMATCH, (number, font, noise, blur, digits)
        verdicts.append(status)
    assert verdicts.count(MATCH) >= len(HONEST) // 2, verdicts  # and the check still reads most of them


def test_a_card_with_another_valid_number_is_flagged_with_that_number(tmp_path: Path) -> None:
    """Clean or slightly blurred cards of someone else are flagged with their number (Tesseract reads none of these
    right: the shapes decide). A noisy one may be unreadable (its ٣ is then too close to ٢ to be sure) but is never a
    match."""
    typed = "29001012601234"
    for i, (number, font, blur) in enumerate([("28507212103456", "naskh", 0.0), ("30105152101567", "naskh", 0.8),
                                              ("29001012601298", "naskh", 0.8),  # two digits off the typed ID
                                              ("30105152101567", "sans", 0.0), ("21203032701459", "kufi", 0.8)]):
        status, digits = verdict(degraded_card(number, font=font, blur=blur, seed=i), typed, tmp_path)
        assert (status, digits) == (MISMATCH, number), font
    status, digits = verdict(degraded_card("30105152101567", noise=15, blur=0.8, seed=9), typed, tmp_path)
    assert status in (MISMATCH, UNREADABLE) and digits != typed


def test_a_partly_covered_card_is_unreadable_and_shows_what_was_read(tmp_path: Path) -> None:
    number = "30105152101567"
    status, digits = verdict(degraded_card(number, cover=0.35), "29001012601234", tmp_path)
    assert status == UNREADABLE and digits and len(digits) < 14 and number.endswith(digits[-6:])
