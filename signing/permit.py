"""The permit (ترخيص): an A4 Arabic PDF/A-3b document with a verification QR code and one empty box per signature.

The permit is the document the officials sign, in order, as incremental PAdES signatures (``signing/pades.py``). This
module only renders it: facts in, PDF bytes and the positions of the signature boxes out. No database, no web.

Layout is HTML and CSS through WeasyPrint (as for the intake receipt), because WeasyPrint shapes Arabic with HarfBuzz
and applies the bidi algorithm, so the PDF carries real Arabic text in logical order that ``pdftotext`` and a screen
reader read back word for word. Numbers and Latin runs (permit number, masked national ID, URL, dates) sit in
``<bdi dir="ltr">`` isolates so they are never reordered inside the right-to-left lines.

Signature boxes: the template draws one bordered ``div`` per signing step (``id="sig-box-<i>"``). After layout the
boxes are found in WeasyPrint's box tree by that id, and their border boxes are converted from CSS pixels (1/96 in,
origin top-left) to PDF points (1/72 in, origin bottom-left). The slots therefore are exactly where the boxes are
printed, whatever the length of the conditions list or the number of signatories; the tests check it on the pixels.

Permit numbers
--------------
``SOH01-BP-2026-000045``: the centre code, a short code of the service, the year and the sequence, all taken from the
application's tracking number (``SOH01-2026-000045-K``), whose check character is dropped. The number is derived, not
allocated: one application ends in at most one permit, so the tracking number's uniqueness (one counter per centre and
year, see ``intake/tracking.py``) makes the permit number unique with no second counter and no database access here,
and staff can go from a permit straight to its file. Gaps in the sequence (applications that were refused) are
expected. The service part is for people only; uniqueness never rests on it. A permit number is not a secret and
proves nothing by itself: the verification URL carries a separate random token (:func:`new_verification_token`).

PDF/A
-----
The PDF is rendered as PDF/A-3b (``/OutputIntents`` with an sRGB profile, XMP ``pdfaid:part=3``,
``pdfaid:conformance=B``, all fonts embedded) with no document information dictionary (see
:func:`_drop_info_dictionary`). Incremental PAdES signatures keep every marker, and PDF/A-3 allows them, but what the
signer appends must follow the same rules (``tests/test_validate.py::test_pdfa_markers_survive_incremental_signing``):
fonts in a stamp's appearance must be embedded (pyHanko's default stamp uses unembedded Courier; an image stamp or
``GlyphAccumulatorFactory`` is fine), and pyHanko declares PDF 2.0 (catalog ``/Version /2.0``, ISO/TS 32002
extension) when the key is ECDSA on a named curve, as the DEMO PKI's keys are, which a PDF/A-3 (PDF 1.7) file cannot
be; RSA keys do not trigger it, and a writer that skips that extension keeps the file at 1.7.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.formatting_structure import boxes

from signing.slots import SignatureSlot

__all__ = [
    "PERMIT_NUMBER_RE",
    "PROPERTY_LABELS_AR",
    "SERVICE_ABBREVIATIONS",
    "SHOP_LABELS_AR",
    "PermitFacts",
    "RenderedPermit",
    "Signatory",
    "SignatureSlot",
    "is_permit_number",
    "new_verification_token",
    "permit_number_for",
    "render_permit",
    "service_abbreviation",
    "verification_path",
    "watermark_draft",
]

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

MONTHS_AR = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()
PX_TO_PT = 72 / 96
PDF_VARIANT = "pdf/a-3b"

#: Short service codes used inside permit numbers; unknown services get the initials of their code.
SERVICE_ABBREVIATIONS: dict[str, str] = {
    "BUILD-PERMIT": "BP",
    "PERMIT-AMEND": "PA",
    "VALIDITY": "VS",
    "SHOP-LICENCE": "SL",
    "DEMOLITION": "DM",
    "UTILITIES-CONNECT": "UC",
}

#: Arabic labels of the property details the permit knows; other keys are printed with the key itself as the label,
#: so a caller can pass Arabic labels directly.
PROPERTY_LABELS_AR: dict[str, str] = {
    "plot_number": "رقم القطعة",
    "block": "رقم البلوك",
    "street": "الشارع",
    "district": "الحي / المنطقة",
    "village": "القرية",
    "city": "المدينة",
    "area_m2": "المساحة (م²)",
    "works": "نوع الأعمال",
    "building_use": "الاستخدام",
    "floors": "عدد الأدوار",
    "height_m": "الارتفاع (م)",
    "units": "عدد الوحدات",
    "survey_ref": "رقم الرفع المساحي",
    "ownership_ref": "سند الملكية",
    "engineer": "المهندس المشرف",
}
SHOP_LABELS_AR: dict[str, str] = {
    "shop_name": "اسم المحل",
    "activity": "النشاط",
    "address": "العنوان",
    "street": "الشارع",
    "district": "الحي / المنطقة",
    "area_m2": "المساحة (م²)",
    "commercial_register": "رقم السجل التجاري",
    "tax_card": "رقم البطاقة الضريبية",
    "civil_defence_ref": "شهادة الحماية المدنية",
    "workers": "عدد العاملين",
}

_TRACKING_RE = re.compile(r"(?P<centre>[0-9A-Z]{1,16})-(?P<year>[0-9]{4})-(?P<seq>[0-9]{6})-[0-9A-Z]")
PERMIT_NUMBER_RE = re.compile(r"[0-9A-Z]{1,16}-[A-Z]{2,3}-[0-9]{4}-[0-9]{6}")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,128}")
_FIELD_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_ARABIC_LETTER = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_DIGITS = re.compile("[0-9\u0660-\u0669\u06f0-\u06f9]")
TOKEN_BYTES = 24  # 192 bits


class Signatory(NamedTuple):
    """One signing step as printed above its box: the office (Arabic and English) and the official's name."""

    title_ar: str
    title_en: str
    name_ar: str


