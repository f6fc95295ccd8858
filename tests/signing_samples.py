"""Shared material for the permit and validation tests: sample permits, pyHanko signing, a PDF/A marker check.

Signing here uses pyHanko directly (not ``signing/pades.py``) so that the renderer and the validator are tested on
their own. Every signature field of the signing chain is created in the first (certifying) revision: pyHanko's
difference analysis, like ours, refuses new visible signature fields after a certification signature.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.dev_pki import DemoPki
from signing.permit import PermitFacts, Signatory, permit_number_for, render_permit, verification_path
from signing.slots import SignatureSlot

BASE_URL = "https://sijill.example.gov.eg"
TRACKING = "SOH01-2026-000045-K"
TOKEN = "Q2xhc3NpZmllZC1ub3QtcmVhbGx5LXRva2Vu"  # fixed in tests; production uses new_verification_token()
FIELDS = ("approve_department", "approve_council")
PASSWORD = b"demo-password"
SERVICE_NAME_AR = "طلب ترخيص أعمال بناء بأنواعه"
APPLICANT = "محمد أحمد علي حسن"
CONDITIONS = [
    "الالتزام بالرسومات الهندسية المعتمدة وعدم إجراء أي تعديل إلا بترخيص جديد",
    "عدم تجاوز الارتفاع المسموح به وهو 15 مترا",
    "وضع لافتة بالموقع تبين رقم الترخيص واسم المهندس المشرف",
    "يسقط الترخيص إذا لم يبدأ التنفيذ خلال سنة من تاريخ صدوره",
]
# Bidi controls pdftotext wraps runs in (embeddings, overrides, isolates, marks): layout, not text.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def verify_url(permit_number: str, token: str = TOKEN) -> str:
    return BASE_URL + verification_path(permit_number, token)


def sample_facts(**overrides: Any) -> PermitFacts:
    """A building permit of Sohag city with two signing steps (engineering, then the council head)."""
    values: dict[str, Any] = {
        "permit_number": permit_number_for(TRACKING, "BUILD-PERMIT"),
        "tracking_number": TRACKING,
        "service_code": "BUILD-PERMIT",
        "service_name_ar": SERVICE_NAME_AR,
        "service_name_en": "Building works permit (all kinds)",
        "applicant_name": APPLICANT,
        "national_id_masked": "**********1234",
        "national_id": "29001012601234",
        "permit_title_ar": "ترخيص أعمال بناء",
        "permit_title_en": "Building works permit",
        "works_ar": "إقامة مبنى سكني من أربعة أدوار وفق الرسومات الهندسية المعتمدة.",
        "legal_basis_ar": "قانون البناء الصادر بالقانون رقم 119 لسنة 2008 ولائحته التنفيذية",
        "centre_name_ar": "مركز خدمات المواطنين بمدينة سوهاج",
        "centre_name_en": "Citizen Service Centre, Sohag City",
        "governorate": "سوهاج",
        "governorate_en": "Sohag",
        "issued_on": dt.date(2026, 11, 24),
        "expires_on": dt.date(2027, 11, 23),
        "signatories": [
            Signatory("رئيس الإدارة الهندسية", "Head of the engineering department", "م. أحمد محمود السيد"),
            Signatory("رئيس مجلس المدينة", "Head of the city council", "د. خالد عبد الرحمن"),
        ],
        "conditions": CONDITIONS,
        "property_details": {
            "plot_number": "127",
            "block": "14",
            "street": "شارع الجمهورية",
            "district": "حي شرق",
            "area_m2": 240.5,
            "works": "إنشاء مبنى سكني",
            "floors": 4,
            "survey_ref": "SRV-2026-0912",
        },
    }
    values.update(overrides)
    return PermitFacts(**values)


def render_sample(**overrides: Any) -> tuple[bytes, list[SignatureSlot]]:
    facts = sample_facts(**overrides)
    slots_for = FIELDS[: len(facts.signatories)]
    rendered = render_permit(facts, verify_url=verify_url(facts.permit_number), slots_for=slots_for)
    return rendered.pdf, rendered.slots


# --------------------------------------------------------------------------------------------------------------------
# signing with pyHanko


def sign(
    pdf: bytes,
    field_name: str,
    signer: signers.Signer,
    *,
    certify: bool = False,
    create: Sequence[SignatureSlot] = (),
    timestamper: Any = None,
    stamp_style: Any = None,
    writer_class: type[IncrementalPdfFileWriter] = IncrementalPdfFileWriter,
    **meta: Any,
) -> bytes:
    """Sign the existing or newly ``create``-d field ``field_name`` as a PAdES signature."""
    writer = writer_class(BytesIO(pdf))
    for slot in create:
        # pyHanko's type hint says integer points; fractional points work (and are where the boxes are)
        box: Any = slot.box
        fields.append_signature_field(writer, SigFieldSpec(slot.field_name, on_page=slot.page, box=box))
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
        **meta,
    )
    pdf_signer = signers.PdfSigner(metadata, signer=signer, timestamper=timestamper, stamp_style=stamp_style)
    out = pdf_signer.sign_pdf(writer)
    return bytes(out.getvalue())


def sign_chain(pdf: bytes, slots: Sequence[SignatureSlot], chain: Sequence[signers.Signer], **kwargs: Any) -> bytes:
    """The permit's signing chain: all fields made in the first, certifying revision; then each step in order."""
    out = sign(pdf, slots[0].field_name, chain[0], certify=True, create=slots, **kwargs)
    for slot, signer in zip(slots[1:], chain[1:], strict=True):
        out = sign(out, slot.field_name, signer, **kwargs)
    return out


