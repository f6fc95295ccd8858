"""Scanner intake: a folder per application, imported exactly once, with refusals explained in the folder."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from archive.db import Database
from archive.models import Application, Centre, Document, ImportRecord, Page
from archive.store import open_store
from intake.catalogue import load_catalogue, sync_catalogue
from intake.importer import (
    ERRORS_MARKER,
    IMPORTED_MARKER,
    Batch,
    find_batches,
    import_batch,
    requirement_for,
    settled_batches,
)
from ocr.limits import Limits

VALID_ID = "29001012601235"


def _page(label: str) -> Image.Image:
    image = Image.new("L", (300, 400), 255)
    ImageDraw.Draw(image).rectangle((20, 20, 280, 60), outline=0, width=3)
    ImageDraw.Draw(image).text((30, 80), label, fill=0)
    return image


def write_scan(path: Path, pages: int = 1) -> None:
    frames = [_page(f"{path.name} {i}") for i in range(pages)]
    fmt = {".png": "PNG", ".tif": "TIFF", ".pdf": "PDF", ".jpg": "JPEG"}[path.suffix]
    extra = {"save_all": True, "append_images": frames[1:]} if pages > 1 else {}
    out = io.BytesIO()
    frames[0].save(out, format=fmt, **extra)
    path.write_bytes(out.getvalue())


def make_batch(root: Path, name: str, **manifest_overrides: object) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    manifest: dict[str, object] = {
        "centre": "SOH-01",
        "service": "VALIDITY",
        "applicant_name": "سعاد محمود حسن",
        "national_id": VALID_ID,
        "applicant_phone": "01012345678",
        "details": {"plot_number": "15", "district": "الكوثر", "area_m2": "300"},
        "documents": {"scan0042.pdf": "SITE_PLAN"},
    }
    manifest.update(manifest_overrides)
    (folder / "application.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    write_scan(folder / "ID_COPY.png")
    write_scan(folder / "OWNERSHIP-1.tif", pages=2)
    write_scan(folder / "scan0042.pdf", pages=3)
    return folder


@pytest.fixture
def seeded(database: Database) -> Database:
    with database.session() as s:
        s.add(Centre(code="SOH-01", name_ar="مركز سوهاج", name_en="Sohag", governorate_code="26"))
        s.flush()
        sync_catalogue(s, load_catalogue())
    return database


def test_requirement_from_name_or_mapping() -> None:
    assert requirement_for(Path("ID_COPY.pdf"), {}) == "ID_COPY"
    assert requirement_for(Path("OWNERSHIP-2.tif"), {}) == "OWNERSHIP"
    assert requirement_for(Path("scan0042.jpg"), {}) == "OTHER"
    assert requirement_for(Path("scan0042.jpg"), {"scan0042.jpg": "survey"}) == "SURVEY"


def test_folder_is_imported_once_even_after_a_crash_before_marking(seeded: Database, tmp_path: Path) -> None:
    store = open_store((tmp_path / "objects").as_uri())
    folder = make_batch(tmp_path / "inbox", "0001")
    [batch] = find_batches(tmp_path / "inbox")

    first = import_batch(seeded, store, batch, limits=Limits())
    assert first.status == "imported" and first.tracking_number
    assert len(first.page_ids) == 1 + 2 + 3
    assert (folder / IMPORTED_MARKER).read_text().startswith(first.tracking_number)
    with seeded.session() as s:
        app = s.scalar(select(Application))
        assert app is not None and app.channel == "import"
        assert sorted(d.requirement for d in app.documents) == ["ID_COPY", "OWNERSHIP", "SITE_PLAN"]
        assert app.missing_documents == []
        assert s.scalar(select(func.count()).select_from(ImportRecord)) == 1

    # The process died after the commit, before IMPORTED.txt was written: the next run must not import again.
    (folder / IMPORTED_MARKER).unlink()
    again = import_batch(seeded, store, Batch(folder, folder / "application.yaml"), limits=Limits())
    assert again.status == "already_imported" and again.tracking_number == first.tracking_number
    assert (folder / IMPORTED_MARKER).exists()
    assert find_batches(tmp_path / "inbox") == []
    with seeded.session() as s:
        assert s.scalar(select(func.count()).select_from(Application)) == 1
        assert s.scalar(select(func.count()).select_from(Page)) == 6


def test_refused_folder_explains_itself_and_waits_for_a_change(seeded: Database, tmp_path: Path) -> None:
    store = open_store((tmp_path / "objects").as_uri())
    folder = make_batch(tmp_path / "inbox", "bad", national_id="12345")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a pdf")
    [batch] = find_batches(tmp_path / "inbox")

    refused = import_batch(seeded, store, batch, limits=Limits())
    assert refused.status == "refused"
    errors = (folder / ERRORS_MARKER).read_text(encoding="utf-8")
    assert "national_id" in errors and "الرقم القومي" in errors
    assert "تالف" in errors  # the corrupt PDF, in Arabic
    assert list(store.list()) == []
    with seeded.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0

    assert import_batch(seeded, store, batch, limits=Limits()).status == "unchanged_refusal"

    # The operator fixes the folder: it is imported on the next pass and the error file goes away.
    (folder / "broken.pdf").unlink()
    manifest = yaml.safe_load((folder / "application.yaml").read_text(encoding="utf-8"))
    manifest["national_id"] = VALID_ID
    (folder / "application.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    fixed = import_batch(seeded, store, batch, limits=Limits())
    assert fixed.status == "imported"
    assert not (folder / ERRORS_MARKER).exists()


def test_hot_folder_waits_until_the_scanner_has_finished(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    folder = make_batch(inbox, "0002")
    seen: dict[Path, object] = {}
    assert list(settled_batches(inbox, seen)) == []  # first sight: maybe still being written
    write_scan(folder / "DRAWINGS.pdf", pages=2)  # the scanner adds a file between two polls
    assert list(settled_batches(inbox, seen)) == []
    assert [b.folder for b in settled_batches(inbox, seen)] == [folder]  # unchanged for one interval


@pytest.mark.slow
def test_sijill_import_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJILL_")}
    env.update({"SIJILL_DATA_DIR": str(tmp_path / "data"), "SIJILL_ENV": "test"})

    def sijill(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sijill", *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    assert sijill("db", "upgrade").returncode == 0
    assert sijill("demo", "--no-history").returncode == 0
    inbox = tmp_path / "inbox"
    make_batch(inbox, "a")
    make_batch(inbox, "b", national_id="39913012601235")  # born 31 Dec 2099 is in the future
    done = sijill("import", str(inbox), "--user", "demo.clerk")
    assert done.returncode == 0, done.stderr
    assert "1 imported, 1 refused" in done.stdout
    assert "b: refused" in done.stderr
    again = sijill("import", str(inbox))
    assert again.returncode == 0 and "1 unchanged_refusal" in again.stdout
    unknown = sijill("import", str(inbox), "--user", "nobody")
    assert unknown.returncode == 2 and "There is no user named 'nobody'." in unknown.stderr
