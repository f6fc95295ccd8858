"""Rebuild the database from the archive alone: the system manifest, every application's newest manifest and the
audit segments (see :mod:`archive.manifest`).

The target must be an empty, migrated database: rebuilding never merges into live data. Rows are inserted with their
original primary keys, parents before children, so foreign keys, permit numbers, tracking numbers and verification
tokens are exactly as they were; then the audit chain is restored and checked, sequences are moved past the restored
ids (PostgreSQL) and the object ledger is rebuilt by listing the store; the caller then moves the tracking counters
past every restored number (``intake.tracking.advance_counters``) and rebuilds the search index.
What the archive cannot hold is said plainly: changes after the last manifest run are not in it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, func, insert, select, text, update
from sqlalchemy.orm import Session

from archive.audit import GENESIS, record_event, verify_chain
from archive.manifest import (
    AUDIT_PREFIX,
    SYSTEM_PREFIX,
    application_tables,
    latest_application_manifests,
    latest_name,
    load_value,
    read_manifest,
    system_tables,
)
from archive.models import Application, AuditHead, Base, Centre, User
from archive.replication import ArchiveStore, reconcile_ledger
from archive.store import ObjectStore

log = logging.getLogger(__name__)


class RebuildRefused(RuntimeError):
    """The target database is not empty, or the archive holds no manifests."""


@dataclass
class RebuildReport:
    applications: int = 0
    rows: int = 0
    audit_events: int = 0
    objects: int = 0
    chain_intact: bool = True


def _insert_rows(session: Session, table_name: str, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    table = Base.metadata.tables[table_name]
    values = [{c.name: load_value(c, row[c.name]) for c in table.columns if c.name in row} for row in rows]
    session.execute(insert(table), values)
    return len(values)


def _empty(session: Session) -> bool:
    return not any(session.scalar(select(func.count()).select_from(model)) for model in (Application, User, Centre))


def rebuild(session: Session, store: ObjectStore, *, progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Restore everything the archive describes into the (empty) database behind ``session``; commits."""
    if not _empty(session):
        raise RebuildRefused("The database is not empty: rebuild only into a freshly migrated, empty database.")
    system_name = latest_name(store, SYSTEM_PREFIX)
    if system_name is None:
        raise RebuildRefused("The archive holds no system manifest: there is nothing to rebuild from.")
    report = RebuildReport()

    system = read_manifest(store, system_name)
    for table in system_tables():
        report.rows += _insert_rows(session, table.name, system["tables"].get(table.name, []))
    session.flush()

    owned = application_tables()
    for n, name in enumerate(latest_application_manifests(store), 1):
        manifest = read_manifest(store, name)
        for table in owned:
            rows = manifest["tables"].get(table.name, [])
            if table.name == "applications":
                rows = [{**row, "manifest_at": row["updated_at"]} for row in rows]
            report.rows += _insert_rows(session, table.name, rows)
        report.applications += 1
        if progress is not None:
            progress(n)
    session.flush()

    report.audit_events = _restore_audit(session, store)
    _advance_sequences(session)
    session.commit()

    report.objects = reconcile_ledger(session, store.primary if isinstance(store, ArchiveStore) else store)
    report.chain_intact = verify_chain(session).intact
    record_event(session, actor=None, action="archive.rebuild", subject="system:database",
                 details={"applications": report.applications, "rows": report.rows,
                          "audit_events": report.audit_events, "system_manifest": system_name})
    session.commit()
    return report


def _restore_audit(session: Session, store: ObjectStore) -> int:
    table = Base.metadata.tables["audit_events"]
    count, last_seq, last_hash = 0, 0, GENESIS
    for name in store.list_named(AUDIT_PREFIX):
        batch = []
        for line in store.get_named(name).splitlines():
            row = json.loads(line)
            if row["seq"] <= last_seq:
                continue  # segments never overlap, but a re-run after a partial copy might
            batch.append({c.name: load_value(c, row[c.name]) for c in table.columns if c.name in row})
            last_seq, last_hash = row["seq"], row["hash"]
        if batch:
            session.execute(insert(table), batch)
            count += len(batch)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=last_seq, hash=last_hash))
    return count


def _advance_sequences(session: Session) -> None:
    """PostgreSQL's id sequences do not see explicit ids: move each past the highest restored one."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement is False:
            continue
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "  # noqa: S608 - metadata names
            f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
        ))
