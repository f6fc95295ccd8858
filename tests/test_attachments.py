"""Papers that arrive already signed (signing.attachments), on SQLite and PostgreSQL, with real pyHanko signatures.

An engineer signs the drawings with a certificate of a trusted authority, a contractor signs with one nobody trusts,
the survey is a plain scan. After intake the background check validates each PDF with the permits' validator; the
application page and the API show who signed, when, and whether it holds and why; the archive search filters on
"has signed attachments"; the original bytes are the ones uploaded.
"""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from flask import Flask
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from sqlalchemy import select

from archive.models import Document, DocumentSignature, User
from archive_search.indexing import index_applications
from intake.service import Upload, register_application
from ocr.limits import Limits
from signing.attachments import check_pending, pending_ids
from signing.dev_pki import DemoPki, create_demo_pki
from signing.trust import add_trust_root
from tests import clock
from tests.intake_files import pdf_bytes, png_bytes
from tests.test_api_decisions import token
from tests.test_web_routing import CLERK, HEAD, PKI_PASSWORD, REVIEWER, World, make_world

ENGINEER, CONTRACTOR = "eng.hassan", "contractor"


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoPki, DemoPki]:
    trusted = create_demo_pki(tmp_path_factory.mktemp("trusted") / "demo",
                              [(HEAD, "رئيس الإدارة الهندسية - تجريبي"), (ENGINEER, "م. حسن عبد الرحيم - تجريبي")],
                              PKI_PASSWORD)
    other = create_demo_pki(tmp_path_factory.mktemp("other") / "demo", [(CONTRACTOR, "مقاول غير معتمد - تجريبي")],
                            PKI_PASSWORD)
    return trusted, other


def signed(pdf: bytes, pki: DemoPki, key: str, field: str) -> bytes:
    signer = signers.SimpleSigner.load_pkcs12(str(pki.signer(key).pkcs12_path), passphrase=PKI_PASSWORD)
    assert signer is not None
    clean = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf)) as document:  # a scanner's PDF, rewritten as a word processor would save it
        document.save(clean)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(clean.getvalue())),
                           signers.PdfSignatureMetadata(field_name=field, reason="اعتماد الرسومات"), signer=signer)
    return bytes(out.getvalue())


def register(world: World, uploads: list[Upload]) -> str:
    with world.session() as s:
        return register_application(
            s, world.rt.store, centre_code="SOH-01", service_code="BUILD-PERMIT", applicant_name="كريم عادل منصور",
            national_id="29001012601234", applicant_phone="01098765432",
            details={"plot_number": "44", "street": "شارع المحطة", "district": "الزهور", "area_m2": "300"},
            uploads=uploads, created_by=s.scalar(select(User).where(User.username == CLERK)), channel="window",
            incomplete_reason="باقي المستندات في الزيارة القادمة", limits=Limits(), now=clock.NOW,
        ).tracking_number  # fmt: skip


