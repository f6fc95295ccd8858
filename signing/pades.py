"""PAdES signatures on a permit: fields first, then one incremental signature per official, in order.

Bytes in, bytes out: nothing here touches the database or the object store; the routing service decides who signs
which field and stores what comes back.

How a multi-signature permit stays verifiable (ETSI EN 319 142 / ISO 32000-2):

* **All signature fields exist before the first signature** (:func:`add_signature_fields`). Every later change is an
  incremental update, and a validator judges each signature by what changed after it; a new widget annotation
  after a certification signature is an "annotation" change, which pyHanko (rightly) does not accept under
  ``FILL_FORMS``. Filling an existing signature field is form filling, which is accepted.
* **The first signature certifies** (``certify=True``, DocMDP ``P=2`` = ``FILL_FORMS``). PDF allows only one
  certification signature and it must be the first; ``P=2`` lets the following officials sign their fields while
  any other edit (page content, new annotations) invalidates the certification.
* **The last signature locks** (``lock_document=True``). An approval signature cannot certify (no second DocMDP),
  but ISO 32000-2 lets a signature field's lock dictionary (``/Lock``, a FieldMDP) carry ``/P 1``: once that field
  is signed, no change at all is permitted except long-term validation material (DSS, document timestamps). So
  after the head of the city council signs, even filling a form field shows as a violation of *their* signature,
  which is what "the last signer's signature closes the document" means in PDF terms. The lock has to be written
  into the field when it is created (``add_signature_fields(lock_last=True)``): adding ``/Lock`` to a field in a
  later revision is itself an unpermitted change to that field (pyHanko then rates the certification's
  modification level OTHER), so :func:`sign_pdf` refuses to do it once anything is signed. pyHanko reports later
  changes against both the certification and the last signature; pdfsig shows that the last signature no longer
  covers the whole file. Older (PDF 1.7) readers ignore ``/P`` in a field lock; they still see the DocMDP.
* **B-T**: an RFC 3161 signature timestamp from ``timestamp_url`` proves the signature existed before the
  certificate could expire or be revoked. **B-LT**: the certificates, OCSP responses and CRLs used to validate
  signer and TSA go into the document security store (DSS) *in the signature's own revision* (pyHanko collects
  them before signing, so the last signature covers the whole file and each official adds exactly one revision;
  no VRI entries, which PAdES baseline no longer uses), so the permit can be verified offline and after the CA
  is gone. **B-LTA**: :func:`add_document_timestamp` adds a document
  timestamp over all of it, and is repeated before the last timestamp's certificate expires.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence
from typing import Literal

from asn1crypto import crl, ocsp, x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.generic import DictionaryObject, NameObject, NumberObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import (
    FieldMDPAction,
    FieldMDPSpec,
    MDPPerm,
    SigFieldSpec,
    SigSeedSubFilter,
    append_signature_field,
    enumerate_sig_fields,
)
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, PdfTimeStamper, Signer
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from signing.errors import SigningRefused
from signing.signers import LoadedSigner
from signing.slots import SignatureSlot
from signing.stamp import StampText, draw_stamp, stamp_style

__all__ = [
    "DIGEST",
    "SignatureLevel",
    "SignatureSlot",
    "add_document_timestamp",
    "add_signature_fields",
    "pdf_signer_for",
    "refusal_for",
    "sign_pdf",
    "signature_levels",
]

DIGEST = "sha256"
TIMESTAMP_TIMEOUT_S = 10.0

SignatureLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]


# --- fields ---------------------------------------------------------------------------------------------------------


def add_signature_fields(pdf: bytes, slots: Sequence[SignatureSlot], *, lock_last: bool = True) -> bytes:
    """Append all empty signature fields in one incremental update; must run before the first signature.

    ``slots`` are in signing order (as :func:`signing.permit.render_permit` returns them). With ``lock_last`` the
    last slot's field gets the lock (FieldMDP ``/All`` with DocMDP ``/P 1``) that closes the document once its
    official has signed. (:func:`sign_pdf` can add a missing lock only while nothing is signed yet.)
    """
    reader = _read(pdf)
    if any(True for _ in enumerate_sig_fields(reader, filled_status=True)):
        raise ValueError("signature fields must all be created before the first signature")
    names = [slot.field_name for slot in slots]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate signature field names: {names}")
    existing = {name for name, _, _ in enumerate_sig_fields(reader)}
    if clash := existing & set(names):
        raise ValueError(f"signature fields already exist: {sorted(clash)}")

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    for index, slot in enumerate(slots):
        locks = lock_last and index == len(slots) - 1
        x1, y1, x2, y2 = slot.box
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"{slot.field_name}: box must be (x1, y1, x2, y2) with x2 > x1 and y2 > y1")
        append_signature_field(
            writer,
            SigFieldSpec(
                sig_field_name=slot.field_name,
                on_page=slot.page,
                box=slot.box,  # type: ignore[arg-type]  # pyHanko annotates int but accepts any number
                field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL) if locks else None,
                doc_mdp_update_value=MDPPerm.NO_CHANGES if locks else None,
            ),
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- signing --------------------------------------------------------------------------------------------------------


def sign_pdf(
    pdf: bytes,
    signer: LoadedSigner,
    *,
    field_name: str,
    stamp: StampText,
    reason: str,
    location: str,
    certify: bool = False,
    lock_document: bool = False,
    timestamp_url: str | None = None,
    embed_validation_info: bool = False,
    validation_context: ValidationContext | None = None,
    signed_at: dt.datetime | None = None,
) -> bytes:
    """Sign the empty field ``field_name`` as an incremental update and return the new PDF.

    ``certify`` only for the document's first signature (DocMDP ``FILL_FORMS``); ``lock_document`` for its last.
    ``timestamp_url`` gives B-T; ``embed_validation_info`` (needs ``validation_context``, which must trust the
    signer's and the TSA's roots and may fetch OCSP/CRL) gives B-LT. ``signed_at`` only feeds the visible stamp.

    Refusals (:class:`SigningRefused`): ``not_a_pdf``, ``field_missing``, ``field_already_signed``,
    ``document_locked``, ``timestamp_failed``, ``validation_info_failed`` and the certificate codes when pyHanko's
    own pre-signing validation finds the certificate revoked, expired or untrusted.
    """
    writer, pdf_signer = pdf_signer_for(
        pdf, signer.signer, signer.certificate, field_name=field_name, stamp=stamp, reason=reason,
        location=location, certify=certify, lock_document=lock_document, timestamp_url=timestamp_url,
        embed_validation_info=embed_validation_info, validation_context=validation_context, signed_at=signed_at,
    )
    try:
        out = pdf_signer.sign_pdf(writer, existing_fields_only=True)
    except Exception as exc:
        raise refusal_for(exc, embed_validation_info) from exc
    return bytes(out.getvalue())


def pdf_signer_for(
    pdf: bytes,
    signer: Signer,
    certificate: x509.Certificate,
    *,
    field_name: str,
    stamp: StampText,
    reason: str,
    location: str,
    certify: bool,
    lock_document: bool,
    timestamp_url: str | None,
    embed_validation_info: bool,
    validation_context: ValidationContext | None,
    signed_at: dt.datetime | None,
) -> tuple[IncrementalPdfFileWriter, PdfSigner]:
    """The writer and pyHanko signer for one official's signature: shared by :func:`sign_pdf` (key at hand) and
    :mod:`signing.pades_deferred` (key on the official's desk), so both lay out exactly the same signature."""
    if embed_validation_info and validation_context is None:
        raise ValueError("embed_validation_info needs a validation_context")
    reader = _read(pdf)
    field = _empty_field(reader, field_name)
    _refuse_if_locked(reader)
    if certify and reader.embedded_signatures:
        raise ValueError("only the first signature of a document can certify it")

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    if lock_document and not certify and not _has_lock(field):
        if reader.embedded_signatures:
            # Adding /Lock to a field after a certification is an unpermitted change to that field: pyHanko rates
            # the earlier signatures' modification level OTHER. The lock must come with the field.
            raise ValueError(f"field {field_name!r} has no lock; create it with add_signature_fields(lock_last=True)")
        _add_lock(writer, field_name)

    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=DIGEST,
        reason=reason,
        location=location,
        certify=certify,
        docmdp_permissions=MDPPerm.NO_CHANGES if lock_document else MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
        embed_validation_info=embed_validation_info,
        validation_context=validation_context,
        # The DSS goes into the signature's own revision: each official's update is then one revision, B-LT as soon
        # as it is written, and the last signature covers the whole file ("Total document signed" in pdfsig).
        # The price is no VRI dictionary, which PAdES baseline no longer uses.
        dss_settings=DSSContentSettings(placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
                                        include_vri=False),
        signer_key_usage=_key_usage_to_require(certificate),
    )
    width, height = _field_size(field)
    image = draw_stamp(stamp.name_ar, stamp.title_ar, signed_at or dt.datetime.now(dt.UTC),
                       name_en=stamp.name_en, title_en=stamp.title_en, size=(width, height))
    pdf_signer = PdfSigner(
        meta,
        signer,
        timestamper=HTTPTimeStamper(timestamp_url, timeout=TIMESTAMP_TIMEOUT_S) if timestamp_url else None,
        stamp_style=stamp_style(image),
    )
    return writer, pdf_signer


