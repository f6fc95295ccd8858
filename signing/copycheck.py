"""Is an uploaded file a copy of this permit, and which state of it? Cheap answers first, validation last.

A permit's archived PDF only ever grows by incremental updates: each official's signature, then the validation data
(DSS) and every B-LTA document timestamp of each renewal (:mod:`signing.renewal`). So every state the permit was ever
in — the draft, after each signature, the copy the citizen got at issue, the copy between two renewals — is a byte
prefix of the current archived revision ending at one of its ``startxref … %%EOF`` markers.
:func:`archived_states` lists those prefixes with their SHA-256 and how many signatures each holds, so an uploaded copy
is recognised by one hash lookup, for the permit's whole life, without validating anything:

* the current revision → ``identical``;
* a state holding every signature, only without later timestamps or validation data → ``earlier_state`` (genuine:
  an earlier archival state of this permit);
* a state before the last signature → ``before_signatures`` (a draft, not the issued permit).

Anything else is untrusted input. Before a validator sees it, :func:`precheck` bounds what it may cost (size, number
of revisions, number of objects); a file beyond those bounds is ``too_complex``: no copy of a Sijill permit is that
large or has that many revisions. What passes is validated away from the request threads, with a hard time limit, by
:mod:`signing.bounded`; a file that starts with an archived state but has something appended is ``extended``, any
other is ``other``.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from typing import Literal

from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "LIMITS",
    "CheckLimits",
    "CopyKind",
    "State",
    "archived_states",
    "match_archived",
    "precheck",
]

CopyKind = Literal["identical", "earlier_state", "before_signatures", "extended", "other", "too_complex", "busy"]

_REVISION_END = re.compile(rb"startxref\s{1,8}\d{1,12}\s{1,8}%%EOF(?:\r\n|\r|\n)?")
# bounded quantifiers and a look-behind: linear on hostile input (a megabyte of digits or blanks)
_OBJECT = re.compile(rb"(?<![0-9])[0-9]{1,10}[ \t\r\n\f\x00]{1,4}[0-9]{1,5}[ \t\r\n\f\x00]{1,4}obj\b")
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm")


@dataclass(frozen=True)
class CheckLimits:
    """What an uploaded copy may cost before it is called too complex to check."""

    max_bytes: int = 4 * 1024 * 1024
    """A permit is a few hundred kilobytes; decades of renewals add a few kilobytes each."""
    max_revisions: int = 64
    """Draft, a handful of signatures, then two revisions (DSS, timestamp) per renewal: ~25 after thirty years."""
    max_objects: int = 4000
    max_object_streams: int = 16
    time_limit_s: float = 1.6
    """Wall-clock budget of one check, waiting in the queue included, so the answer comes within 2 s."""


LIMITS = CheckLimits()


@dataclass(frozen=True)
class State:
    """One archived state of a permit: a byte prefix of its current revision."""

    end: int
    sha256: str
    signatures: int
    """Regular (``/Sig``) signatures complete in this state."""
    timestamps: int
    """Document timestamps (``/DocTimeStamp``) complete in this state."""


def archived_states(current: bytes) -> list[State]:
    """Every state of the archived permit ``current`` (trusted bytes from the archive), oldest first.

    A state ends at a ``startxref N %%EOF`` marker; a signature belongs to it if the signature's byte range ends there
    or before. The last state is the current revision itself.
    """
    reader = PdfFileReader(io.BytesIO(current), strict=False)
    sig_ends: list[int] = []
    ts_ends: list[int] = []
    for sig in reader.embedded_signatures:
        byte_range = sig.byte_range
        end = int(byte_range[-2]) + int(byte_range[-1])
        (ts_ends if str(sig.sig_object_type) == "/DocTimeStamp" else sig_ends).append(end)
    ends = sorted({m.end() for m in _REVISION_END.finditer(current)} | set(sig_ends) | set(ts_ends) | {len(current)})
    states = []
    for end in ends:
        if end <= 0 or end > len(current):
            continue
        states.append(State(
            end=end,
            sha256=hashlib.sha256(current[:end]).hexdigest(),
            signatures=sum(1 for e in sig_ends if e <= end),
            timestamps=sum(1 for e in ts_ends if e <= end),
        ))  # fmt: skip
    return states


@dataclass(frozen=True)
class Match:
    kind: CopyKind
    state: State | None
    """The archived state the copy is (or, for ``extended``, starts with)."""


def match_archived(data: bytes, states: list[State], sha256: str | None = None) -> Match | None:
    """Which archived state ``data`` is, or which state holding every signature it starts with (``extended``: the
    genuine permit with something appended); None otherwise."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    if not states:
        return None
    total = states[-1].signatures
    for state in states:
        if state.end == len(data) and state.sha256 == digest:
            if state is states[-1]:
                return Match("identical", state)
            return Match("earlier_state" if state.signatures == total and total > 0 else "before_signatures", state)
    for state in reversed(states):  # the longest signed archived state the upload starts with
        if state.signatures < total or total == 0:
            break  # starting with a draft says nothing: every copy of the permit does
        if state.end < len(data) and hashlib.sha256(data[: state.end]).hexdigest() == state.sha256:
            return Match("extended", state)
    return None


def precheck(data: bytes, limits: CheckLimits = LIMITS) -> str | None:
    """Why ``data`` is too costly to validate (``size``, ``revisions``, ``objects``), or None. Linear, no parsing."""
    if len(data) > limits.max_bytes:
        return "size"
    if data.count(b"%%EOF") > limits.max_revisions:
        return "revisions"
    if len(_OBJECT.findall(data)) > limits.max_objects:
        return "objects"
    if len(_OBJECT_STREAM.findall(data)) > limits.max_object_streams:
        return "objects"
    return None
