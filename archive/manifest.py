"""Manifests: the archive describes every record by itself, so the database can be rebuilt from it alone.

Three kinds of named records go into the object store beside the content-addressed blobs:

* ``manifests/applications/<tracking>/<state>-<sha256>.json`` — one application with every row it owns (documents,
  pages, workflow steps, transitions, permit, and whatever later tables hang off these), the keys of its blobs and
  its audit events. A new version is written whenever the application's ``updated_at`` moves; older versions stay,
  so the archive also keeps the record's history.
* ``manifests/system/<time>-<sha256>.json`` — centres, services, users and roles, certificates, trust roots, tracking
  counters: everything that is not owned by an application. Written when its content changes.
* ``audit/<first>-<last>-<sha256>.jsonl`` — the audit chain in segments, in order.

Rows are stored column by column under their table's name with their primary keys, so a rebuild into an empty
database restores the same ids and every foreign key holds. Which tables belong to an application is read from
the foreign keys (any table with a key to an application-owned table is application-owned), so a table added
later is covered without touching this module.

Every change to an application-owned row moves the application's ``updated_at`` (an ORM hook below; code that
updates such rows with a bare SQL ``UPDATE`` calls :func:`touch_application`). The ``archive.manifests`` job writes
the manifests whose application moved since the last one (``manifest_at`` behind ``updated_at``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Table, event, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import Date, DateTime

from archive.models import Application, AuditEvent, Base, utcnow
from archive.store import ObjectNotFound, ObjectStore

SCHEMA = "sijill.manifest/1"
NOT_ARCHIVED = frozenset({"audit_events", "audit_head", "stored_objects", "fixity_checks", "alembic_version",
                          "idempotency_keys"})
"""The audit chain is archived in segments; the object ledger and fixity records are rebuilt by listing the store;
the API's idempotency keys are request records (a rebuilt archive answers retries afresh)."""

APPLICATION_PREFIX = "manifests/applications/"
SYSTEM_PREFIX = "manifests/system/"
AUDIT_PREFIX = "audit/"
AUDIT_SEGMENT = 5000


# -- which tables an application owns ------------------------------------------------------------------------------


def application_tables() -> list[Table]:
    """``applications`` and every table with a foreign key to one of these, parents before children."""
    owned = {"applications"}
    ordered: list[Table] = []
    for table in Base.metadata.sorted_tables:
        if table.name == "applications" or any(fk.column.table.name in owned for fk in table.foreign_keys):
            owned.add(table.name)
            ordered.append(table)
    return ordered


@cache
def _owned_names() -> frozenset[str]:
    """Names of the application-owned tables (computed once, after every model is defined)."""
    return frozenset(t.name for t in application_tables())


def system_tables() -> list[Table]:
    owned = {t.name for t in application_tables()}
    return [t for t in Base.metadata.sorted_tables if t.name not in owned and t.name not in NOT_ARCHIVED]


# -- rows to JSON and back ----------------------------------------------------------------------------------------


def _dump_value(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def load_value(column: Any, value: Any) -> Any:
    """A manifest value back into what the column takes (datetimes, dates, bytes are strings in JSON)."""
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value)
    return value


