"""A second copy of everything: replication by workers, reads healed from the replica, fixity checks that repair.

The primary is the real S3 server (SeaweedFS) and the replica a directory, and the other way round; the ledger is
on SQLite and PostgreSQL. Damage is done behind the store's back, as bit rot or an intruder would.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from archive.audit import verify_chain
from archive.db import Database
from archive.fixity import fixity_report, run_fixity, unrepairable_count
from archive.models import AuditEvent, FixityCheck, StoredObject, utcnow
from archive.replication import ArchiveStore, reconcile_ledger, replicate_pending, replication_lag
from archive.store import IntegrityError, LocalStore, ObjectNotFound, ObjectStore, S3Store, open_store
from sijill.health import run_checks
from sijill.settings import Settings

Damage = Callable[[ObjectStore, str, bytes | None], None]


@pytest.fixture(params=["s3-primary", "s3-replica"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ObjectStore, ObjectStore]:
    s3 = open_store(request.getfixturevalue("s3_store_url"))
    local = open_store((tmp_path / "replica").as_uri())
    return (s3, local) if request.param == "s3-primary" else (local, s3)


@pytest.fixture
def damage(request: pytest.FixtureRequest) -> Damage:
    """Overwrite an object's bytes (``data``) or remove it (``None``) without going through the store."""

    def do(store: ObjectStore, key: str, data: bytes | None) -> None:
        if isinstance(store, LocalStore):
            path = store.path_for(key)
            if data is None:
                path.unlink()
            else:
                path.chmod(0o644)
                path.write_bytes(data)
        elif isinstance(store, S3Store):
            client = request.getfixturevalue("s3_server").client()
            if data is None:
                client.remove_object(store.bucket, store.object_name(key))
            else:
                client.put_object(store.bucket, store.object_name(key), io.BytesIO(data), len(data))
        else:  # pragma: no cover
            raise NotImplementedError(type(store).__name__)

    return do


def _objects(n: int) -> list[bytes]:
    return [f"وثيقة رقم {i} — {'x' * (100 + i)}".encode() for i in range(n)]


def test_writes_are_noted_and_replicated(database: Database, stores: tuple[ObjectStore, ObjectStore]) -> None:
    primary, replica = stores
    archive = ArchiveStore(primary, replica, database)
    keys = [archive.put(data) for data in _objects(5)]
    archive.flush_ledger()
    with database.session() as s:
        assert sorted(s.scalars(select(StoredObject.key))) == sorted(keys)
        assert replication_lag(s).pending == 5
        assert not any(replica.exists(k) for k in keys)
        run = replicate_pending(s, primary, replica)
        assert (run.copied, run.failed) == (5, 0)
        assert replication_lag(s).pending == 0
    for key, data in zip(keys, _objects(5), strict=True):
        assert replica.get_bytes(key) == data


def test_reconcile_notes_objects_written_behind_the_ledger(database: Database, tmp_path: Path) -> None:
    primary = open_store((tmp_path / "p").as_uri())
    direct = primary.put(b"written while the database was down")
    archive = ArchiveStore(primary, None, database)
    noted = archive.put(b"written normally")
    archive.flush_ledger()
    with database.session() as s:
        assert reconcile_ledger(s, primary) == 1
        assert sorted(s.scalars(select(StoredObject.key))) == sorted([direct, noted])


def test_a_damaged_or_missing_primary_copy_is_served_from_the_replica_and_repaired(
    database: Database, stores: tuple[ObjectStore, ObjectStore], damage: Damage
) -> None:
    primary, replica = stores
    archive = ArchiveStore(primary, replica, database)
    first, second = _objects(2)
    k1, k2 = archive.put(first), archive.put(second)
    archive.flush_ledger()
    with database.session() as s:
        replicate_pending(s, primary, replica)
    damage(primary, k1, b"X" * len(first))  # same size: only the hash tells
    damage(primary, k2, None)
    assert archive.get_bytes(k1) == first
    assert archive.get_bytes(k2) == second
    assert primary.verify(k1) and primary.verify(k2)  # healed
    archive.flush_ledger()
    with database.session() as s:
        checks = {(c.key, c.source, c.result) for c in s.scalars(select(FixityCheck))}
    assert checks == {(k1, "read", "repaired"), (k2, "read", "repaired")}


