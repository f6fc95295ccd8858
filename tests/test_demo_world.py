"""`sijill demo`'s year of history: every outcome the dashboard shows, three governorates, an intact audit chain."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from archive.audit import verify_chain
from archive.db import Database
from archive.models import Application, Centre, Permit, Service, TrackingCounter, Transition, WorkflowStep
from archive.store import open_store
from sijill.demo import load_demo
from sijill.demo_world import PLACEHOLDER_PDF, seed_history
from tests import clock


def test_the_demo_year_has_every_outcome_once_and_a_valid_chain(database: Database, tmp_path: Path) -> None:
    key = open_store(f"file://{tmp_path / 'store'}").put(PLACEHOLDER_PDF)
    with database.session() as session:
        load_demo(session, tmp_path)
        result = seed_history(session, clock.NOW, placeholder_key=key)
    assert 300 <= result.applications <= 600 and result.permits > 100
    with database.session() as session:
        statuses = Counter(session.scalars(select(Application.status)))
        assert {"issued", "rejected", "returned", "in_review"} <= set(statuses), statuses
        assert statuses["issued"] > statuses["rejected"] > 0
        permits = Counter(session.scalars(select(Permit.status)))
        assert permits["revoked"] > 0 and permits["issued"] > 0
        apps = session.scalars(select(Application)).all()
        now = clock.NOW.replace(tzinfo=None)
        overdue_open = [a for a in apps if a.status in ("in_review", "awaiting_signature", "returned")
                        and a.due_at.replace(tzinfo=None) < now]
        assert overdue_open, "some open files are past their legal duration"
        assert all(a.created_at.replace(tzinfo=None) <= now for a in apps)
        latest = session.scalar(select(func.max(Transition.at)))
        assert latest is not None and latest.replace(tzinfo=None) <= now  # nothing in the future
        governorates = set(session.scalars(select(Centre.governorate_code).join(
            Application, Application.centre_id == Centre.id)))
        assert len(governorates) >= 3
        assert len({a.service_code for a in apps}) >= 4
        # the counters moved on: the next registration at a centre does not reuse a history number
        for counter in session.scalars(select(TrackingCounter)):
            used = session.scalar(select(func.count()).select_from(Application).where(
                Application.centre_id == counter.centre_id,
                Application.tracking_number.like(f"%-{counter.year}-%")))
            assert counter.last_value >= used
        report = verify_chain(session)
        assert report.intact and report.events >= result.events
    with database.session() as session:  # once only
        assert seed_history(session, clock.NOW, placeholder_key=key).applications == 0


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_the_demo_years_steps_fall_due_as_live_steps_do(database: Database, tmp_path: Path) -> None:
    """Each step the file reached has its own due date: its catalogue ``legal_days`` from the day it was reached, or,
    without one, the application's due date (workflow.routing.step_due); a step never reached has none."""
    key = open_store(f"file://{tmp_path / 'store'}").put(PLACEHOLDER_PDF)
    own_days = {0: 4, 2: 9}  # BUILD-PERMIT's first and third steps get durations of their own; the second has none
    with database.session() as session:
        load_demo(session, tmp_path)
        service = session.scalar(select(Service).where(Service.code == "BUILD-PERMIT"))
        assert service is not None and len(service.definition["signing_chain"]) >= 3
        chain = [{**s, **({"legal_days": own_days[i]} if i in own_days else {})}
                 for i, s in enumerate(service.definition["signing_chain"])]
        service.definition = {**service.definition, "signing_chain": chain}
        session.flush()
        seed_history(session, clock.NOW, placeholder_key=key)
        session.commit()
    with database.session() as session:
        apps = session.scalars(select(Application).options(selectinload(Application.steps))).all()
        reached = [(a, s) for a in apps for s in a.steps if s.activated_at is not None]
        assert reached and all(s.due_at is not None for _, s in reached)
        assert all(s.due_at is None for a in apps for s in a.steps if s.activated_at is None)
        with_own = [(a, s) for a, s in reached if a.service_code == "BUILD-PERMIT" and s.position in own_days]
        assert with_own, "some BUILD-PERMIT files reached a step with its own duration"
        for app, step in reached:
            if app.service_code == "BUILD-PERMIT" and step.position in own_days:
                assert step.legal_days == own_days[step.position]
                assert _utc(step.due_at) == _utc(step.activated_at) + timedelta(days=own_days[step.position])
            else:
                assert step.legal_days is None
                assert _utc(step.due_at) == _utc(app.due_at)
        # a file returned and resubmitted is due from when it came back, not from its first arrival
        resubmitted = [a for a in apps if a.service_code == "BUILD-PERMIT"
                       and any(t.action == "resubmit" for t in session.scalars(
                           select(Transition).where(Transition.application_id == a.id)))]
        assert resubmitted
        for app in resubmitted:
            first = app.steps[0]
            assert _utc(first.activated_at) > _utc(app.created_at)
            assert _utc(first.due_at) == _utc(first.activated_at) + timedelta(days=own_days[0])
        overdue_steps = session.scalar(select(func.count()).select_from(WorkflowStep).where(
            WorkflowStep.status == "active", WorkflowStep.due_at < clock.NOW))
        assert overdue_steps, "some open files are late at their current step"
