"""Validate untrusted PDFs in a small pool of worker processes, each check with a hard deadline.

The public copy check (:mod:`web.verify`) hands whatever a stranger uploads to pyHanko. Parsing a hostile PDF can
cost seconds of CPU (a thousand incremental revisions make the difference analysis quadratic), and in the web
process that CPU would be taken, under the GIL, from the threads that serve the staff. So the validation runs here:

* in :data:`WORKERS` separate processes (``spawn``, so nothing of the threaded web server is inherited), fewer than the
  machine's cores, so the public can never take them all;
* with a deadline per check (:func:`validate_untrusted`): the worker arms a timer for the time left when it picks the
  check up and gives up at that moment; a check that waited in the queue past its deadline is not started at all
  ("busy"); a worker still stuck :data:`STUCK_AFTER_S` after its deadline (in C code) is killed and the pool restarted
  in the background, checks meanwhile being answered "busy";
* with at most :data:`QUEUE_PER_WORKER` checks waiting per worker: beyond that, the answer is "busy" at once;
* with the worker's address space capped (:data:`MEMORY_LIMIT_BYTES`) against decompression bombs;
* and with pyHanko's own log records stripped of tracebacks: a broken upload is an everyday event, not an error.

The result is the :class:`~signing.validate.ValidationReport`, or a :class:`Refused` saying why there is none
(``timeout`` or ``busy``). :func:`check_untrusted` also gives the copy's own revision history (each signature and what
changed after it, :mod:`signing.revisions`, for the revision viewer) computed in the same worker under the same
deadline, after the validation: when the time runs out during it, the report stands and the history is left out.
Trusted inputs (the archived permit) do not need this and are validated in place.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any, Literal

from asn1crypto import x509 as asn1_x509

from signing.quiet_logs import quiet_pyhanko
from signing.revisions import RevisionHistory, revision_history
from signing.validate import ValidationReport, validate_pdf

__all__ = [
    "QUEUE_PER_WORKER",
    "WORKERS",
    "Checked",
    "Refused",
    "check_untrusted",
    "shutdown",
    "validate_untrusted",
    "warm_up",
]

log = logging.getLogger(__name__)

WORKERS = 1
"""One process: on the two-core machines of a centre, one core always stays with the staff."""
QUEUE_PER_WORKER = 3
GRACE_S = 0.4
"""How long past its deadline a worker may take to notice it before it is killed."""
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
WARM_UP_TIMEOUT_S = 120.0
FIRST_START_WAIT_S = 60.0
"""A check arriving before the process's pool ever started waits this long for it (a fresh server, a test)."""
STUCK_AFTER_S = 5.0


@dataclass(frozen=True)
class Refused:
    """No report: the check ran out of time (``timeout``), or too many were waiting (``busy``)."""

    reason: Literal["timeout", "busy"]


@dataclass(frozen=True)
class Checked:
    """The validation report of an untrusted file and, time permitting, its revision history."""

    report: ValidationReport
    history: RevisionHistory | None
    """None when the deadline came before the history was done (the report is whole regardless)."""


class _TimeUp(BaseException):
    """Raised in the worker by the deadline's timer; a BaseException so no ``except Exception`` swallows it."""


# --- in the worker process -----------------------------------------------------------------------------------------


class _NoTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def _die_with_parent(every_s: float = 1.0) -> None:
    """Exit when the process that started this worker is gone (killed, crashed): an idle ProcessPoolExecutor worker
    does not notice, and an orphan would live on, holding memory and the dead server's inherited pipes. (Linux's
    PR_SET_PDEATHSIG would fire when the *thread* that started the worker ends, which here is a short-lived one.)"""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="sijill-parent-watch", daemon=True).start()


