"""Tracking numbers (رقم المتابعة) such as ``SOH01-2026-000123-K``: format, tolerant parsing, allocation.

Parts: the centre code without its hyphen, the year, a six-digit sequence counted per centre and year, and one check
character computed with ISO/IEC 7064 MOD 37,36 (the hybrid system over 0-9A-Z) over the other characters. Citizens
read these numbers to call-centre staff and type them on phones; the check character catches every single wrong
character before anyone searches for a file that does not exist. It also catches swaps of two neighbours, except one
blind spot of the hybrid system: two characters whose values differ by 1 (or 0 and Z), swapped where the running
state wraps, pass unnoticed (about 1 in 36 such swaps; 72 of all 45,360 state/pair cases, see tests/test_tracking.py).
The standard was kept anyway because anyone can re-check a number with a published algorithm (python-stdnum's
``iso7064.mod_37_36``, the GRid check character).

Allocation keeps one ``tracking_counters`` row per centre and year and increments it with a single
``UPDATE … SET last_value = last_value + 1 … RETURNING`` inside the caller's transaction. On PostgreSQL that UPDATE
takes the same row lock ``SELECT … FOR UPDATE`` would, so a concurrent allocation waits and then sees the new value;
on SQLite it takes the database write lock (a preceding SELECT would not lock anything there, because the driver only
opens the transaction at the first write). The number is therefore never handed out twice, and a rolled-back
application gives its number back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.models import Application, Centre, TrackingCounter
from intake.normalise import compact

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD = len(ALPHABET)  # 36; the hybrid system also works modulo 37
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}

SEQUENCE_DIGITS = 6
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1
MAX_CENTRE_LENGTH = 16
_TAIL = 4 + SEQUENCE_DIGITS + 1  # year, sequence, check character
_COMPACT_RE = re.compile(rf"[0-9A-Z]{{1,{MAX_CENTRE_LENGTH}}}[0-9]{{4}}[0-9]{{{SEQUENCE_DIGITS}}}[0-9A-Z]")


class TrackingExhausted(RuntimeError):
    """A centre used up its sequence for the year (a million applications): an operator must look."""


@dataclass(frozen=True)
class TrackingNumber:
    centre: str
    """The centre code without separators, e.g. ``SOH01``."""
    year: int
    sequence: int
    check: str

    @property
    def text(self) -> str:
        """The canonical printed form, e.g. ``SOH01-2026-000123-K``."""
        return f"{self.centre}-{self.year:04d}-{self.sequence:0{SEQUENCE_DIGITS}d}-{self.check}"

    def __str__(self) -> str:
        return self.text


def check_character(payload: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character for ``payload`` (characters 0-9A-Z)."""
    product = _MOD
    for ch in payload:
        total = (product + _VALUE[ch]) % _MOD or _MOD
        product = (total * 2) % (_MOD + 1)
    return ALPHABET[(_MOD + 1 - product) % _MOD]


def is_check_valid(payload_and_check: str) -> bool:
    """Whether the last character is the MOD 37,36 check character of the ones before it."""
    if len(payload_and_check) < 2 or any(ch not in _VALUE for ch in payload_and_check):
        return False
    return check_character(payload_and_check[:-1]) == payload_and_check[-1]


def compact_centre_code(centre_code: str) -> str:
    """``SOH-01`` → ``SOH01``: the centre part of a tracking number."""
    code = re.sub(r"[^0-9A-Z]", "", compact(centre_code).upper())
    if not code or len(code) > MAX_CENTRE_LENGTH:
        raise ValueError(f"The centre code {centre_code!r} cannot be used in a tracking number.")
    return code


def format_tracking(centre_code: str, year: int, seq: int) -> str:
    """The printed tracking number of sequence ``seq`` of ``year`` at the centre ``centre_code``."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"The year {year} does not have four digits.")
    if not 1 <= seq <= MAX_SEQUENCE:
        raise ValueError(f"The sequence {seq} is outside 1-{MAX_SEQUENCE}.")
    centre = compact_centre_code(centre_code)
    payload = f"{centre}{year:04d}{seq:0{SEQUENCE_DIGITS}d}"
    return TrackingNumber(centre, year, seq, check_character(payload)).text


def parse_tracking(text: str) -> TrackingNumber | None:
    """Read a tracking number as people type it, or None if it is not one (including a wrong check character).

    Tolerates Arabic-Indic digits, lower case, spaces, missing or extra hyphens and direction marks.
    """
    if not isinstance(text, str):
        return None
    value = compact(text).upper()
    if not _COMPACT_RE.fullmatch(value) or not is_check_valid(value):
        return None
    centre, year, seq = value[:-_TAIL], value[-_TAIL:-_TAIL + 4], value[-_TAIL + 4:-1]
    if int(seq) == 0:
        return None
    return TrackingNumber(centre=centre, year=int(year), sequence=int(seq), check=value[-1])


def allocate(session: Session, centre: Centre, year: int) -> str:
    """Reserve the next tracking number of ``centre`` for ``year`` in the session's transaction; never commits.

    The counter row stays locked until the caller commits or rolls back, so commit promptly.
    """
    seq = _next_sequence(session, centre.id, year)
    if seq > MAX_SEQUENCE:
        raise TrackingExhausted(f"Centre {centre.code} has used all {MAX_SEQUENCE} tracking numbers of {year}.")
    return format_tracking(centre.code, year, seq)


def _next_sequence(session: Session, centre_id: int, year: int) -> int:
    bump = (
        update(TrackingCounter)
        .where(TrackingCounter.centre_id == centre_id, TrackingCounter.year == year)
        .values(last_value=TrackingCounter.last_value + 1)
        .returning(TrackingCounter.last_value)
        .execution_options(synchronize_session=False)
    )
    value = session.execute(bump).scalar_one_or_none()
    if value is not None:
        return int(value)
    # First number of the year: create the row at 0 (a concurrent creator wins harmlessly), then bump it.
    row = {"centre_id": centre_id, "year": year, "last_value": 0}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(TrackingCounter).values(**row).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(TrackingCounter).values(**row).on_conflict_do_nothing())
    else:  # other databases are not supported, but a savepoint keeps the same meaning
        try:
            with session.begin_nested():
                session.execute(insert(TrackingCounter).values(**row))
        except IntegrityError:
            pass
    return int(session.execute(bump).scalar_one())


def advance_counters(session: Session) -> int:
    """Move every counter past the highest number already given out (after a rebuild from the archive, whose system
    manifest may be older than its newest applications); returns how many counters moved."""
    highest: dict[tuple[int, int], int] = {}
    for centre_id, number in session.execute(select(Application.centre_id, Application.tracking_number)):
        parsed = parse_tracking(number)
        if parsed is None:
            continue
        key = (centre_id, parsed.year)
        highest[key] = max(highest.get(key, 0), parsed.sequence)
    moved = 0
    for (centre_id, year), value in highest.items():
        counter = session.get(TrackingCounter, (centre_id, year))
        if counter is None:
            session.add(TrackingCounter(centre_id=centre_id, year=year, last_value=value))
            moved += 1
        elif counter.last_value < value:
            counter.last_value = value
            moved += 1
    return moved
