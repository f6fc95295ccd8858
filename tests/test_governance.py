"""Governance figures (issue 8) on a seeded dataset with known answers: every figure is checked exactly."""

from __future__ import annotations

from datetime import date

import pytest

from archive.db import Database
from governance.figures import Figures, Filters, Period, Stats, compute, month_period, percentile, quarter_period
from tests.governance_data import (
    EXPECTED_CENTRES,
    EXPECTED_GOVERNORATES,
    EXPECTED_OFFICIALS,
    EXPECTED_OVERDUE,
    EXPECTED_SERVICES,
    EXPECTED_STEPS,
    EXPECTED_TOTAL,
    NOW,
    seed,
)

NOVEMBER = month_period(2026, 11)


def figures_of(stats: Stats) -> tuple[object, ...]:
    return (stats.received, stats.completed, stats.on_time, stats.overdue, stats.median_days, stats.p90_days)


@pytest.fixture
def seeded(database: Database) -> Database:
    with database.session() as s:
        seed(s)
    return database


def compute_on(database: Database, period: Period = NOVEMBER, filters: Filters | None = None) -> Figures:
    with database.session() as s:
        return compute(s, period, filters, now=NOW)


def test_every_figure_of_november_matches_the_worked_answers(seeded: Database) -> None:
    f = compute_on(seeded)
    assert figures_of(f.total) == EXPECTED_TOTAL
    assert f.total.on_time_share == pytest.approx(3 / 5)
    assert {r.key: figures_of(r.stats) for r in f.by_governorate} == EXPECTED_GOVERNORATES
    assert {r.key: figures_of(r.stats) for r in f.by_centre} == EXPECTED_CENTRES
    assert {r.key: figures_of(r.stats) for r in f.by_service} == EXPECTED_SERVICES
    assert [(o.centre_code, o.service_code, o.days_late) for o in f.overdue] == EXPECTED_OVERDUE
    assert [o.tracking_number for o in f.overdue] == ["T07", "T06"]
    assert {r.step: (r.decided, r.median_days, r.p90_days, pytest.approx(r.mean_days)) for r in f.steps} == {
        k: (n, m, p, pytest.approx(mean)) for k, (n, m, p, mean) in EXPECTED_STEPS.items()
    }
    assert [(o.username, o.decisions, o.by_action, o.median_step_days) for o in f.officials] == EXPECTED_OFFICIALS
    assert f.as_of == NOVEMBER.end_at  # now is after the period


def test_filters_restrict_every_figure(seeded: Database) -> None:
    sohag = compute_on(seeded, filters=Filters(governorate="26"))
    assert figures_of(sohag.total) == EXPECTED_GOVERNORATES["26"]
    assert [r.key for r in sohag.by_centre] == ["SOH-01", "SOH-02"] and sohag.overdue == []
    assert [o.username for o in sohag.officials] == ["gov.signer", "gov.reviewer", "gov.reviewer2"]
    assert sohag.officials[1].by_action == {"recommend": 2}  # the return was at Qena

    validity = compute_on(seeded, filters=Filters(service="VAL"))
    assert figures_of(validity.total) == EXPECTED_SERVICES["VAL"]
    assert [r.step for r in validity.steps] == ["recommend"] and validity.steps[0].decided == 1

    centre = compute_on(seeded, filters=Filters(centre="SOH-02", service="BP"))
    assert figures_of(centre.total) == (1, 0, 0, 0, None, None) and centre.total.on_time_share is None


def test_other_periods(seeded: Database) -> None:
    october = compute_on(seeded, month_period(2026, 10))
    # Received 7 (Oct 1) and 8 (Oct 25); completed 10 (Oct 1, 30 days, due Sep 8: late).
    # Open at Nov 1 00:00 Cairo: 7 (due Oct 31 12:00 → overdue, 0 whole days late) and 8 (due Nov 1 12:00: not yet).
    assert figures_of(october.total) == (2, 1, 0, 1, 30.0, 30.0)
    assert [(o.tracking_number, o.days_late) for o in october.overdue] == [("T07", 0)]
    q4 = compute_on(seeded, quarter_period(2026, 4))
    assert (q4.total.received, q4.total.completed) == (9, 7)  # received: all but 10; completed: 10, 1-4, 8 and 9
    # As of "now" inside the period, open files are judged against now.
    with seeded.session() as s:
        live = compute(s, Period(date(2026, 11, 1), date(2027, 1, 1)), now=NOW)
    assert live.as_of == NOW
    # T05 is due exactly now (Dec 10 12:00): not late yet.
    assert [(o.tracking_number, o.days_late) for o in live.overdue] == [("T07", 40), ("T06", 13)]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    values = [float(v) for v in range(1, 21)]  # 1..20: rank ⌈18⌉ = 18
    assert percentile(values, 90) == 18.0
    assert percentile(list(reversed(values)), 50) == 10.0
    assert percentile([1.0, 2.0, 3.0], 90) == 3.0
    with pytest.raises(ValueError):
        Period(date(2026, 2, 1), date(2026, 1, 1))
