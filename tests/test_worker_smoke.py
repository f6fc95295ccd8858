"""Real worker processes on the embedded (``sqla+sqlite``) broker and on Redis.

Workers run as ``python -m celery -A worker.celery_app worker`` subprocesses built by :mod:`worker.run`,
exactly as ``sijill worker`` starts them; the test process only enqueues and waits for results. Each test uses
its own queue, so workers of other tests (or leftovers in the shared Redis database) cannot take its work.

The workers also import this module (``--include``) for ``slow_mark``, a task that records each start and
finish with the process id in a file, so a test can kill the process mid-task and then count how often the
task really completed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery, Task, shared_task

from sijill.settings import Settings
from worker.celery_app import create_celery
from worker.health import BrokerUnavailable, check_broker
from worker.run import settings_environ, worker_argv
from worker.tasks import ping

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULT_TIMEOUT_S = 30.0
#: Seconds before Redis hands an unacknowledged message to another worker (one hour in production).
TEST_VISIBILITY_TIMEOUT_S = 4


@shared_task(name="tests.worker_smoke.slow_mark", bind=True)
def slow_mark(self: Task, path: str, seconds: float) -> int:
    """Test-only: append ``start <pid>``, sleep, append ``done <pid>`` (one line each, appends are atomic)."""
    with open(path, "a") as fh:
        fh.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write(f"done {os.getpid()}\n")
    return os.getpid()


@dataclass
class WorkerProcess:
    """A worker subprocess in its own process group, with its output in a log file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def kill(self) -> None:
        """SIGKILL the whole group (main process and pool children): a crash, nothing is cleaned up."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


def stop_workers(workers: list[WorkerProcess], grace_s: float = 10.0) -> None:
    """Warm shutdown for all at once (SIGTERM to each main process only, so pool children finish cleanly),
    then SIGKILL each process group, which also removes stragglers."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        w.kill()


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[StartWorker]:
    """Factory: ``start_worker(settings, queue, pool=..., name=...)`` starts a worker stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start(settings: Settings, queue: str, *, pool: str = "solo", name: str = "w") -> WorkerProcess:
        argv = worker_argv(settings, 1, "info", [queue], pool=pool, hostname=f"{name}-{queue}@%h")
        argv.append("--include=tests.test_worker_smoke")
        log = tmp_path / f"worker-{name}-{len(workers)}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                argv,
                env=settings_environ(settings),
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(proc, log)
        workers.append(worker)
        return worker

    yield start
    stop_workers(workers)


def _settings(tmp_path: Path, broker_url: str | None) -> Settings:
    env = {
        "SIJILL_DATA_DIR": str(tmp_path / "data"),
        "SIJILL_ENV": "test",
        "SIJILL_VISIBILITY_TIMEOUT": str(TEST_VISIBILITY_TIMEOUT_S),
    }
    if broker_url:
        env["SIJILL_BROKER_URL"] = broker_url
    return Settings.from_env(env)


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    """The single-machine default: SQLite broker and result files in the data directory."""
    return _settings(tmp_path, None)


@pytest.fixture
def redis_settings(tmp_path: Path, redis_url: str) -> Settings:
    """Redis as broker and result backend, with a short visibility timeout."""
    return _settings(tmp_path, redis_url)


@pytest.fixture(params=["embedded", "redis"])
def broker_settings(request: pytest.FixtureRequest) -> Settings:
    settings: Settings = request.getfixturevalue(f"{request.param}_settings")
    return settings


@pytest.fixture
def app(broker_settings: Settings) -> Iterator[Celery]:
    """The enqueuing side, in the test process."""
    celery = create_celery(broker_settings)
    yield celery
    celery.close()


@pytest.fixture
def queue() -> str:
    return f"smoke-{uuid.uuid4().hex[:10]}"


def _wait_for(condition: Callable[[], bool], timeout: float, what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s; worker log:\n{worker.log_tail()}")
        time.sleep(0.05)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_ping_runs_on_a_real_worker(
    broker_settings: Settings, app: Celery, queue: str, start_worker: StartWorker
) -> None:
    worker = start_worker(broker_settings, queue, pool="prefork")

    try:
        by_name = app.send_task("worker.ping", queue=queue).get(timeout=RESULT_TIMEOUT_S)
        # The shared task object works too, through the app create_celery made the default.
        by_object = ping.apply_async(queue=queue).get(timeout=RESULT_TIMEOUT_S)
    except Exception:
        print(worker.log_tail())
        raise

    for result in (by_name, by_object):
        assert result["pong"] is True
        assert result["pid"] != os.getpid()
        assert result["worker"].startswith(f"w-{queue}@")


def test_check_broker_reaches_a_live_broker(broker_settings: Settings) -> None:
    detail = check_broker(broker_settings)
    assert "reachable" in detail


def test_check_broker_fails_fast_and_clearly_on_a_closed_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when we leave the block: nothing listens there
    settings = _settings(tmp_path, f"redis://:hunter2@127.0.0.1:{port}/0")

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        check_broker(settings, timeout=2.0)

    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "unreachable" in message
    assert "hunter2" not in message
    assert "\n" not in message


def test_task_whose_pool_process_dies_runs_again(
    redis_settings: Settings, queue: str, start_worker: StartWorker, tmp_path: Path
) -> None:
    """task_reject_on_worker_lost: the message of a task whose pool child was killed is requeued (not marked
    failed) and the replacement child completes it.

    Redis only: the embedded broker passes too, but its worker (no event loop) notices the lost child only
    after Celery's ``worker_lost_wait`` (10 s), which would double this file's run time.
    """
    app = create_celery(redis_settings)
    worker = start_worker(redis_settings, queue, pool="prefork")
    marks = tmp_path / "marks.txt"

    result = app.send_task("tests.worker_smoke.slow_mark", args=[str(marks), 1.5], queue=queue)
    _wait_for(lambda: len(_lines(marks)) >= 1, RESULT_TIMEOUT_S, "the task starting", worker)
    first_pid = int(_lines(marks)[0].split()[1])
    os.kill(first_pid, signal.SIGKILL)

    try:
        second_pid = result.get(timeout=RESULT_TIMEOUT_S)
    finally:
        app.close()
    assert second_pid != first_pid
    assert _lines(marks) == [f"start {first_pid}", f"start {second_pid}", f"done {second_pid}"]


def test_task_of_a_killed_worker_is_completed_once_by_another(
    redis_settings: Settings, redis_url: str, queue: str, start_worker: StartWorker, tmp_path: Path
) -> None:
    """task_acks_late on Redis: the whole worker dies mid-task (SIGKILL, no cleanup); after the visibility
    timeout a second worker gets the unacknowledged message and completes it, exactly once."""
    app = create_celery(redis_settings)
    marks = tmp_path / "marks.txt"
    first = start_worker(redis_settings, queue, name="first")

    # Shorter than the visibility timeout, or the second worker's own delivery would be restored again.
    result = app.send_task("tests.worker_smoke.slow_mark", args=[str(marks), 1.5], queue=queue)
    _wait_for(lambda: len(_lines(marks)) >= 1, RESULT_TIMEOUT_S, "the task starting", first)
    first.kill()
    assert _lines(marks) == [f"start {first.proc.pid}"]  # solo pool: the task ran in the main process

    second = start_worker(redis_settings, queue, name="second")
    try:
        second_pid = result.get(timeout=RESULT_TIMEOUT_S)
    except Exception:
        print(second.log_tail())
        raise
    assert second_pid == second.proc.pid
    assert _lines(marks) == [f"start {first.proc.pid}", f"start {second_pid}", f"done {second_pid}"]

    # Nothing left to run it a third time: the queue is empty and no unacknowledged copy remains.
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.llen(queue) == 0
        # The result is stored before the late acknowledgement, so on a busy machine the copy can still be in
        # "unacked" for a moment after result.get() returns: wait for the ack, do not race it.
        _wait_for(lambda: not [v for v in client.hvals("unacked") if result.id.encode() in v], RESULT_TIMEOUT_S,
                  "the second worker's acknowledgement", second)
    finally:
        client.close()
        app.close()