@dataclass(frozen=True)
class PermitFacts:
    """What a permit says. The caller masks the national ID (only the last four digits may be visible)."""

    permit_number: str
    tracking_number: str
    service_code: str
    service_name_ar: str
    service_name_en: str
    applicant_name: str
    national_id_masked: str
    centre_name_ar: str
    centre_name_en: str
    governorate: str
    """The governorate's Arabic name, e.g. ``سوهاج``."""
    issued_on: date
    expires_on: date | None
    signatories: Sequence[Signatory | tuple[str, str, str]]
    """One per signing step, in signing order."""
    conditions: Sequence[str] = ()
    """Arabic, one condition per item, printed as a numbered list."""
    property_details: Mapping[str, Any] | None = None
    """Keys of :data:`PROPERTY_LABELS_AR` (``plot_number``, ``street``, ``district``, ``area_m2``, ...)."""
    shop_details: Mapping[str, Any] | None = None
    """Keys of :data:`SHOP_LABELS_AR` (``shop_name``, ``activity``, ``address``, ...)."""
    governorate_en: str = ""
    permit_title_ar: str = ""
    """The permit's own name from the catalogue (ترخيص أعمال بناء); the application's service name when empty."""
    permit_title_en: str = ""
    works_ar: str = ""
    """What the permit allows: the description of the works or activity, from the catalogue."""
    works_en: str = ""
    legal_basis_ar: str = ""
    """The law the permit is issued under, from the catalogue."""
    legal_basis_en: str = ""
    national_id: str = ""
    """The holder's full national ID, printed on the permit itself as an official permit carries it (public pages show
    ``national_id_masked`` only). Empty: the masked form is printed."""


@dataclass(frozen=True)
class RenderedPermit:
    pdf: bytes
    slots: list[SignatureSlot]
    """One per signing step, in the order of ``slots_for``."""
    qr_box: tuple[int, tuple[float, float, float, float]] | None = None
    """Where the QR code goes (page, box in points), when it was left out to be stamped later (:func:`stamp_qr`)."""


