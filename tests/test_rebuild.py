"""The archive describes every record by itself: wipe the database, rebuild from the archive, find everything again.

Applications in every state (received, returned, rejected, under review, issued, revoked) are archived as
manifests; the database is dropped and migrated empty; ``rebuild`` restores it; every row, the audit chain, the
permits and their verification answers are as before. On SQLite with the local store and on PostgreSQL with the
real S3 server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from archive.audit import verify_chain
from archive.db import Database
from archive.manifest import (
    APPLICATION_PREFIX,
    NOT_ARCHIVED,
    find_manifest_name,
    read_manifest,
    write_due_manifests,
    write_manifests_of,
)
from archive.migrate import upgrade
from archive.models import Application, Base
from archive.rebuild import RebuildRefused, rebuild
from archive.store import open_store
from archive_search.indexing import reindex
from intake.tracking import advance_counters, allocate, parse_tracking
from search.embedded import EmbeddedEngine
from search.model import Filters, Query
from signing.signers import open_signer
from sijill.settings import Settings
from tests import clock
from tests.test_routing import (
    BASE_URL,
    TOKEN,
    World,
    credential,
    demo_pki,  # noqa: F401 - fixture
    register_demo_certificates,
    world,  # noqa: F401 - fixture
)
from workflow.routing import decide, prepare_permit, revoke_permit, sign_step


@pytest.fixture
def archive_world(world: World, database_url: str, request: pytest.FixtureRequest) -> Iterator[World]:  # noqa: F811
    """The routing world, with its objects on the real S3 server when the database is PostgreSQL."""
    world.store_url = world.store.url  # type: ignore[attr-defined]
    if database_url.startswith("postgresql"):
        world.store_url = request.getfixturevalue("s3_store_url")  # type: ignore[attr-defined]
        world.store = open_store(world.store_url)  # type: ignore[attr-defined]
    yield world


def snapshot(database: Database) -> dict[str, list[dict[str, Any]]]:
    """Every archived table's rows in primary-key order, as JSON-comparable values."""
    from archive.manifest import _dump_value

    out: dict[str, list[dict[str, Any]]] = {}
    with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_ARCHIVED:
                continue
            rows = conn.execute(table.select().order_by(*table.primary_key.columns)).mappings()
            out[table.name] = [{c.name: _dump_value(c, row[c.name]) for c in table.columns
                                if c.name != "manifest_at"} for row in rows]
    return out


def audit_rows(database: Database) -> list[tuple[int, str, str]]:
    with database.engine.connect() as conn:
        return [(r.seq, r.action, r.hash) for r in conn.execute(text("SELECT seq, action, hash FROM audit_events "
                                                                      "ORDER BY seq"))]


def wipe(database: Database) -> None:
    Base.metadata.drop_all(database.engine)
    with database.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    database.engine.dispose()
    upgrade(database.url)


