"""The governance dashboard and the reports archive through the web (monitor role), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive.models import GovernanceReport
from archive.roles import Role
from governance.figures import compute, month_period
from intake.national_id import GOVERNORATES
from tests.fixtures.app import csrf_token_from
from tests.governance_data import seed
from web.runtime import Runtime

Login = Callable[[Role], FlaskClient]
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}  # wholly in the past, so "as of" is the period's end


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["sijill"]
    with runtime.db.session() as s:
        seed(s)
    return runtime


def cell(html: str, table: str, key: str, column: str) -> str:
    section = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    row = section.split(f'data-key="{key}"', 1)[1].split("</tr>", 1)[0]
    match = re.search(rf'class="{column}">([^<]*)<', row)
    assert match, (table, key, column)
    return match.group(1).strip()


def kpi(html: str, name: str) -> str:
    match = re.search(rf'id="kpi-{name}">([^<]*)<', html)
    assert match
    return match.group(1).strip()


def test_the_dashboard_shows_the_computed_figures_for_the_period(rt: Runtime, login: Login) -> None:
    monitor = login(Role.MONITOR)
    page = monitor.get("/governance", query_string=OCTOBER)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # October by hand: received 7 and 8; completed 10 (30 days, late); overdue at Nov 1: 7.
    assert [kpi(html, k) for k in ("received", "completed", "share", "overdue", "median", "p90")] == [
        "2", "1", "0%", "1", "30.0", "30.0"]
    assert cell(html, "by-centre", "QEN-01", "completed") == "1"
    assert cell(html, "by-centre", "SOH-01", "received") == "1"
    assert cell(html, "by-governorate", "27", "overdue") == "1" and "قنا" in html
    assert ">T07</bdi>" in html and html.count("<svg") == 3
    # the monitor cannot open a file (no application.view), so the overdue list names it without a dead link
    assert 'href="/applications/T07"' not in html
    for link in set(re.findall(r'href="(/[^"]*)"', html)):
        assert monitor.get(link.replace("&amp;", "&")).status_code < 400, link

    # November (as of now or its end): every number shown is the service's figure.
    with rt.db.session() as s:
        f = compute(s, month_period(2026, 11), governorate_names=GOVERNORATES)
    html = monitor.get("/governance", query_string={"from": "2026-11-01", "to": "2026-11-30"}).get_data(as_text=True)
    assert kpi(html, "received") == str(f.total.received) and kpi(html, "completed") == str(f.total.completed)
    for row in f.by_service:
        assert cell(html, "by-service", row.key, "received") == str(row.stats.received)
        median = "—" if row.stats.median_days is None else f"{row.stats.median_days:.1f}"
        assert cell(html, "by-service", row.key, "median") == median
    for official in f.officials:
        assert f'data-user="{official.username}"' in html

    filtered = monitor.get("/governance", query_string={**OCTOBER, "governorate": "26"}).get_data(as_text=True)
    assert 'data-key="QEN-01"' not in filtered.split('id="by-centre"', 1)[1].split("</table>", 1)[0]
    assert kpi(filtered, "overdue") == "0"


def test_only_monitors_see_it_and_bad_dates_are_explained(rt: Runtime, login: Login, app: Flask) -> None:
    assert app.test_client().get("/governance").status_code == 302  # to the login page
    clerk = login(Role.CLERK)
    assert clerk.get("/governance").status_code == 403
    assert clerk.get("/governance/reports").status_code == 403
    monitor = app.test_client()
    token = csrf_token_from(monitor.get("/login").get_data(as_text=True))
    monitor.post("/login", data={"username": "test.monitor", "password": "correct horse battery",
                                 "csrf_token": token})
    bad = monitor.get("/governance", query_string={"from": "2026-13-01"})
    assert bad.status_code == 400 and "التاريخ غير صحيح" in bad.get_data(as_text=True)
    assert '<a href="#period-from">' in bad.get_data(as_text=True)  # the error summary, linked to the field
    # dd/mm/yyyy in either digit set reads as the same period, and is shown day first
    typed = monitor.get("/governance", query_string={"from": "٠١/١٠/٢٠٢٦", "to": "31/10/2026"})
    assert typed.status_code == 200
    assert re.search(r'id="period-from"[^>]*value="01/10/2026"', typed.get_data(as_text=True))
    assert re.search(r'id="period-to"[^>]*value="31/10/2026"', typed.get_data(as_text=True))
    reverse = monitor.get("/governance", query_string={"from": "2026-11-30", "to": "2026-11-01"})
    assert reverse.status_code == 400
    monitor.get("/lang/en")
    english = monitor.get("/governance", query_string=OCTOBER).get_data(as_text=True)
    assert "Governance dashboard" in english and "Overdue applications not yet finished" in english


def test_reports_are_generated_on_demand_listed_and_downloaded(rt: Runtime, login: Login) -> None:
    monitor = login(Role.MONITOR)
    page = monitor.get("/governance/reports")
    token = csrf_token_from(page.get_data(as_text=True))
    made = monitor.post("/governance/reports", data={"csrf_token": token, "kind": "monthly", "year": "2026",
                                                    "number": "10"})
    assert made.status_code == 303
    refused = monitor.post("/governance/reports", data={"csrf_token": token, "kind": "monthly", "year": "2026",
                                                       "number": "13"})
    assert refused.status_code == 303
    listing = monitor.get("/governance/reports").get_data(as_text=True)
    assert listing.count('data-kind="monthly"') == 3 and "أكتوبر 2026" in listing and "مستخدم monitor" in listing
    with rt.db.session() as s:
        rows = {r.file_format: r.id for r in s.query(GovernanceReport)}
        assert set(rows) == {"pdf", "csv", "xlsx"}
    csv_response = monitor.get(f"/governance/reports/{rows['csv']}")
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    assert "sijill-monthly-2026-10-01.csv" in csv_response.headers["Content-Disposition"]
    data = list(csv.DictReader(io.StringIO(csv_response.get_data(as_text=True).removeprefix("\ufeff"))))
    total = data[0]
    assert (total["section"], total["received"], total["completed"], total["median_days"]) == ("total", "2", "1",
                                                                                              "30.0")
    pdf = monitor.get(f"/governance/reports/{rows['pdf']}")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert monitor.get("/governance/reports/99999").status_code == 404
