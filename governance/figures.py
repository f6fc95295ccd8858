"""The governance figures for a period, computed from the record (applications, transitions, workflow steps).

Definitions (the tests check every figure against a seeded dataset with known answers):

* **Period**: Cairo calendar days ``[start, end)``; an instant belongs to the period when its Cairo date does.
* **Received**: applications whose ``created_at`` is in the period.
* **Completed**: applications whose *finishing moment* is in the period; the finishing moment is the first transition
  into a final status (``approved``, ``rejected`` or ``issued``). A signed chain reaches ``approved`` and ``issued``
  in one moment, so both count once.
* **Turnaround**: finishing moment minus ``created_at``, in days (seconds / 86,400), wall-clock: time a file spent
  returned to the citizen counts, as the legal duration runs from receipt.
* **Within the legal duration**: finished at or before ``due_at`` (receipt + the service's legal days). The share is
  on-time / completed, None when nothing was completed.
* **Median**: the middle value, or the mean of the two middle values (``statistics.median``).
* **90th percentile**: nearest rank — the value at 1-based rank ⌈0.9 × n⌉ of the sorted values (so it is always an
  observed turnaround; for n < 10 it is the maximum).
* **Overdue**: applications still open (not final) at the *as-of* moment — the period's end, or now if that is
  earlier — whose ``due_at`` has passed; *days late* = whole days from ``due_at`` to as-of (floor). Listed most late
  first. Files received before the period count too: an overdue file stays overdue until it is finished.
* **Step time**: for each step code, steps decided in the period: ``decided_at − activated_at`` in days (the last
  pass; a return resets the steps).
* **Official's workload**: decisions (recommend, approve, sign, reject, return) each official recorded in the
  period, by action, and the median time of the steps they decided.

Filters (governorate, centre, service) restrict every figure to the applications they match.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archive.models import Application, Centre, Service, Transition, User, WorkflowStep, utcnow

CAIRO = ZoneInfo("Africa/Cairo")
FINAL = ("approved", "rejected", "issued")
DECISIONS = ("recommend", "approve", "sign", "reject", "return")
DAY = 86_400.0


@dataclass(frozen=True)
class Filters:
    governorate: str | None = None
    centre: str | None = None
    """Centre code, e.g. ``SOH-01``."""
    service: str | None = None
    """Service code, e.g. ``BUILD-PERMIT``."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    """Exclusive."""

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"The period must end after it starts ({self.start} … {self.end}).")

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), CAIRO).astimezone(UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(0), CAIRO).astimezone(UTC)

    def contains(self, moment: datetime) -> bool:
        return self.start_at <= moment < self.end_at


@dataclass(frozen=True)
class Stats:
    """Counts and turnaround for one group (or for everything)."""

    received: int
    completed: int
    on_time: int
    overdue: int
    median_days: float | None
    p90_days: float | None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.completed if self.completed else None


@dataclass(frozen=True)
class GroupRow:
    key: str
    name_ar: str
    name_en: str
    stats: Stats


@dataclass(frozen=True)
class OverdueItem:
    tracking_number: str
    centre_code: str
    service_code: str
    service_ar: str
    status: str
    due_at: datetime
    days_late: int


@dataclass(frozen=True)
class StepRow:
    step: str
    title_ar: str
    title_en: str
    decided: int
    median_days: float | None
    p90_days: float | None
    mean_days: float | None


@dataclass(frozen=True)
class OfficialRow:
    user_id: int
    username: str
    full_name: str
    decisions: int
    by_action: dict[str, int]
    median_step_days: float | None


@dataclass(frozen=True)
class Figures:
    period: Period
    filters: Filters
    as_of: datetime
    total: Stats
    by_governorate: list[GroupRow]
    by_centre: list[GroupRow]
    by_service: list[GroupRow]
    overdue: list[OverdueItem]
    steps: list[StepRow]
    officials: list[OfficialRow]
    governorate_names: dict[str, tuple[str, str]] = field(default_factory=dict)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the value at 1-based rank ⌈p/100 × n⌉ of the sorted values (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _App:
    id: int
    tracking_number: str
    governorate: str
    centre: str
    service: str
    service_ar: str
    status: str
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None


def compute(
    session: Session,
    period: Period,
    filters: Filters | None = None,
    *,
    now: datetime | None = None,
    governorate_names: dict[str, tuple[str, str]] | None = None,
) -> Figures:
    """Every figure of the dashboard and the reports for ``period`` and ``filters`` (see the module docstring)."""
    filters = filters or Filters()
    now = _aware(now or utcnow())
    as_of = min(now, period.end_at)
    apps = _applications(session, period, filters)
    centres = {c.code: c for c in session.scalars(select(Centre))}
    services = {s.code: s for s in session.scalars(select(Service))}
    names = governorate_names or {}

    def group(key_of: str, label: dict[str, tuple[str, str]]) -> list[GroupRow]:
        buckets: dict[str, list[_App]] = defaultdict(list)
        for a in apps:
            buckets[getattr(a, key_of)].append(a)
        return [GroupRow(k, *label.get(k, (k, k)), _stats(v, period, as_of)) for k, v in sorted(buckets.items())]

    overdue = sorted(
        (OverdueItem(a.tracking_number, a.centre, a.service, a.service_ar, a.status, a.due_at,
                     int((as_of - a.due_at).total_seconds() // DAY))
         for a in apps if _open_at(a, as_of) and a.due_at < as_of),
        key=lambda o: (-(as_of - o.due_at).total_seconds(), o.tracking_number),
    )
    return Figures(
        period=period,
        filters=filters,
        as_of=as_of,
        total=_stats(apps, period, as_of),
        by_governorate=group("governorate", names),
        by_centre=group("centre", {c: (x.name_ar, x.name_en) for c, x in centres.items()}),
        by_service=group("service", {c: (x.name_ar, x.name_en) for c, x in services.items()}),
        overdue=overdue,
        steps=_steps(session, period, filters),
        officials=_officials(session, period, filters),
        governorate_names=names,
    )


def _filtered(query, filters: Filters):  # type: ignore[no-untyped-def]
    if filters.centre:
        query = query.where(Centre.code == filters.centre)
    if filters.governorate:
        query = query.where(Centre.governorate_code == filters.governorate)
    if filters.service:
        query = query.where(Application.service_code == filters.service)
    return query


def _applications(session: Session, period: Period, filters: Filters) -> list[_App]:
    finished = (
        select(Transition.application_id, func.min(Transition.at).label("finished_at"))
        .where(Transition.to_status.in_(FINAL))
        .group_by(Transition.application_id)
        .subquery()
    )
    query = (
        select(Application, Centre.code, Centre.governorate_code, Service.name_ar, finished.c.finished_at)
        .join(Centre, Centre.id == Application.centre_id)
        .join(Service, Service.id == Application.service_id)
        .outerjoin(finished, finished.c.application_id == Application.id)
        .where(Application.created_at < period.end_at)
        # Only what can count: received in the period, finished in it, or still open at its start (hence maybe at
        # as-of); files finished before the period are left in the database.
        .where(or_(Application.created_at >= period.start_at, finished.c.finished_at.is_(None),
                   finished.c.finished_at >= period.start_at))
        .order_by(Application.id)
    )
    rows = session.execute(_filtered(query, filters)).all()
    return [
        _App(a.id, a.tracking_number, gov, centre, a.service_code, service_ar, a.status, _aware(a.created_at),
             _aware(a.due_at), _aware(done) if done is not None else None)
        for a, centre, gov, service_ar, done in rows
    ]


def _open_at(a: _App, moment: datetime) -> bool:
    return a.created_at < moment and (a.finished_at is None or a.finished_at >= moment)


def _stats(apps: Iterable[_App], period: Period, as_of: datetime) -> Stats:
    apps = list(apps)
    received = sum(1 for a in apps if period.contains(a.created_at))
    done = [a for a in apps if a.finished_at is not None and period.contains(a.finished_at)]
    turnaround = [((a.finished_at - a.created_at).total_seconds() / DAY) for a in done if a.finished_at is not None]
    on_time = sum(1 for a in done if a.finished_at is not None and a.finished_at <= a.due_at)
    overdue = sum(1 for a in apps if _open_at(a, as_of) and a.due_at < as_of)
    return Stats(received=received, completed=len(done), on_time=on_time, overdue=overdue,
                 median_days=median(turnaround), p90_days=percentile(turnaround, 90))


def _steps(session: Session, period: Period, filters: Filters) -> list[StepRow]:
    query = (
        select(WorkflowStep)
        .join(Application, Application.id == WorkflowStep.application_id)
        .join(Centre, Centre.id == Application.centre_id)
        .where(WorkflowStep.decided_at.is_not(None), WorkflowStep.activated_at.is_not(None))
        .where(WorkflowStep.decided_at >= period.start_at, WorkflowStep.decided_at < period.end_at)
    )
    by_step: dict[str, list[float]] = defaultdict(list)
    titles: dict[str, tuple[str, str]] = {}
    for step in session.scalars(_filtered(query, filters)):
        assert step.decided_at is not None and step.activated_at is not None
        by_step[step.step].append((_aware(step.decided_at) - _aware(step.activated_at)).total_seconds() / DAY)
        titles.setdefault(step.step, (step.title_ar, step.title_en))
    return [
        StepRow(code, *titles[code], len(values), median(values), percentile(values, 90),
                statistics.fmean(values))
        for code, values in sorted(by_step.items())
    ]


def _officials(session: Session, period: Period, filters: Filters) -> list[OfficialRow]:
    query = (
        select(Transition.actor_id, Transition.action, func.count(Transition.id))
        .join(Application, Application.id == Transition.application_id)
        .join(Centre, Centre.id == Application.centre_id)
        .where(Transition.actor_id.is_not(None), Transition.action.in_(DECISIONS))
        .where(Transition.at >= period.start_at, Transition.at < period.end_at)
        .group_by(Transition.actor_id, Transition.action)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for actor_id, action, n in session.execute(_filtered(query, filters)):
        counts[int(actor_id)][str(action)] = int(n)
    if not counts:
        return []
    step_query = (
        select(WorkflowStep.decided_by_id, WorkflowStep.activated_at, WorkflowStep.decided_at)
        .join(Application, Application.id == WorkflowStep.application_id)
        .join(Centre, Centre.id == Application.centre_id)
        .where(WorkflowStep.decided_by_id.in_(counts), WorkflowStep.activated_at.is_not(None))
        .where(WorkflowStep.decided_at >= period.start_at, WorkflowStep.decided_at < period.end_at)
    )
    durations: dict[int, list[float]] = defaultdict(list)
    for user_id, activated, decided in session.execute(_filtered(step_query, filters)):
        durations[int(user_id)].append((_aware(decided) - _aware(activated)).total_seconds() / DAY)
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(counts)))}
    rows = [
        OfficialRow(uid, users[uid].username, users[uid].full_name, sum(by.values()), dict(sorted(by.items())),
                    median(durations.get(uid, [])))
        for uid, by in counts.items()
    ]
    return sorted(rows, key=lambda r: (-r.decisions, r.username))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def month_period(year: int, month: int) -> Period:
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return Period(start, end)


def quarter_period(year: int, quarter: int) -> Period:
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"A quarter is 1 to 4, not {quarter}.")
    first = 3 * (quarter - 1) + 1
    return Period(date(year, first, 1), month_period(year, first + 2).end)


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year + 1, 1, 1))


