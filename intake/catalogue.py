"""The service catalogue as data: a versioned YAML file validated and loaded into the ``services`` table.

The waiting-hall screens, the intake checklist and the signing chain all read the same entries, so a change to a
service is one edit here (or by an administrator), never a code change.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.labels import DEPARTMENTS
from archive.models import Service
from archive.roles import Role

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.yaml")


Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a catalogue entry: where (``("signing_chain", 1, "role")``, relative to the service, or
    ``()`` for the whole text) and why, in English (the command line, the YAML import) and Arabic (the web form)."""

    path: Path_
    message_en: str
    message_ar: str
    service: str | None = None


class CatalogueError(ValueError):
    """The catalogue (a file, a pasted text or one service's form) is malformed.

    ``problems`` lists everything found, each with the field it is about, so the administrator's form can put each
    message beside its field; ``str(error)`` is the English sentences, each naming the service and field.
    """

    def __init__(self, problems: list[Problem] | str, message_ar: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem((), problems, message_ar or problems)]
        self.problems = problems
        super().__init__(" ".join(_located(p) for p in problems))


def where(path: Path_) -> str:
    """A problem's place as the YAML file names it: ``signing_chain[2].title_ar`` (items counted from 1)."""
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _located(problem: Problem) -> str:
    """The English sentence for the command line: the service and the field's place in the file first."""
    place = ", ".join(x for x in (f"service {problem.service}" if problem.service else "", where(problem.path)) if x)
    return f"{place[0].upper()}{place[1:]}: {problem.message_en}" if place else problem.message_en


@dataclass(frozen=True)
class RequiredDocument:
    code: str
    name_ar: str
    name_en: str
    holds_national_id: bool = False
    """This item is the national ID card: its digits are read and compared with the typed ID (``intake.id_card``)."""


@dataclass(frozen=True)
class ChainStep:
    step: str
    role: str
    department: str
    title_ar: str
    title_en: str
    legal_days: int | None = None
    """This step's own legal duration in calendar days (as the service's ``legal_days``), counted from when the file
    reaches the step; absent: the step is due when the application is (``workflow.routing.step_due``)."""


@dataclass(frozen=True)
class PermitText:
    """What the service's permit says of itself (printed on it, from the catalogue, never from code).

    ``title``: the permit's own name (ترخيص أعمال بناء), not the application's; ``works``: the description of the
    works or activity it allows; ``legal_basis``: the law it is issued under; ``conditions``: numbered on the permit;
    ``validity_days``: how long it is valid from issue (a year when absent).
    """

    title_ar: str
    title_en: str
    works_ar: str = ""
    works_en: str = ""
    legal_basis_ar: str = ""
    legal_basis_en: str = ""
    conditions: tuple[str, ...] = ()
    validity_days: int | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    code: str
    name_ar: str
    name_en: str
    legal_days: int
    fee_piastres: int
    needs_property: bool
    departments: tuple[str, ...]
    required_documents: tuple[RequiredDocument, ...]
    signing_chain: tuple[ChainStep, ...]
    permit: PermitText | None = None

    def definition_json(self) -> dict[str, Any]:
        """The part stored as JSON, in JSON's own types (lists, not tuples) so comparisons with the row hold."""
        data = asdict(self)
        keys: tuple[str, ...] = ("needs_property", "departments", "required_documents", "signing_chain")
        if self.permit is not None:
            keys += ("permit",)
        loaded: dict[str, Any] = json.loads(json.dumps({k: data[k] for k in keys}))
        for step in loaded["signing_chain"]:  # a step without its own duration is stored as before
            if step.get("legal_days") is None:
                step.pop("legal_days", None)
        return loaded


@dataclass(frozen=True)
class Catalogue:
    version: str
    services: tuple[ServiceDefinition, ...]


