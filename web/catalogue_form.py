"""One service of the catalogue as a web form: the form's flat fields to the catalogue entry, and back.

The form only reads what was typed (numbers in either digit set, a checkbox, one condition per line, a blank row is
no row); whether the entry is valid is decided by ``intake.catalogue.validate_service``, the same check as the YAML
file's, and each of its problems (a path such as ``("signing_chain", 1, "role")``) is put back beside the input it
is about. Input names are their ids: ``name_ar``, ``doc-0-code``, ``step-1-role``, ``permit-title_ar``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from intake.catalogue import CHAIN_STEP_FIELDS, DOCUMENT_FIELDS, PERMIT_TEXTS, Problem
from intake.normalise import ascii_digits

MAX_ROWS = 60
"""Rows of documents or steps read from one form (a catalogue entry has a handful)."""
SPARE_DOCUMENT_ROWS = 2
SPARE_STEP_ROWS = 1
_ROW = re.compile(r"(doc|step)-(\d{1,2})-[a-z_]+")
_WHOLE = re.compile(r"\d{1,6}")
_AMOUNT = re.compile(r"\d{1,9}(?:[.,٫]\d{1,2})?")


@dataclass
class ServiceForm:
    """What one post of the form says: the entry to validate, and which form row each listed row came from."""

    entry: dict[str, Any]
    version: str
    offered: bool = True
    """The "the service is offered" box: kept apart from the entry, which is the YAML file's own mapping (a file
    offers every service it lists; the form may withdraw one, see ``intake.catalogue.save_service``)."""
    document_rows: list[int] = field(default_factory=list)
    step_rows: list[int] = field(default_factory=list)


def _number(text: str, pattern: re.Pattern[str]) -> Any:
    """A typed number as a number (any digits, Arabic decimal comma), or the text itself for the check to refuse."""
    value = ascii_digits(text.strip()).replace("٫", ".").replace(",", ".")
    if not value:
        return None
    if pattern.fullmatch(value):
        return float(value) if "." in value else int(value)
    return text.strip()


def _rows(form: Mapping[str, Any], kind: str) -> list[int]:
    return sorted({int(m.group(2)) for key in form if (m := _ROW.fullmatch(key)) and m.group(1) == kind
                   and int(m.group(2)) < MAX_ROWS})


def read_form(form: MultiDict[str, str], code: str | None) -> ServiceForm:
    """The catalogue entry the form describes (``code`` is the service's when it is edited, else the typed one)."""
    text = {key: (form.get(key) or "").strip() for key in form}
    entry: dict[str, Any] = {
        "code": code if code is not None else text.get("code", ""),
        "name_ar": text.get("name_ar", ""),
        "name_en": text.get("name_en", ""),
        "legal_days": _number(text.get("legal_days", ""), _WHOLE),
        "fee_egp": _number(text.get("fee_egp", ""), _AMOUNT) or 0,
        "needs_property": form.get("needs_property") == "1",
        "departments": form.getlist("departments"),
    }
    parsed = ServiceForm(entry, text.get("version", ""), offered=form.get("offered") == "1")
    documents = []
    for row in _rows(form, "doc"):
        values = {key: text.get(f"doc-{row}-{key}", "") for key in DOCUMENT_FIELDS}
        if not any(values.values()):
            continue  # a blank row (a spare one, or one the administrator emptied to remove it)
        documents.append({**values, "holds_national_id": form.get(f"doc-{row}-holds_national_id") == "1"})
        parsed.document_rows.append(row)
    entry["required_documents"] = documents
    steps = []
    for row in _rows(form, "step"):
        step: dict[str, Any] = {key: text.get(f"step-{row}-{key}", "") for key in CHAIN_STEP_FIELDS}
        days = _number(text.get(f"step-{row}-legal_days", ""), _WHOLE)
        if not (step["step"] or step["title_ar"] or step["title_en"] or days is not None):
            continue
        if days is not None:  # no duration of its own: the step is due when the application is
            step["legal_days"] = days
        steps.append(step)
        parsed.step_rows.append(row)
    entry["signing_chain"] = steps
    permit: dict[str, Any] = {key: text.get(f"permit-{key}", "") for key in PERMIT_TEXTS}
    conditions = [line.strip() for line in (form.get("permit-conditions") or "").splitlines() if line.strip()]
    days = _number(text.get("permit-validity_days", ""), _WHOLE)
    if any(permit.values()) or conditions or days is not None:
        entry["permit"] = {**permit, "conditions": conditions, "validity_days": days}
    return parsed


def field_of(problem: Problem, parsed: ServiceForm) -> str | None:
    """The id of the input a problem is about (None: about the whole catalogue, listed without a link)."""
    path = problem.path
    if not path:
        return None
    head = path[0]
    if head in ("required_documents", "signing_chain"):
        prefix, rows, first = (("doc", parsed.document_rows, "code") if head == "required_documents"
                               else ("step", parsed.step_rows, "step"))
        if len(path) == 1:
            return f"{prefix}-{rows[0] if rows else 0}-{first}"
        index = path[1]
        row = rows[index] if isinstance(index, int) and index < len(rows) else 0
        return f"{prefix}-{row}-{path[2] if len(path) > 2 else first}"
    if head == "permit":
        return f"permit-{path[1]}" if len(path) > 1 else "permit-title_ar"
    return str(head)


def form_values(entry: Mapping[str, Any], version: str, *, offered: bool = True) -> MultiDict[str, str]:
    """A stored service's entry as the form's fields, to show it for editing (a new service starts offered)."""
    values: MultiDict[str, str] = MultiDict()
    values["version"] = version
    if offered:
        values["offered"] = "1"
    for key in ("code", "name_ar", "name_en", "legal_days", "fee_egp"):
        values[key] = "" if entry.get(key) is None else str(entry[key])
    if entry.get("needs_property"):
        values["needs_property"] = "1"
    for department in entry.get("departments") or []:
        values.add("departments", department)
    for row, document in enumerate(entry.get("required_documents") or []):
        for key in DOCUMENT_FIELDS:
            values[f"doc-{row}-{key}"] = str(document.get(key, ""))
        if document.get("holds_national_id"):
            values[f"doc-{row}-holds_national_id"] = "1"
    for row, step in enumerate(entry.get("signing_chain") or []):
        for key in CHAIN_STEP_FIELDS:
            values[f"step-{row}-{key}"] = str(step.get(key, ""))
        values[f"step-{row}-legal_days"] = "" if step.get("legal_days") is None else str(step["legal_days"])
    permit = entry.get("permit") or {}
    for key in PERMIT_TEXTS:
        values[f"permit-{key}"] = str(permit.get(key) or "")
    values["permit-validity_days"] = "" if permit.get("validity_days") is None else str(permit["validity_days"])
    values["permit-conditions"] = "\n".join(permit.get("conditions") or [])
    return values


def row_numbers(values: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """The document and step rows to draw: those in ``values`` and a few blank ones to add more."""
    def filled(kind: str) -> list[int]:
        return sorted({int(m.group(2)) for key, value in values.items() if (m := _ROW.fullmatch(key))
                       and m.group(1) == kind and int(m.group(2)) < MAX_ROWS and str(value).strip()
                       and not key.endswith(("-role", "-department", "-holds_national_id"))})

    documents, steps = filled("doc"), filled("step")
    extra_documents = range(max(documents, default=-1) + 1, max(documents, default=-1) + 1 + SPARE_DOCUMENT_ROWS)
    extra_steps = range(max(steps, default=-1) + 1, max(steps, default=-1) + 1 + SPARE_STEP_ROWS)
    return documents + list(extra_documents), steps + list(extra_steps)
