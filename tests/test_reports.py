"""Periodic monitoring reports (issue 8): PDF, CSV and XLSX of the seeded dataset, checked figure by figure."""

from __future__ import annotations

import csv
import io
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from archive.db import Database
from archive.models import GovernanceReport
from archive.store import open_store
from archive.sweeper import referenced_keys
from governance.charts import Bar, bar_chart
from governance.figures import month_period
from governance.reports import generate, generate_due, last_complete_periods, period_for
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

_BIDI = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
NOVEMBER = month_period(2026, 11)


def number(text: str) -> float | None:
    return float(text) if text != "" else None


@pytest.fixture
def made(database: Database, tmp_path: Path) -> tuple[Database, object, dict[str, bytes]]:
    store = open_store((tmp_path / "objects").as_uri())
    with database.session() as s:
        seed(s)
    with database.session() as s:
        rows = generate(s, store, "monthly", NOVEMBER, now=NOW)
        keys = {r.file_format: r.sha256 for r in rows}
    files = {fmt: store.get_bytes(key) for fmt, key in keys.items()}
    return database, store, files


def test_the_csv_holds_every_figure_exactly(made: tuple[Database, object, dict[str, bytes]]) -> None:
    _, _, files = made
    text = files["csv"].decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Arabic names
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))

    def figures(row: dict[str, str]) -> tuple[object, ...]:
        return (int(row["received"]), int(row["completed"]), int(row["on_time"]), int(row["overdue"]),
                number(row["median_days"]), number(row["p90_days"]))

    by = {(r["section"], r["key"]): r for r in rows}
    assert figures(by[("total", "")]) == EXPECTED_TOTAL and by[("total", "")]["on_time_share"] == "0.6"
    assert {k: figures(by[("governorate", k)]) for k in EXPECTED_GOVERNORATES} == EXPECTED_GOVERNORATES
    assert by[("governorate", "26")]["name_ar"] == "سوهاج"
    assert {k: figures(by[("centre", k)]) for k in EXPECTED_CENTRES} == EXPECTED_CENTRES
    assert {k: figures(by[("service", k)]) for k in EXPECTED_SERVICES} == EXPECTED_SERVICES
    assert [(r["name_en"], int(r["days_late"])) for r in rows if r["section"] == "overdue"] == [
        (centre, late) for centre, _, late in EXPECTED_OVERDUE]
    steps = {r["key"]: (int(r["completed"]), number(r["median_days"]), number(r["p90_days"]), number(r["mean_days"]))
             for r in rows if r["section"] == "step"}
    assert steps == {k: (n, m, p, round(mean, 4)) for k, (n, m, p, mean) in EXPECTED_STEPS.items()}
    assert [(r["key"], int(r["decisions"]), number(r["median_days"])) for r in rows if r["section"] == "official"] == [
        (name, n, med) for name, n, _, med in EXPECTED_OFFICIALS]