def _rows(session: Session, table: Table, where: Any) -> list[dict[str, Any]]:
    pk = list(table.primary_key.columns)
    result = session.execute(select(table).where(where).order_by(*pk)).mappings()
    return [{c.name: _dump_value(c, row[c.name]) for c in table.columns} for row in result]


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _stamp(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


# -- application manifests ----------------------------------------------------------------------------------------


def build_application_manifest(session: Session, application: Application) -> dict[str, Any]:
    """Every row the application owns, its blobs and its audit events, as of its ``updated_at``."""
    tables: dict[str, list[dict[str, Any]]] = {}
    ids: dict[str, set[Any]] = {}
    for table in application_tables():
        if table.name == "applications":
            where = table.c.id == application.id
        else:
            links = [fk.parent.in_(sorted(ids[fk.column.table.name])) for fk in table.foreign_keys
                     if ids.get(fk.column.table.name)]
            if not links:
                tables[table.name] = []
                ids[table.name] = set()
                continue
            where = or_(*links)
        rows = _rows(session, table, where)
        tables[table.name] = rows
        pk = [c.name for c in table.primary_key.columns]
        ids[table.name] = {row[pk[0]] for row in rows} if len(pk) == 1 else set()
    subject = f"application:{application.tracking_number}"
    audit = [_event(e) for e in session.scalars(select(AuditEvent).where(AuditEvent.subject == subject)
                                                .order_by(AuditEvent.seq))]
    return {
        "schema": SCHEMA,
        "kind": "application",
        "tracking_number": application.tracking_number,
        "state_at": _dump_value(Application.__table__.c.updated_at, application.updated_at),
        "tables": tables,
        "objects": sorted(_blob_keys(tables)),
        "audit": audit,
    }


def _blob_keys(tables: dict[str, list[dict[str, Any]]]) -> set[str]:
    """Every object key the rows name: any string column value that is a SHA-256 key in a ``*sha256`` column."""
    keys: set[str] = set()
    for rows in tables.values():
        for row in rows:
            for name, value in row.items():
                if name.endswith("sha256") and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
                    keys.add(value)
    return keys


def _event(event_row: AuditEvent) -> dict[str, Any]:
    table = AuditEvent.__table__
    return {c.name: _dump_value(c, getattr(event_row, c.key)) for c in table.columns}


def write_application_manifest(session: Session, store: ObjectStore, application: Application) -> str:
    """Write the manifest of the application's current state (idempotent) and record it; returns its name."""
    manifest = build_application_manifest(session, application)
    data = _canonical(manifest)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{APPLICATION_PREFIX}{application.tracking_number}/{_stamp(application.updated_at)}-{digest}.json"
    store.put_named(name, data)
    state = application.updated_at
    session.execute(
        update(Application)
        .where(Application.id == application.id,
               or_(Application.manifest_at.is_(None), Application.manifest_at < state))
        .values(manifest_at=state, updated_at=Application.updated_at)  # recording the manifest is not a change
        .execution_options(synchronize_session=False)
    )
    return name


def _manifest_due() -> ColumnElement[bool]:
    """An application's newest manifest is older than its last change (or it has none)."""
    return or_(Application.manifest_at.is_(None), Application.manifest_at < Application.updated_at)


def write_manifests_of(session: Session, store: ObjectStore, application_ids: Iterable[int]) -> int:
    """Write, committing each, the manifests of these applications that are due: sent by workers right after the
    commit that changed them, so the archive describes a change within seconds, not at the next beat run (which
    still catches whatever this misses). Idempotent; returns how many were written."""
    ids = sorted({int(i) for i in application_ids})
    if not ids:
        return 0
    query = select(Application).where(Application.id.in_(ids), _manifest_due())
    count = 0
    for application in session.scalars(query).all():
        write_application_manifest(session, store, application)
        session.commit()
        count += 1
    return count


def applications_due(session: Session, limit: int = 200) -> list[Application]:
    """Applications whose newest manifest is older than their last change, oldest change first."""
    query = select(Application).where(_manifest_due()).order_by(Application.updated_at).limit(limit)
    return list(session.scalars(query))


# -- the system manifest --------------------------------------------------------------------------------------------


def build_system_manifest(session: Session) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "system",
        "tables": {t.name: _rows(session, t, true()) for t in system_tables()},
    }


def write_system_manifest(session: Session, store: ObjectStore, *, now: datetime | None = None) -> str | None:
    """Write the system manifest if it differs from the newest one; returns the new name or None."""
    data = _canonical(build_system_manifest(session))
    digest = hashlib.sha256(data).hexdigest()
    newest = latest_name(store, SYSTEM_PREFIX)
    if newest is not None and newest.endswith(f"-{digest}.json"):
        return None
    name = f"{SYSTEM_PREFIX}{_stamp(now or utcnow())}-{digest}.json"
    store.put_named(name, data)
    return name


def latest_name(store: ObjectStore, prefix: str) -> str | None:
    newest = None
    for name in store.list_named(prefix):
        newest = name
    return newest


# -- audit segments -------------------------------------------------------------------------------------------------

_SEGMENT_RE = re.compile(r"audit/(\d{12})-(\d{12})-[0-9a-f]{64}\.jsonl$")


def archived_audit_seq(store: ObjectStore) -> int:
    """The last audit sequence number already in a segment (0 if none)."""
    last = 0
    for name in store.list_named(AUDIT_PREFIX):
        match = _SEGMENT_RE.match(name)
        if match:
            last = max(last, int(match.group(2)))
    return last


