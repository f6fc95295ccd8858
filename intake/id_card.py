"""The ID card checks the typed national ID: the 14 digits read off the card's scan, compared with what was typed.

Which checklist item holds the card is catalogue data (``holds_national_id: true`` on a required document, e.g.
``ID_COPY``). Its pages are read twice: by Tesseract like every page, and each line with a long number again by digit
shape (``ocr.digit_shapes``, stored on the page as ``number_readings``). When OCR finishes the document
(:func:`intake.digitise.finish_document_if_complete`, in the same transaction that records its searchable PDF),
:func:`check_document` weighs both readings and records one of three verdicts on the document:

* ``match``: the typed national ID is among the numbers read;
* ``mismatch``: a *different* number was read that is a structurally valid national ID (century, a real birth date
  not in the future, a known governorate: ``intake.national_id``; the check digit's algorithm is not published, see
  there) and it was read with good confidence: both readers read exactly that number, or the shape reader read it
  with every digit's margin at least :data:`CONFIDENT_MARGIN`. ``id_digits`` keeps it;
* ``unreadable``: anything else (no digits, too few, not a valid national ID, or a valid-looking number read without
  that confidence). Nothing is claimed; ``id_digits`` keeps what was read, to show beside the scan.

Why so strict: Tesseract's Arabic models misread one or two Arabic-Indic digits of a card's number line (٣ as 2, ٥ as
0), and a number one digit off is still a plausible national ID. Flagging it would accuse an honest citizen, so
one reader's say is never enough unless the shapes leave no doubt. :data:`CONFIDENT_MARGIN` was set from 55 synthetic
cards (Noto Naskh, Noto Sans Arabic, Noto Kufi and Amiri; 36-56 px; Gaussian noise up to σ 45 and blur up to 1.5 px),
each read once with its own font among the shape references and once without (110 readings): none of the 20 wrong
14-digit readings had its weakest digit above 0.17; 31 of 37 right readings with the font known were above 0.25, but
only 5 of 25 without it, so a card in an unknown font is mostly ``unreadable`` rather than flagged.

A mismatch is a flag for the reviewer, on the application page and in the inbox, never a refusal: intake has already
happened; the official looks at the scan and decides.

Digits may be Arabic-Indic (٠١٢٣٤٥٦٧٨٩, as printed on Egyptian cards), Eastern Arabic-Indic (۰۱۲…) or 0-9, and
the card prints the number in groups: Tesseract's numbers are found by :func:`ocr.digits.national_ids`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, Document
from intake.national_id import is_valid_national_id
from ocr.digits import national_ids, western_digits

_GROUP_MARKS = re.compile(r"(?<=\d)[-\u2010\u2011\u2012\u2013.](?=\d)")
_DIGIT_RUNS = re.compile(r"\d+(?:[ \u00a0]\d+)*")
MATCH, MISMATCH, UNREADABLE = "match", "mismatch", "unreadable"
CONFIDENT_MARGIN = 0.25
"""The shape reader's weakest digit must be at least this sure for its reading alone to count as confident."""
SHOWN_MAX = 32


def national_ids_in(text: str) -> list[str]:
    """Every 14-digit number in ``text`` (Western digits), each once, plausible national IDs first.

    :func:`ocr.digits.national_ids` does the reading (every digit set, groups split by spaces); hyphens, dashes and
    dots between digits, which card photocopies and OCR also produce, are read as the spaces between groups.
    """
    return [c.digits for c in national_ids(_GROUP_MARKS.sub(" ", text))]


def longest_number_in(text: str) -> str:
    """The longest run of digits in ``text`` (groups joined, Western digits): what to show when no 14 were read."""
    runs = [western_digits(re.sub(r"\s", "", m.group())) for m in _DIGIT_RUNS.finditer(_GROUP_MARKS.sub(" ", text))]
    return max(runs, key=len, default="")


@dataclass(frozen=True)
class ShapeReading:
    """One number line read by digit shape (``ocr.digit_shapes``): the digits and the weakest digit's margin."""

    digits: str
    margin: float


@dataclass(frozen=True)
class IdCheck:
    """What the ID card said about the typed national ID."""

    status: str
    """match, mismatch or unreadable."""
    digits: str | None
    """The typed ID on a match, the other national ID on a mismatch, what was read (or None) when unreadable."""


def compare(
    typed: str, candidates: Iterable[str], shapes: Iterable[ShapeReading] = (), *, text: str = "",
    today: date | None = None,
) -> IdCheck:
    """The verdict for the typed ID against the card: ``candidates`` are the 14-digit numbers in Tesseract's text
    (``text`` itself only serves to show what was read), ``shapes`` the shape reader's lines."""
    numbers = list(candidates)
    lines = [s for s in shapes if s.digits]
    if typed in numbers or any(s.digits == typed for s in lines):
        return IdCheck(MATCH, typed)
    confident: list[str] = []
    for number in dict.fromkeys([*(s.digits for s in lines), *numbers]):
        if len(number) != 14 or not is_valid_national_id(number, today=today):
            continue
        shaped = [s for s in lines if s.digits == number]
        if (shaped and number in numbers) or any(s.margin >= CONFIDENT_MARGIN for s in shaped):
            confident.append(number)
    if confident:
        return IdCheck(MISMATCH, min(confident, key=lambda n: (sum(a != b for a, b in zip(n, typed, strict=True)),
                                                              confident.index(n))))
    shown = (max(lines, key=lambda s: (len(s.digits) == 14, s.margin)).digits if lines
             else numbers[0] if numbers else longest_number_in(text))
    return IdCheck(UNREADABLE, shown[:SHOWN_MAX] or None)


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
    shapes = [ShapeReading(str(r.get("digits") or ""), float(r.get("margin") or 0.0))
              for p in document.pages for r in (p.number_readings or []) if isinstance(r, dict)]
    result = compare(application.national_id, national_ids_in(text), shapes, text=text)
    document.id_check = result.status
    document.id_digits = result.digits
    return result


def application_check(application: Application) -> tuple[IdCheck, Document] | None:
    """The newest ID-card document's verdict (a rescanned card replaces an older reading), or None if none was read."""
    checked = [d for d in application.documents if d.id_check]
    if not checked:
        return None
    newest = max(checked, key=lambda d: d.id)
    status = UNREADABLE if newest.id_check in (None, "unread") else newest.id_check
    return IdCheck(status, newest.id_digits), newest


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


__all__ = ["CONFIDENT_MARGIN", "MATCH", "MISMATCH", "UNREADABLE", "IdCheck", "ShapeReading", "application_check",
           "check_document", "compare", "holds_national_id", "longest_number_in", "mismatches", "national_ids_in"]
