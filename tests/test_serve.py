"""The production server (``sijill.serve`` with gunicorn) spreads connections over its worker processes.

On one shared listening socket whichever worker woke first accepted a burst of new connections, so a client's
keep-alive connections could all land on one worker while the other idled (docs/PERFORMANCE.md, the verification
page). Each worker now listens on its own ``SO_REUSEPORT`` socket and the kernel spreads connections over them.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from sijill.serve import serve
from tests.local_servers import free_port


def _app() -> Flask:
    app = Flask("serve-test")
    app.add_url_rule("/pid", "pid", lambda: str(os.getpid()))
    return app


def _serve(port: int) -> None:
    serve(_app, host="127.0.0.1", port=port, workers=2, threads=2)


def _pid_over_new_connection(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/pid")
        response = connection.getresponse()
        assert response.status == 200
        return int(response.read())
    finally:
        connection.close()


@pytest.fixture
def server() -> Iterator[int]:
    port = free_port()
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(port,))
    process.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            _pid_over_new_connection(port)
            break
        except OSError:
            if time.monotonic() > deadline or not process.is_alive():
                process.kill()
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)
    yield port
    assert process.pid is not None
    os.kill(process.pid, signal.SIGTERM)
    process.join(30)


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[len("socket:["):-1])
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_each_worker_listens_on_its_own_socket_and_both_answer(server: int) -> None:
    pids: set[int] = set()
    deadline = time.monotonic() + 30  # the second worker may still be booting when the first answers
    while len(pids) < 2 and time.monotonic() < deadline:
        pids.update(_pid_over_new_connection(server) for _ in range(20))  # the kernel picks a socket per connection
    assert len(pids) == 2, f"every connection went to one worker: {pids}"
    listening = _listening_inodes(server)
    own = {pid: _socket_inodes(pid) & listening for pid in pids}
    assert all(len(sockets) == 1 for sockets in own.values()), own
    first, second = own.values()
    assert first != second, "the workers share one listening socket"
