"""The ID card checks the typed national ID: the 14 digits read off the card's scan, compared with what was typed.

Which checklist item holds the card is catalogue data (``holds_national_id: true`` on a required document, e.g.
``ID_COPY``). When OCR finishes such a document (:func:`intake.digitise.finish_document_if_complete`, in the same
transaction that records its searchable PDF), :func:`check_document` reads every 14-digit number in its pages' text
and records on the document what it found:

* ``match``: the typed national ID is among them;
* ``mismatch``: numbers were read but none is the typed one; ``id_digits`` keeps the one shown to the reviewer
  (a number that is itself a valid national ID first, then the one differing from the typed ID in fewest places);
* ``unread``: no 14-digit number could be read (a poor scan): nothing is claimed either way.

A mismatch is a flag for the reviewer, on the application page and in the inbox, never a refusal: intake has already
happened and OCR can misread a digit; the official looks at the scan and decides.

Digits may be Arabic-Indic (٠١٢٣٤٥٦٧٨٩, as printed on Egyptian cards), Eastern Arabic-Indic (۰۱۲…) or 0-9, and
the card prints the number in groups: the reading itself is :func:`ocr.digits.national_ids`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, Document
from intake.national_id import is_valid_national_id
from ocr.digits import national_ids

_GROUP_MARKS = re.compile(r"(?<=\d)[-\u2010\u2011\u2012\u2013.](?=\d)")
MATCH, MISMATCH, UNREAD = "match", "mismatch", "unread"


def national_ids_in(text: str) -> list[str]:
    """Every 14-digit number in ``text`` (Western digits), each once, plausible national IDs first.

    :func:`ocr.digits.national_ids` does the reading (every digit set, groups split by spaces); hyphens, dashes and
    dots between digits, which card photocopies and OCR also produce, are read as the spaces between groups.
    """
    return [c.digits for c in national_ids(_GROUP_MARKS.sub(" ", text))]


@dataclass(frozen=True)
class IdCheck:
    """What the ID card said about the typed national ID."""

    status: str
    """match, mismatch or unread."""
    digits: str | None
    """The 14 digits shown to the reviewer (the typed ID on a match; None when nothing was read)."""


def compare(typed: str, candidates: Iterable[str]) -> IdCheck:
    """The verdict for the typed ID against the numbers read off the card."""
    numbers = list(candidates)
    if typed in numbers:
        return IdCheck(MATCH, typed)
    if not numbers:
        return IdCheck(UNREAD, None)

    def rank(number: str) -> tuple[int, int, int]:
        distance = sum(a != b for a, b in zip(number, typed, strict=True))
        return (0 if is_valid_national_id(number) else 1, distance, numbers.index(number))

    return IdCheck(MISMATCH, min(numbers, key=rank))


def holds_national_id(application: Application, requirement: str) -> bool:
    """Whether the catalogue says the checklist item ``requirement`` of the application's service is the ID card."""
    for doc in (application.service.definition or {}).get("required_documents") or []:
        if isinstance(doc, dict) and doc.get("code") == requirement:
            return bool(doc.get("holds_national_id"))
    return False


def check_document(document: Document) -> IdCheck | None:
    """Read the ID card's digits from the document's page texts and record the verdict on it; None (and nothing
    recorded) if the document is not an ID card. The caller commits."""
    application = document.application
    if not holds_national_id(application, document.requirement):
        return None
    text = "\n".join(p.text or "" for p in document.pages)
    result = compare(application.national_id, national_ids_in(text))
    document.id_check = result.status
    document.id_digits = result.digits
    return result


def application_check(application: Application) -> tuple[IdCheck, Document] | None:
    """The newest ID-card document's verdict (a rescanned card replaces an older reading), or None if none was read."""
    checked = [d for d in application.documents if d.id_check]
    if not checked:
        return None
    newest = max(checked, key=lambda d: d.id)
    return IdCheck(newest.id_check or UNREAD, newest.id_digits), newest


def mismatches(session: Session, application_ids: Iterable[int]) -> dict[int, str]:
    """For the inbox: application id → digits read, for each application whose newest ID-card reading differs."""
    ids = sorted(set(application_ids))
    if not ids:
        return {}
    newest: dict[int, tuple[int, str, str | None]] = {}
    rows = session.execute(select(Document.application_id, Document.id, Document.id_check, Document.id_digits)
                           .where(Document.application_id.in_(ids), Document.id_check.is_not(None)))
    for application_id, document_id, status, digits in rows:
        if application_id not in newest or document_id > newest[application_id][0]:
            newest[application_id] = (document_id, status, digits)
    return {a: digits or "" for a, (_d, status, digits) in newest.items() if status == MISMATCH}


__all__ = ["MATCH", "MISMATCH", "UNREAD", "IdCheck", "application_check", "check_document", "compare",
           "holds_national_id", "mismatches", "national_ids_in"]