def test_the_xlsx_has_right_to_left_sheets_with_the_same_figures(
    made: tuple[Database, object, dict[str, bytes]]
) -> None:
    _, _, files = made
    book = load_workbook(io.BytesIO(files["xlsx"]))
    assert book.sheetnames == ["الملخص", "المتأخرات", "الخطوات", "الموظفون"]
    assert all(book[name].sheet_view.rightToLeft for name in book.sheetnames)
    for sheet in book.worksheets:  # Arabic headers, no snake_case; every column wide enough for its header
        header = [c.value for c in sheet[1]]
        assert not any(re.fullmatch(r"[a-z_0-9]+", str(h)) for h in header), header
        assert all(sheet.column_dimensions[c.column_letter].width >= len(str(c.value)) for c in sheet[1])
    summary = list(book["الملخص"].iter_rows(values_only=True))
    header = summary[0]
    assert header[:3] == ("القسم", "الرمز", "الاسم")
    rows = {(r[0], r[1] or ""): dict(zip(header, r, strict=True)) for r in summary[1:]}
    total = rows[("الإجمالي", "")]
    assert (total["المستلم"], total["المنجز"], total["أُنجز في المدة القانونية"], total["المتأخر المفتوح"],
            total["وسيط مدة الإنجاز (يوم)"], total["المئين 90 (يوم)"]) == EXPECTED_TOTAL
    assert rows[("خدمة", "BP")]["وسيط مدة الإنجاز (يوم)"] == 14.75
    assert book["الملخص"]["H2"].number_format == "0%" and book["الملخص"]["J2"].number_format == "0.0"
    overdue_sheet = book["المتأخرات"]
    overdue = list(overdue_sheet.iter_rows(values_only=True))[1:]
    assert [(r[1], r[2], r[5]) for r in overdue] == EXPECTED_OVERDUE
    assert overdue_sheet["E2"].number_format == "dd/mm/yyyy"
    officials = list(book["الموظفون"].iter_rows(values_only=True))
    assert officials[0] == ("اسم المستخدم", "الاسم", "عدد القرارات", "اعتماد", "توصية بالموافقة", "رفض",
                            "إعادة للاستكمال", "توقيع", "وسيط زمن الخطوة (يوم)")
    assert [(r[0], r[2]) for r in officials[1:]] == [(name, n) for name, n, _, _ in EXPECTED_OFFICIALS]
    assert officials[1][3:8] == (1, 0, 0, 0, 3)


def test_the_pdf_is_arabic_text_in_logical_order_with_its_charts(
    made: tuple[Database, object, dict[str, bytes]], tmp_path: Path
) -> None:
    _, _, files = made
    assert files["pdf"].startswith(b"%PDF-")
    path = tmp_path / "report.pdf"
    path.write_bytes(files["pdf"])
    assert shutil.which("pdftotext"), "poppler-utils is needed for this test"
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60)
    text = _BIDI.sub("", out.stdout.decode("utf-8"))
    # Shaped Arabic extracts back as the logical characters, words in order (not reversed, not isolated forms).
    # (pdftotext moves neutral punctuation such as ":" around direction changes, so titles are checked in pieces.)
    assert "تقرير المتابعة الشهري" in text and "نوفمبر 2026" in text
    assert "نسبة الإنجاز في المدة القانونية" in text and "عبء العمل لكل موظف" in text
    assert "رئيس الإدارة" in text and "سوهاج" in text and "قنا" in text
    assert not re.search("[\ufe70-\ufeff]", text)  # no presentation forms: real text
    # The charts' values are there (one centre at 50%, the other at 100%), and the overdue list.
    for fragment in ("50%", "100%", "60%", "T07", "T06", "14.8 d", "19.5 d"):
        assert fragment in text, fragment


def test_files_are_stored_before_their_rows_and_kept_by_the_sweeper(
    made: tuple[Database, object, dict[str, bytes]]
) -> None:
    database, _store, files = made
    with database.session() as s:
        rows = s.scalars(select(GovernanceReport).order_by(GovernanceReport.id)).all()
        assert [(r.kind, r.period_start.isoformat(), r.period_end.isoformat(), r.file_format) for r in rows] == [
            ("monthly", "2026-11-01", "2026-12-01", fmt) for fmt in ("pdf", "csv", "xlsx")]
        assert all(r.generated_by_id is None and r.size_bytes == len(files[r.file_format]) for r in rows)
        assert {r.sha256 for r in rows} <= referenced_keys(s)


def test_the_scheduled_job_makes_the_last_complete_periods_once(database: Database, tmp_path: Path) -> None:
    store = open_store((tmp_path / "objects").as_uri())
    with database.session() as s:
        seed(s)
    assert {k: (p.start.isoformat(), p.end.isoformat()) for k, p in last_complete_periods(NOW.date()).items()} == {
        "monthly": ("2026-11-01", "2026-12-01"),
        "quarterly": ("2026-07-01", "2026-10-01"),
        "annual": ("2025-01-01", "2026-01-01"),
    }
    with database.session() as s:
        made = generate_due(s, store, now=NOW)
        assert sorted({(r.kind, r.period_start.isoformat()) for r in made}) == [
            ("annual", "2025-01-01"), ("monthly", "2026-11-01"), ("quarterly", "2026-07-01")]
        assert len(made) == 9
    with database.session() as s:
        assert generate_due(s, store, now=NOW) == []  # idempotent


