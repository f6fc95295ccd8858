"""The search tasks run in this process (Celery's eager ``apply``) against a real database and embedded index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import worker.runtime
from archive.db import Database
from archive.models import Application
from search.model import Query
from tests.test_indexing import make_application
from worker.tasks import catch_up_index, index_applications_task


@pytest.fixture
def runtime_env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SIJILL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIJILL_ENV", "test")
    monkeypatch.setenv("SIJILL_DATABASE_URL", database.url)
    monkeypatch.setattr(worker.runtime, "_runtime", None)
    yield
    worker.runtime._runtime = None


def test_index_task_indexes_and_drops(database: Database, runtime_env: None) -> None:
    with database.session() as s:
        app_id = make_application(s, 1).id
    assert index_applications_task.apply(args=([app_id],)).get() == {"indexed": 1}
    engine = worker.runtime.worker_runtime().search
    assert [h.id for h in engine.search(Query(text="والمحافظه")).hits] == [app_id]
    with database.session() as s:
        app = s.get(Application, app_id)
        assert app is not None
        s.delete(app)  # documents and pages go with it (cascade)
    assert index_applications_task.apply(args=([app_id],)).get() == {"indexed": 0}
    assert engine.get(app_id) is None


def test_catch_up_task_indexes_what_a_lost_message_left_behind(database: Database, runtime_env: None) -> None:
    with database.session() as s:
        make_application(s, 1, created=datetime.now(UTC) - timedelta(hours=3))
        make_application(s, 2)
    assert catch_up_index.apply().get() == {"indexed": 2}
    with database.session() as s:
        ids = sorted(s.scalars(select(Application.id)))
    engine = worker.runtime.worker_runtime().search
    assert sorted(h.id for h in engine.search(Query(text="معاينة")).hits) == ids
    assert catch_up_index.apply().get() == {"indexed": 0}
