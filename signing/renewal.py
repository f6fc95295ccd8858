"""Long-term validity of issued permits: document timestamps (PAdES B-LTA), renewed before their TSA certificate ends.

A permit's signatures stay verifiable after the officials' certificates expire because a timestamp proves they
existed while the certificates were valid, and the DSS holds the revocation data of that time. But a timestamp is
itself a signature by the TSA's certificate, which expires too (a few years). So every issued permit gets:

* a first document timestamp as soon as this job sees it (B-LT → B-LTA), and
* a new one whenever the newest timestamp's TSA certificate ends within ``window`` (``SIJILL_TIMESTAMP_RENEWAL_DAYS``),
  after the validation data of the previous one has been added to the DSS
  (:func:`signing.pades.add_document_timestamp`). Each renewal re-protects everything before it, so a permit signed
  today still verifies in twenty years as long as the job keeps running.

Each renewed revision is stored (content-addressed) before ``Permit.current_pdf_sha256`` moves to it, one permit per
transaction, so a failure leaves the others done and that one unchanged. Revoked permits are renewed too: their
verification page must still show who signed them and when. The same pass builds each permit's revision album (the
revision viewer's analysis and pictures, :mod:`signing.revision_album`) for a renewed revision and for a permit issued
since the last pass, so that public pages only read it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import cms, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from archive.db import Database
from archive.models import Permit, PermitStatus
from archive.store import ObjectStore
from signing.certificates import Revocation, signing_context
from signing.errors import SigningRefused
from signing.pades import add_document_timestamp
from signing.revision_album import ensure_album
from signing.trust import active_trust_roots

__all__ = ["RenewalReport", "newest_timestamp_expiry", "renew_timestamps", "renewal_context", "timestamp_due"]

log = logging.getLogger(__name__)


@dataclass
class RenewalReport:
    checked: int = 0
    renewed: list[str] = field(default_factory=list)
    """Permit numbers that got a document timestamp."""
    failed: dict[str, str] = field(default_factory=dict)
    """Permit number -> refusal code (the TSA or revocation services could not be reached, …)."""


def newest_timestamp_expiry(pdf: bytes) -> tuple[bool, datetime | None]:
    """(has a document timestamp, when the TSA certificate that matters expires) for a signed PDF.

    With document timestamps, the newest one's TSA certificate matters (it protects all before it). Without, the
    signature timestamps' earliest-expiring TSA certificate; None when the PDF carries no timestamp at all.
    """
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    documents = reader.embedded_timestamp_signatures
    if documents:
        newest = max(documents, key=lambda ts: ts.signed_revision)
        return True, newest.signer_cert.not_valid_after
    ends = [cert.not_valid_after for sig in reader.embedded_regular_signatures
            for cert in _signature_tsa_certs(sig.signer_info)]
    return False, min(ends) if ends else None


def timestamp_due(pdf: bytes, *, window: timedelta, now: datetime) -> bool:
    """Does this permit need a document timestamp now? (none yet, or the newest one's TSA certificate ends soon)"""
    has_document_timestamp, expiry = newest_timestamp_expiry(pdf)
    if not has_document_timestamp:
        return True
    return expiry is not None and expiry - window <= now


def renew_timestamps(
    database: Database,
    store: ObjectStore,
    *,
    timestamp_url: str,
    validation_context: Callable[[], ValidationContext],
    window: timedelta,
    now: datetime | None = None,
) -> RenewalReport:
    """Timestamp every issued or revoked permit that is due (see :func:`timestamp_due`); one transaction each.

    ``validation_context`` builds a fresh context trusting the TSA's root (pyHanko records the previous timestamp's
    validation data in the DSS before adding the new one). ``now`` is the clock the job judges expiry by.
    """
    now = now or datetime.now(UTC)
    report = RenewalReport()
    with database.session() as session:
        ids = list(session.scalars(
            select(Permit.id)
            .where(Permit.status.in_([PermitStatus.ISSUED.value, PermitStatus.REVOKED.value]))
            .order_by(Permit.id)
        ))
    for permit_id in ids:
        with database.session() as session:
            permit = session.get(Permit, permit_id)
            if permit is None:
                continue
            report.checked += 1
            current = store.get_bytes(permit.current_pdf_sha256)
            if not timestamp_due(current, window=window, now=now):
                stored = _album(store, permit.permit_number, permit.current_pdf_sha256, current)
                if stored and permit.album_sha256 != permit.current_pdf_sha256:
                    permit.album_sha256 = permit.current_pdf_sha256  # once: a change moves the manifest
                continue
            try:
                renewed = add_document_timestamp(current, timestamp_url, validation_context())
            except SigningRefused as exc:
                log.warning("permit %s: document timestamp failed: %s (%s)", permit.permit_number, exc.code,
                            exc.detail)
                report.failed[permit.permit_number] = exc.code
                continue
            permit.current_pdf_sha256 = store.put(renewed)  # stored before the row points at it
            report.renewed.append(permit.permit_number)
            if _album(store, permit.permit_number, permit.current_pdf_sha256, renewed):
                permit.album_sha256 = permit.current_pdf_sha256
    return report


def _album(store: ObjectStore, permit_number: str, sha256: str, pdf: bytes) -> bool:
    """Build the revision viewer's album of this archived revision now, in the worker, so no request has to wait for
    it (:mod:`signing.revision_album`; a no-op when it exists). Whether it is stored: if not, the recovery job
    (:mod:`signing.album_backlog`) tries again within a minute."""
    try:
        ensure_album(store, sha256, pdf)
    except Exception as exc:  # rendering is a nicety next to the timestamp: never fail the renewal for it
        log.warning("permit %s: revision album not built: %r", permit_number, exc)
        return False
    return True


def renewal_context(database: Database, revocation: str) -> Callable[[], ValidationContext]:
    """Fresh validation contexts trusting the active trust roots (the TSA's root among them), revocation as set."""
    mode: Revocation = "off" if revocation == "off" else ("require" if revocation == "require" else "soft-fail")

    def build() -> ValidationContext:
        with database.session() as session:
            roots = active_trust_roots(session)
        return signing_context(roots, revocation=mode)

    return build


def _signature_tsa_certs(signer_info: cms.SignerInfo) -> list[x509.Certificate]:
    """The TSA certificates of the RFC 3161 signature timestamps in a signature's unsigned attributes."""
    found: list[x509.Certificate] = []
    unsigned = signer_info["unsigned_attrs"]
    if not unsigned:
        return found
    for attr in unsigned:
        if attr["type"].native != "signature_time_stamp_token":
            continue
        for token in attr["values"]:
            signed_data = token["content"]
            certificates = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
            for info in signed_data["signer_infos"]:
                sid = info["sid"].chosen
                for cert in certificates:
                    if isinstance(sid, cms.IssuerAndSerialNumber):
                        if cert.issuer == sid["issuer"] and cert.serial_number == sid["serial_number"].native:
                            found.append(cert)
                    elif cert.key_identifier == sid.native:
                        found.append(cert)
    return found
