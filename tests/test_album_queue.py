"""Asking the worker for a missing revision album: once per revision per window across web processes, never failing
the page (:mod:`web.verify.album_queue`).

Two Flask apps stand for two web processes: each has its own limiter (as :func:`web.ratelimit.install` makes it) on
the same Redis, as in production. Without a reachable storage each process decides alone.
"""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace
from typing import Any, cast

import pytest
from flask import Flask

import web.verify.album_queue as album_queue
import worker.dispatch
from sijill.settings import Settings
from web.ratelimit import install


def web_process(storage_url: str) -> Flask:
    app = Flask(f"web-{uuid.uuid4().hex[:6]}")
    install(app, cast(Settings, SimpleNamespace(ratelimit_storage_url=storage_url)), [])
    return app


def revision() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits, fresh per test (the Redis database is shared)


def test_only_the_first_ask_in_the_window_goes_out_whatever_the_process(redis_url: str) -> None:
    one, two = web_process(redis_url), web_process(redis_url)
    first, second = revision(), revision()
    with one.app_context():
        assert album_queue.first_in_window(first) is True
        assert album_queue.first_in_window(first) is False
    with two.app_context():
        assert album_queue.first_in_window(first) is False  # another process: already asked
        assert album_queue.first_in_window(second) is True  # another revision: its own window
    with one.app_context():
        assert album_queue.first_in_window(second) is False


def test_an_unreachable_storage_leaves_each_process_to_ask_once(caplog: pytest.LogCaptureFixture) -> None:
    app = web_process("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    sha = revision()
    with app.app_context(), caplog.at_level(logging.WARNING, logger=album_queue.__name__):
        assert album_queue.first_in_window(sha) is True
        assert album_queue.first_in_window(sha) is False
    assert caplog.records and all(r.exc_info is None for r in caplog.records)
    assert sha[:12] in caplog.records[0].getMessage()


def test_a_broker_that_is_down_costs_only_the_ask(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    sent: list[str] = []

    def down(_settings: Any, sha: str) -> None:
        sent.append(sha)
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(worker.dispatch, "enqueue_revision_album", down)
    monkeypatch.setattr(album_queue, "runtime", lambda: SimpleNamespace(settings=None))
    app = web_process("memory://")
    sha = revision()
    with app.app_context(), caplog.at_level(logging.WARNING, logger=album_queue.__name__):
        assert album_queue.ask_for_album(sha) is False  # not queued, and no exception for the page
        assert album_queue.ask_for_album(sha) is False  # within the window: not even tried
    assert sent == [sha]
    lines = [r for r in caplog.records if sha[:12] in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None and "ConnectionError" in lines[0].getMessage()