def load_signer(pki: DemoPki, key: str) -> signers.SimpleSigner:
    signer = signers.SimpleSigner.load_pkcs12(str(pki.signer(key).pkcs12_path), passphrase=PASSWORD)
    assert signer is not None
    return signer


def root_key(pki: DemoPki) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pki.root_key_path.read_bytes(), PASSWORD)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def as_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _key_info(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return asn1_keys.PrivateKeyInfo.load(der)


def issue_certificate(
    pki: DemoPki,
    common_name: str,
    *,
    days: int = 30,
    crl_url: str | None = None,
    timestamping: bool = False,
) -> tuple[x509.Certificate, PrivateKey]:
    """A test certificate under the DEMO root: a document signer (optionally naming a CRL) or a TSA (RSA: pyHanko's
    test time stamper signs with RSA only)."""
    root = pki.root_certificate()
    ca_key = root_key(pki)
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if timestamping
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DEMO"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))  # tests sign at moments a little in the past
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=not timestamping, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )
    if timestamping:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def simple_signer(pki: DemoPki, cert: x509.Certificate, key: PrivateKey) -> signers.SimpleSigner:
    return signers.SimpleSigner(
        signing_cert=as_asn1(cert),
        signing_key=_key_info(key),
        cert_registry=SimpleCertificateStore.from_certs([as_asn1(pki.root_certificate())]),
    )


def timestamper(pki: DemoPki, *, fixed_dt: dt.datetime | None = None) -> DummyTimeStamper:
    """A local TSA under the DEMO root (pyHanko's test time stamper), valid for five years."""
    cert, key = issue_certificate(pki, "DEMO Time Stamping Authority", days=5 * 365, timestamping=True)
    return DummyTimeStamper(
        tsa_cert=as_asn1(cert),
        tsa_key=_key_info(key),
        certs_to_embed=SimpleCertificateStore.from_certs([as_asn1(pki.root_certificate())]),
        fixed_dt=fixed_dt,
    )


def revocation_list(pki: DemoPki, revoked: x509.Certificate, when: dt.datetime) -> x509.CertificateRevocationList:
    root = pki.root_certificate()
    ca_key = root_key(pki)
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(max(now, when))
        .next_update(now + dt.timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(revoked.serial_number).revocation_date(when).build()
        )
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# --------------------------------------------------------------------------------------------------------------------
# looking at PDFs


