"""The copy check's worker processes (:mod:`signing.bounded`) die with the server that started them.

A server killed outright (SIGKILL, the OOM killer, a crash) cannot shut its pool down; an idle ProcessPoolExecutor
worker would not notice and would live on. Here a real child process starts the pool as the web server does, is
killed with SIGKILL, and every worker must be gone within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = """
import os, sys
from signing import bounded
assert bounded.warm_up(wait_s=120), "the pool did not start"
executor = bounded._POOL.ready()
print(" ".join(str(pid) for pid in executor._processes), flush=True)
sys.stdin.read()  # stay up until killed
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is as good as gone
        return stat.read().split(") ")[-1][0] != "Z"


def test_the_workers_exit_when_the_server_is_killed() -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert server.stdout is not None
        workers = [int(pid) for pid in server.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "validation workers outlived the killed server"