def new_verification_token() -> str:
    """An unguessable token for the permit's public verification URL (192 random bits, URL-safe base64)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def verification_path(permit_number: str, token: str) -> str:
    """``/v/<permit_number>/<token>``: the path encoded in the permit's QR code (prefix the public base URL)."""
    if not is_permit_number(permit_number):
        raise ValueError(f"{permit_number!r} is not a permit number.")
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("The verification token must be 22-128 URL-safe base64 characters.")
    return f"/v/{permit_number}/{token}"


def is_permit_number(text: str) -> bool:
    """Whether ``text`` is a permit number in its printed form, e.g. ``SOH01-BP-2026-000045``."""
    return isinstance(text, str) and PERMIT_NUMBER_RE.fullmatch(text) is not None


def permit_number_for(tracking_number: str, service_code: str) -> str:
    """The permit number of the application ``tracking_number`` (canonical printed form) for ``service_code``.

    ``permit_number_for("SOH01-2026-000045-K", "BUILD-PERMIT") == "SOH01-BP-2026-000045"``.
    """
    match = _TRACKING_RE.fullmatch(tracking_number.strip().upper()) if isinstance(tracking_number, str) else None
    if match is None:
        raise ValueError(f"{tracking_number!r} is not a tracking number in its printed form (SOH01-2026-000123-K).")
    return f"{match['centre']}-{service_abbreviation(service_code)}-{match['year']}-{match['seq']}"


def service_abbreviation(service_code: str) -> str:
    """Two or three capital letters naming the service inside a permit number."""
    code = service_code.strip().upper()
    if code in SERVICE_ABBREVIATIONS:
        return SERVICE_ABBREVIATIONS[code]
    parts = [p for p in re.split(r"[^A-Z]+", code) if p]
    if not parts:
        raise ValueError(f"The service code {service_code!r} has no letters.")
    letters = "".join(p[0] for p in parts)[:3] if len(parts) > 1 else parts[0][:2]
    return letters.ljust(2, "X")


