"""A PAdES signature in two halves, for a key that never leaves the official's token (pyHanko interrupted signing).

Bytes in, bytes out, like :mod:`signing.pades`, whose signature layout (field, stamp, DocMDP, lock, DSS in the
signature's own revision) is reused unchanged through :func:`signing.pades.pdf_signer_for`.

1. :func:`prepare_pdf_signature` writes the signature revision with an empty ``/Contents`` placeholder (the stamp
   drawn, the byte range fixed, the signer's validation data collected for B-LT), computes the document digest over
   the byte range and the CMS *signed attributes* (content type, message digest, signing-certificate-v2). Only
   certificates are needed: the official's registered certificate and the configured CA chain.
2. The desk agent signs the DER of the signed attributes on the token (``sign_raw(…, "sha256")``: RSA PKCS#1 v1.5
   or ECDSA, whatever the key is) and sends back the raw signature value.
3. :func:`verify_signature_value` checks that value with the certificate's public key over exactly the stored signed
   attributes, and :func:`finish_pdf_signature` wraps it in the CMS (adding the RFC 3161 signature timestamp for
   B-T, which must be taken over the signature value and therefore only now) and writes it into the placeholder.

Why the signed attributes are what travels and not the PDF digest: the signature value in a CMS covers the signed
attributes (which contain the document digest), so the server keeps full control of what is signed and can check
the returned value before embedding anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from dataclasses import dataclass

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import load_der_x509_certificate
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import ExternalSigner
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import SigningRefused
from signing.pades import DIGEST, TIMESTAMP_TIMEOUT_S, pdf_signer_for, refusal_for
from signing.stamp import StampText

__all__ = ["PreparedPdf", "finish_pdf_signature", "prepare_pdf_signature", "verify_signature_value"]

PLACEHOLDER_SIGNATURE_BYTES = 512
"""Room for the signature value when sizing ``/Contents``: RSA-4096 is 512 bytes, ECDSA P-521 under 140."""


@dataclass(frozen=True)
class PreparedPdf:
    """A document waiting for one signature value, and what is needed to finish it."""

    pdf: bytes
    """The document with the signature revision written and ``/Contents`` still zeros."""
    document_digest: bytes
    """SHA-256 over the byte range (the ``messageDigest`` signed attribute)."""
    reserved_start: int
    reserved_end: int
    signed_attributes: bytes
    """DER of the CMS signed attributes: the bytes the token signs."""


def prepare_pdf_signature(
    pdf: bytes,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
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
    signed_at: dt.datetime | None = None,
) -> PreparedPdf:
    """Lay out the signature of ``certificate``'s holder in ``field_name`` and return what the token must sign.

    Same refusals as :func:`signing.pades.sign_pdf` (a missing or signed field, a locked document, no validation
    data or timestamp service reachable for sizing).
    """
    placeholder = ExternalSigner(certificate, SimpleCertificateStore.from_certs(chain),
                                 signature_value=PLACEHOLDER_SIGNATURE_BYTES)
    writer, pdf_signer = pdf_signer_for(
        pdf, placeholder, certificate, field_name=field_name, stamp=stamp, reason=reason, location=location,
        certify=certify, lock_document=lock_document, timestamp_url=timestamp_url,
        embed_validation_info=embed_validation_info, validation_context=validation_context,
        signed_at=signed_at,
    )

    async def digest() -> tuple[PreparedByteRangeDigest, bytes, bytes]:
        try:
            prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(writer, existing_fields_only=True)
            attrs = await placeholder.signed_attrs(prepared.document_digest, DIGEST, use_pades=True)
        finally:
            if validation_context is not None:
                await validation_context.aclose()
        output.seek(0)
        return prepared, bytes(output.read()), attrs.dump()

    try:
        prepared, document, attributes = asyncio.run(digest())
    except Exception as exc:
        raise refusal_for(exc, embed_validation_info) from exc
    return PreparedPdf(
        pdf=document,
        document_digest=prepared.document_digest,
        reserved_start=prepared.reserved_region_start,
        reserved_end=prepared.reserved_region_end,
        signed_attributes=attributes,
    )


def verify_signature_value(certificate: x509.Certificate, signed_attributes: bytes, signature_value: bytes) -> None:
    """Refuse (``signature_mismatch``) unless ``signature_value`` is the certificate key's signature of the bytes.

    RSA PKCS#1 v1.5 or ECDSA with SHA-256: what :class:`pyhanko.sign.signers.pdf_cms.ExternalSigner` will declare
    in the CMS for this certificate.
    """
    public_key = load_der_x509_certificate(certificate.dump()).public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature_value, signed_attributes, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature_value, signed_attributes, ec.ECDSA(hashes.SHA256()))
        else:
            raise SigningRefused("certificate_unusable", f"unsupported key type {type(public_key).__name__}")
    except (InvalidSignature, ValueError) as exc:
        raise SigningRefused("signature_mismatch", type(exc).__name__) from None


def finish_pdf_signature(
    prepared: PreparedPdf,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    signature_value: bytes,
    *,
    timestamp_url: str | None,
) -> bytes:
    """Embed a (verified) signature value into the prepared document, with a signature timestamp when configured."""
    verify_signature_value(certificate, prepared.signed_attributes, signature_value)
    signer = ExternalSigner(certificate, SimpleCertificateStore.from_certs(chain), signature_value=signature_value)
    timestamper = HTTPTimeStamper(timestamp_url, timeout=TIMESTAMP_TIMEOUT_S) if timestamp_url else None
    output = io.BytesIO(prepared.pdf)

    async def finish() -> None:
        content = await signer.async_sign_prescribed_attributes(
            DIGEST, cms.CMSAttributes.load(prepared.signed_attributes), timestamper=timestamper
        )
        await PdfTBSDocument.async_finish_signing(
            output,
            PreparedByteRangeDigest(prepared.document_digest, prepared.reserved_start, prepared.reserved_end),
            content,
        )

    try:
        asyncio.run(finish())
    except Exception as exc:
        raise refusal_for(exc, embed_validation_info=False) from exc
    return output.getvalue()