def load_catalogue(path: Path = DEFAULT_CATALOGUE) -> Catalogue:
    """Read and validate a catalogue file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"The catalogue {path} cannot be read: {exc.strerror or exc}.") from None
    return parse_catalogue(text, source=str(path))


def parse_catalogue(text: str, source: str = "text") -> Catalogue:
    """Validate a catalogue given as YAML text (a file, or what an administrator pasted)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        line_ar = f" عند السطر {where.line + 1}" if where is not None else ""
        raise CatalogueError(f"The catalogue {source} is not valid YAML{line}.",
                             f"نص الدليل ليس YAML سليمًا{line_ar}.") from None
    if not isinstance(raw, dict) or not raw.get("version") or not isinstance(raw.get("services"), list):
        raise CatalogueError(f"The catalogue {source} needs a 'version' and a list of 'services'.",
                             "يلزم أن يكون للدليل رقم إصدار (version) وقائمة خدمات (services).")
    return catalogue_of(str(raw["version"]), raw["services"])


def catalogue_of(version: str, entries: list[Any]) -> Catalogue:
    """A catalogue from its entries (parsed YAML, or the services an administrator's form changed): every entry is
    checked by :func:`validate_service`, and every problem of every entry is reported at once."""
    problems: list[Problem] = []
    services: list[ServiceDefinition] = []
    for entry in entries:
        try:
            services.append(validate_service(entry))
        except CatalogueError as exc:
            problems += exc.problems
    codes = [s.code for s in services]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        problems.append(Problem(("code",), f"Another service already has this code: {', '.join(duplicates)}.",
                                f"رمز الخدمة مستعمل لخدمة أخرى: {', '.join(duplicates)}."))
    if not version.strip():
        problems.append(Problem(("version",), "Enter the catalogue's version.", "أدخل رقم إصدار الدليل."))
    if problems:
        raise CatalogueError(problems)
    return Catalogue(version=version.strip(), services=tuple(services))


CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
"""A service's or a document's code: letters, digits, '-', '_' and '.', up to 40 (it is in URLs and file names)."""
CHAIN_STEP_FIELDS = ("step", "role", "department", "title_ar", "title_en")
"""A chain step's text fields; a step may also carry its own ``legal_days`` (``ChainStep.legal_days``)."""
DOCUMENT_FIELDS = ("code", "name_ar", "name_en")


class _Found:
    """The problems of one entry, each with its field's path."""

    def __init__(self, service: str | None) -> None:
        self.service = service
        self.items: list[Problem] = []

    def add(self, path: Path_, english: str, arabic: str) -> None:
        self.items.append(Problem(path, english, arabic, self.service))


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    return value.strip() if isinstance(value, str) else "" if value is None else str(value).strip()


