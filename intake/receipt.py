"""The citizen's receipt (إيصال): an A5 Arabic PDF with the tracking number and a QR code to the status page.

HTML and CSS through WeasyPrint rather than drawing on a canvas, because WeasyPrint shapes Arabic (HarfBuzz) and
applies the bidi algorithm, so the PDF carries real, searchable, copyable Arabic text in logical order. Latin runs
(tracking number, masked national ID, URL) sit in ``dir="ltr"`` isolates so they are not reordered inside the
right-to-left lines. The national ID is masked: a receipt is handed around and photographed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import HTML

from archive.grammar import DAYS, PAGES
from archive.models import Application
from intake.national_id import EGYPT, mask_national_id

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

MONTHS_AR = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()


def tracking_url(base_url: str, tracking_number: str) -> str:
    """The public status page of an application, as printed and encoded in the QR code."""
    return f"{base_url.rstrip('/')}/track/{tracking_number}"


def render_receipt(application: Application, *, base_url: str, access_code: str | None = None) -> bytes:
    """The receipt of ``application`` as PDF bytes; needs its centre, service and documents loaded or loadable.

    ``access_code`` (:func:`intake.inquiry.record_access_code`) is printed beside the tracking number: the secret the
    status inquiry asks for. It is on the receipt only, never in the QR code or on any public page."""
    service = application.service
    definition = service.definition or {}
    names = {doc["code"]: doc["name_ar"] for doc in definition.get("required_documents", [])}
    names.setdefault("OTHER", "مستندات أخرى")
    pages_by_requirement: dict[str, int] = {}
    for document in application.documents:
        pages_by_requirement[document.requirement] = (
            pages_by_requirement.get(document.requirement, 0) + document.page_count
        )
    url = tracking_url(base_url, application.tracking_number)
    qr = segno.make(url, error="m")
    html = _env.get_template("receipt.html").render(
        tracking=application.tracking_number,
        centre_name=application.centre.name_ar,
        service_name=service.name_ar,
        applicant_name=application.applicant_name,
        masked_national_id=mask_national_id(application.national_id),
        created=arabic_date(application.created_at),
        due=arabic_date(application.due_at),
        legal_days=DAYS(service.legal_days),
        fee=_pounds(service.fee_piastres),
        received=[
            {"name": names.get(code, code), "pages": pages_ar(count)} for code, count in pages_by_requirement.items()
        ],
        missing=[names.get(code, code) for code in application.missing_documents or []],
        reason=application.incomplete_reason,
        qr_data_uri=qr.png_data_uri(scale=8, border=4),
        track_url=url,
        access_code=access_code,
    )
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf


def arabic_date(value: datetime) -> str:
    """``23 نوفمبر 2026`` in Cairo time (Latin digits, as on most Egyptian government printouts)."""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(EGYPT)
    return f"{local.day} {MONTHS_AR[local.month - 1]} {local.year}"


def pages_ar(count: int) -> str:
    """Arabic count of pages with the right number agreement (CLDR's six forms, ``archive.grammar``)."""
    return PAGES(count)


def _pounds(piastres: int) -> str:
    if not piastres:
        return ""
    pounds, rest = divmod(piastres, 100)
    return f"{pounds}" if not rest else f"{pounds}.{rest:02d}"