def write_audit_segments(session: Session, store: ObjectStore) -> int:
    """Archive the events after the last segment, ``AUDIT_SEGMENT`` per record; returns how many were written."""
    written = 0
    after = archived_audit_seq(store)
    while True:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
                                      .limit(AUDIT_SEGMENT)))
        if not events:
            return written
        data = b"".join(_canonical(_event(e)) + b"\n" for e in events)
        digest = hashlib.sha256(data).hexdigest()
        store.put_named(f"{AUDIT_PREFIX}{events[0].seq:012d}-{events[-1].seq:012d}-{digest}.jsonl", data)
        written += len(events)
        after = events[-1].seq


@dataclass(frozen=True)
class ManifestRun:
    applications: int
    system: bool
    audit_events: int


def write_due_manifests(session: Session, store: ObjectStore, *, limit: int = 200) -> ManifestRun:
    """The job: due application manifests (committing each), then the system manifest if it changed, then the audit
    segments. The system manifest comes after the applications so that every user, centre or service an archived
    application refers to is in it."""
    count = 0
    for application in applications_due(session, limit):
        write_application_manifest(session, store, application)
        session.commit()
        count += 1
    system = write_system_manifest(session, store) is not None
    events = write_audit_segments(session, store)
    return ManifestRun(count, system, events)


def read_manifest(store: ObjectStore, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(store.get_named(name))
    if document.get("schema") != SCHEMA:
        raise ValueError(f"{name} is not a Sijill manifest of a known version ({document.get('schema')!r}).")
    return document


def latest_application_manifests(store: ObjectStore) -> Iterable[str]:
    """The newest manifest name of every application in the archive."""
    current_dir, current = None, None
    for name in store.list_named(APPLICATION_PREFIX):
        folder = name.rpartition("/")[0]
        if folder != current_dir and current is not None:
            yield current
        current_dir, current = folder, name
    if current is not None:
        yield current


# -- moving updated_at ------------------------------------------------------------------------------------------------


def touch_application(session: Session, application_id: int) -> None:
    """Say that an application changed through a bare SQL update its ORM hook could not see."""
    session.execute(update(Application).where(Application.id == application_id).values(updated_at=utcnow())
                    .execution_options(synchronize_session=False))


def _owner_application_id(session: Session, obj: Any) -> int | None:
    """Follow foreign keys from an application-owned row up to its application's id."""
    table = getattr(type(obj), "__table__", None)
    seen = 0
    while table is not None and seen < 8:
        seen += 1
        if table.name == "applications":
            return getattr(obj, "id", None)
        owned = _owned_names()
        for fk in table.foreign_keys:
            if fk.column.table.name in owned:
                parent_id = getattr(obj, _attr_for(type(obj), fk.parent.name), None)
                if parent_id is None:
                    continue
                if fk.column.table.name == "applications":
                    return int(parent_id)
                parent_cls = _class_for(fk.column.table.name)
                obj = session.get(parent_cls, parent_id) if parent_cls is not None else None
                table = getattr(type(obj), "__table__", None) if obj is not None else None
                break
        else:
            return None
    return None


def _attr_for(cls: type, column_name: str) -> str:
    mapper = cls.__mapper__  # type: ignore[attr-defined]
    for prop in mapper.column_attrs:
        if any(c.name == column_name for c in prop.columns):
            return str(prop.key)
    return column_name


def _class_for(table_name: str) -> type | None:
    for mapper in Base.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table_name:
            return mapper.class_
    return None


@event.listens_for(Session, "before_flush")
def _move_updated_at(session: Session, _context: Any, _instances: Any) -> None:
    owned = _owned_names() - {"applications"}
    changed: set[int] = set()
    for obj in list(session.new) + list(session.dirty):
        table = getattr(type(obj), "__table__", None)
        if table is None or table.name not in owned:
            continue
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        app_id = _owner_application_id(session, obj)
        if app_id is not None:
            changed.add(app_id)
    now = utcnow()
    for app_id in changed:
        application = session.get(Application, app_id)
        if application is not None and application not in session.new:
            application.updated_at = now


def find_manifest_name(store: ObjectStore, tracking_number: str) -> str:
    name = latest_name(store, f"{APPLICATION_PREFIX}{tracking_number}/")
    if name is None:
        raise ObjectNotFound(tracking_number)
    return name