def pdftotext(pdf: bytes, tmp: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils is needed for this test"
    path = tmp / "text.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60)
    return _BIDI_CONTROLS.sub("", out.stdout.decode("utf-8"))


def pdfa_problems(pdf: bytes) -> list[str]:
    """What breaks the PDF/A-3b markers and a few of its rules a signer can break (not a full veraPDF check).

    Checked: the header and catalog version (PDF/A-3 is PDF 1.7), the sRGB output intent, the XMP identification
    (``pdfaid:part`` 3, ``pdfaid:conformance`` B), document information equal to its XMP twin, no encryption, every
    font embedded (page content and annotation appearances), annotations printable and with a normal appearance,
    no ``/NeedAppearances``.
    """
    problems: list[str] = []
    with pikepdf.open(BytesIO(pdf)) as doc:
        if not pdf.startswith(b"%PDF-1."):
            problems.append("header is not %PDF-1.n")
        version = doc.Root.get("/Version")
        if version is not None and not str(version).startswith("/1."):
            problems.append(f"catalog /Version {version} (PDF/A-3 is based on PDF 1.7)")
        intents = doc.Root.get("/OutputIntents")
        if not intents or not any(
            i.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents
        ):
            problems.append("no GTS_PDFA1 output intent with an ICC profile")
        if doc.is_encrypted:
            problems.append("encrypted")
        meta = doc.open_metadata()
        if meta.get("pdfaid:part") != "3" or meta.get("pdfaid:conformance") != "B":
            problems.append(f"XMP pdfaid is {meta.get('pdfaid:part')}{meta.get('pdfaid:conformance')}, not 3B")
        info = doc.trailer.get("/Info")
        if info is not None:
            twins = (("/Producer", "pdf:Producer"), ("/Title", "dc:title"), ("/Creator", "xmp:CreatorTool"))
            for key, xmp_key in twins:
                if key in info and str(info[key]) != str(meta.get(xmp_key, "")):
                    problems.append(f"Info {key} {str(info[key])!r} differs from XMP {meta.get(xmp_key)!r}")
        acroform = doc.Root.get("/AcroForm")
        if acroform is not None and bool(acroform.get("/NeedAppearances", False)):
            problems.append("/NeedAppearances true")
        seen: set[tuple[int, int]] = set()
        for index, page in enumerate(doc.pages):
            problems += _font_problems(page.obj.get("/Resources"), f"page {index}", seen)
            for annot in page.obj.get("/Annots", []):
                subtype = str(annot.get("/Subtype"))
                flags = int(annot.get("/F", 0))
                if subtype not in ("/Popup", "/Link"):
                    if not flags & 4 or flags & (1 | 2 | 32):
                        problems.append(f"annotation {subtype} on page {index} not printable (/F {flags})")
                    normal = annot.AP.get("/N") if "/AP" in annot else None
                    if normal is None:
                        problems.append(f"annotation {subtype} on page {index} has no normal appearance")
                    elif isinstance(normal, pikepdf.Stream):
                        problems += _font_problems(normal.get("/Resources"), f"appearance on page {index}", seen)
    return problems


def _font_problems(resources: Any, where: str, seen: set[tuple[int, int]]) -> list[str]:
    problems: list[str] = []
    if resources is None:
        return problems
    for font in dict(resources.get("/Font", {})).values():
        if font.is_indirect:
            if font.objgen in seen:
                continue
            seen.add(font.objgen)
        subtype = str(font.get("/Subtype"))
        if subtype == "/Type3":
            continue
        descriptor_owner = font["/DescendantFonts"][0] if subtype == "/Type0" else font
        descriptor = descriptor_owner.get("/FontDescriptor")
        if descriptor is None or not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            problems.append(f"font {font.get('/BaseFont')} not embedded ({where})")
    for xobject in dict(resources.get("/XObject", {})).values():
        if xobject.is_indirect:
            if xobject.objgen in seen:
                continue
            seen.add(xobject.objgen)
        if xobject.get("/Subtype") == "/Form":
            problems += _font_problems(xobject.get("/Resources"), where, seen)
    return problems
