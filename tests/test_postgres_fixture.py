"""The PostgreSQL fixtures give each test a working, empty database and clean it up afterwards."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

from tests.fixtures.postgres import DATABASE_PREFIX, create_database, drop_database

pytestmark = pytest.mark.postgres


def _database_exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return bool(row and row[0])


def test_fresh_database_is_empty_and_writable(fresh_postgres_database: str) -> None:
    assert urlsplit(fresh_postgres_database).path.lstrip("/").startswith(DATABASE_PREFIX)
    with psycopg.connect(fresh_postgres_database, connect_timeout=5) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('سِجِلّ')")
        assert conn.execute("SELECT v FROM t").fetchone() == ("سِجِلّ",)


def test_drop_database_removes_it_even_with_open_connections(postgres_server_url: str) -> None:
    url = create_database(postgres_server_url)
    name = urlsplit(url).path.lstrip("/")
    assert _database_exists(postgres_server_url, name)
    leaked = psycopg.connect(url, connect_timeout=5)  # e.g. a pool a test forgot to dispose
    try:
        drop_database(postgres_server_url, url)
    finally:
        leaked.close()
    assert not _database_exists(postgres_server_url, name)