def verification(app: Flask, number: str, token: str) -> dict[str, Any]:
    response = app.test_client().get(f"/api/v1/verify/{number}/{token}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    body.pop("checked_at", None)
    return body


def test_rebuild_brings_every_record_back(
    archive_world: World, demo_pki: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    tmp_path: Path,
) -> None:
    w = archive_world
    tokens = iter([TOKEN, TOKEN + "-second"])
    monkeypatch.setattr("workflow.routing.new_verification_token", lambda: next(tokens))
    register_demo_certificates(w, demo_pki)
    db = w.database
    numbers: dict[str, str] = {}
    with db.session() as s:
        numbers["received"] = w.register(s).tracking_number
        returned = w.register(s)
        decide(s, returned, w.user(s, "reviewer"), "return", reason="ينقص عقد الملكية", now=clock.NOW)
        numbers["returned"] = returned.tracking_number
        rejected = w.register(s)
        decide(s, rejected, w.user(s, "reviewer"), "reject", reason="مخالف للاشتراطات", now=clock.NOW)
        numbers["rejected"] = rejected.tracking_number
        review = w.register(s)
        decide(s, review, w.user(s, "reviewer"), "recommend", now=clock.NOW)
        numbers["awaiting"] = review.tracking_number
    permits: dict[str, str] = {}
    for label in ("issued", "revoked"):
        with db.session() as s:
            app = w.register(s)
            decide(s, app, w.user(s, "reviewer"), "recommend", now=clock.NOW)
            permit = prepare_permit(s, w.store, app, base_url=BASE_URL, now=clock.NOW)
            numbers[label], permits[label] = app.tracking_number, permit.permit_number
        for signer_name in ("head.eng", "council.head"):
            with db.session() as s, open_signer(credential(demo_pki, signer_name)) as signer:
                app = s.get(Application, s.query(Application.id).filter_by(tracking_number=numbers[label]).scalar())
                assert app is not None
                sign_step(s, w.store, app, w.user(s, signer_name), signer, now=clock.NOW, revocation="off")
    with db.session() as s:
        from archive.models import Permit

        revoked = s.query(Permit).filter_by(permit_number=permits["revoked"]).one()
        revoke_permit(s, revoked, w.user(s, "admin"), reason="صدر بالخطأ", now=clock.NOW)

    with db.session() as s:
        run = write_due_manifests(s, w.store)
    assert run.applications == 6 and run.system and run.audit_events > 0
    with db.session() as s:  # nothing more is due until something changes
        assert write_due_manifests(s, w.store).applications == 0
    manifest = read_manifest(w.store, find_manifest_name(w.store, numbers["issued"]))
    assert {row["status"] for row in manifest["tables"]["permits"]} == {"issued"}
    assert len(manifest["tables"]["workflow_steps"]) == 3 and manifest["objects"]
    assert [e["action"] for e in manifest["audit"]][:2] == ["application.register", "application.open"]

    from web import create_app

    app_settings = settings.with_overrides(database_url=db.url, storage_url=w.store_url)  # type: ignore[attr-defined]
    before_rows, before_audit = snapshot(db), audit_rows(db)
    before_verify = {label: verification(create_app(app_settings, db), permits[label], token)
                     for label, token in (("issued", TOKEN), ("revoked", TOKEN + "-second"))}
    assert before_verify["issued"]["status"] == "valid" and before_verify["revoked"]["status"] == "revoked"

    index_path = tmp_path / "search.sqlite3"
    engine = EmbeddedEngine(index_path)
    engine.setup()
    with db.session() as s:
        reindex(s, engine)
    before_search = engine.search(Query(text="محمد", filters=Filters(status=("issued", "revoked", "returned"))))
    assert before_search.total == 3
    engine.close()

    wipe(db)
    for leftover in tmp_path.glob("search.sqlite3*"):  # the index is lost with the database
        leftover.unlink()
    with db.session() as s:
        report = rebuild(s, w.store)
        advance_counters(s)
    engine = EmbeddedEngine(index_path)
    engine.setup()
    with db.session() as s:
        assert reindex(s, engine) == 6
    after_search = engine.search(Query(text="محمد", filters=Filters(status=("issued", "revoked", "returned"))))
    engine.close()
    assert after_search.total == 3
    assert [h.tracking_number for h in after_search.hits] == [h.tracking_number for h in before_search.hits]
    assert after_search.facets == before_search.facets
    assert report.applications == 6 and report.chain_intact
    assert snapshot(db) == before_rows
    after_audit = audit_rows(db)
    assert after_audit[:-1] == before_audit and after_audit[-1][1] == "archive.rebuild"
    with db.session() as s:
        assert verify_chain(s).intact
    for label, token in (("issued", TOKEN), ("revoked", TOKEN + "-second")):
        assert verification(create_app(app_settings, db), permits[label], token) == before_verify[label]

    # a rebuilt database hands out the next tracking number, never a used one, and ids keep counting up
    with db.session() as s:
        centre = s.query(Application).first().centre  # type: ignore[union-attr]
        fresh = parse_tracking(allocate(s, centre, clock.NOW.year))
        assert fresh is not None and fresh.sequence == 7
        s.rollback()
    with db.session() as s:
        assert w.register(s).id == 7

    with db.session() as s, pytest.raises(RebuildRefused):
        rebuild(s, w.store)


def test_every_change_writes_a_new_manifest_version(world: World) -> None:  # noqa: F811
    db = world.database
    with db.session() as s:
        number = world.register(s).tracking_number
    with db.session() as s:
        write_due_manifests(s, world.store)
    with db.session() as s:
        app = s.query(Application).filter_by(tracking_number=number).one()
        decide(s, app, world.user(s, "reviewer"), "return", reason="صورة البطاقة غير واضحة", now=clock.NOW)
    with db.session() as s:
        assert write_due_manifests(s, world.store).applications == 1
    versions = list(world.store.list_named(f"{APPLICATION_PREFIX}{number}/"))
    assert len(versions) == 2 and versions == sorted(versions)
    old, new = (json.loads(world.store.get_named(v)) for v in versions)
    assert old["tables"]["applications"][0]["status"] == "received"
    assert new["tables"]["applications"][0]["status"] == "returned"


def test_a_committed_change_is_archived_by_its_own_task_not_the_next_beat_run(
    world: World, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from types import SimpleNamespace

    from archive_search.indexing import watch
    from worker import tasks

    changed: list[set[int]] = []
    watch(world.database.sessions, changed.append)  # the hook the web app and workers install (they send the task)
    with world.database.session() as s:
        first, second = world.register(s), world.register(s)
        ids, number = [first.id, second.id], first.tracking_number
    assert set(ids) <= set().union(*changed)

    monkeypatch.setattr("worker.tasks.worker_runtime", lambda: SimpleNamespace(database=world.database,
                                                                               store=world.store))
    assert tasks.write_application_manifests.run(ids) == {"applications": 2}
    assert len(list(world.store.list_named(f"{APPLICATION_PREFIX}{number}/"))) == 1
    assert tasks.write_application_manifests.run(ids) == {"applications": 0}  # idempotent: nothing is due
    with world.database.session() as s:
        app = s.get(Application, ids[0])
        decide(s, app, world.user(s, "reviewer"), "return", reason="صورة البطاقة غير واضحة", now=clock.NOW)
    with world.database.session() as s:
        assert write_manifests_of(s, world.store, [ids[0], 999_999]) == 1  # only the changed one; unknown ids pass
        assert write_due_manifests(s, world.store).applications == 0  # nothing left for the beat job
    assert len(list(world.store.list_named(f"{APPLICATION_PREFIX}{number}/"))) == 2


def test_a_damaged_manifest_is_refused_by_its_hash(world: World, tmp_path: Path) -> None:  # noqa: F811
    with world.database.session() as s:
        number = world.register(s).tracking_number
        s.commit()
        write_due_manifests(s, world.store)
    name = find_manifest_name(world.store, number)
    path = Path(world.store.url.removeprefix("file://")) / "named" / name
    path.write_bytes(path.read_bytes().replace(b"received", b"approved"))
    from archive.store import IntegrityError

    with pytest.raises(IntegrityError):
        read_manifest(world.store, name)


@pytest.mark.slow
def test_the_commands_write_manifests_and_rebuild_a_lost_database(tmp_path: Path) -> None:
    from tests.sijill_process import run_sijill, sijill_env

    env = sijill_env(tmp_path / "data")
    assert run_sijill(env, "db", "upgrade").returncode == 0
    made = run_sijill(env, "users", "create", "mona", "-r", "clerk", "--password-stdin", stdin="a long password!\n")
    assert made.returncode == 0, made.stderr
    written = run_sijill(env, "manifests")
    assert written.returncode == 0, written.stderr
    (tmp_path / "data" / "sijill.sqlite3").unlink()  # the database is lost; the archive is not
    assert run_sijill(env, "db", "upgrade").returncode == 0
    assert run_sijill(env, "users", "token", "mona").returncode != 0  # gone
    rebuilt = run_sijill(env, "rebuild", "--yes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "audit chain intact" in rebuilt.stdout
    assert run_sijill(env, "users", "token", "mona").returncode == 0
    assert run_sijill(env, "audit", "verify").returncode == 0
    again = run_sijill(env, "rebuild", "--yes")
    assert again.returncode != 0 and "not empty" in again.stderr