def render_permit(facts: PermitFacts, *, verify_url: str, slots_for: Sequence[str],
                  sealed_payload: str | None = None, qr_later: bool = False) -> RenderedPermit:
    """Render ``facts`` as a PDF/A-3b permit with a QR code of ``verify_url`` and one signature box per step.

    ``slots_for`` names the signature field of each signing step, in the order of ``facts.signatories``; the returned
    slots say where each box was drawn. ``sealed_payload`` (``signing/sealed_payload.py``) goes into the QR as the
    URL's fragment (``<verify_url>#SJ1:...``): phones still open the online page (browsers never send a fragment),
    and ``sijill verify-qr`` checks the facts offline. The printed URL stays the short one.

    With ``qr_later`` the sealed QR's place is left blank and returned as ``qr_box``: the permit's first revision,
    whose hash the payload then seals before :func:`stamp_qr` draws the code there in an incremental update.
    """
    signatories = [Signatory(*s) for s in facts.signatories]
    field_names = list(slots_for)
    _check(facts, signatories, field_names, verify_url)

    if qr_later:
        qr_data_uri = ""
    elif sealed_payload:
        # ~350 characters instead of ~90: level L and a larger, 2-module-margin symbol keep each module ≥ 3 px at
        # 150 dpi (the paper around it is white, so the quiet zone is still there).
        qr = segno.make(f"{verify_url}#{sealed_payload}", error="l", boost_error=False)
        qr_data_uri = qr.png_data_uri(scale=6, border=2)
    else:
        qr = segno.make(verify_url, error="m")
        qr_data_uri = qr.png_data_uri(scale=6, border=4)
    box_ids = [f"sig-box-{i}" for i in range(len(field_names))]
    html = _env.get_template("permit.html").render(
        permit_number=facts.permit_number,
        tracking_number=facts.tracking_number,
        service_code=facts.service_code,
        service_name_ar=facts.service_name_ar,
        service_name_en=facts.service_name_en,
        applicant_name=facts.applicant_name,
        national_id_masked=facts.national_id_masked,
        national_id=facts.national_id,
        permit_title_ar=facts.permit_title_ar or facts.service_name_ar,
        permit_title_en=facts.permit_title_en or facts.service_name_en,
        works_ar=facts.works_ar,
        legal_basis_ar=facts.legal_basis_ar,
        centre_name_ar=facts.centre_name_ar,
        centre_name_en=facts.centre_name_en,
        governorate=facts.governorate,
        governorate_en=facts.governorate_en,
        issued_iso=facts.issued_on.isoformat(),
        issued_on=arabic_date_html(facts.issued_on),
        expires_on=arabic_date_html(facts.expires_on) if facts.expires_on else Markup("غير محدد المدة"),
        detail_sections=_detail_sections(facts),
        conditions=list(facts.conditions),
        verify_url=verify_url,
        qr_data_uri=qr_data_uri,
        sealed=bool(sealed_payload) or qr_later,
        signatories=[
            {"title_ar": s.title_ar, "title_en": s.title_en, "name_ar": s.name_ar, "box_id": box_id}
            for s, box_id in zip(signatories, box_ids, strict=True)
        ],
    )
    document = HTML(string=html, base_url=str(TEMPLATES)).render(pdf_variant=PDF_VARIANT)
    slots = [
        SignatureSlot(field_name=name, page=page, box=box)
        for name, (page, box) in zip(field_names, _find_boxes(document, box_ids), strict=True)
    ]
    qr_box = _find_boxes(document, ["qr-box"])[0] if qr_later else None
    pdf: bytes = document.write_pdf(pdf_variant=PDF_VARIANT, finisher=_drop_info_dictionary)
    return RenderedPermit(pdf=pdf, slots=slots, qr_box=qr_box)


def stamp_qr(pdf: bytes, qr_box: tuple[int, tuple[float, float, float, float]], text: str) -> bytes:
    """``pdf`` with a QR code of ``text`` drawn in ``qr_box`` (page, box in points), in one incremental update.

    Why an update and not a new rendering: the payload in the QR seals the SHA-256 of the permit's first revision
    (``signing/sealed_payload.py``), which a file cannot hold of itself; drawn as an update, the bytes it vouches for
    stay a prefix of every later revision (this QR, each signature, each renewal). The code is vector (one filled
    rectangle per dark module, black on the white paper, the same level L and 2-module margin as a rendered sealed
    QR), so it stays sharp at any print resolution. The page's own content is wrapped in ``q``/``Q`` first, so the
    drawing is in default user space whatever graphics state the page leaves behind.
    """
    from io import BytesIO

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    page, (x1, y1, x2, y2) = qr_box
    qr = segno.make(text, error="l", boost_error=False)
    border = 2
    modules = qr.symbol_size(scale=1, border=border)[0]
    side = min(x2 - x1, y2 - y1)
    unit = side / modules
    left, top = x1 + (x2 - x1 - side) / 2, y2 - (y2 - y1 - side) / 2
    rects = []
    for row_index, row in enumerate(qr.matrix):
        y = top - (row_index + border + 1) * unit
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            # one rectangle per run of dark modules, a hair taller than a module: no seams between rows
            rects.append(f"{left + (start + border) * unit:.3f} {y:.3f} {(col - start) * unit:.3f} "
                         f"{unit * 1.02:.3f} re")
    drawing = "Q q 0 0 0 rg\n" + "\n".join(rects) + "\nf Q\n"
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    writer.add_stream_to_page(page, writer.add_object(generic.StreamObject(stream_data=b"q\n")), prepend=True)
    stream = generic.StreamObject(stream_data=drawing.encode("ascii"))
    stream.compress()  # ~35 KB of rectangles as text, ~3 KB deflated
    writer.add_stream_to_page(page, writer.add_object(stream))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _drop_info_dictionary(document: Any, pdf: Any) -> None:
    """Leave the metadata to XMP alone, so that later incremental updates cannot make the two disagree.

    PDF/A requires every document information entry to equal its XMP twin. pyHanko, when it signs, appends
    "; pyHanko x.y" to the information dictionary's /Producer but writes only "pyHanko x.y" into the XMP packet, which
    breaks that rule on the first signature. Without an information dictionary (optional in PDF/A-2 and -3, deprecated
    in PDF 2.0) pyHanko updates the XMP packet only, and the signed file keeps consistent metadata.
    """
    pdf.info.clear()