def _init_worker() -> None:
    _die_with_parent()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not Linux, or a lower hard limit
        pass
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoTracebacks())
    for name in ("pyhanko", "pyhanko_certvalidator", "signing.validate", "signing.revisions"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _TimeUp


def _run(data: bytes, roots_der: list[bytes], deadline: float, at: datetime | None,
         with_history: bool = False) -> ValidationReport | Checked | Refused:
    left = deadline - time.time()
    if left <= 0.05:  # waited in the queue until its time was up: not this file's fault
        return Refused("busy")
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        # what pyHanko says about a hostile file: one line naming it (its hash), on this process's stderr
        name = f"untrusted PDF {hashlib.sha256(data).hexdigest()[:12]} ({len(data)} bytes)"
        with quiet_pyhanko(name, log):
            report = validate_pdf(data, trust_roots=roots_der, allow_fetching=False, at=at)
        if not with_history:
            return report
        try:
            with quiet_pyhanko(f"{name}: revisions", log):
                history: RevisionHistory | None = revision_history(data)
        except _TimeUp:  # the report is done; only the history ran out of time
            history = None
        except MemoryError:
            history = None
        return Checked(report, history)
    except _TimeUp:
        return Refused("timeout")
    except MemoryError:
        return Refused("timeout")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _ping(_index: int = 0) -> int:
    return os.getpid()


# --- in the web process ----------------------------------------------------------------------------------------------


class _Pool:
    """The worker processes. Starting them (a ``spawn`` and pyHanko's imports, seconds on a busy machine) happens in a
    background thread, never on a request: a check that finds the pool (re)starting is answered "busy" at once,
    except for the very first start of the process, which a check may wait for (:data:`FIRST_START_WAIT_S`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: cf.ProcessPoolExecutor | None = None
        self._starting = False
        self._started_once = threading.Event()
        self._slots = threading.BoundedSemaphore(WORKERS * (1 + QUEUE_PER_WORKER))

    def _start(self) -> None:
        try:
            executor = cf.ProcessPoolExecutor(
                max_workers=WORKERS, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                max_tasks_per_child=200,
            )
            list(executor.map(_ping, range(WORKERS), timeout=WARM_UP_TIMEOUT_S))  # the imports happen now
        except Exception as exc:
            log.error("the validation worker pool did not start: %r", exc)
            with self._lock:
                self._starting = False
            return
        with self._lock:
            self._executor, self._starting = executor, False
        self._started_once.set()

    def start(self) -> None:
        """Start the workers in the background unless they run or are starting."""
        with self._lock:
            if self._executor is not None or self._starting:
                return
            self._starting = True
        threading.Thread(target=self._start, name="sijill-validation-pool", daemon=True).start()

    def ready(self, wait_s: float = 0.0) -> cf.ProcessPoolExecutor | None:
        self.start()
        if wait_s > 0 and not self._started_once.is_set():
            self._started_once.wait(wait_s)
        with self._lock:
            return self._executor

    def replace(self, broken: cf.ProcessPoolExecutor) -> None:
        """Kill a pool whose worker overran its deadline (stuck in C code) and start afresh in the background."""
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = None
        for process in list(getattr(broken, "_processes", {}).values()):
            try:
                process.kill()
            except Exception as exc:  # already gone
                log.debug("worker %s already gone: %r", process.pid, exc)
        broken.shutdown(wait=False, cancel_futures=True)
        self.start()

    def _watch(self, executor: cf.ProcessPoolExecutor, future: cf.Future[Any]) -> None:
        """A check answered "timeout" but still running: give its worker :data:`STUCK_AFTER_S` to notice its timer,
        then kill the pool (the worker is deaf to it, stuck in C code)."""
        def check() -> None:
            if not future.done():
                log.warning("a copy check overran its deadline by %.0f s; restarting the validation worker",
                            STUCK_AFTER_S)
                self.replace(executor)

        timer = threading.Timer(STUCK_AFTER_S, check)
        timer.daemon = True
        timer.start()

    def submit(self, data: bytes, roots_der: list[bytes], time_limit_s: float, at: datetime | None,
               with_history: bool = False) -> ValidationReport | Checked | Refused:
        if not self._slots.acquire(blocking=False):
            return Refused("busy")
        try:
            executor = self.ready(FIRST_START_WAIT_S)
            if executor is None:
                return Refused("busy")
            deadline = time.time() + time_limit_s
            try:
                future = executor.submit(_run, data, roots_der, deadline, at, with_history)
            except (cf.BrokenExecutor, RuntimeError):
                self.replace(executor)
                return Refused("busy")
            try:
                return future.result(timeout=time_limit_s + GRACE_S)
            except cf.TimeoutError:
                if not future.cancel():
                    self._watch(executor, future)
                return Refused("timeout")
            except cf.BrokenExecutor:
                self.replace(executor)
                return Refused("timeout")
        finally:
            self._slots.release()

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_POOL = _Pool()
atexit.register(_POOL.shutdown)


def validate_untrusted(
    data: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    time_limit_s: float,
    at: datetime | None = None,
) -> ValidationReport | Refused:
    """:func:`signing.validate.validate_pdf` of ``data`` in the worker pool, answered within ``time_limit_s`` (plus
    :data:`GRACE_S` at worst), never fetching from the network."""
    roots_der = [root.dump() for root in trust_roots]
    result = _POOL.submit(bytes(data), roots_der, time_limit_s, at)
    return result.report if isinstance(result, Checked) else result


def check_untrusted(
    data: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    *,
    time_limit_s: float,
    at: datetime | None = None,
) -> Checked | Refused:
    """Like :func:`validate_untrusted`, with the file's revision history when it fits in the same deadline."""
    roots_der = [root.dump() for root in trust_roots]
    result = _POOL.submit(bytes(data), roots_der, time_limit_s, at, with_history=True)
    return Checked(result, None) if isinstance(result, ValidationReport) else result


def warm_up(wait_s: float = 0.0) -> bool:
    """Start the worker processes in the background (a server at start-up), waiting up to ``wait_s`` for them;
    whether they are ready."""
    return _POOL.ready(wait_s) is not None


def shutdown() -> None:
    _POOL.shutdown()
