"""pyHanko's complaints about an altered or damaged PDF, as one log line that names the file, without tracebacks.

Reading a PDF changed after it was signed, pyHanko logs a warning *with the exception's traceback* for each failed
difference analysis, path building or xref repair: half a dozen stacks per file. On the public pages that file may be
anyone's upload or a tampered archived permit; a flood of them would bury the logs, and a traceback reads like a bug
of ours when it is the expected verdict on a bad file (the verdict itself is on the page). So while our code reads
such a file (:func:`quiet_pyhanko`, or :func:`capture_pyhanko` when the caller writes the line itself), the records of
the ``pyhanko`` and ``pyhanko_certvalidator`` loggers emitted in that context are diverted: counted, the first kept
as one line (its message and the exception's type and text), and written as a single warning naming the permit or
upload. Other threads and other code are untouched (the diversion follows the context, a
:class:`~contextvars.ContextVar`, which pyHanko's asyncio tasks inherit).

A filter on a logger does not see its children's records, and pyHanko's loggers are created as its modules are
imported (some lazily, during a validation); so the filter is added to every pyHanko logger that exists on entry,
checked again whenever the set of loggers has grown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Capture", "capture_pyhanko", "quiet_pyhanko"]

log = logging.getLogger(__name__)

ROOTS = ("pyhanko", "pyhanko_certvalidator")
FIRST_MAX_CHARS = 300


@dataclass
class Capture:
    """What pyHanko said while one file was read."""

    count: int = 0
    first: str = ""

    def add(self, record: logging.LogRecord) -> None:
        self.count += 1
        if not self.first:
            self.first = one_line(record)

    def summary(self) -> str:
        more = f" (+{self.count - 1} more)" if self.count > 1 else ""
        return f"{self.first}{more}"


def one_line(record: logging.LogRecord) -> str:
    """The record's message and its exception's type and text, on one line, bounded."""
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text = f"{text}: {type(exc).__name__}: {exc}"
    return " ".join(text.split())[:FIRST_MAX_CHARS]


_current: ContextVar[Capture | None] = ContextVar("sijill_pyhanko_capture", default=None)


class _Divert(logging.Filter):
    """Drops a pyHanko record (warning and above, or any with a traceback) into the active capture, if there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        capture = _current.get()
        if capture is None or (record.levelno < logging.WARNING and not record.exc_info):
            return True
        capture.add(record)
        return False


_DIVERT = _Divert()
_installed_lock = threading.Lock()
_seen_loggers = -1


def _install() -> None:
    """Put the filter on every pyHanko logger (again only when new loggers appeared since the last look)."""
    global _seen_loggers
    loggers = logging.Logger.manager.loggerDict
    if len(loggers) == _seen_loggers:
        return
    with _installed_lock:
        for name, logger in list(loggers.items()):
            if isinstance(logger, logging.Logger) and name.split(".", 1)[0] in ROOTS and _DIVERT not in logger.filters:
                logger.addFilter(_DIVERT)
        _seen_loggers = len(loggers)


@contextmanager
def capture_pyhanko() -> Iterator[Capture]:
    """Divert pyHanko's records in this context into the yielded :class:`Capture` (nested: the outer one collects)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    _install()
    capture = Capture()
    token = _current.set(capture)
    try:
        yield capture
    finally:
        _current.reset(token)
        _install()  # modules imported while reading (pyHanko's lazy ones) get the filter for next time


@contextmanager
def quiet_pyhanko(subject: str, logger: logging.Logger | None = None) -> Iterator[Capture]:
    """Read a PDF in this context; if pyHanko complained, write one warning: ``<subject>: <first complaint>``.

    Nested inside another capture, the outer one writes the line (it names the permit or upload best)."""
    nested = _current.get() is not None
    with capture_pyhanko() as capture:
        try:
            yield capture
        finally:  # also when reading failed: the caller's own line says that, this one what pyHanko saw
            if not nested and capture.count:
                (logger or log).warning("%s: pyHanko reported %d problem(s) reading the PDF: %s", subject,
                                        capture.count, capture.summary())
