"""The audit trail anchored outside the database: each attack a database owner can make with plain SQL, on SQLite and
PostgreSQL, and what `verify_audit` names for it.

Every attack below leaves the database chain itself consistent (the attacker recomputes every later hash and
``audit_head``, exactly as `archive.audit` would), so only the archived segments and the sealed checkpoints can tell.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from archive.audit import GENESIS, event_hash, record_event, verify_chain
from archive.audit_check import AuditVerdict, Finding, verify_audit
from archive.checkpoints import CheckpointRefused, checkpoint_names, read_checkpoint, write_checkpoint
from archive.db import Database
from archive.manifest import write_audit_segments
from archive.sealing import SealingKey, load_sealing_key
from archive.store import LocalStore, ObjectStore, open_store
from tests.sijill_process import run_sijill, sijill_env

ACTORS = ("mona", "karim", "salma")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "archive")


@pytest.fixture
def key(tmp_path: Path) -> SealingKey:
    return load_sealing_key(tmp_path / "keys" / "sealing_key.pem")


def _append(database: Database, n: int) -> None:
    for i in range(n):
        with database.session() as s:
            record_event(s, actor=ACTORS[i % 3], action="application.view", subject=f"application:SOH01-{i % 4}",
                         details={"page": i, "ملاحظة": "اطلاع على الملف"})


def _seal(database: Database, store: ObjectStore, key: SealingKey) -> str:
    with database.session() as s:
        run = write_checkpoint(s, store, key)
    assert run.name is not None
    return run.name


def _archive(database: Database, store: ObjectStore) -> None:
    with database.session() as s:
        write_audit_segments(s, store)


def _verdict(database: Database, store: ObjectStore, key: SealingKey) -> AuditVerdict:
    with database.session() as s:
        return verify_audit(s, store, key.verifying)


def _kinds(verdict: AuditVerdict) -> list[tuple[str, int, int]]:
    return [(f.kind, f.first, f.last) for f in verdict.findings]


def _find(verdict: AuditVerdict, kind: str) -> Finding:
    found = [f for f in verdict.findings if f.kind == kind]
    assert found, (kind, verdict.findings)
    return found[0]


# -- what an attacker with database access does: plain SQL, then every later hash and the head recomputed ----------


def _rows(database: Database) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, at, actor, action, subject, details FROM audit_events ORDER BY seq"))
        out = []
        for r in rows.mappings():
            row = dict(r)
            if isinstance(row["details"], str):
                row["details"] = json.loads(row["details"])
            if isinstance(row["at"], str):
                row["at"] = datetime.fromisoformat(row["at"])
            out.append(row)
        return out


def _rechain(database: Database) -> None:
    """Recompute every hash in sequence order and move audit_head to the last one, with plain SQL."""
    prev = GENESIS
    rows = _rows(database)
    with database.engine.begin() as conn:
        for row in rows:
            digest = event_hash(seq=row["seq"], at=row["at"], actor=row["actor"], action=row["action"],
                                subject=row["subject"], details=row["details"], prev_hash=prev)
            conn.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"p": prev, "h": digest, "s": row["seq"]})
            prev = digest
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                     {"s": rows[-1]["seq"] if rows else 0, "h": prev})


def _shift(conn: Any, from_seq: int, by: int) -> None:
    """Renumber events from ``from_seq`` on by ``by`` (two steps: PostgreSQL checks the unique seq per row)."""
    conn.execute(text("UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= :f"), {"f": from_seq})
    conn.execute(text("UPDATE audit_events SET seq = seq - 1000000 + :b WHERE seq >= 1000000"), {"b": by})


def _database_chain_intact(database: Database) -> None:
    with database.session() as s:
        assert verify_chain(s).intact, "the attack should fool the database-only check"


# -- the attacks ------------------------------------------------------------------------------------------------------


def test_an_untouched_trail_is_intact_with_segments_and_checkpoints(database: Database, store: LocalStore,
                                                                    key: SealingKey) -> None:
    _append(database, 12)
    _archive(database, store)
    _seal(database, store, key)
    _append(database, 3)  # after the last segment and checkpoint: fine, just not anchored yet
    verdict = _verdict(database, store, key)
    assert verdict.intact, verdict.findings
    assert verdict.archived_through == 12 and verdict.newest_trusted is not None
    assert verdict.newest_trusted.seq == 12 and verdict.head_seq == 15


def test_edit_of_event_20_with_every_later_hash_and_the_head_recomputed(database: Database, store: LocalStore,
                                                                        key: SealingKey) -> None:
    _append(database, 25)
    _archive(database, store)
    _seal(database, store, key)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'intruder' WHERE seq = 20"))
    _rechain(database)
    _database_chain_intact(database)
    verdict = _verdict(database, store, key)
    edited = _find(verdict, "edited")
    assert (edited.first, edited.last) == (20, 20)
    assert edited.detail == "actor 'karim' → 'intruder'"
    rechained = _find(verdict, "re-chained")
    assert (rechained.first, rechained.last) == (21, 25)
    rewritten = _find(verdict, "rewritten")
    assert rewritten.last == 25


def test_a_rewrite_is_bounded_by_the_checkpoints_alone(database: Database, store: LocalStore,
                                                      key: SealingKey) -> None:
    """No segment archived (the archive job lags): the checkpoints still catch it and say between which events."""
    _append(database, 10)
    _seal(database, store, key)
    _append(database, 15)
    _seal(database, store, key)
    _append(database, 5)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET subject = 'application:SOH01-FORGED' WHERE seq = 17"))
    _rechain(database)
    _database_chain_intact(database)
    verdict = _verdict(database, store, key)
    assert _kinds(verdict) == [("rewritten", 11, 25)]
    assert "after event 10" in verdict.findings[0].detail


def test_the_last_three_events_deleted_and_audit_head_moved_back(database: Database, store: LocalStore,
                                                                 key: SealingKey) -> None:
    _append(database, 20)
    _archive(database, store)
    _seal(database, store, key)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 17"))
        last = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 17")).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = 17, hash = :h WHERE id = 1"), {"h": last})
    _database_chain_intact(database)
    verdict = _verdict(database, store, key)
    kinds = _kinds(verdict)
    assert ("truncated", 18, 20) in kinds
    sealed = [f for f in verdict.findings if f.kind == "truncated" and "checkpoint" in f.detail]
    assert sealed and "audit_head moved back" in sealed[0].detail


def test_truncation_is_caught_by_the_checkpoint_when_not_yet_archived(database: Database, store: LocalStore,
                                                                      key: SealingKey) -> None:
    _append(database, 8)
    _seal(database, store, key)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 5"))
        last = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 5")).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = 5, hash = :h WHERE id = 1"), {"h": last})
    _database_chain_intact(database)
    verdict = _verdict(database, store, key)
    assert _kinds(verdict) == [("truncated", 6, 8)]


def test_an_inserted_event_with_the_rest_renumbered_and_rechained(database: Database, store: LocalStore,
                                                                  key: SealingKey) -> None:
    _append(database, 12)
    _archive(database, store)
    _seal(database, store, key)
    rows = _rows(database)
    with database.engine.begin() as conn:
        _shift(conn, 6, 1)
        conn.execute(text("INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash) "
                          "VALUES (6, :at, 'mona', 'decision.approve', 'application:SOH01-1', :d, '', '')"),
                     {"at": rows[4]["at"] + timedelta(seconds=1), "d": json.dumps({"سبب": "مستوفى"})})
    _rechain(database)
    _database_chain_intact(database)
    kinds = _kinds(_verdict(database, store, key))
    assert ("inserted", 6, 6) in kinds
    assert ("renumbered", 7, 13) in kinds
    assert any(k == "rewritten" for k, _, _ in kinds)


def test_a_deleted_event_with_the_rest_renumbered_and_rechained(database: Database, store: LocalStore,
                                                                key: SealingKey) -> None:
    _append(database, 12)
    _archive(database, store)
    _seal(database, store, key)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
        _shift(conn, 5, -1)
    _rechain(database)
    _database_chain_intact(database)
    kinds = _kinds(_verdict(database, store, key))
    assert ("deleted", 4, 4) in kinds
    assert ("renumbered", 4, 11) in kinds
    assert ("rewritten", 1, 12) in kinds or ("truncated", 12, 12) in kinds


def test_a_naive_edit_is_still_named_by_the_database_chain(database: Database, store: LocalStore,
                                                           key: SealingKey) -> None:
    _append(database, 6)
    _archive(database, store)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET action = 'nothing.happened' WHERE seq = 3"))
    kinds = _kinds(_verdict(database, store, key))
    assert ("chain", 3, 3) in kinds and ("edited", 3, 3) in kinds


# -- the checkpoints themselves ---------------------------------------------------------------------------------------


def test_a_checkpoint_forged_with_another_key_is_named(database: Database, store: LocalStore, key: SealingKey,
                                                       tmp_path: Path) -> None:
    _append(database, 5)
    other = load_sealing_key(tmp_path / "attacker.pem")
    name = _seal(database, store, other)
    verdict = _verdict(database, store, key)
    assert [f.kind for f in verdict.findings] == ["checkpoint", "checkpoint"]
    assert name in verdict.findings[0].detail and "does not verify" in verdict.findings[0].detail
    assert read_checkpoint(store, name, other.verifying).trusted


def test_the_writer_refuses_to_seal_a_rewritten_chain(database: Database, store: LocalStore,
                                                      key: SealingKey) -> None:
    _append(database, 6)
    _seal(database, store, key)
    _append(database, 2)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'intruder' WHERE seq = 2"))
    _rechain(database)
    with database.session() as s, pytest.raises(CheckpointRefused, match="rewritten"):
        write_checkpoint(s, store, key)
    assert len(checkpoint_names(store)) == 1


def test_sealing_is_idempotent_and_checkpoints_link(database: Database, store: LocalStore, key: SealingKey) -> None:
    _append(database, 3)
    first = _seal(database, store, key)
    with database.session() as s:
        assert write_checkpoint(s, store, key).name is None  # the head did not move
    _append(database, 1)
    second = _seal(database, store, key)
    a, b = (read_checkpoint(store, n, key.verifying) for n in (first, second))
    assert b.previous == a.digest and (a.seq, b.seq) == (3, 4)
    assert oct(key.path.stat().st_mode & 0o777) == "0o600"


def test_checkpoints_are_time_stamped_and_locked_on_s3(database: Database, pki: Any, s3_locked_store_url: str,
                                                       tmp_path: Path) -> None:
    """On the real S3 server: the record is under object lock from its first byte and cannot be deleted; the TSA
    token over its signature checks out."""
    store = open_store(s3_locked_store_url)
    key = load_sealing_key(tmp_path / "k.pem")
    _append(database, 4)
    with database.session() as s:
        run = write_checkpoint(s, store, key, tsa_url=pki.tsa_url, lock_years=1, lock_mode="governance")
    assert run.timestamped and run.locked and run.name
    checkpoint = read_checkpoint(store, run.name, key.verifying)
    assert checkpoint.trusted and checkpoint.retention is not None
    assert checkpoint.retention.until > datetime.now(UTC) + timedelta(days=360)
    assert checkpoint.timestamp is not None and checkpoint.timestamp.intact
    assert checkpoint.timestamp.time is not None
    assert abs(checkpoint.timestamp.time - datetime.now(UTC)) < timedelta(minutes=10)
    client = store._client  # type: ignore[attr-defined]
    object_name = f"{store.location.prefix}named/{run.name}"  # type: ignore[attr-defined]
    versions = [o.version_id for o in client.list_objects(store.bucket, prefix=object_name,  # type: ignore[attr-defined]
                                                          include_version=True)]
    from minio.error import S3Error

    with pytest.raises(S3Error):
        client.remove_object(store.bucket, object_name, version_id=versions[0])  # type: ignore[attr-defined]
    assert _verdict(database, store, key).intact


def test_the_command_names_the_attack(tmp_path: Path) -> None:
    """`sijill audit checkpoint` then a re-chained edit: `sijill audit verify` exits 1 and names it; with the
    auditor's own copy of the public key too."""
    env = sijill_env(tmp_path / "data")
    assert run_sijill(env, "db", "upgrade").returncode == 0
    from archive.db import Database as Db

    database = Db(f"sqlite:///{tmp_path / 'data' / 'sijill.sqlite3'}")
    _append(database, 22)
    assert run_sijill(env, "manifests").returncode == 0
    sealed = run_sijill(env, "audit", "checkpoint")
    assert sealed.returncode == 0 and "sealed event 22" in sealed.stdout, sealed.stderr
    public = run_sijill(env, "audit", "public-key")
    (tmp_path / "auditor.pem").write_text(public.stdout)
    ok = run_sijill(env, "audit", "verify")
    assert ok.returncode == 0 and "audit trail intact" in ok.stdout, ok.stderr
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET details = :d WHERE seq = 20"), {"d": json.dumps({"page": 0})})
    _rechain(database)
    assert run_sijill(env, "audit", "verify", "--database-only").returncode == 0
    broken = run_sijill(env, "audit", "verify", "--public-key", str(tmp_path / "auditor.pem"))
    assert broken.returncode == 1
    assert "edited      event 20: details" in broken.stderr
    assert "re-chained  events 21–22" in broken.stderr
    assert "rewritten" in broken.stderr


def test_a_deleted_checkpoint_is_named_by_the_next_one(database: Database, store: LocalStore,
                                                       key: SealingKey) -> None:
    """A file store lets someone with the disk remove a checkpoint: the next one's link to it says so."""
    _append(database, 3)
    first = _seal(database, store, key)
    _append(database, 3)
    _seal(database, store, key)
    (store.root / "named" / first).chmod(0o644)
    (store.root / "named" / first).unlink()
    verdict = _verdict(database, store, key)
    assert [(f.kind, f.first) for f in verdict.findings] == [("checkpoint", 6)]
    assert "missing" in verdict.findings[0].detail
    assert any("object lock" in w for w in verdict.warnings)


def test_checkpoints_without_a_key_to_check_them_are_a_finding(database: Database, store: LocalStore,
                                                               key: SealingKey) -> None:
    _append(database, 2)
    _seal(database, store, key)
    with database.session() as s:
        verdict = verify_audit(s, store, None)
    assert [f.kind for f in verdict.findings] == ["checkpoint"] and "--public-key" in verdict.findings[0].detail
