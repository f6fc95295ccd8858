"""What every test that starts a real server needs: free loopback ports and a child that dies with pytest."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (sockets held open together so the kernel cannot hand one out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def die_with_parent() -> None:
    """Runs in the child before exec: on Linux, have the kernel SIGKILL the server if pytest itself dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def start_logged(command: list[str], workdir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, output to ``log_path``, killed by the kernel if pytest dies."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # safe here: no other threads run at session start-up
        )
