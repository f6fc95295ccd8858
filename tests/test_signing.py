"""The signing core against real tools: pyHanko, a live certomancer PKI (OCSP, CRL, TSA), SoftHSM2 and poppler.

One permit-like Arabic PDF gets two signature fields; the head of engineering (PKCS#12, EC key) certifies it with
FILL_FORMS, the head of the city council (SoftHSM2 token, RSA key) signs the last field, which locks the document.
Both signatures are B-LT (timestamp from the test TSA, OCSP/CRL in the DSS). Then the file is checked by pyHanko
and by ``pdfsig``, tampered with in three ways, and every refusal code an official can meet is provoked for real.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import read_certification_data
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from signing.certificates import check_signing_certificate, fingerprint, normalise_fingerprint
from signing.errors import MESSAGES, SigningRefused
from signing.pades import add_document_timestamp, add_signature_fields, sign_pdf, signature_levels
from signing.signers import LoadedSigner, Pkcs11Credential, Pkcs12Credential, open_signer
from signing.slots import SignatureSlot
from signing.stamp import StampText, render_stamp
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken

pytestmark = pytest.mark.slow

PASSPHRASE = b"correct horse"
ENGINEERING = StampText("م. سامي فؤاد عبد الله", "رئيس الإدارة الهندسية", "Eng. Sami Fouad Abdallah",
                        "Head of Engineering")
COUNCIL = StampText("أ. منى إبراهيم الشافعي", "رئيس مجلس المدينة")
SLOTS = [SignatureSlot("engineering", 0, (320.0, 80.0, 540.0, 170.0)),
         SignatureSlot("council", 0, (56.0, 80.0, 276.0, 170.0))]
PERMIT_HTML = """<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 2cm }} body {{ font-family: 'Noto Naskh Arabic', 'Amiri'; font-size: 14pt }}
</style></head><body><h1>ترخيص أعمال بناء</h1>
<p>رقم الترخيص: <bdi dir="ltr">{number}</bdi></p>
<p>يُرخَّص للسيد/ {owner} بإقامة مبنى سكني من أربعة طوابق على قطعة الأرض رقم ١٢ بحي الكوثر.</p>
</body></html>"""


def make_pdf(number: str = "SOH01-BP-2026-000123", owner: str = "أحمد محمود حسن") -> bytes:
    from weasyprint import HTML

    return bytes(HTML(string=PERMIT_HTML.format(number=number, owner=owner)).write_pdf())


@dataclass(frozen=True)
class SignedPermit:
    fields_only: bytes
    after_first: bytes
    final: bytes


def sign_both(pdf: bytes, pki: TestPki, softhsm: SoftHsmToken, tmp: Path) -> SignedPermit:
    with_fields = add_signature_fields(pdf, SLOTS)
    with open_signer(Pkcs12Credential(pki.pkcs12("engineering", PASSPHRASE, tmp), PASSPHRASE)) as engineer:
        after_first = sign_pdf(with_fields, engineer, field_name="engineering", stamp=ENGINEERING,
                               reason="اعتماد هندسي", location="سوهاج", certify=True, timestamp_url=pki.tsa_url,
                               embed_validation_info=True, validation_context=pki.validation_context())
    with open_signer(softhsm.credential("council")) as head:
        final = sign_pdf(after_first, head, field_name="council", stamp=COUNCIL, reason="اعتماد نهائي",
                         location="سوهاج", lock_document=True, timestamp_url=pki.tsa_url,
                         embed_validation_info=True, validation_context=pki.validation_context())
    return SignedPermit(fields_only=with_fields, after_first=after_first, final=final)


@pytest.fixture(scope="module")
def base_pdf() -> bytes:
    return make_pdf()


@pytest.fixture(scope="module")
def signed(base_pdf: bytes, pki: TestPki, softhsm: SoftHsmToken,
           tmp_path_factory: pytest.TempPathFactory) -> SignedPermit:
    return sign_both(base_pdf, pki, softhsm, tmp_path_factory.mktemp("signed"))


@pytest.fixture(scope="module")
def engineer(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedSigner]:
    """The PKCS#12 signer, loaded once for the quick B-B tests."""
    path = pki.pkcs12("engineering", PASSPHRASE, tmp_path_factory.mktemp("p12"))
    with open_signer(Pkcs12Credential(path, PASSPHRASE)) as loaded:
        yield loaded