def add_document_timestamp(pdf: bytes, timestamp_url: str, validation_context: ValidationContext) -> bytes:
    """Add a document timestamp (PAdES B-LTA), first storing the validation data of the previous timestamp.

    Run once after the last signature, then again before the latest timestamp's TSA certificate expires (renewal):
    each timestamp re-protects everything before it, including the DSS with the older revocation data.
    """
    reader = _read(pdf)
    stamper = PdfTimeStamper(HTTPTimeStamper(timestamp_url, timeout=TIMESTAMP_TIMEOUT_S))
    try:
        if reader.embedded_timestamp_signatures:
            out = stamper.update_archival_timestamp_chain(reader, validation_context, in_place=False)
        else:  # the first one: nothing to re-validate, and pyHanko would warn about the missing chain
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            out = stamper.timestamp_pdf(writer, DIGEST, validation_context)
    except Exception as exc:
        raise refusal_for(exc, embed_validation_info=True) from exc
    return bytes(out.getvalue())


# --- levels ---------------------------------------------------------------------------------------------------------


def signature_levels(pdf: bytes) -> dict[str, SignatureLevel]:
    """The PAdES baseline level each signature *carries* (field name -> level), not whether it validates.

    B-T: a signature timestamp in the CMS. B-LT: B-T, and the document security store holds the signer's certificate
    and revocation data about it (an OCSP response for its serial number or a CRL from its issuer). B-LTA: B-LT and
    a document timestamp made after the signature. Whether the data is any good is the validator's business.
    """
    reader = _read(pdf)
    last_timestamp = max((ts.signed_revision for ts in reader.embedded_timestamp_signatures), default=-1)
    dss = _read_dss(reader)
    levels: dict[str, SignatureLevel] = {}
    for sig in reader.embedded_regular_signatures:
        level: SignatureLevel = "B-B"
        if _has_signature_timestamp(sig):
            level = "B-T"
            if dss is not None and _dss_covers(dss, sig.signer_cert):
                level = "B-LTA" if last_timestamp > sig.signed_revision else "B-LT"
        levels[sig.field_name] = level
    return levels


