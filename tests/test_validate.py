"""Validating signed permits: the DSS-style simple report on good, untrusted, tampered, extended and broken files."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko import stamp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from signing.dev_pki import DemoPki, create_demo_pki
from signing.slots import SignatureSlot
from signing.validate import ValidationReport, same_bytes, validate_pdf
from tests.signing_samples import (
    PASSWORD,
    as_asn1,
    issue_certificate,
    load_signer,
    pdfa_problems,
    render_sample,
    revocation_list,
    sign,
    sign_chain,
    simple_signer,
    timestamper,
)

STAMP_FONT = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return create_demo_pki(
        tmp_path_factory.mktemp("pki"),
        [("eng", "DEMO Engineering Head"), ("council", "DEMO Council Head")],
        PASSWORD,
    )


@pytest.fixture(scope="module")
def root(pki: DemoPki) -> x509.Certificate:
    return pki.root_certificate()


@pytest.fixture(scope="module")
def chain(pki: DemoPki) -> list[signers.Signer]:
    return [load_signer(pki, "eng"), load_signer(pki, "council")]


@pytest.fixture(scope="module")
def permit() -> tuple[bytes, list[SignatureSlot]]:
    return render_sample()


@pytest.fixture(scope="module")
def signed(permit: tuple[bytes, list[SignatureSlot]], chain: list[signers.Signer]) -> bytes:
    pdf, slots = permit
    return sign_chain(pdf, slots, chain)


def check(report: ValidationReport, indication: str, sub_indication: str | None) -> None:
    assert (report.indication, report.sub_indication) == (indication, sub_indication), report


def test_signed_permit_passes(signed: bytes, root: x509.Certificate) -> None:
    report = validate_pdf(signed, trust_roots=[root])
    check(report, "TOTAL_PASSED", None)
    assert report.document_sha256 == hashlib.sha256(signed).hexdigest()
    assert report.whole_document_covered and not report.modified_after_last_signature
    assert report.unsigned_fields == [] and report.reasons_en == []
    first, second = report.signatures
    assert [s.field_name for s in report.signatures] == ["approve_department", "approve_council"]
    assert [s.signer_name for s in report.signatures] == ["DEMO Engineering Head", "DEMO Council Head"]
    assert [s.certified for s in report.signatures] == [True, False]
    for s in report.signatures:
        assert (s.indication, s.sub_indication) == ("TOTAL_PASSED", None)
        assert (s.intact, s.valid, s.trusted) == (True, True, True)
        assert s.level == "B-B" and s.timestamp_time is None and s.signing_time is not None
        assert s.docmdp_ok is True and s.reasons_ar == [] and re.fullmatch("[0-9a-f]{64}", s.signer_certificate_sha256)
    assert (first.coverage, first.modification_level) == ("ENTIRE_REVISION", "FORM_FILLING")
    assert (second.coverage, second.modification_level) == ("ENTIRE_FILE", "NONE")


def test_trust_roots_may_be_given_as_asn1crypto_or_pem(signed: bytes, root: x509.Certificate) -> None:
    assert validate_pdf(signed, trust_roots=[as_asn1(root)]).passed
    assert validate_pdf(signed, trust_roots=[root.public_bytes(Encoding.PEM)]).passed


@pytest.mark.parametrize("roots", ["other", "none"])
def test_untrusted_root_is_indeterminate(signed: bytes, roots: str, tmp_path: Path) -> None:
    trust_roots = [create_demo_pki(tmp_path / "other", [], PASSWORD).root_certificate()] if roots == "other" else []
    report = validate_pdf(signed, trust_roots=trust_roots)
    check(report, "INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    for s in report.signatures:
        assert (s.intact, s.valid, s.trusted) == (True, True, False)
        assert s.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
        assert s.reasons_en == ["The signer's certificate is not from a trusted certification authority."]
        assert s.reasons_ar == ["شهادة الموقّع ليست صادرة عن جهة تصديق معتمدة."]


def test_a_self_signed_look_alike_is_not_from_a_trusted_authority(permit: tuple[bytes, list[SignatureSlot]],
                                                                  root: x509.Certificate) -> None:
    """A certificate made at home with the official's name (and a key usage that would do) is explained as what it
    is, not as a certificate breaking "its authority's rules"."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DEMO"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "DEMO Council Head")])
    now = dt.datetime.now(dt.UTC)
    fake = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    pdf, slots = permit
    signer = signers.SimpleSigner(signing_cert=as_asn1(fake), signing_key=_pkcs8(key), cert_registry=None)
    report = validate_pdf(sign(pdf, slots[0].field_name, signer, create=slots[:1]), trust_roots=[root])
    check(report, "INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert report.signatures[0].reasons_en == [
        "The signer's certificate is not from a trusted certification authority."]