def _whole_days(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_service(entry: Any) -> ServiceDefinition:
    """The one check of a catalogue entry, for the YAML file, the pasted text and the per-service form alike.

    ``entry`` is the YAML mapping of one service; a :class:`CatalogueError` lists every problem found, each with
    its field's path (``("required_documents", 0, "name_en")``) and an English and Arabic message.
    """
    if not isinstance(entry, dict):
        raise CatalogueError([Problem((), "Every service of the catalogue is written with its fields, the first "
                                          "being its code.",
                                      "كل خدمة في الدليل تُكتب بحقولها، وأولها الرمز (code).")])
    code = _text(entry, "code")
    found = _Found(code or None)
    if not code:
        found.add(("code",), "Enter the service's code.", "أدخل رمز الخدمة.")
    elif not CODE_PATTERN.fullmatch(code):
        found.add(("code",), "A service's code is up to 40 Latin letters, digits, hyphens, underscores or dots.",
                  "رمز الخدمة حتى 40 حرفًا: حروف لاتينية وأرقام و'-' و'_' و'.'.")
    names = {}
    for key, english, arabic in (("name_ar", "the service's name in Arabic", "اسم الخدمة بالعربية"),
                                 ("name_en", "the service's name in English", "اسم الخدمة بالإنجليزية")):
        names[key] = _text(entry, key)
        if not names[key]:
            found.add((key,), f"Enter {english}.", f"أدخل {arabic}.")
    legal_days = entry.get("legal_days")
    if not _whole_days(legal_days):
        found.add(("legal_days",), "The legal duration is a positive whole number of days.",
                  "المدة القانونية عدد صحيح موجب من الأيام.")
    fee = entry.get("fee_egp", 0)
    if isinstance(fee, bool) or not isinstance(fee, int | float) or fee < 0 or round(fee * 100) != fee * 100:
        found.add(("fee_egp",), "The fee is an amount in pounds, not below zero, with at most two decimals.",
                  "الرسم مبلغ بالجنيه لا يقل عن صفر، وبحد أقصى رقمين بعد العلامة العشرية.")
    departments = entry.get("departments") or []
    if not isinstance(departments, list) or any(d not in DEPARTMENTS for d in departments):
        found.add(("departments",), "Choose the departments involved from the list.",
                  "اختر الإدارات المعنية من القائمة.")
    documents = _documents(entry.get("required_documents"), found)
    chain = _chain(entry.get("signing_chain"), found)
    permit = _permit(entry.get("permit"), found)
    if found.items:
        raise CatalogueError(found.items)
    return ServiceDefinition(
        code=code,
        name_ar=names["name_ar"],
        name_en=names["name_en"],
        legal_days=legal_days if isinstance(legal_days, int) else 0,  # an int: checked above
        fee_piastres=round(fee * 100),
        needs_property=bool(entry.get("needs_property", False)),
        departments=tuple(departments),
        required_documents=documents,
        signing_chain=chain,
        permit=permit,
    )


def _rows(raw: Any, key: str, found: _Found, english: str, arabic: str) -> list[dict[str, Any]]:
    if raw is None or raw == "" or raw == []:
        found.add((key,), english, arabic)
        return []
    if not isinstance(raw, list):
        found.add((key,), english, arabic)
        return []
    rows = []
    for index, row in enumerate(raw):
        if not isinstance(row, dict):
            found.add((key, index), english, arabic)
            row = {}
        rows.append(row)
    return rows


def _documents(raw: Any, found: _Found) -> tuple[RequiredDocument, ...]:
    rows = _rows(raw, "required_documents", found, "Add at least one required document.",
                 "أضف مستندًا مطلوبًا واحدًا على الأقل.")
    documents = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        path: Path_ = ("required_documents", index)
        unknown = sorted(set(row) - set(DOCUMENT_FIELDS) - {"holds_national_id"})
        if unknown:
            found.add(path, f"Document {index + 1} has fields the catalogue does not know: "
                            f"{', '.join(map(str, unknown))}.",
                      f"المستند رقم {index + 1} فيه حقول غير معروفة.")
        values = {key: _text(row, key) for key in DOCUMENT_FIELDS}
        if not values["code"]:
            found.add((*path, "code"), f"Enter the code of document {index + 1}.", f"أدخل رمز المستند رقم {index + 1}.")
        elif not CODE_PATTERN.fullmatch(values["code"]):
            found.add((*path, "code"),
                      f"The code of document {index + 1} is up to 40 Latin letters, digits, hyphens, underscores "
                      "or dots.",
                      f"رمز المستند رقم {index + 1} حتى 40 حرفًا: حروف لاتينية وأرقام و'-' و'_' و'.'.")
        elif values["code"] in seen:
            found.add((*path, "code"), f"The code of document {index + 1} is used by another document.",
                      f"رمز المستند رقم {index + 1} مكرر.")
        seen.add(values["code"])
        for key, english, arabic in (("name_ar", "Arabic", "الاسم العربي"), ("name_en", "English", "الاسم الإنجليزي")):
            if not values[key]:
                found.add((*path, key), f"Enter the {english} name of document {index + 1}.",
                          f"أدخل {arabic} للمستند رقم {index + 1}.")
        holds = row.get("holds_national_id", False)
        if not isinstance(holds, bool):
            found.add((*path, "holds_national_id"),
                      f"Whether document {index + 1} is the national ID card is yes or no.",
                      f"حقل بطاقة الرقم القومي للمستند رقم {index + 1} نعم أو لا.")
            holds = False
        documents.append(RequiredDocument(holds_national_id=holds, **values))
    return tuple(documents)


def _chain(raw: Any, found: _Found) -> tuple[ChainStep, ...]:
    rows = _rows(raw, "signing_chain", found, "Add at least one step to the approval chain.",
                 "أضف خطوة واحدة على الأقل إلى مسار الاعتماد.")
    steps = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        path: Path_ = ("signing_chain", index)
        number = index + 1
        unknown = sorted(set(row) - set(CHAIN_STEP_FIELDS) - {"legal_days"})
        if unknown:
            found.add(path, f"Step {number} has fields the catalogue does not know: {', '.join(map(str, unknown))}.",
                      f"الخطوة رقم {number} فيها حقول غير معروفة.")
        values = {key: _text(row, key) for key in CHAIN_STEP_FIELDS}
        if not values["step"]:
            found.add((*path, "step"), f"Enter the code of step {number}.",
                      f"أدخل رمز الخطوة رقم {number}.")
        elif not CODE_PATTERN.fullmatch(values["step"]):
            found.add((*path, "step"),
                      f"The code of step {number} is up to 40 Latin letters, digits, hyphens, underscores or dots.",
                      f"رمز الخطوة رقم {number} حتى 40 حرفًا: حروف لاتينية وأرقام و'-' و'_' و'.'.")
        elif values["step"] in seen:
            found.add((*path, "step"), f"The code of step {number} is used by another step.",
                      f"رمز الخطوة رقم {number} مكرر.")
        seen.add(values["step"])
        if values["role"] not in (Role.REVIEWER, Role.SIGNER):
            found.add((*path, "role"), f"Step {number} is done by a reviewer or a signer.",
                      f"الخطوة رقم {number} يقوم بها مراجع أو صاحب توقيع.")
        if values["department"] not in DEPARTMENTS:
            found.add((*path, "department"),
                      f"Choose the department that does step {number}.",
                      f"اختر الإدارة التي تقوم بالخطوة رقم {number}.")
        for key, english, arabic in (("title_ar", "Arabic", "المسمى العربي"),
                                     ("title_en", "English", "المسمى الإنجليزي")):
            if not values[key]:
                found.add((*path, key), f"Enter the {english} title of whoever does step {number}.",
                          f"أدخل {arabic} لمن يقوم بالخطوة رقم {number}.")
        days = row.get("legal_days")
        if days is not None and not _whole_days(days):
            found.add((*path, "legal_days"), f"The legal duration of step {number} is a positive whole number of days.",
                      f"مدة الخطوة رقم {number} عدد صحيح موجب من الأيام.")
            days = None
        steps.append(ChainStep(legal_days=days, **values))
    return tuple(steps)


PERMIT_TEXTS = ("title_ar", "title_en", "works_ar", "works_en", "legal_basis_ar", "legal_basis_en")


def _permit(raw: Any, found: _Found) -> PermitText | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        found.add(("permit",),
                  "The permit's text is written with its fields (title, description, legal basis, conditions).",
                  "نص الترخيص يُكتب بحقوله (العنوان والوصف والسند القانوني والشروط).")
        return None
    unknown = sorted(set(raw) - set(PERMIT_TEXTS) - {"conditions", "validity_days"})
    if unknown:
        found.add(("permit",),
                  f"The permit's text has fields the catalogue does not know: {', '.join(map(str, unknown))}.",
                  "في نص الترخيص حقول غير معروفة.")
    values = {}
    for name in PERMIT_TEXTS:
        value = raw.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            found.add(("permit", name), "This field of the permit's text is text.", "هذا الحقل من نص الترخيص نص.")
            value = ""
        values[name] = value.strip()
    if not values["title_ar"]:
        found.add(("permit", "title_ar"), "Enter the permit's title in Arabic (the permit's own name).",
                  "أدخل عنوان الترخيص بالعربية (اسم الترخيص نفسه).")
    conditions = raw.get("conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, str) and c.strip() for c in conditions):
        found.add(("permit", "conditions"), "The permit's conditions are sentences, one per line.",
                  "شروط الترخيص جمل، كل شرط في سطر.")
        conditions = []
    days = raw.get("validity_days")
    if days is not None and not _whole_days(days):
        found.add(("permit", "validity_days"), "The permit's validity is a positive whole number of days.",
                  "مدة صلاحية الترخيص عدد صحيح موجب من الأيام.")
        days = None
    return PermitText(conditions=tuple(c.strip() for c in conditions), validity_days=days, **values)


def sync_catalogue(session: Session, catalogue: Catalogue) -> tuple[int, int]:
    """Insert new services and update changed ones; returns (created, updated). Services are never deleted."""
    created, updated, _ = _apply(session, catalogue, deactivate_missing=False)
    return created, updated


@dataclass(frozen=True)
class CatalogueChange:
    version: str
    created: int
    updated: int
    deactivated: int


def current_version(session: Session) -> str | None:
    """The catalogue version of the most recently changed active service (what intake snapshots use)."""
    row = session.scalars(select(Service).where(Service.active).order_by(Service.updated_at.desc())).first()
    return row.catalogue_version if row is not None else None


def apply_catalogue(session: Session, catalogue: Catalogue) -> CatalogueChange:
    """An administrator's new edition of the whole catalogue: services left out are deactivated (never deleted,
    since applications refer to them), and a changed catalogue must carry a new version so every application's
    snapshot names exactly one definition."""
    used = set(session.scalars(select(Service.catalogue_version)))
    if catalogue.version in used:
        probe = _diff(session, catalogue)
        if probe:
            raise CatalogueError([_version_in_use(catalogue.version, probe)])
    created, updated, deactivated = _apply(session, catalogue, deactivate_missing=True)
    return CatalogueChange(catalogue.version, created, updated, deactivated)


def _version_in_use(version: str, changes: str) -> Problem:
    return Problem(
        ("version",),
        f"Version {version} is already in use and this text changes {changes}; give the catalogue a new version.",
        f"الإصدار {version} مستعمل من قبل، وهذا التعديل يغيّر {changes}؛ أعط الدليل رقم إصدار جديدًا.",
    )


def service_entry(row: Service) -> dict[str, Any]:
    """One stored service as its catalogue entry (the YAML file's own mapping), for the export and the form."""
    d = row.definition
    service: dict[str, Any] = {
        "code": row.code,
        "name_ar": row.name_ar,
        "name_en": row.name_en,
        "legal_days": row.legal_days,
        "fee_egp": row.fee_piastres / 100 if row.fee_piastres % 100 else row.fee_piastres // 100,
        "needs_property": bool(d.get("needs_property", False)),
        "departments": list(d.get("departments", [])),
        "required_documents": list(d.get("required_documents", [])),
        "signing_chain": list(d.get("signing_chain", [])),
    }
    if d.get("permit") is not None:  # the permit's own text: an export that dropped it would erase it on load
        service["permit"] = d["permit"]
    return service


def export_catalogue(session: Session) -> str:
    """The active catalogue as YAML in the file's own format, for an administrator to edit and load again."""
    rows = session.scalars(select(Service).where(Service.active).order_by(Service.id)).all()
    body = {"version": current_version(session) or "1", "services": [service_entry(row) for row in rows]}
    header = "# Sijill service catalogue, exported from the database. Change `version` when you change anything.\n"
    return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=200)


def next_version(session: Session, today: date) -> str:
    """A version no service has used, in the file's ``yyyy.mm-n`` style: what the form suggests for an edit."""
    used = set(session.scalars(select(Service.catalogue_version)))
    prefix = f"{today:%Y.%m}-"
    numbers = [int(v[len(prefix):]) for v in used if v.startswith(prefix) and v[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def save_service(session: Session, entry: dict[str, Any], version: str, *, new: bool,
                 offered: bool = True) -> CatalogueChange:
    """An administrator's change of one service (its form): the entry is checked by :func:`validate_service`, then
    the active catalogue with this entry in place (or added, when ``new``) is applied as edition ``version`` by
    :func:`apply_catalogue`, the same path as a YAML import. Problems carry paths relative to the service.

    ``offered=False`` (the form's "the service is offered" box unticked) applies the catalogue *without* this service,
    so it is deactivated exactly as a YAML import that leaves it out would be, under the same version rule; what its
    form says is still kept on its row (:func:`_keep_withdrawn`), so ticking the box again later offers the service as
    it was last saved. A withdrawn service is never deleted: applications registered under it keep pointing to it.
    The last offered service cannot be withdrawn (the window would have nothing to register).
    """
    definition = validate_service(entry)
    rows = session.scalars(select(Service).where(Service.active).order_by(Service.id)).all()
    taken = {row.code for row in session.scalars(select(Service))}
    if new and definition.code in taken:
        raise CatalogueError([Problem(("code",), "Another service of the catalogue already has this code.",
                                      "يوجد في الدليل خدمة بهذا الرمز بالفعل.", definition.code)])
    used = set(session.scalars(select(Service.catalogue_version)))
    entries = [entry if row.code == definition.code else service_entry(row) for row in rows]
    if new or definition.code not in {row.code for row in rows}:
        entries.append(entry)
    if not offered:
        entries = [e for e in entries if e is not entry]
        if not entries:
            raise CatalogueError([Problem(
                ("offered",), "This is the only service offered: the window would have nothing to register.",
                "هذه هي الخدمة الوحيدة المتاحة؛ لو أوقفت لما بقي في الشباك ما يُسجَّل.", definition.code)])
    try:
        catalogue = catalogue_of(version, entries)
    except CatalogueError as exc:  # another, stored service no longer passes: say which, never blame this form
        raise CatalogueError([p if p.service in (None, definition.code) else Problem((), p.message_en, p.message_ar,
                                                                                         p.service)
                              for p in exc.problems]) from None
    change = apply_catalogue(session, catalogue)
    if offered:
        return change
    return _keep_withdrawn(session, definition, catalogue.version, used, change)


def _keep_withdrawn(session: Session, definition: ServiceDefinition, version: str, used: set[str],
                    change: CatalogueChange) -> CatalogueChange:
    """Keep a withdrawn service's content from its form on its inactive row (created inactive when it is new).

    Its content is left alone when the form changed nothing of it. A change of content is an edition of the
    catalogue like any other, so it needs a version no service used before this save (``used``): an application's
    (service, version) pair must name one definition.
    """
    values = {**_values(definition, version), "active": False}
    content = {k: v for k, v in values.items() if k not in ("catalogue_version", "active")}
    row = session.scalar(select(Service).where(Service.code == definition.code))
    if row is not None and all(getattr(row, k) == v for k, v in content.items()):
        return change
    if version in used:
        raise CatalogueError([_version_in_use(version, definition.code)])
    if row is None:
        session.add(Service(code=definition.code, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    return CatalogueChange(change.version, change.created + (row is None), change.updated + (row is not None),
                           change.deactivated)


def _values(definition: ServiceDefinition, version: str) -> dict[str, Any]:
    return {
        "name_ar": definition.name_ar,
        "name_en": definition.name_en,
        "legal_days": definition.legal_days,
        "fee_piastres": definition.fee_piastres,
        "definition": definition.definition_json(),
        "catalogue_version": version,
        "active": True,
    }


def _diff(session: Session, catalogue: Catalogue) -> str:
    """A short description of what ``catalogue`` would change, or "" when nothing."""
    existing = {s.code: s for s in session.scalars(select(Service))}
    changed = []
    for definition in catalogue.services:
        row = existing.get(definition.code)
        values = _values(definition, catalogue.version)
        values.pop("catalogue_version")
        if row is None or any(getattr(row, k) != v for k, v in values.items()):
            changed.append(definition.code)
    wanted = {d.code for d in catalogue.services}
    changed += [code for code, row in existing.items() if row.active and code not in wanted]
    return ", ".join(sorted(changed))


def _apply(session: Session, catalogue: Catalogue, *, deactivate_missing: bool) -> tuple[int, int, int]:
    existing = {s.code: s for s in session.scalars(select(Service))}
    created = updated = deactivated = 0
    for definition in catalogue.services:
        values = _values(definition, catalogue.version)
        row = existing.get(definition.code)
        if row is None:
            session.add(Service(code=definition.code, **values))
            created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            # Every service of a new edition carries its version; only a change of content counts as "updated".
            if any(getattr(row, k) != v for k, v in values.items() if k != "catalogue_version"):
                updated += 1
            for key, value in values.items():
                setattr(row, key, value)
    if deactivate_missing:
        wanted = {d.code for d in catalogue.services}
        for code, row in existing.items():
            if row.active and code not in wanted:
                row.active = False
                deactivated += 1
    session.flush()
    return created, updated, deactivated