def _has_signature_timestamp(sig: EmbeddedPdfSignature) -> bool:
    unsigned = sig.signer_info["unsigned_attrs"]
    if not unsigned:  # asn1crypto Void when absent
        return False
    return any(attr["type"].native == "signature_time_stamp_token" for attr in unsigned)


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, KeyError, ValueError):
        return None


def _dss_covers(dss: DocumentSecurityStore, cert: x509.Certificate) -> bool:
    """Does the DSS hold ``cert`` and revocation data about it?"""
    certs = {c.dump() for c in dss.load_certs()}
    if cert.dump() not in certs:
        return False
    for ocsp_ref in dss.ocsps:
        response = ocsp.OCSPResponse.load(ocsp_ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
        basic = response["response_bytes"]["response"].parsed
        for single in basic["tbs_response_data"]["responses"]:
            if single["cert_id"]["serial_number"].native == cert.serial_number:
                return True
    for crl_ref in dss.crls:
        revocation_list = crl.CertificateList.load(crl_ref.get_object().read_data(DecodePurpose.CRL))
        if revocation_list.issuer == cert.issuer:
            return True
    return False


# --- helpers --------------------------------------------------------------------------------------------------------


def _read(pdf: bytes) -> PdfFileReader:
    if b"%PDF-" not in pdf[:1024]:
        raise SigningRefused("not_a_pdf", "no %PDF- header")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        reader.root  # noqa: B018 - parse the catalogue now, not halfway through signing
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SigningRefused("not_a_pdf", str(exc)) from None
    return reader


def _empty_field(reader: PdfFileReader, field_name: str) -> DictionaryObject:
    for name, value, ref in enumerate_sig_fields(reader, with_name=field_name):
        if name == field_name:
            if value is not None:
                raise SigningRefused("field_already_signed", field_name)
            field: DictionaryObject = ref.get_object()
            return field
    raise SigningRefused("field_missing", field_name)


def _refuse_if_locked(reader: PdfFileReader) -> None:
    for sig in reader.embedded_regular_signatures:
        if sig.docmdp_level == MDPPerm.NO_CHANGES:
            raise SigningRefused("document_locked", f"locked by {sig.field_name}")


def _has_lock(field: DictionaryObject) -> bool:
    lock = field.get("/Lock")
    return lock is not None and lock.get_object().get("/P") == MDPPerm.NO_CHANGES.value


def _add_lock(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    """Give the field a ``/Lock`` (FieldMDP ``/All``, ``/P 1``); only safe while nothing is signed yet."""
    for name, _, ref in enumerate_sig_fields(writer, with_name=field_name):
        if name == field_name:
            ref.get_object()[NameObject("/Lock")] = DictionaryObject({
                NameObject("/Type"): NameObject("/SigFieldLock"),
                NameObject("/Action"): NameObject("/All"),
                NameObject("/P"): NumberObject(MDPPerm.NO_CHANGES.value),
            })
            writer.mark_update(ref)
            return


def _field_size(field: DictionaryObject) -> tuple[float, float]:
    widget = field if "/Rect" in field else field["/Kids"][0].get_object()
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    width, height = abs(x2 - x1), abs(y2 - y1)
    if width < 1 or height < 1:  # invisible field: the stamp is not shown, keep the image tiny
        return (20.0, 8.0)
    return (width, height)


def _key_usage_to_require(cert: x509.Certificate) -> set[str]:
    usages = set(cert.key_usage_value.native) if cert.key_usage_value is not None else set()
    return {"non_repudiation"} if "non_repudiation" in usages or not usages else {"digital_signature"}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        stack.extend(a for a in current.args if isinstance(a, BaseException))


def refusal_for(exc: BaseException, embed_validation_info: bool) -> BaseException:
    """Translate what pyHanko raised into a refusal an official can understand (or re-raise a bug as is)."""
    causes = list(_causes(exc))
    mapping: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        (SigningRefused, ""),
        (TimestampRequestError, "timestamp_failed"),
        (RevokedError, "certificate_revoked"),
        (ExpiredError, "certificate_expired"),
        (NotYetValidError, "certificate_not_yet_valid"),
        (InsufficientRevinfoError, "revocation_unknown"),
        (PathBuildingError, "certificate_untrusted"),
        ((PathValidationError, ValidationError), "certificate_untrusted"),
    ]
    for kinds, code in mapping:
        for cause in causes:
            if isinstance(cause, kinds):
                return cause if isinstance(cause, SigningRefused) else SigningRefused(code, str(cause))
    for cause in causes:
        if type(cause).__module__.startswith(("pkcs11", "aiohttp")) or isinstance(cause, OSError):
            code = "credential_unreadable" if type(cause).__module__.startswith("pkcs11") else "timestamp_failed"
            return SigningRefused(code, f"{type(cause).__name__}: {cause}")
    if isinstance(exc, SigningError) and embed_validation_info:
        return SigningRefused("validation_info_failed", str(exc))
    return exc

