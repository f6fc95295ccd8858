"""Each role lands where its work is; a clerk's home is the day's work at the window of the clerk's centre."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.db import Database
from archive.models import Application, Centre
from archive.roles import Role
from archive.store import open_store
from sijill.demo import load_demo
from sijill.demo_world import PLACEHOLDER_PDF, seed_history
from tests import clock
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from

Login = Callable[[Role], FlaskClient]


@pytest.mark.parametrize("role,landing", [
    (Role.CLERK, "/"), (Role.REVIEWER, "/inbox"), (Role.SIGNER, "/inbox"), (Role.MONITOR, "/governance"),
    (Role.AUDITOR, "/search"), (Role.ADMIN, "/admin/users"),
])
def test_each_role_lands_where_its_work_is(client: FlaskClient, role: Role, landing: str) -> None:
    token = csrf_token_from(client.get("/login?next=/").get_data(as_text=True))
    response = client.post("/login", data={"username": ROLE_USERS[role], "password": PASSWORD, "csrf_token": token,
                                           "next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == landing
    assert client.get(landing).status_code == 200


def test_the_clerks_home_lists_returned_files_of_the_clerks_centre_only(
    login: Login, database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        load_demo(session, tmp_path)
        seed_history(session, clock.NOW, placeholder_key=open_store(f"file://{tmp_path}/s").put(PLACEHOLDER_PDF))
    with database.session() as session:
        returned = session.execute(select(Application.tracking_number, Centre.code).join(Centre).where(
            Application.status == "returned")).all()
    ours = [t for t, code in returned if code == "SOH-01"]
    theirs = [t for t, code in returned if code != "SOH-01"]
    assert ours and theirs
    html = login(Role.CLERK).get("/").get_data(as_text=True)
    assert 'id="today"' in html and 'id="returned"' in html and 'id="pages-waiting"' in html
    assert all(t in html for t in ours[:25]) and not any(t in html for t in theirs)
    assert "لم يُسجل أي طلب اليوم بعد." in html  # the DEMO year has nothing registered today