def arabic_date(value: date) -> str:
    """``24 نوفمبر 2026`` (Latin digits, as on most Egyptian government printouts)."""
    return f"{value.day} {MONTHS_AR[value.month - 1]} {value.year}"


def arabic_date_html(value: date) -> Markup:
    """:func:`arabic_date` with each number in a left-to-right isolate."""
    return Markup('<bdi class="ltr" dir="ltr">{}</bdi> {} <bdi class="ltr" dir="ltr">{}</bdi>').format(
        value.day, MONTHS_AR[value.month - 1], value.year
    )


def _check(facts: PermitFacts, signatories: list[Signatory], field_names: list[str], verify_url: str) -> None:
    if not signatories:
        raise ValueError("A permit needs at least one signatory.")
    if len(field_names) != len(signatories):
        raise ValueError(f"{len(field_names)} signature fields for {len(signatories)} signatories.")
    if len(set(field_names)) != len(field_names):
        raise ValueError("Signature field names must be unique.")
    for name in field_names:
        if not _FIELD_NAME_RE.fullmatch(name):
            raise ValueError(f"Signature field name {name!r}: 1-64 ASCII letters, digits, '_' or '-', no dots.")
    if len(_DIGITS.findall(facts.national_id_masked)) > 4:
        raise ValueError("national_id_masked must be masked: at most its last four digits (pass the full ID as "
                         "national_id).")
    if facts.national_id and not re.fullmatch(r"[0-9]{14}", facts.national_id):
        raise ValueError("national_id must be the 14 ASCII digits of the holder's national ID.")
    if not verify_url.startswith(("https://", "http://")):
        raise ValueError("The verification URL must be absolute (http or https).")
    if facts.expires_on is not None and facts.expires_on < facts.issued_on:
        raise ValueError("A permit cannot expire before it is issued.")


def _detail_sections(facts: PermitFacts) -> list[dict[str, Any]]:
    sections = []
    for title, details, labels in (
        ("بيانات العقار", facts.property_details, PROPERTY_LABELS_AR),
        ("بيانات المحل", facts.shop_details, SHOP_LABELS_AR),
    ):
        if not details:
            continue
        items: list[dict[str, Any]] = []
        for key, value in details.items():
            if value is None or value == "":
                continue
            text = _format_value(value)
            items.append({"label": labels.get(key, key), "value": text, "ltr": not _ARABIC_LETTER.search(text)})
        # two label/value pairs per row; a long value gets a row of its own
        rows: list[list[dict[str, Any]]] = []
        pending: list[dict[str, Any]] = []
        for item in items:
            if len(item["value"]) > 28:
                if pending:
                    rows.append(pending)
                    pending = []
                rows.append([item])
                continue
            pending.append(item)
            if len(pending) == 2:
                rows.append(pending)
                pending = []
        if pending:
            rows.append(pending)
        if rows:
            sections.append({"title": title, "rows": rows})
    return sections


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "نعم" if value else "لا"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _find_boxes(document: Any, box_ids: list[str]) -> list[tuple[int, tuple[float, float, float, float]]]:
    """(page, (x1, y1, x2, y2) in PDF points from the bottom-left) of the border box of each element id."""
    found: dict[str, tuple[int, tuple[float, float, float, float]]] = {}
    wanted = set(box_ids)
    for page_index, page in enumerate(document.pages):
        page_height_pt = page.height * PX_TO_PT
        for box in page._page_box.descendants():
            if not isinstance(box, boxes.BlockBox):
                continue
            element = getattr(box, "element", None)
            element_id = element.get("id") if element is not None else None
            if element_id not in wanted:
                continue
            if element_id in found:
                raise RuntimeError(f"The signature box {element_id} was laid out twice (split across pages?).")
            x, y = box.border_box_x(), box.border_box_y()
            w, h = box.border_width(), box.border_height()
            found[element_id] = (
                page_index,
                (
                    round(x * PX_TO_PT, 2),
                    round(page_height_pt - (y + h) * PX_TO_PT, 2),
                    round((x + w) * PX_TO_PT, 2),
                    round(page_height_pt - y * PX_TO_PT, 2),
                ),
            )
    missing = [i for i in box_ids if i not in found]
    if missing:
        raise RuntimeError(f"The signature boxes {missing} were not laid out.")
    return [found[i] for i in box_ids]