def statuses(pdf: bytes, pki: TestPki) -> list[PdfSignatureStatus]:
    """pyHanko's verdict on every (non-timestamp) signature, fetching revocation data from the live PKI."""
    reader = PdfFileReader(io.BytesIO(pdf))
    return [validate_pdf_signature(sig, pki.validation_context()) for sig in reader.embedded_regular_signatures]


def pdfsig(pdf: bytes, tmp_path: Path) -> tuple[int, str]:
    """poppler's verdict without certificate trust (-nocert: our test root is not in an NSS database)."""
    path = tmp_path / f"check-{len(list(tmp_path.iterdir()))}.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdfsig", "-nocert", "-no-ocsp", str(path)], capture_output=True, text=True,
                            timeout=60, check=False)
    return result.returncode, result.stdout


def pdfsig_blocks(output: str) -> list[str]:
    return re.split(r"^Signature #\d+:$", output, flags=re.MULTILINE)[1:]


def bb(pdf: bytes, signer: LoadedSigner, field: str, **kwargs: object) -> bytes:
    """A quick B-B signature (no TSA, no DSS) for the tests that are not about levels."""
    return sign_pdf(pdf, signer, field_name=field, stamp=ENGINEERING, reason="test", location="سوهاج",
                    **kwargs)  # type: ignore[arg-type]


# --- the happy path -------------------------------------------------------------------------------------------------


def test_pki_certificates_point_at_the_live_services(pki: TestPki) -> None:
    cert = pki.cert("engineering")
    assert cert.ocsp_urls == [pki.ocsp_url]
    assert cert.crl_distribution_points[0]["distribution_point"].native == [pki.crl_url("interm")]
    assert cert.subject.native["common_name"] == "م. سامي فؤاد عبد الله"
    assert pki.cert("council").public_key.algorithm == "rsa"


def test_two_officials_sign_in_order_and_pyhanko_accepts_both(signed: SignedPermit, pki: TestPki) -> None:
    first, second = statuses(signed.final, pki)
    for status in (first, second):
        assert status.bottom_line, status.pretty_print_details()
        assert status.intact and status.valid and status.trusted
        assert status.timestamp_validity is not None and status.timestamp_validity.valid
        assert status.timestamp_validity.trusted
    # The certification allows form filling: the council's signature is exactly that, nothing more.
    assert first.docmdp_ok and first.modification_level == ModificationLevel.FORM_FILLING
    assert first.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    # The last signature covers the whole file: its DSS went into its own revision.
    assert second.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert second.modification_level == ModificationLevel.NONE and second.docmdp_ok
    assert first.signing_cert.subject.native["common_name"] == ENGINEERING.name_ar
    assert second.signing_cert.subject.native["common_name"] == COUNCIL.name_ar
    assert signature_levels(signed.final) == {"engineering": "B-LT", "council": "B-LT"}


def test_certification_and_lock_are_in_the_pdf(signed: SignedPermit) -> None:
    reader = PdfFileReader(io.BytesIO(signed.final))
    first, second = reader.embedded_regular_signatures
    assert first.docmdp_level == MDPPerm.FILL_FORMS
    certification = read_certification_data(reader)
    assert certification is not None and certification.permission == MDPPerm.FILL_FORMS
    assert certification.author_sig == first.sig_object  # the first signature is the certification
    assert second.docmdp_level == MDPPerm.NO_CHANGES  # the lock of the last field
    lock = second.sig_field["/Lock"]
    assert lock["/Action"] == "/All" and lock["/P"] == 1
    assert first.sig_object["/Filter"] == "/Adobe.PPKLite" and first.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    # The fields existed before the first signature: later revisions only fill them.
    assert [name for name, _, _ in _fields(signed.fields_only)] == ["engineering", "council"]


def _fields(pdf: bytes) -> list[tuple[str, object, object]]:
    from pyhanko.sign.fields import enumerate_sig_fields

    return list(enumerate_sig_fields(PdfFileReader(io.BytesIO(pdf))))


def test_b_lt_validates_offline_from_the_dss(signed: SignedPermit, pki: TestPki) -> None:
    reader = PdfFileReader(io.BytesIO(signed.final))
    offline = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": pki.trust_roots, "allow_fetching": False, "revocation_mode": "require"}
    )
    for sig in reader.embedded_regular_signatures:
        status = validate_pdf_signature(sig, offline)
        assert status.bottom_line, status.pretty_print_details()


