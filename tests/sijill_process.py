"""Running the real `sijill` command from tests: one-shot commands and `sijill run` on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.local_servers import free_port


def sijill_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its SIJILL_* variables, plus a data directory and ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJILL_")}
    env.update({"SIJILL_DATA_DIR": str(data_dir), "SIJILL_ENV": "test"})
    env.update({f"SIJILL_{k.upper()}": v for k, v in settings.items()})
    return env


def run_sijill(env: dict[str, str], *args: str, stdin: str | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sijill", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout, check=False)


@contextmanager
def serving(env: dict[str, str], *args: str, log: Path | None = None) -> Iterator[str]:
    """`sijill run ARGS` on a free port until the block ends (SIGTERM to its process group); yields the base URL
    once `/healthz` answers."""
    port = free_port()
    sink = log.open("wb") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "sijill", "run", "--port", str(port), *args], env=env,
                            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    detail = log.read_text(errors="replace")[-3000:] if log is not None else ""
                    raise AssertionError(f"sijill run did not come up\n{detail}") from None
                time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log is not None and not isinstance(sink, int):
            sink.close()