# --- the draft watermark ------------------------------------------------------------------------------------------

DRAFT_WATERMARK_AR = "مسودة — غير صالح"
DRAFT_WATERMARK_EN = "DRAFT — not valid"
_WATERMARK_HTML = """<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><style>
@page { size: %(width).2fpt %(height).2fpt; margin: 0; }
html, body { margin: 0; background: transparent; }
.mark { position: absolute; top: 33%%; left: -10%%; width: 120%%; text-align: center; transform: rotate(-35deg);
        color: rgba(178, 34, 34, 0.28); line-height: 1.15; }
.ar { font-family: "Noto Naskh Arabic", "Amiri", serif; font-size: 64pt; font-weight: bold; }
.en { font-family: "Noto Sans", "DejaVu Sans", sans-serif; font-size: 34pt; font-weight: bold; }
.band { position: absolute; top: 4mm; left: 0; right: 0; text-align: center; color: #b22222;
        font-family: "Noto Naskh Arabic", "Noto Sans", serif; font-size: 10pt; font-weight: bold; }
</style></head><body>
<div class="band">%(ar)s · <span dir="ltr">%(en)s</span></div>
<div class="mark"><div class="ar">%(ar)s</div><div class="en" dir="ltr">%(en)s</div></div>
</body></html>"""


def watermark_draft(pdf: bytes) -> bytes:
    """A reading copy of an unissued permit revision with "مسودة — غير صالح / DRAFT — not valid" across every page.

    The archived revisions are never touched: they are what the officials sign in turn, incrementally, and the last
    signature issues the permit, so a watermark inside them would stay on the issued permit (and removing it would
    break the signatures). Instead every copy of a draft that leaves the server (the officials' and the desk agent's
    download) is this overlaid copy, rendered by WeasyPrint so the Arabic is shaped, then laid over each page with
    pikepdf. The copy is a new file: its signatures, if any, no longer verify, which is right for a draft. The QR code
    on it leads to the verification page, which answers "not issued" until the permit is issued.
    """
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        marks: dict[tuple[float, float], pikepdf.Pdf] = {}
        for page in document.pages:
            box = page.mediabox
            width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
            key = (round(width, 2), round(height, 2))
            if key not in marks:
                html = _WATERMARK_HTML % {"width": width, "height": height, "ar": DRAFT_WATERMARK_AR,
                                          "en": DRAFT_WATERMARK_EN}
                marks[key] = pikepdf.open(io.BytesIO(HTML(string=html).write_pdf()))
            page.add_overlay(marks[key].pages[0], pikepdf.Rectangle(box))
        out = io.BytesIO()
        document.save(out)
        for mark in marks.values():
            mark.close()
    return out.getvalue()
