"""``/metrics``: Prometheus text for operators only, with request latencies and the archive's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from archive.db import Database
from archive.models import Document, FixityCheck, Page, User, utcnow
from archive.roles import Role
from archive.users import issue_api_token
from tests.fixtures.app import ROLE_USERS
from tests.test_indexing import make_application

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_for_operators_and_count_what_happened(app: Flask, client: FlaskClient, database: Database) -> None:
    with database.session() as s:
        make_application(s, 1)  # one page read
        stuck = make_application(s, 2, text=None, created=datetime.now(UTC) - timedelta(minutes=5))  # unheld page
        started = utcnow() - timedelta(minutes=5)  # OCR then stood still: the pending page is nobody's
        finished = started + timedelta(seconds=2.5)
        s.execute(update(Page).where(Page.status == "done").values(started_at=started, finished_at=finished))
        s.execute(update(Document).where(Document.application_id == stuck.id).values(created_at=started))
        s.add_all([FixityCheck(key="a" * 64, source="primary", result="ok"),
                   FixityCheck(key="b" * 64, source="primary", result="damaged")])
        tokens = {
            role: issue_api_token(s, s.scalars(select(User).where(User.username == ROLE_USERS[role])).one(), "m")
            for role in (Role.AUDITOR, Role.ADMIN)
        }
        s.commit()
        assert stuck.id

    assert client.get("/metrics", environ_base=REMOTE).status_code == 403
    auditor = {"Authorization": f"Bearer {tokens[Role.AUDITOR]}"}
    assert client.get("/metrics", environ_base=REMOTE, headers=auditor).status_code == 403
    for _ in range(3):
        assert client.get("/api/v1/verify/P-0000/nothing", environ_base=REMOTE).status_code == 404
    client.get("/login")

    admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    response = client.get("/metrics", environ_base=REMOTE, headers=admin)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    got = samples(response.get_data(as_text=True))
    assert got[("sijill_ocr_pages", (("status", "done"),))] == 1
    assert got[("sijill_ocr_pages", (("status", "pending"),))] == 1
    assert abs(got[("sijill_ocr_seconds_total", ())] - 2.5) < 0.01
    assert got[("sijill_fixity_checks_total", (("result", "damaged"),))] == 1
    assert got[("sijill_verification_checks_total", (("endpoint", "api_verify.verify_permit"), ("status", "404")))] == 3
    login = (("endpoint", "auth.login"), ("le", "+Inf"), ("method", "GET"), ("status", "2xx"))
    assert got[("sijill_http_request_duration_seconds_bucket", login)] == 1
    unheld = (("what", "pages waiting for OCR with no worker holding them"),)
    assert got[("sijill_unheld_work", unheld)] == 1
    assert got[("sijill_unheld_work_age_seconds", unheld)] > 250
    assert ("sijill_queue_messages", (("queue", "ocr"),)) in got