def test_periods_and_bad_kinds() -> None:
    assert (period_for("quarterly", 2026, 4).start.isoformat(), period_for("quarterly", 2026, 4).end.isoformat()) == (
        "2026-10-01", "2027-01-01")
    assert period_for("annual", 2026).end.isoformat() == "2027-01-01"
    for kind, n in (("monthly", 13), ("quarterly", 5), ("weekly", 1)):
        with pytest.raises(ValueError):
            period_for(kind, 2026, n)


def test_bar_chart_lengths_are_proportional() -> None:
    svg = bar_chart([Bar("A", (1.0,), ("100%",)), Bar("B", (0.25,), ("25%",)), Bar("C", (None,), ("—",)),
                     Bar("D", (0.0,), ("0%",))], maximum=1.0, width=560)
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]
    assert widths == [326.0, 81.5, 0.0, 0.0]  # plot width 560 - 170 - 64; zero is drawn as zero
    assert svg.startswith("<svg") and "style=" not in svg and ">0%<" in svg


def test_bar_chart_rows_are_named_and_value_labels_do_not_overlap() -> None:
    """Two series per row: each value label sits in its own lane, below the previous one's, and long names are cut
    with the full name in the row's title."""
    name = "مركز خدمات المواطنين بمدينة سوهاج (تجريبي)"
    svg = bar_chart([Bar(name, (0.0, 0.0), ("0.0 d", "0.0 d")), Bar("قنا", (3.0, 9.0), ("3.0 d", "9.0 d"))])
    assert f"<title>{name}</title>" in svg and "…" in svg
    ys = [float(y) for y in re.findall(r'<text x="[0-9.]+" y="([0-9.]+)"[^>]*font-size="11"', svg)]
    assert len(ys) == 4 and all(b - a >= 12 for a, b in itertools.pairwise(ys))


@pytest.mark.slow
def test_the_command_line_generates_a_period_on_demand(tmp_path: Path) -> None:
    from tests.sijill_process import run_sijill, sijill_env

    env = sijill_env(tmp_path / "data")
    assert run_sijill(env, "db", "upgrade").returncode == 0
    done = run_sijill(env, "reports", "generate", "--kind", "quarterly", "--year", "2026", "--number", "3")
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.strip().splitlines()]
    assert [line[1] for line in lines] == [f"sijill-quarterly-2026-07-01.{fmt}" for fmt in ("pdf", "csv", "xlsx")]
    bad = run_sijill(env, "reports", "generate", "--kind", "monthly", "--year", "2026", "--number", "13")
    assert bad.returncode == 2 and "A month is 1 to 12" in bad.stderr


def test_the_beat_task_makes_the_scheduled_reports(database: Database, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import worker.runtime
    from worker.celery_app import BEAT_SCHEDULE
    from worker.tasks import scheduled_reports

    assert BEAT_SCHEDULE["governance-scheduled-reports"]["task"] == scheduled_reports.name
    for name, value in (("DATA_DIR", str(tmp_path / "data")), ("ENV", "test"), ("DATABASE_URL", database.url),
                        ("STORAGE_URL", (tmp_path / "objects").as_uri())):
        monkeypatch.setenv(f"SIJILL_{name}", value)
    monkeypatch.setattr(worker.runtime, "_runtime", None)
    try:
        first = scheduled_reports.apply().get()
        again = scheduled_reports.apply().get()
    finally:
        rt = worker.runtime._runtime
        if rt is not None:
            rt.database.dispose()
        monkeypatch.setattr(worker.runtime, "_runtime", None)
    assert len(first["files"]) == 9 and again == {"files": []}
    with database.session() as s:
        assert len(s.scalars(select(GovernanceReport)).all()) == 9
