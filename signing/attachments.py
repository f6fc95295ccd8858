"""Papers that arrive already signed: the signatures of uploaded PDFs, validated in the background like permits.

An engineer's signed drawings or a signed contract are stored byte-intact at intake like any scan; afterwards the
beat task ``signing.check_attachments`` (:func:`check_pending`) validates every PDF not yet checked with the same
validator as permits (:func:`signing.validate.validate_pdf`, trusting the active trust roots only, offline) and
records, per signature, who signed (the certificate's name), when (claimed, and proven by a timestamp if any),
whether it is valid and why in Arabic and English (``document_signatures``), and on the document its overall
``signature_check``. Never in the web request: validation costs tens of milliseconds a signature and a hostile PDF
can carry many.

Bounds: a file over :data:`MAX_BYTES` is recorded ``too_large`` without being parsed; a PDF without the
``/ByteRange`` of any signature is ``none`` without being parsed; the validator never raises on bad input (a damaged
PDF is ``TOTAL_FAILED`` with its reason). Each document is checked in its own transaction and only while its
``signature_check`` is still empty (a conditional update), so two workers never record one twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.db import Database
from archive.manifest import touch_application
from archive.models import Document, DocumentSignature, utcnow
from archive.store import ObjectStore
from signing.trust import active_trust_roots
from signing.validate import validate_pdf

log = logging.getLogger(__name__)

PDF = "application/pdf"
MAX_BYTES = 64 * 1024 * 1024
"""Larger PDFs are not parsed for signatures (a scan that large is pages, not a signed contract)."""
BATCH = 20
NONE, TOO_LARGE = "none", "too_large"


@dataclass(frozen=True)
class AttachmentCheck:
    document_id: int
    status: str
    signatures: int


def pending_ids(session: Session, limit: int = BATCH) -> list[int]:
    """PDFs whose signatures were not checked yet, oldest first."""
    return list(session.scalars(select(Document.id).where(Document.media_type == PDF,
                                                          Document.signature_check.is_(None))
                                .order_by(Document.id).limit(limit)))


def check_document(database: Database, store: ObjectStore, document_id: int,
                   *, now: datetime | None = None) -> AttachmentCheck | None:
    """Validate one PDF's signatures and record them; None if it is not a PDF waiting for its check."""
    now = now or utcnow()
    with database.session() as session:
        document = session.get(Document, document_id)
        if document is None or document.media_type != PDF or document.signature_check is not None:
            return None
        key, size = document.sha256, document.size_bytes
        roots = active_trust_roots(session)
    rows: list[DocumentSignature] = []
    if size > MAX_BYTES:
        status = TOO_LARGE
    else:
        data = store.get_bytes(key)
        if b"/ByteRange" not in data:
            status = NONE
        else:
            report = validate_pdf(data, trust_roots=roots)
            status = report.indication if report.signatures else NONE
            rows = [
                DocumentSignature(
                    document_id=document_id, field_name=s.field_name[:200], signer_name=s.signer_name[:300],
                    signing_time=s.signing_time, timestamp_time=s.timestamp_time, level=s.level,
                    indication=s.indication, sub_indication=s.sub_indication, reasons_ar=list(s.reasons_ar),
                    reasons_en=list(s.reasons_en), validated_at=now,
                )
                for s in report.signatures
            ]
    with database.session() as session:
        claimed = session.execute(update(Document).where(Document.id == document_id,
                                                         Document.signature_check.is_(None))
                                  .values(signature_check=status).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return None
        session.add_all(rows)
        application_id = session.scalar(select(Document.application_id).where(Document.id == document_id))
        if application_id is not None:
            touch_application(session, application_id)  # a new manifest, and the search document re-indexed
    log.info("signatures of document %s: %s (%d)", document_id, status, len(rows))
    return AttachmentCheck(document_id, status, len(rows))


def check_pending(database: Database, store: ObjectStore, *, limit: int = BATCH) -> list[AttachmentCheck]:
    """The beat task: check the PDFs waiting for it, each on its own."""
    with database.session() as session:
        ids = pending_ids(session, limit)
    results = []
    for document_id in ids:
        result = check_document(database, store, document_id)
        if result is not None:
            results.append(result)
    return results


def signatures_of(session: Session, document_ids: list[int]) -> dict[int, list[DocumentSignature]]:
    """The recorded signatures of these documents (for the application page and the API)."""
    if not document_ids:
        return {}
    result: dict[int, list[DocumentSignature]] = {}
    for row in session.scalars(select(DocumentSignature).where(DocumentSignature.document_id.in_(document_ids))
                               .order_by(DocumentSignature.id)):
        result.setdefault(row.document_id, []).append(row)
    return result


__all__ = ["MAX_BYTES", "NONE", "TOO_LARGE", "AttachmentCheck", "check_document", "check_pending", "pending_ids",
           "signatures_of"]
