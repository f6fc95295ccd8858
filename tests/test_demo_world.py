"""`sijill demo`'s year of history: every outcome the dashboard shows, three governorates, an intact audit chain."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from archive.audit import verify_chain
from archive.db import Database
from archive.models import Application, Centre, Permit, TrackingCounter, Transition
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
