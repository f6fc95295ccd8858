"""Downloads named by their content: the extension from the magic bytes, bidi and control characters gone, the
uploaded name kept and shown; through the real download routes."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from archive.db import Database
from archive.models import Application, Centre, Document, Service
from archive.roles import Role
from archive.store import open_store
from intake.tracking import format_tracking
from sijill.settings import Settings
from web.download_names import clean_text, display_original, download_name

RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"


@pytest.mark.parametrize(("uploaded", "media_type", "expected"), [
    ("scan.pdf", "image/png", "scan.png"),
    (f"invoice{RLO}gnp.exe", "image/png", "invoicegnp.png"),
    (f"فاتورة{RLO}fdp.exe", "application/pdf", "فاتورةfdp.pdf"),
    ("عقد الملكية.JPEG", "image/jpeg", "عقد الملكية.jpg"),
    ("photo.jpg.exe", "image/tiff", "photo.jpg.tif"),
    ("../../etc/passwd", "application/pdf", "passwd.pdf"),
    ("C:\\Users\\clerk\\scan 1.tiff", "image/tiff", "scan 1.tif"),
    (f"{LRI}\u200f\u200e{PDI}.pdf", "application/pdf", "document-7.pdf"),
    ("no extension", "image/jpeg", "no extension.jpg"),
    ("tab\there\x00nul.png", "image/png", "tabherenul.png"),
    ("report.csv", "text/csv; charset=utf-8", "report.csv"),
    ("thing.exe", "application/x-unknown", "thing.bin"),
])
def test_the_name_comes_from_the_content(uploaded: str, media_type: str, expected: str) -> None:
    assert download_name(uploaded, media_type, "document-7") == expected


def test_controls_are_removed_and_shown_as_code_points() -> None:
    assert clean_text(f"a{RLO}b\u200bc") == "abc"
    assert display_original(f"invoice{RLO}gnp.exe") == "invoice<U+202E>gnp.exe"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (20, 10), 255).save(out, format="PNG")
    return out.getvalue()


def test_every_download_route_names_by_content(database: Database, settings: Settings,
                                               login: Callable[[Role], FlaskClient]) -> None:
    store = open_store(settings.storage_url)
    png = _png()
    key = store.put(png)
    pdf_key = store.put(b"%PDF-1.7\n% a searchable copy\n%%EOF\n")
    tracking = format_tracking("SOH-01", 2026, 4242)
    with database.session() as s:
        centre = s.scalars(select(Centre).where(Centre.code == "SOH-01")).one()
        service = Service(code="VALIDITY", name_ar="بيان صلاحية", name_en="Validity", legal_days=7,
                          catalogue_version="t", definition={})
        now = datetime.now(UTC)
        application = Application(
            tracking_number=tracking, centre=centre, service=service, service_code="VALIDITY", catalogue_version="t",
            applicant_name="كريم حسن", national_id="29104012601237", applicant_phone="01234567890",
            channel="window", due_at=now + timedelta(days=7),
            documents=[
                # a row whose stated type is wrong too (an import of old data): the bytes decide
                Document(requirement="DEED", filename="scan.pdf", media_type="application/pdf", sha256=key,
                         size_bytes=len(png), page_count=1, searchable_pdf_sha256=pdf_key),
                Document(requirement="ID_COPY", filename=f"invoice{RLO}gnp.exe", media_type="image/png", sha256=key,
                         size_bytes=len(png), page_count=1),
            ])
        s.add(application)
        s.commit()
        ids = [d.id for d in application.documents]
    clerk = login(Role.CLERK)
    first = clerk.get(f"/documents/{ids[0]}/original")
    assert first.status_code == 200 and first.mimetype == "image/png" and first.data == png
    assert 'filename=scan.png' in first.headers["Content-Disposition"]
    second = clerk.get(f"/documents/{ids[1]}/original")
    disposition = second.headers["Content-Disposition"]
    assert "invoicegnp.png" in disposition and RLO not in disposition and "%E2%80%AE" not in disposition
    searchable = clerk.get(f"/documents/{ids[0]}/searchable.pdf")
    assert searchable.mimetype == "application/pdf" and "scan-ocr.pdf" in searchable.headers["Content-Disposition"]
    page = clerk.get(f"/applications/{tracking}").get_data(as_text=True)
    assert "invoicegnp.png" in page and "invoice&lt;U+202E&gt;gnp.exe" in page and RLO not in page
