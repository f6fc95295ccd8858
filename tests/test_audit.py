"""The audit chain on SQLite and PostgreSQL: appends, concurrent appenders, and every kind of tampering named."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from archive.audit import record_event, trail_for, verify_chain
from archive.db import Database
from archive.models import AppendOnlyViolation, AuditEvent


def _append(database: Database, n: int, subject: str = "application:A-1") -> None:
    for i in range(n):
        with database.session() as s:
            record_event(s, actor="mona", action="page.view", subject=subject, details={"page": i, "نص": "عربي"})


def test_an_untouched_chain_verifies(database: Database) -> None:
    _append(database, 5)
    with database.session() as s:
        report = verify_chain(s)
        assert report.intact, report.breaks
        assert report.events == 5 and report.head_seq == 5
        seqs = [e.seq for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert seqs == [1, 2, 3, 4, 5]
        assert [e.details["page"] for e in trail_for(s, "application:A-1")] == [0, 1, 2, 3, 4]


def test_a_rolled_back_change_leaves_no_event(database: Database) -> None:
    _append(database, 1)
    with pytest.raises(RuntimeError), database.session() as s:
        record_event(s, actor="mona", action="decision", subject="application:A-1")
        raise RuntimeError("the change failed")
    _append(database, 1)
    with database.session() as s:
        report = verify_chain(s)
        assert report.intact and report.events == 2


def test_the_orm_refuses_to_change_or_delete_an_event(database: Database) -> None:
    _append(database, 1)
    with pytest.raises(AppendOnlyViolation), database.session() as s:
        event = s.scalars(select(AuditEvent)).one()
        event.actor = "someone-else"
        s.flush()


def test_concurrent_appenders_do_not_fork_the_chain(database: Database) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                with database.session() as s:
                    record_event(s, actor=name, action="page.view", subject=f"application:{name}", details={"i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with database.session() as s:
        report = verify_chain(s)
        assert report.intact, report.breaks
        assert report.events == 60


def _break_reasons(database: Database) -> list[tuple[int, str]]:
    with database.session() as s:
        return [(b.seq, b.reason) for b in verify_chain(s).breaks]


def test_an_edited_event_is_named(database: Database) -> None:
    _append(database, 6)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'intruder' WHERE seq = 3"))
    assert _break_reasons(database) == [(3, "its content does not match its hash (edited)")]


def test_an_edit_that_recomputes_the_hash_breaks_the_next_link(database: Database) -> None:
    _append(database, 6)
    with database.session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.seq == 4)).one()
        from archive.audit import event_hash

        forged = event_hash(seq=4, at=ev.at, actor="intruder", action=ev.action, subject=ev.subject,
                            details=ev.details, prev_hash=ev.prev_hash)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'intruder', hash = :h WHERE seq = 4"), {"h": forged})
    breaks = _break_reasons(database)
    assert [seq for seq, _ in breaks] == [5]
    assert "does not link" in breaks[0][1]


def test_a_deleted_event_is_named(database: Database) -> None:
    _append(database, 6)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    breaks = _break_reasons(database)
    assert breaks[0] == (2, "events 2 are missing (deleted)")
    assert breaks[1][0] == 3 and "does not link" in breaks[1][1]


def test_events_deleted_at_the_end_are_noticed(database: Database) -> None:
    _append(database, 6)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= 5"))
    breaks = _break_reasons(database)
    assert len(breaks) == 1 and breaks[0][0] == 5 and "deleted at the end" in breaks[0][1]


def test_an_inserted_event_is_named(database: Database) -> None:
    _append(database, 4)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3"))
        conn.execute(text("UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103"))
        row = conn.execute(text("SELECT at, details, hash FROM audit_events WHERE seq = 2")).one()
        conn.execute(
            text("INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash) "
                 "VALUES (3, :at, 'intruder', 'decision', 'application:A-1', :details, :prev, :h)"),
            {"at": row.at, "details": '{}', "prev": row.hash, "h": "f" * 64},
        )
        conn.execute(text("UPDATE audit_head SET seq = 5"))
    breaks = _break_reasons(database)
    assert breaks[0][0] == 3
