"""The case file as the API shows it: per checklist item, every version of its document, as the application page does.

``GET /api/v1/applications/<tracking>`` lists the documents flat (one entry per file, for OCR progress); a portal
that shows the case file needs what the page shows instead: the service's checklist in the catalogue's order, for each
item whether it is provided and whether the last return asked for it, and each version of its document (a rescan at
the window is the next version; earlier ones stay in the archive), newest last, with who uploaded it and when, its
pages' OCR status and, for a signed PDF, the same signature summary as the page (valid, not valid or could not be
checked, by whom, when). Files filed under ``OTHER`` come last, as one more entry.

Only formatting lives here: which versions count (``intake.service.current_documents``), the checklist
(``intake.service.checklist``) and the open completion items (``workflow.routing.open_completion_items``) are the
services' answers, the same ones the page uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from archive.models import Application, Document, DocumentSignature, User
from intake.service import OTHER, checklist, current_documents
from signing.attachments import NONE, TOO_LARGE, signatures_of
from workflow.routing import open_completion_items

PASSED, FAILED = "TOTAL_PASSED", "TOTAL_FAILED"

VERDICTS: dict[str, tuple[str, str]] = {
    PASSED: ("توقيع صحيح", "Valid signature"),
    FAILED: ("توقيع غير صحيح", "Invalid signature"),
}
CANNOT_CHECK = ("تعذر التحقق من التوقيع", "The signature could not be verified")


def checklist_json(session: Session, application: Application) -> list[dict[str, Any]]:
    """The checklist items of the application's service, each with all versions of its document, then ``OTHER``."""
    documents = list(application.documents)
    current = {d.id for d in current_documents(documents)}
    signatures = signatures_of(session, [d.id for d in documents])
    requested = {item.code: item.problem for item in open_completion_items(session, application)}
    counts: dict[str, int] = {}
    for document in documents:
        if document.id in current:
            counts[document.requirement] = counts.get(document.requirement, 0) + 1
    entries = [
        {
            "code": item.code,
            "name_ar": item.name_ar,
            "name_en": item.name_en,
            "required": True,
            "provided": not item.missing,
            "requested": requested.get(item.code),
            "versions": _versions([d for d in documents if d.requirement == item.code], current, signatures,
                                  application),
        }
        for item in checklist(application.service, counts)
    ]
    others = [d for d in documents if d.requirement == OTHER]
    listed = {e["code"] for e in entries}
    unknown = sorted({d.requirement for d in documents} - listed - {OTHER})
    for code in unknown:  # a requirement the catalogue no longer lists: still shown, never hidden
        entries.append({"code": code, "name_ar": code, "name_en": code, "required": False, "provided": True,
                        "requested": requested.get(code),
                        "versions": _versions([d for d in documents if d.requirement == code], current, signatures,
                                              application)})
    if others:
        entries.append({"code": OTHER, "name_ar": "مستندات أخرى", "name_en": "Other documents", "required": False,
                        "provided": True, "requested": None,
                        "versions": _versions(others, current, signatures, application)})
    return entries


def _versions(documents: Sequence[Document], current: set[int], signatures: dict[int, list[DocumentSignature]],
              application: Application) -> list[dict[str, Any]]:
    by_version: dict[int, list[Document]] = {}
    for document in documents:
        by_version.setdefault(document.version or 1, []).append(document)
    versions = []
    for number in sorted(by_version):
        files = sorted(by_version[number], key=lambda d: d.id)
        first = files[0]
        versions.append({
            "version": number,
            "current": any(d.id in current for d in files),
            "uploaded_at": first.created_at,
            "uploaded_by": _uploader(first, application),
            "added_after_registration": first.added_by_id is not None,
            "files": [_file(d, d.id in current, signatures.get(d.id, []), application) for d in files],
        })
    return versions


def _uploader(document: Document, application: Application) -> dict[str, str] | None:
    user: User | None = document.added_by if document.added_by_id is not None else application.created_by
    return {"username": user.username, "full_name": user.full_name} if user is not None else None


def _file(document: Document, current: bool, signatures: list[DocumentSignature],
          application: Application) -> dict[str, Any]:
    return {
        "id": document.id,
        "version": document.version or 1,
        "current": current,
        "supersedes": document.supersedes_id,
        "filename": document.filename,
        "media_type": document.media_type,
        "size_bytes": document.size_bytes,
        "sha256": document.sha256,
        "uploaded_at": document.created_at,
        "uploaded_by": _uploader(document, application),
        "page_count": document.page_count,
        "ocr_status": document.ocr_status,
        "searchable_pdf": document.searchable_pdf_sha256 is not None,
        "pages": [
            {"id": p.id, "index": p.index, "status": p.status, "mean_confidence": p.mean_confidence,
             "low_confidence": bool(p.low_confidence), "is_blank": bool(p.is_blank), "error": p.error}
            for p in document.pages
        ],
        "signature_report": signature_report(document, signatures),
    }


def signature_report(document: Document, signatures: list[DocumentSignature]) -> dict[str, Any] | None:
    """What the application page says about a PDF's signatures: None for a file that is no PDF; ``pending`` while the
    background check has not run; else the overall check and one line per signature."""
    if document.media_type != "application/pdf":
        return None
    check = document.signature_check
    lines = []
    for sig in signatures:
        verdict_ar, verdict_en = VERDICTS.get(sig.indication, CANNOT_CHECK)
        proven = sig.timestamp_time is not None
        lines.append({
            "signer": sig.signer_name,
            "indication": sig.indication,
            "sub_indication": sig.sub_indication,
            "verdict_ar": verdict_ar,
            "verdict_en": verdict_en,
            "time": sig.timestamp_time if proven else sig.signing_time,
            "time_proven": proven,
            "level": sig.level,
            "reasons_ar": list(sig.reasons_ar or []),
            "reasons_en": list(sig.reasons_en or []),
        })
    return {
        "check": "pending" if check is None else check,
        "signed": check not in (None, NONE, TOO_LARGE) and bool(lines),
        "count": len(lines),
        "valid": sum(1 for s in signatures if s.indication == PASSED),
        "invalid": sum(1 for s in signatures if s.indication == FAILED),
        "indeterminate": sum(1 for s in signatures if s.indication not in (PASSED, FAILED)),
        "signatures": lines,
    }


__all__ = ["checklist_json", "signature_report"]