def _pkcs8(key: Any) -> Any:
    from asn1crypto import keys
    from cryptography.hazmat.primitives import serialization

    return keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))


def test_a_byte_flipped_inside_the_signed_range_fails(signed: bytes, permit: tuple[bytes, list[SignatureSlot]],
                                                     root: x509.Certificate) -> None:
    original = permit[0]
    # a byte inside a compressed stream of the rendered permit: covered by both signatures, parseable afterwards
    start = original.index(b"stream\n", len(original) // 2) + len(b"stream\n") + 20
    tampered = bytearray(signed)
    tampered[start] ^= 0x01
    report = validate_pdf(bytes(tampered), trust_roots=[root])
    check(report, "TOTAL_FAILED", "HASH_FAILURE")
    for s in report.signatures:
        assert (s.indication, s.sub_indication, s.intact) == ("TOTAL_FAILED", "HASH_FAILURE", False)
        assert "changed after this signature" in s.reasons_en[0]
        assert "تم تعديل المستند بعد هذا التوقيع" in s.reasons_ar[0]
    assert not same_bytes(bytes(tampered), signed) and same_bytes(signed, bytes(bytearray(signed)))


def test_page_content_appended_after_the_last_signature_is_flagged(signed: bytes, root: x509.Certificate) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    # white out part of the first condition and write over it: an incremental update to the page content
    patch = writer.add_object(generic.StreamObject(stream_data=b"q 1 1 1 rg 300 420 240 14 re f Q"))
    writer.add_stream_to_page(0, patch)
    out = BytesIO()
    writer.write(out)
    report = validate_pdf(out.getvalue(), trust_roots=[root])
    check(report, "TOTAL_FAILED", "FORMAT_FAILURE")
    assert report.modified_after_last_signature and not report.whole_document_covered
    assert "changed after this signature in a way that is not allowed" in report.reasons_en[0]
    for s in report.signatures:
        assert (s.intact, s.valid, s.trusted) == (True, True, True)  # the signed revisions themselves are fine
        assert (s.indication, s.sub_indication, s.modification_level) == ("TOTAL_FAILED", "FORMAT_FAILURE", "OTHER")
        assert s.docmdp_ok is False


def test_allowed_change_after_the_last_signature_leaves_it_indeterminate(
    permit: tuple[bytes, list[SignatureSlot]], chain: list[signers.Signer], root: x509.Certificate
) -> None:
    pdf, slots = permit
    approved = sign(pdf, slots[0].field_name, chain[0], create=slots[:1])  # an approval signature, no certification
    writer = IncrementalPdfFileWriter(BytesIO(approved))
    fields.append_signature_field(writer, SigFieldSpec("late_field", on_page=0, box=(60, 60, 200, 120)))
    out = BytesIO()
    writer.write(out)
    report = validate_pdf(out.getvalue(), trust_roots=[root])
    check(report, "INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert report.modified_after_last_signature
    assert report.unsigned_fields == ["late_field"]
    (only,) = report.signatures
    assert only.modification_level == "FORM_FILLING" and not only.certified
    assert "after the last signature" in only.reasons_en[0]


def test_partially_signed_permit_lists_its_empty_fields(permit: tuple[bytes, list[SignatureSlot]],
                                                        chain: list[signers.Signer], root: x509.Certificate) -> None:
    pdf, slots = permit
    first_only = sign(pdf, slots[0].field_name, chain[0], certify=True, create=slots)
    report = validate_pdf(first_only, trust_roots=[root])
    check(report, "TOTAL_PASSED", None)
    assert report.unsigned_fields == ["approve_council"]
    assert report.signatures[0].certified


def test_signature_copied_from_another_permit_fails(signed: bytes, chain: list[signers.Signer],
                                                    root: x509.Certificate) -> None:
    other_pdf, other_slots = render_sample(applicant_name="سعاد محمود إبراهيم")
    other = sign_chain(other_pdf, other_slots, chain)
    donor = PdfFileReader(BytesIO(other)).embedded_signatures[0]
    target = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    _, len1, start2, _ = (int(v) for v in target.byte_range)
    donor_der = cms.ContentInfo.load(donor.pkcs7_content).dump()
    slot_hex_len = start2 - len1 - 2  # between < and >
    donor_hex = donor_der.hex().encode().ljust(slot_hex_len, b"0")
    assert len(donor_hex) == slot_hex_len
    grafted = signed[: len1 + 1] + donor_hex + signed[start2 - 1:]
    assert len(grafted) == len(signed)
    report = validate_pdf(grafted, trust_roots=[root])
    check(report, "TOTAL_FAILED", "HASH_FAILURE")
    assert report.signatures[0].signer_name == "DEMO Engineering Head"
    assert report.signatures[0].intact is False


def _garbage_inputs(signed: bytes, unsigned: bytes) -> dict[str, tuple[bytes, str]]:
    return {
        "empty": (b"", "not a PDF"),
        "text": (b"hello, this is not a permit", "not a PDF"),
        "random": (os.urandom(4096), "not a PDF"),
        "header only": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n", "damaged"),
        "truncated": (signed[: len(signed) * 2 // 3], "damaged"),
        "cut before the last xref": (signed[:-40], "damaged"),
        "unsigned": (unsigned, "no electronic signature"),
    }


@pytest.mark.parametrize(
    "case", ["empty", "text", "random", "header only", "truncated", "cut before the last xref", "unsigned"]
)
def test_garbage_is_a_format_failure_never_an_exception(case: str, signed: bytes,
                                                        permit: tuple[bytes, list[SignatureSlot]],
                                                        root: x509.Certificate) -> None:
    data, reason = _garbage_inputs(signed, permit[0])[case]
    report = validate_pdf(data, trust_roots=[root])
    check(report, "TOTAL_FAILED", "FORMAT_FAILURE")
    assert report.signatures == [] and report.document_sha256 == hashlib.sha256(data).hexdigest()
    assert reason in report.reasons_en[0]
    assert len(report.reasons_ar) == len(report.reasons_en) == 1
    assert re.search("[\u0600-\u06ff]", report.reasons_ar[0])


def test_fields_without_signatures_are_a_format_failure(permit: tuple[bytes, list[SignatureSlot]],
                                                       root: x509.Certificate) -> None:
    pdf, slots = permit
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    for slot in slots:
        box: Any = slot.box  # pyHanko's hint says int; fractional points work
        fields.append_signature_field(writer, SigFieldSpec(slot.field_name, on_page=slot.page, box=box))
    out = BytesIO()
    writer.write(out)
    report = validate_pdf(out.getvalue(), trust_roots=[root])
    check(report, "TOTAL_FAILED", "FORMAT_FAILURE")
    assert report.unsigned_fields == ["approve_department", "approve_council"]


def test_levels_and_proof_of_existence_with_timestamps(pki: DemoPki, permit: tuple[bytes, list[SignatureSlot]],
                                                       chain: list[signers.Signer], root: x509.Certificate) -> None:
    pdf, slots = permit
    tsa = timestamper(pki)
    b_b = sign(pdf, slots[0].field_name, chain[0], create=slots[:1])
    b_t = sign(pdf, slots[0].field_name, chain[0], create=slots[:1], timestamper=tsa)
    b_lta = sign(
        pdf, slots[0].field_name, chain[0], create=slots[:1], timestamper=tsa, embed_validation_info=True,
        use_pades_lta=True, validation_context=ValidationContext(trust_roots=[as_asn1(root)]),
    )
    levels = {}
    for name, data in {"B-B": b_b, "B-T": b_t, "B-LTA": b_lta}.items():
        report = validate_pdf(data, trust_roots=[root])
        check(report, "TOTAL_PASSED", None)
        levels[name] = report.signatures[0].level
        if name != "B-B":
            assert report.signatures[0].timestamp_time is not None
    assert levels == {"B-B": "B-B", "B-T": "B-T", "B-LTA": "B-LTA"}
    lta = validate_pdf(b_lta, trust_roots=[root])
    assert [t.indication for t in lta.timestamps] == ["TOTAL_PASSED"]
    # pyHanko appends the TSA's validation data after the document timestamp: not every byte is covered, but nothing
    # other than validation data came after the signature
    assert not lta.whole_document_covered and not lta.modified_after_last_signature
    assert lta.signatures[0].modification_level == "LTA_UPDATES"

    # three years on, the signer's certificate (two years) has expired
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)
    expired = validate_pdf(b_b, trust_roots=[root], at=later)
    check(expired, "INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")
    assert "expired on" in expired.signatures[0].reasons_en[0]
    assert "انتهت صلاحية شهادة الموقّع" in expired.signatures[0].reasons_ar[0]
    proven = validate_pdf(b_t, trust_roots=[root], at=later)  # the timestamp proves the signature older
    check(proven, "TOTAL_PASSED", None)
    assert "the signature stands" in proven.signatures[0].reasons_en[0]


def _with_crl(pdf: bytes, crl: x509.CertificateRevocationList) -> bytes:
    sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    DocumentSecurityStore.supply_dss_in_writer(
        writer, sig.pkcs7_content, crls=[asn1_crl.CertificateList.load(crl.public_bytes(Encoding.DER))]
    )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_revocation_from_the_embedded_dss(pki: DemoPki, permit: tuple[bytes, list[SignatureSlot]],
                                          root: x509.Certificate) -> None:
    pdf, slots = permit
    now = dt.datetime.now(dt.UTC)
    cert, key = issue_certificate(pki, "DEMO Revoked Official", crl_url="http://crl.invalid/demo.crl")
    official = simple_signer(pki, cert, key)
    field_name = slots[0].field_name

    # no timestamp: revoked, and nothing proves the signature is older
    plain = _with_crl(sign(pdf, field_name, official, create=slots[:1]), revocation_list(pki, cert, now))
    report = validate_pdf(plain, trust_roots=[root])
    check(report, "INDETERMINATE", "REVOKED_NO_POE")
    (s,) = report.signatures
    assert s.revoked_at is not None and "was revoked on" in s.reasons_en[0] and "أُلغيت شهادة الموقّع" in s.reasons_ar[0]
    assert not report.modified_after_last_signature  # the DSS is validation data, not a change

    # a trusted timestamp before the revocation: the signature stands
    early = sign(pdf, field_name, official, create=slots[:1],
                 timestamper=timestamper(pki, fixed_dt=now + dt.timedelta(seconds=1)))
    stands = validate_pdf(_with_crl(early, revocation_list(pki, cert, now + dt.timedelta(minutes=1))),
                          trust_roots=[root], at=now + dt.timedelta(minutes=10))
    check(stands, "TOTAL_PASSED", None)
    assert "after the signature" in stands.signatures[0].reasons_en[0]

    # revoked before the time-stamped signing time: failed
    late = sign(pdf, field_name, official, create=slots[:1],
                timestamper=timestamper(pki, fixed_dt=now + dt.timedelta(minutes=2)))
    revoked = validate_pdf(_with_crl(late, revocation_list(pki, cert, now + dt.timedelta(minutes=1))),
                           trust_roots=[root], at=now + dt.timedelta(minutes=10))
    check(revoked, "TOTAL_FAILED", "REVOKED")


class PdfA3Writer(IncrementalPdfFileWriter):
    """Keeps a PDF/A-3 (PDF 1.7) file at 1.7: skips the ISO/TS 32002 extension pyHanko declares for ECDSA keys.

    ECDSA in CMS signatures is PAdES-conformant in PDF 1.7; ISO/TS 32002 only registers it for PDF 2.0, and pyHanko
    registering it sets the catalog's /Version to 2.0, which a PDF/A-3 file cannot be.
    """

    def register_extension(self, ext: Any) -> None:
        if getattr(ext, "extension_level", None) == 32002:
            return
        super().register_extension(ext)

    def ensure_output_version(self, version: Any) -> None:
        super().ensure_output_version(min(tuple(version), (1, 7)))


def test_pdfa_markers_survive_incremental_signing(permit: tuple[bytes, list[SignatureSlot]],
                                                  chain: list[signers.Signer], root: x509.Certificate) -> None:
    pdf, slots = permit
    assert pdfa_problems(pdf) == []
    embedded_font = stamp.TextStampStyle(
        stamp_text="Signed by %(signer)s\n%(ts)s",
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(STAMP_FONT)),
    )
    # pyHanko's defaults: a Courier (not embedded) stamp, and PDF 2.0 declared for the ECDSA keys of the DEMO PKI
    default = sign_chain(pdf, slots, chain)
    problems = pdfa_problems(default)
    assert any("/Version /2.0" in p for p in problems), problems
    assert any("Courier not embedded" in p for p in problems), problems

    # an embedded stamp font and no PDF 2.0 extension: the markers and these rules survive both signatures
    careful = sign_chain(pdf, slots, chain, stamp_style=embedded_font, writer_class=PdfA3Writer)
    assert pdfa_problems(careful) == []
    with pikepdf.open(BytesIO(careful)) as doc:
        meta = doc.open_metadata()
        assert (meta.get("pdfaid:part"), meta.get("pdfaid:conformance")) == ("3", "B")
        assert "/Info" not in doc.trailer  # pyHanko updated the XMP packet only: nothing to disagree with
        assert meta.get("xmp:ModifyDate", "").startswith(str(dt.datetime.now(dt.UTC).year))
    report = validate_pdf(careful, trust_roots=[root])
    check(report, "TOTAL_PASSED", None)