def test_pdfsig_says_both_signatures_are_valid(signed: SignedPermit, tmp_path: Path) -> None:
    code, out = pdfsig(signed.final, tmp_path)
    assert code == 0, out
    first, second = pdfsig_blocks(out)
    for block in (first, second):
        assert "Signature Validation: Signature is Valid." in block
        assert "ETSI.CAdES.detached" in block
    assert "Signature Field Name: engineering" in first and "Not total document signed" in first
    assert "Signature Field Name: council" in second and "Total document signed" in second
    assert COUNCIL.name_ar in second  # the Arabic subject survives


def test_document_timestamp_makes_b_lta_and_keeps_both_valid(signed: SignedPermit, pki: TestPki) -> None:
    archived = add_document_timestamp(signed.final, pki.tsa_url, pki.validation_context())
    assert signature_levels(archived) == {"engineering": "B-LTA", "council": "B-LTA"}
    first, second = statuses(archived, pki)
    assert first.bottom_line and second.bottom_line
    # A document timestamp is long-term-validation material: allowed even by the lock.
    assert second.modification_level == ModificationLevel.LTA_UPDATES and second.docmdp_ok
    renewed = add_document_timestamp(archived, pki.tsa_url, pki.validation_context())
    assert len(PdfFileReader(io.BytesIO(renewed)).embedded_timestamp_signatures) == 2


# --- tampering ------------------------------------------------------------------------------------------------------