def test_a_read_with_no_good_copy_anywhere_raises(database: Database, tmp_path: Path, damage: Damage) -> None:
    primary, replica = open_store((tmp_path / "p").as_uri()), open_store((tmp_path / "r").as_uri())
    archive = ArchiveStore(primary, replica, database)
    key = archive.put(b"the only copy that was ever made")
    archive.flush_ledger()
    damage(primary, key, b"rotten")
    with pytest.raises(IntegrityError):
        archive.get_bytes(key)
    with pytest.raises(ObjectNotFound):
        archive.get_bytes("0" * 64)


def test_fixity_detects_and_repairs_every_damaged_copy(
    database: Database, stores: tuple[ObjectStore, ObjectStore], damage: Damage
) -> None:
    primary, replica = stores
    archive = ArchiveStore(primary, replica, database)
    data = _objects(8)
    keys = [archive.put(d) for d in data]
    archive.flush_ledger()
    with database.session() as s:
        replicate_pending(s, primary, replica)
    damage(primary, keys[0], b"bit rot")
    damage(primary, keys[1], None)
    damage(replica, keys[2], b"rotten replica")
    damage(replica, keys[3], None)
    damage(primary, keys[4], b"both")
    damage(replica, keys[4], None)

    with database.session() as s:
        run = run_fixity(s, primary, replica, batch=100)
    assert run.checked == 8
    assert sorted(run.repaired) == sorted(keys[:4])
    assert run.unrepairable == [keys[4]]
    for key, content in list(zip(keys, data, strict=True))[:4]:
        assert primary.get_bytes(key) == content and replica.get_bytes(key) == content

    with database.session() as s:
        assert unrepairable_count(s) == 1
        alerts = s.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.unrepairable")).all()
        assert [a.subject for a in alerts] == [f"object:{keys[4]}"]
        assert verify_chain(s).intact
        report = "".join(fixity_report(s)).splitlines()
    assert report[0] == "key,size,first_seen,replicated_at,checked_at,result"
    results = {line.split(",")[0]: line.split(",")[-1] for line in report[1:]}
    assert results == {**{k: "repaired" for k in keys[:4]}, keys[4]: "unrepairable",
                       **{k: "ok" for k in keys[5:]}}


def test_fixity_checks_the_longest_unchecked_first(database: Database, tmp_path: Path) -> None:
    primary = open_store((tmp_path / "p").as_uri())
    archive = ArchiveStore(primary, None, database)
    keys = [archive.put(d) for d in _objects(6)]
    archive.flush_ledger()
    seen: list[str] = []
    with database.session() as s:
        for _ in range(3):
            before = {c.key for c in s.scalars(select(FixityCheck))}
            run_fixity(s, primary, None, batch=2)
            after = {c.key for c in s.scalars(select(FixityCheck))}
            seen.extend(sorted(after - before))
    assert sorted(seen) == sorted(keys)  # three runs of two cover all six exactly once


def test_health_shows_replication_lag_and_unrepaired_damage(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    replica_url = (tmp_path / "replica").as_uri()
    cfg = settings.with_overrides(database_url=database.url, replica_url=replica_url,
                                  replication_lag_alert_minutes=30)
    archive = ArchiveStore(open_store(cfg.storage_url), open_store(replica_url), database)
    key = archive.put(b"waiting for its copy")
    archive.flush_ledger()

    def checks() -> dict[str, tuple[bool, str]]:
        return {r.name: (r.ok, r.detail) for r in run_checks(cfg, database)}

    assert checks()["replication"][0] and checks()["fixity"][0]
    with database.session() as s:
        s.execute(update(StoredObject).values(first_seen=utcnow() - timedelta(hours=2)))
    ok, detail = checks()["replication"]
    assert not ok and "1 objects waiting" in detail
    with database.session() as s:
        s.execute(update(StoredObject).where(StoredObject.key == key).values(check_result="unrepairable"))
    ok, detail = checks()["fixity"]
    assert not ok and "1 stored objects" in detail