def test_signed_pdfs_are_validated_after_intake_and_shown_and_searchable(
    world: World, pkis: tuple[DemoPki, DemoPki], tmp_path: Path
) -> None:
    trusted, other = pkis
    with world.session() as s:  # the DEMO root of the trusted PKI; the contractor's root is unknown here
        add_trust_root(s, "DEMO root", trusted.root_cert_path.read_bytes())
    drawings = signed(pdf_bytes("الرسومات الإنشائية"), trusted, ENGINEER, "Engineer")
    contract = signed(pdf_bytes("عقد المقاولة"), other, CONTRACTOR, "Contractor")
    survey = pdf_bytes("الرفع المساحي")
    tracking = register(world, [Upload("DRAWINGS", "رسومات.pdf", io.BytesIO(drawings)),
                                Upload("OWNERSHIP", "عقد.pdf", io.BytesIO(contract)),
                                Upload("SURVEY", "رفع.pdf", io.BytesIO(survey)),
                                Upload("ID_COPY", "بطاقة.png", io.BytesIO(png_bytes()))])
    plain = register(world, [Upload("SURVEY", "رفع.pdf", io.BytesIO(survey))])

    # nothing is validated in the request: the PDFs wait for the background check; the image is never checked
    with world.session() as s:
        assert len(pending_ids(s)) == 4
    results = check_pending(world.rt.db, world.rt.store)
    assert sorted(r.status for r in results) == ["INDETERMINATE", "TOTAL_PASSED", "none", "none"]
    assert check_pending(world.rt.db, world.rt.store) == []  # each once
    with world.session() as s:
        rows = {d.requirement: (d.signature_check, d.sha256) for d in s.scalars(select(Document))}
        sigs = {g.field_name: g for g in s.scalars(select(DocumentSignature))}
    assert rows["DRAWINGS"][0] == "TOTAL_PASSED" and rows["OWNERSHIP"][0] == "INDETERMINATE"
    assert rows["ID_COPY"][0] is None
    assert set(sigs) == {"Engineer", "Contractor"}
    assert "حسن عبد الرحيم" in sigs["Engineer"].signer_name and sigs["Engineer"].signing_time is not None
    assert sigs["Contractor"].sub_indication == "NO_CERTIFICATE_CHAIN_FOUND" and sigs["Contractor"].reasons_ar
    import hashlib

    assert rows["DRAWINGS"][1] == hashlib.sha256(drawings).hexdigest()  # the original bytes, untouched
    assert world.rt.store.get_bytes(rows["DRAWINGS"][1]) == drawings

    # the application page and the API show who signed, when, valid or not and why
    html = world.client(REVIEWER).get(f"/applications/{tracking}").get_data(as_text=True)
    assert 'data-indication="TOTAL_PASSED"' in html and 'data-indication="INDETERMINATE"' in html
    assert "حسن عبد الرحيم" in html and "توقيع صحيح" in html and "تعذر التحقق من التوقيع" in html
    client = world.app.test_client()
    headers = token(client, REVIEWER)
    detail = client.get(f"/api/v1/applications/{tracking}", headers=headers).get_json()
    by_requirement = {d["requirement"]: d for d in detail["documents"]}
    [engineer] = by_requirement["DRAWINGS"]["signatures"]
    assert engineer["indication"] == "TOTAL_PASSED" and engineer["signed_at"] and engineer["level"] == "B-B"
    assert by_requirement["SURVEY"]["signature_check"] == "none" and by_requirement["SURVEY"]["signatures"] == []
    # and the case file shows the page's signature report per version
    checklist = {e["code"]: e for e in detail["checklist"]}
    [[drawn]] = [v["files"] for v in checklist["DRAWINGS"]["versions"]]
    report = drawn["signature_report"]
    assert (report["check"], report["signed"], report["valid"], report["invalid"]) == ("TOTAL_PASSED", True, 1, 0)
    [line] = report["signatures"]
    assert "حسن عبد الرحيم" in line["signer"] and line["verdict_ar"] == "توقيع صحيح" and line["time"]
    [[contract_file]] = [v["files"] for v in checklist["OWNERSHIP"]["versions"]]
    assert contract_file["signature_report"]["indeterminate"] == 1
    assert contract_file["signature_report"]["signatures"][0]["verdict_ar"] == "تعذر التحقق من التوقيع"
    assert contract_file["signature_report"]["signatures"][0]["reasons_ar"]
    [[survey_file]] = [v["files"] for v in checklist["SURVEY"]["versions"]]
    assert survey_file["signature_report"]["check"] == "none" and survey_file["signature_report"]["signed"] is False

    # the archive search: "has signed attachments"
    with world.session() as s:
        ids = list(s.scalars(select(Document.application_id).distinct()))
        index_applications(s, world.rt.search, ids)
    everything = client.get("/api/v1/search", headers=headers).get_json()
    assert {h["tracking_number"] for h in everything["hits"]} == {tracking, plain}
    only_signed = client.get("/api/v1/search?signed=true", headers=headers).get_json()
    assert [h["tracking_number"] for h in only_signed["hits"]] == [tracking]
    page = world.client(REVIEWER).get("/search?signed=1").get_data(as_text=True)
    assert tracking in page and plain not in page and 'name="signed" value="1" checked' in page
