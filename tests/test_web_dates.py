"""One rule for dates (docs/ARCHITECTURE.md): dd/mm/yyyy in tables and lists, words only inside sentences, and every
date a person types a dd/mm/yyyy text box, never the browser's mm/dd/yyyy date box."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select

from archive.db import Database
from archive.models import Application, Centre
from archive.roles import Role
from archive.store import open_store
from sijill.demo import load_demo
from sijill.demo_world import PLACEHOLDER_PDF, seed_history
from tests import clock
from web.intake.common import MONTHS_AR, MONTHS_EN, table_date, table_time

Login = Callable[[Role], FlaskClient]
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
CAIRO = ZoneInfo("Africa/Cairo")


def test_table_dates_are_day_month_year_in_cairo() -> None:
    late_evening = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # already the 5th in Cairo (UTC+2)
    assert table_date(late_evening) == "05/12/2026"
    assert table_time(late_evening) == "05/12/2026 01:30"
    assert table_date(datetime(2026, 3, 1, 10, 0)) == "01/03/2026"  # a naive value is UTC, as the database keeps it
    assert table_date(date(2027, 1, 9)) == "09/01/2027"  # a calendar date (a permit's expiry) as it is
    assert table_date(None) == table_time(None) == ""


def test_no_form_has_a_browser_date_box_and_no_cell_shows_a_date_in_words() -> None:
    date_boxes, worded_cells = [], []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        name = template.relative_to(TEMPLATES)
        date_boxes += [f"{name}: {m.group()}" for m in re.finditer(r"<input[^>]*type=\"?date", text)]
        worded_cells += [f"{name}: {m.group()}" for m in
                         re.finditer(r"<(?:td|dd|time)[^>]*>\s*\{\{\s*(?:local_date|local_time|long_date)\(", text)]
    assert date_boxes == []
    assert worded_cells == []


def _cairo_day(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(CAIRO).strftime("%d/%m/%Y")


def test_lists_and_tables_show_dd_mm_yyyy_in_both_languages(login: Login, database: Database,
                                                            tmp_path: Path) -> None:
    with database.session() as session:
        load_demo(session, tmp_path)
        seed_history(session, clock.NOW, placeholder_key=open_store(f"file://{tmp_path}/s").put(PLACEHOLDER_PDF))
    with database.session() as session:
        returned = session.execute(select(Application.tracking_number, Application.due_at).join(Centre).where(
            Application.status == "returned", Centre.code == "SOH-01")).all()
        newest = session.execute(select(Application.tracking_number, Application.created_at).join(Centre)
                                 .where(Centre.code == "SOH-01")
                                 .order_by(Application.created_at.desc()).limit(1)).one()
    assert returned
    clerk = login(Role.CLERK)
    for lang in ("ar", "en"):
        clerk.get(f"/lang/{lang}", headers={"Referer": "http://localhost/"})
        home = clerk.get("/").get_data(as_text=True)
        section = home[home.index('id="returned"'):home.index('id="pages-waiting"')]
        tracking, due = returned[0]
        row = section[section.index(tracking):][:600]
        assert _cairo_day(due) in row, row
        listing = clerk.get("/applications").get_data(as_text=True)
        table = listing[listing.index("<table"):listing.index("</table>")]
        cell = table[table.index(newest[0]):][:1500]
        assert f"<td>{_cairo_day(newest[1])}</td>" in cell, cell
        months = MONTHS_AR if lang == "ar" else MONTHS_EN
        assert not any(month in table or month in section for month in months)
