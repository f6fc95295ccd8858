"""Dispatch from the web app and workers: a burst of changes leaves a short queue (one message per window), on the
real embedded broker."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from pathlib import Path

from sijill.settings import Settings
from worker.dispatch import _Coalescer


def _queued(settings: Settings) -> list[tuple[str, list[int]]]:
    path = Path(settings.broker_url.removeprefix("sqla+sqlite:///"))
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT payload FROM kombu_message ORDER BY id").fetchall()
    out = []
    for (payload,) in rows:
        message = json.loads(payload)
        body = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], body[0][0]))
    return out


def test_a_burst_of_changes_is_sent_as_one_manifest_and_one_index_task(settings: Settings) -> None:
    coalescer = _Coalescer(settings, window=0.3)
    threads = [threading.Thread(target=coalescer.add, args=([i % 40, (i * 7) % 40],)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    coalescer.flush()  # what the timer does after the window (here at once)
    queued = _queued(settings)
    assert sorted(task for task, _ in queued) == ["archive.manifest", "search.index"]
    assert all(ids == list(range(40)) for _, ids in queued)

    coalescer.add([41])
    coalescer.add([42])
    pause = threading.Event()
    for _ in range(50):  # the timer sends the next window by itself
        if len(_queued(settings)) == 4:
            break
        pause.wait(0.1)
    assert [ids for _, ids in _queued(settings)[2:]] == [[41, 42], [41, 42]]
