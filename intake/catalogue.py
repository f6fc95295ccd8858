"""The service catalogue as data: a versioned YAML file validated and loaded into the ``services`` table.

The waiting-hall screens, the intake checklist and the signing chain all read the same entries, so a change to a
service is one edit here (or by an administrator), never a code change.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Service
from archive.roles import Role

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.yaml")


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the service and field."""


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
        raise CatalogueError(f"The catalogue {source} is not valid YAML{line}.") from None
    if not isinstance(raw, dict) or not raw.get("version") or not isinstance(raw.get("services"), list):
        raise CatalogueError(f"The catalogue {source} needs a 'version' and a list of 'services'.")
    services = tuple(_service(entry) for entry in raw["services"])
    codes = [s.code for s in services]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise CatalogueError(f"The catalogue lists these service codes twice: {', '.join(duplicates)}.")
    return Catalogue(version=str(raw["version"]), services=services)


def _service(entry: Any) -> ServiceDefinition:
    if not isinstance(entry, dict) or not entry.get("code"):
        raise CatalogueError("Every catalogue entry needs a 'code'.")
    code = str(entry["code"])

    def need(field: str) -> Any:
        if entry.get(field) in (None, ""):
            raise CatalogueError(f"Service {code} has no '{field}'.")
        return entry[field]

    legal_days = need("legal_days")
    if not isinstance(legal_days, int) or legal_days <= 0:
        raise CatalogueError(f"Service {code}: 'legal_days' must be a positive whole number of days.")
    fee = entry.get("fee_egp", 0)
    if not isinstance(fee, int | float) or fee < 0:
        raise CatalogueError(f"Service {code}: 'fee_egp' must be a non-negative amount.")
    try:
        documents = tuple(RequiredDocument(**d) for d in need("required_documents"))
        chain = tuple(ChainStep(**s) for s in need("signing_chain"))
    except TypeError as exc:
        raise CatalogueError(f"Service {code}: a document or chain step is malformed ({exc}).") from None
    for step in chain:
        if step.role not in (Role.REVIEWER, Role.SIGNER):
            raise CatalogueError(f"Service {code}: chain step {step.step!r} must be done by a reviewer or signer.")
        days = step.legal_days
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days <= 0):
            raise CatalogueError(f"Service {code}: chain step {step.step!r}: 'legal_days' must be a positive whole "
                                 "number of days.")
    permit = _permit(code, entry.get("permit"))
    return ServiceDefinition(
        code=code,
        name_ar=str(need("name_ar")),
        name_en=str(need("name_en")),
        legal_days=legal_days,
        fee_piastres=round(fee * 100),
        needs_property=bool(entry.get("needs_property", False)),
        departments=tuple(entry.get("departments") or ()),
        required_documents=documents,
        signing_chain=chain,
        permit=permit,
    )


def _permit(code: str, raw: Any) -> PermitText | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CatalogueError(f"Service {code}: 'permit' must be a mapping (title_ar, title_en, works_ar, ...).")
    texts = ("title_ar", "title_en", "works_ar", "works_en", "legal_basis_ar", "legal_basis_en")
    unknown = sorted(set(raw) - set(texts) - {"conditions", "validity_days"})
    if unknown:
        raise CatalogueError(f"Service {code}: unknown permit field(s) {', '.join(unknown)}.")
    values = {}
    for name in texts:
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise CatalogueError(f"Service {code}: permit.{name} must be text.")
        values[name] = value.strip()
    if not values["title_ar"]:
        raise CatalogueError(f"Service {code}: permit.title_ar is required (the permit's own name).")
    conditions = raw.get("conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, str) and c.strip() for c in conditions):
        raise CatalogueError(f"Service {code}: permit.conditions must be a list of sentences.")
    days = raw.get("validity_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days <= 0):
        raise CatalogueError(f"Service {code}: permit.validity_days must be a positive whole number of days.")
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
            raise CatalogueError(
                f"Version {catalogue.version} is already in use and this text changes {probe}; "
                "give the catalogue a new version."
            )
    created, updated, deactivated = _apply(session, catalogue, deactivate_missing=True)
    return CatalogueChange(catalogue.version, created, updated, deactivated)


def export_catalogue(session: Session) -> str:
    """The active catalogue as YAML in the file's own format, for an administrator to edit and load again."""
    rows = session.scalars(select(Service).where(Service.active).order_by(Service.id)).all()
    services = []
    for row in rows:
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
        services.append(service)
    body = {"version": current_version(session) or "1", "services": services}
    header = "# Sijill service catalogue, exported from the database. Change `version` when you change anything.\n"
    return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=200)


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