def _content_stream_offset(pdf: bytes) -> int:
    """Offset of a byte in the middle of page 1's first content stream."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        contents = doc.pages[0].obj["/Contents"]
        first = contents[0] if isinstance(contents, pikepdf.Array) else contents
        num, gen = first.objgen
    header = re.search(rb"(?<!\d)%d %d obj" % (num, gen), pdf)
    assert header is not None
    start = pdf.index(b"stream", header.end()) + len(b"stream\n")
    return start + 40


def test_flipped_byte_in_signed_range_breaks_both_signatures(signed: SignedPermit, pki: TestPki,
                                                             tmp_path: Path) -> None:
    offset = _content_stream_offset(signed.final)
    tampered = bytearray(signed.final)
    tampered[offset] ^= 0x01
    for status in statuses(bytes(tampered), pki):
        assert not status.intact and not status.bottom_line
    _, out = pdfsig(bytes(tampered), tmp_path)
    blocks = pdfsig_blocks(out)
    assert len(blocks) == 2
    assert all("Signature is Valid" not in b and "Digest Mismatch" in b for b in blocks), out


def test_content_added_after_the_last_signature_is_flagged(signed: SignedPermit, pki: TestPki,
                                                           tmp_path: Path) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed.final))
    overlay = writer.add_object(generic.StreamObject(stream_data=b"q 1 0 0 rg 100 600 300 60 re f Q"))
    writer.add_stream_to_page(0, overlay)
    out = io.BytesIO()
    writer.write(out)
    first, second = statuses(out.getvalue(), pki)
    for status in (first, second):
        # The signed bytes are untouched (intact), but what came after is not allowed: the verdict is negative.
        assert status.intact and status.valid
        assert status.modification_level == ModificationLevel.OTHER
        assert not status.docmdp_ok and not status.bottom_line
    assert second.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    _, report = pdfsig(out.getvalue(), tmp_path)
    assert "Not total document signed" in pdfsig_blocks(report)[1]


def test_signature_copied_from_another_pdf_is_invalid(engineer: LoadedSigner, pki: TestPki, tmp_path: Path) -> None:
    doc_a = bb(add_signature_fields(make_pdf("SOH01-BP-2026-000001", "سيد"), SLOTS), engineer, "engineering")
    doc_b = bb(add_signature_fields(make_pdf("SOH01-BP-2026-000002", "محمد"), SLOTS), engineer, "engineering")
    (status_b,) = statuses(doc_b, pki)
    assert status_b.intact

    contents = re.compile(rb"/Contents\s*<([0-9a-fA-F]+)>")
    cms_a = contents.search(doc_a)
    slot_b = contents.search(doc_b)
    assert cms_a is not None and slot_b is not None
    pasted = cms_a.group(1).rstrip(b"0")
    assert len(pasted) <= len(slot_b.group(1))
    pasted += b"0" * (len(slot_b.group(1)) - len(pasted))
    forged = doc_b[: slot_b.start(1)] + pasted + doc_b[slot_b.end(1):]

    (status,) = statuses(forged, pki)
    assert status.signing_cert.dump() == pki.cert("engineering").dump()  # the right name ...
    assert not status.intact and not status.bottom_line  # ... but not over this document
    _, out = pdfsig(forged, tmp_path)
    assert "Digest Mismatch" in out and "Signature is Valid" not in out


# --- refusals -------------------------------------------------------------------------------------------------------


def test_wrong_pin_unknown_token_missing_key_and_module(softhsm: SoftHsmToken) -> None:
    cases: list[tuple[Pkcs11Credential, str]] = [
        (softhsm.credential("council", pin="0000"), "wrong_pin"),
        (softhsm.credential("council", token_label="no-such-token"), "token_not_found"),
        (softhsm.credential("council", key_label="nobody"), "key_not_found"),
        (Pkcs11Credential("/nonexistent/libpkcs11.so", "x", "1234", key_label="k"), "credential_unreadable"),
    ]
    for credential, code in cases:
        with pytest.raises(SigningRefused) as refused, open_signer(credential):
            pass
        assert refused.value.code == code
        assert refused.value.message_ar == MESSAGES[code][0] and str(refused.value) == MESSAGES[code][1]


def test_ec_key_on_the_token_signs(softhsm: SoftHsmToken, base_pdf: bytes, pki: TestPki) -> None:
    with open_signer(softhsm.credential("engineering")) as loaded:
        assert loaded.key_algorithm == "ec"
        pdf = bb(add_signature_fields(base_pdf, SLOTS), loaded, "engineering", certify=True)
    (status,) = statuses(pdf, pki)
    assert status.bottom_line


def test_wrong_passphrase_and_damaged_pkcs12(pki: TestPki, tmp_path: Path) -> None:
    path = pki.pkcs12("council", PASSPHRASE, tmp_path)
    for credential, code in [
        (Pkcs12Credential(path, b"wrong"), "bad_passphrase"),
        (Pkcs12Credential(path, b""), "bad_passphrase"),
        (Pkcs12Credential(tmp_path / "missing.p12", PASSPHRASE), "credential_unreadable"),
    ]:
        with pytest.raises(SigningRefused) as refused, open_signer(credential):
            pass
        assert refused.value.code == code
    damaged = tmp_path / "damaged.p12"
    damaged.write_bytes(b"not a pkcs12 file")
    with pytest.raises(SigningRefused, match="could not be read") as refused, open_signer(
            Pkcs12Credential(damaged, PASSPHRASE)):
        pass
    assert refused.value.code == "credential_unreadable"
    with open_signer(Pkcs12Credential(path, PASSPHRASE)) as loaded:  # and the right one opens, RSA key
        assert loaded.key_algorithm == "rsa" and len(loaded.chain) == 2


@pytest.mark.parametrize(
    ("label", "code", "kwargs"),
    [
        ("expired", "certificate_expired", {}),
        ("engineering", "certificate_not_yet_valid", {"at": -60}),
        ("revoked", "certificate_revoked", {}),
        ("rogue", "certificate_untrusted", {}),
        ("norevinfo", "revocation_unknown", {}),
    ],
)
def test_certificate_refusals(pki: TestPki, label: str, code: str, kwargs: dict[str, int]) -> None:
    cert = pki.cert(label)
    at = dt.datetime.now(dt.UTC) + dt.timedelta(days=kwargs["at"]) if "at" in kwargs else None
    with pytest.raises(SigningRefused) as refused:
        check_signing_certificate(cert, trust_roots=pki.trust_roots, registered_fingerprints={fingerprint(cert)},
                                  at=at, intermediates=pki.chain(label)[:-1])
    assert refused.value.code == code, refused.value.detail


def test_certificate_checks_that_pass(pki: TestPki) -> None:
    interm = [pki.cert("interm")]
    for label in ("engineering", "council"):
        cert = pki.cert(label)
        check_signing_certificate(cert, trust_roots=pki.trust_roots, registered_fingerprints={fingerprint(cert)},
                                  intermediates=interm)
    # Without revocation sources, soft-fail accepts what require refuses.
    norev = pki.cert("norevinfo")
    check_signing_certificate(norev, trust_roots=pki.trust_roots, registered_fingerprints={fingerprint(norev)},
                              revocation="soft-fail", intermediates=interm)
    # Fingerprints may be registered in the colon form that openssl prints.
    colons = ":".join(re.findall("..", fingerprint(norev).upper()))
    assert normalise_fingerprint(colons) == fingerprint(norev)
    check_signing_certificate(norev, trust_roots=pki.trust_roots, registered_fingerprints=[colons], revocation="off",
                              intermediates=interm)


def test_unregistered_and_untrusted(pki: TestPki) -> None:
    cert = pki.cert("engineering")
    with pytest.raises(SigningRefused) as refused:
        check_signing_certificate(cert, trust_roots=pki.trust_roots,
                                  registered_fingerprints={fingerprint(pki.cert("council"))})
    assert refused.value.code == "certificate_unregistered"
    with pytest.raises(SigningRefused) as refused:  # a trust list without our root
        check_signing_certificate(cert, trust_roots=[pki.cert("rogue-root")],
                                  registered_fingerprints={fingerprint(cert)})
    assert refused.value.code == "certificate_untrusted"


def test_revoked_certificate_is_on_the_crl_too(pki: TestPki) -> None:
    """The OCSP answer is not the only source: the CRL from the distribution point lists it as well."""
    import urllib.request

    from asn1crypto import crl

    with urllib.request.urlopen(pki.crl_url("interm"), timeout=10) as response:
        revocation_list = crl.CertificateList.load(response.read())
    revoked = {entry["user_certificate"].native for entry in revocation_list["tbs_cert_list"]["revoked_certificates"]}
    assert pki.cert("revoked").serial_number in revoked
    assert pki.cert("engineering").serial_number not in revoked


def test_pyhanko_refuses_revoked_and_expired_signers_when_collecting_b_lt(pki: TestPki, base_pdf: bytes,
                                                                          tmp_path: Path) -> None:
    pdf = add_signature_fields(base_pdf, SLOTS)
    for label, code in [("revoked", "certificate_revoked"), ("expired", "certificate_expired")]:
        with open_signer(Pkcs12Credential(pki.pkcs12(label, PASSPHRASE, tmp_path), PASSPHRASE)) as loaded:
            with pytest.raises(SigningRefused) as refused:
                sign_pdf(pdf, loaded, field_name="engineering", stamp=ENGINEERING, reason="r", location="l",
                         certify=True, embed_validation_info=True, validation_context=pki.validation_context())
        assert refused.value.code == code, refused.value.detail


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_field_and_document_refusals(engineer: LoadedSigner, base_pdf: bytes) -> None:
    pdf = add_signature_fields(base_pdf, SLOTS)
    with pytest.raises(SigningRefused) as refused:
        bb(pdf, engineer, "no-such-field")
    assert refused.value.code == "field_missing"
    once = bb(pdf, engineer, "engineering", certify=True)
    with pytest.raises(SigningRefused) as refused:
        bb(once, engineer, "engineering")
    assert refused.value.code == "field_already_signed"
    for junk in (b"hello", b"%PDF-1.7\n garbage"):
        with pytest.raises(SigningRefused) as refused:
            bb(junk, engineer, "engineering")
        assert refused.value.code == "not_a_pdf"
    with pytest.raises(ValueError, match="before the first signature"):
        add_signature_fields(once, [SignatureSlot("late", 0, (10, 10, 100, 50))])
    with pytest.raises(ValueError, match="first signature"):
        bb(once, engineer, "council", certify=True)


def test_nothing_signs_after_the_locking_signature(engineer: LoadedSigner, base_pdf: bytes) -> None:
    pdf = add_signature_fields(base_pdf, SLOTS)  # "council" is the last slot: it carries the lock
    locked = bb(pdf, engineer, "council")
    with pytest.raises(SigningRefused) as refused:
        bb(locked, engineer, "engineering")
    assert refused.value.code == "document_locked"


def test_a_lock_cannot_be_added_after_the_certification(engineer: LoadedSigner, base_pdf: bytes) -> None:
    """Adding /Lock to a field after the first signature would itself invalidate the certification."""
    pdf = add_signature_fields(base_pdf, SLOTS, lock_last=False)
    certified = bb(pdf, engineer, "engineering", certify=True)
    with pytest.raises(ValueError, match="has no lock"):
        bb(certified, engineer, "council", lock_document=True)
    # Only one signer: the first signature may add the lock itself (nothing earlier can break).
    alone = bb(add_signature_fields(base_pdf, SLOTS[:1], lock_last=False), engineer, "engineering",
               lock_document=True)
    (sig,) = PdfFileReader(io.BytesIO(alone)).embedded_regular_signatures
    assert sig.docmdp_level == MDPPerm.NO_CHANGES


def test_unreachable_tsa_is_a_timestamp_refusal(engineer: LoadedSigner, base_pdf: bytes) -> None:
    pdf = add_signature_fields(base_pdf, SLOTS)
    with pytest.raises(SigningRefused) as refused:
        bb(pdf, engineer, "engineering", timestamp_url=f"http://127.0.0.1:{_closed_port()}/tsa")
    assert refused.value.code == "timestamp_failed"


# --- the stamp ------------------------------------------------------------------------------------------------------


def _is_ink(pixel: object) -> bool:
    assert isinstance(pixel, tuple)
    r, _, b, a = pixel
    return bool(a > 200 and b > r + 40)  # the stamp's dark blue


def test_stamp_png_has_ink_in_the_box() -> None:
    png = render_stamp(COUNCIL.name_ar, COUNCIL.title_ar, dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC))
    image = Image.open(io.BytesIO(png))
    assert image.size == (880, 360) and image.mode == "RGBA"
    rgba = image.convert("RGBA")
    inked = sum(1 for x in range(0, rgba.width, 2) for y in range(0, rgba.height, 2)
                if _is_ink(rgba.getpixel((x, y))))

    assert inked > 1_500


@pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("tesseract") is None,
                    reason="needs poppler-utils and tesseract")
def test_stamp_on_the_signed_page_reads_back_as_arabic(signed: SignedPermit, tmp_path: Path) -> None:
    """Rendered by poppler and read by Tesseract: shaped, joined, right-to-left Arabic reads back; reversed or
    unjoined letters would not. The date line is Latin digits."""
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed.final)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
                   check=True, timeout=60)
    page = Image.open(next(tmp_path.glob("page*.png")))
    scale = 200 / 72
    x1, y1, x2, y2 = SLOTS[1].box  # the council's stamp
    top = page.height - y2 * scale
    crop = page.crop((int(x1 * scale), int(top), int(x2 * scale), int(top + (y2 - y1) * scale)))
    crop.save(tmp_path / "stamp.png")
    result = subprocess.run(["tesseract", str(tmp_path / "stamp.png"), "-", "-l", "ara+eng", "--psm", "6"],
                            capture_output=True, text=True, timeout=60, check=True,
                            env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    text = result.stdout
    assert "مجلس المدينة" in text, text
    assert "الشافعي" in text, text
    # Tesseract prints the Latin date line in its own bidi order; the parts are what matters.
    assert re.search(r"20\d\d-\d\d-\d\d", text) and re.search(r"\d\d:\d\d", text), text


def test_errors_have_both_languages() -> None:
    for code, (arabic, english) in MESSAGES.items():
        refused = SigningRefused(code, "detail")
        assert refused.code == code and str(refused) == english and refused.message_ar == arabic
        assert re.search("[\u0600-\u06ff]", arabic)
    with pytest.raises(ValueError):
        SigningRefused("no_such_code")


def test_stamp_lines_get_a_font_with_every_glyph() -> None:
    """Names and titles such as "رئيس مجلس المدينة (تجريبي)" must not print as empty boxes."""
    from fontTools.ttLib import TTFont

    from signing.stamp import ARABIC_BOLD, ARABIC_REGULAR, font_covering

    for candidates in (ARABIC_REGULAR, ARABIC_BOLD):
        for text in ("رئيس مجلس المدينة (تجريبي)", "م. أحمد - الإدارة الهندسية", "إبراهيم الشافعي"):
            cmap = TTFont(font_covering(text, candidates)).getBestCmap()
            assert [ch for ch in text if not ch.isspace() and ord(ch) not in cmap] == [], (text, candidates)
    assert "Noto" in font_covering("إبراهيم الشافعي", ARABIC_REGULAR)  # the clearer font when it suffices
