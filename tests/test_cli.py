"""The `sijill` command as an operator runs it: real processes, real exit codes, one sentence on failure."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.sijill_process import run_sijill, serving, sijill_env


def sijill(tmp_path: Path, *args: str, stdin: str | None = None, timeout: float = 120,
           **settings: str) -> subprocess.CompletedProcess[str]:
    return run_sijill(sijill_env(tmp_path / "data", **settings), *args, stdin=stdin, timeout=timeout)


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sijill: ")
    return lines[0]


def test_malformed_database_url_is_one_sentence(tmp_path: Path) -> None:
    line = one_sentence(sijill(tmp_path, "run", database_url="mysql://x"))
    assert "SIJILL_DATABASE_URL must start with" in line


def test_unreachable_database_is_one_sentence(tmp_path: Path) -> None:
    line = one_sentence(sijill(tmp_path, "run", database_url="postgresql://u@127.0.0.1:1/db"))
    assert "cannot be used" in line


def test_schema_behind_is_one_sentence(tmp_path: Path) -> None:
    line = one_sentence(sijill(tmp_path, "run"))
    assert "sijill db upgrade" in line


def test_unreachable_storage_is_one_sentence(tmp_path: Path) -> None:
    assert sijill(tmp_path, "db", "upgrade").returncode == 0
    line = one_sentence(sijill(tmp_path, "run", storage_url="s3://key:secret@127.0.0.1:1/bucket"))
    assert "127.0.0.1:1" in line and "secret" not in line


def test_demo_users_and_tokens(tmp_path: Path) -> None:
    from archive.migrate import head_revision

    assert f"revision {head_revision()}" in sijill(tmp_path, "db", "upgrade").stdout
    first = sijill(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "demo.clerk" in first.stdout and "DEMO" in first.stdout
    creds = (tmp_path / "data" / "demo-credentials.txt").read_text()
    assert all(f"demo.{r}" in creds for r in ("clerk", "reviewer", "signer", "auditor", "monitor", "admin"))
    assert (tmp_path / "data" / "demo-pki").is_dir()
    second = sijill(tmp_path, "demo")
    assert second.returncode == 0 and "already exist" in second.stdout

    created = sijill(tmp_path, "users", "create", "new.clerk", "-r", "clerk", "--centre", "SOH-01",
                     "--password-stdin", stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    bad_role = sijill(tmp_path, "users", "create", "x.y", "-r", "wizard", "--password-stdin", stdin="a long password\n")
    assert "Unknown role 'wizard'" in one_sentence(bad_role)
    weak = sijill(tmp_path, "users", "create", "x.y", "-r", "clerk", "--password-stdin", stdin="short\n")
    assert "at least 10" in one_sentence(weak)
    token = sijill(tmp_path, "users", "token", "new.clerk")
    assert token.returncode == 0 and token.stdout.startswith("sjl_")


def test_catalogue_export_and_load(tmp_path: Path) -> None:
    assert sijill(tmp_path, "db", "upgrade").returncode == 0
    assert sijill(tmp_path, "demo").returncode == 0
    exported = sijill(tmp_path, "catalogue", "export")
    assert exported.returncode == 0 and "SHOP-LICENCE" in exported.stdout and "طلب ترخيص تشغيل محل" in exported.stdout
    edition = tmp_path / "catalogue.yaml"
    text = exported.stdout.replace("legal_days: 7", "legal_days: 9", 1)
    edition.write_text(text, encoding="utf-8")
    refused = one_sentence(sijill(tmp_path, "catalogue", "load", str(edition)))
    assert "new version" in refused
    version_line = next(line for line in text.splitlines() if line.startswith("version:"))
    edition.write_text(text.replace(version_line, "version: 2027.01-1"), encoding="utf-8")
    loaded = sijill(tmp_path, "catalogue", "load", str(edition))
    assert loaded.returncode == 0, loaded.stderr
    assert "0 added, 1 changed, 0 deactivated" in loaded.stdout


@pytest.mark.slow
def test_run_serves_arabic_login_and_green_health_with_a_worker(tmp_path: Path) -> None:
    """What `make run` does, minus the installs: upgrade, demo, then serve with a worker until SIGTERM."""
    assert sijill(tmp_path, "db", "upgrade").returncode == 0
    assert sijill(tmp_path, "demo").returncode == 0
    environ = sijill_env(tmp_path / "data")
    with serving(environ) as base:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            health = json.load(response)
        assert health["status"] == "ok", health
        with urllib.request.urlopen(base + "/login", timeout=5) as response:
            html = response.read().decode()
        assert 'dir="rtl"' in html and "تسجيل دخول الموظفين" in html
        # The worker started by `run` answers a task through the embedded broker.
        from sijill.settings import Settings
        from worker.celery_app import create_celery

        settings = Settings.from_env(environ)
        result = create_celery(settings).send_task("worker.ping")
        assert result.get(timeout=60)["pong"] is True


def test_reindex_rebuilds_the_search_index_with_a_progress_bar(tmp_path: Path) -> None:
    from archive.db import Database
    from search.model import Query
    from search.tantivy_engine import TantivyEngine
    from tests.test_indexing import make_application

    assert sijill(tmp_path, "db", "upgrade").returncode == 0
    database = Database(f"sqlite:///{tmp_path / 'data' / 'sijill.sqlite3'}")
    with database.session() as session:
        ids = [make_application(session, n).id for n in range(3)]
    database.dispose()
    done = sijill(tmp_path, "reindex")
    assert done.returncode == 0, done.stderr
    assert "3 applications indexed" in done.stdout
    assert "indexing" in done.stderr  # click's progress bar
    engine = TantivyEngine(tmp_path / "data" / "search-index")  # the default engine
    assert sorted(h.id for h in engine.search(Query(text="المحافظه")).hits) == sorted(ids)
    broken = sijill(tmp_path, "reindex", search_url="http://127.0.0.1:1")
    assert "Elasticsearch" in one_sentence(broken)


def test_sqlite_migrations_rebuild_tables_that_rows_reference(tmp_path: Path) -> None:
    """A batch migration on SQLite copies and drops a table (0020 does it to ``applications``); with rows that point at
    it and foreign keys enforced, the DROP failed and left ``_alembic_tmp_*`` tables behind, so an existing
    `make run` archive could not be upgraded at all."""
    from alembic import command
    from sqlalchemy import func, select

    from archive.db import Database
    from archive.migrate import alembic_config, upgrade
    from archive.models import Application, Document
    from tests.test_indexing import make_application

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        make_application(session, 1)  # an application with a document and a page that reference it
    command.downgrade(alembic_config(url), "0019_15_access_code")  # rebuilds applications, as the upgrade does
    upgrade(url)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 1
        assert session.scalar(select(func.count()).select_from(Document)) == 1
        assert session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # enforced again after
    db.dispose()
