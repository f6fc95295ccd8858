"""OCR of registered applications on real Tesseract: in-process, then through real worker processes that get killed.

The pages carry Arabic text rendered with a real Arabic font (shaped by raqm), so what comes back can be compared
with what was written.
"""

from __future__ import annotations

import io
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from archive.db import Database
from archive.models import Application, Centre, Document, OcrStatus, Page, utcnow
from archive.store import ObjectStore, open_store
from intake.catalogue import load_catalogue, sync_catalogue
from intake.digitise import LEASE, PageHeld, digitise_page, mark_sent_again, orphaned_page_ids
from intake.service import Upload, register_application
from ocr.limits import Limits
from ocr_evaluation.metrics import cer
from sijill.settings import Settings
from tests.test_worker_smoke import WorkerProcess, stop_workers
from worker.celery_app import create_celery
from worker.run import settings_environ, worker_argv

FONT = "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf"
LINES = [
    "طلب بيان صلاحية لقطعة أرض",
    "الكائنة بشارع الجمهورية بمدينة سوهاج",
    "مساحة القطعة ثلاثمائة متر مربع",
]
REPO_ROOT = Path(__file__).resolve().parents[1]


def arabic_page(lines: list[str], dpi: int = 200) -> Image.Image:
    width, height = int(8.27 * dpi), int(4 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, int(14 * dpi / 72))
    y = int(0.5 * dpi)
    for line in lines:
        draw.text((width - int(0.6 * dpi), y), line, font=font, fill=0, anchor="ra", direction="rtl", language="ar")
        y += int(0.45 * dpi)
    return image


def pdf_of(pages: list[Image.Image], dpi: int = 200) -> bytes:
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue()


def png_of(page: Image.Image) -> bytes:
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(200, 200))
    return out.getvalue()


def seed(database: Database) -> None:
    with database.session() as s:
        s.add(Centre(code="SOH-01", name_ar="مركز سوهاج", name_en="Sohag", governorate_code="26"))
        s.flush()
        sync_catalogue(s, load_catalogue())


def register(database: Database, store: ObjectStore, uploads: list[Upload]) -> list[int]:
    with database.session() as s:
        registered = register_application(
            s, store, centre_code="SOH-01", service_code="VALIDITY", applicant_name="سعاد محمود حسن",
            national_id="29001012601235", applicant_phone="01012345678",
            details={"plot_number": "15", "district": "الكوثر", "area_m2": "300"}, uploads=uploads,
            created_by=None, channel="api", incomplete_reason="بقية المستندات لاحقا", limits=Limits(),
        )  # fmt: skip
        page_ids = registered.page_ids
        s.commit()
    return page_ids


def pdftotext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_pages_are_read_stored_and_assembled_once(database: Database, tmp_path: Path) -> None:
    seed(database)
    store = open_store((tmp_path / "objects").as_uri())
    truth = [LINES, list(reversed(LINES))]
    page_ids = register(database, store, [
        Upload("SITE_PLAN", "كروكي.pdf", io.BytesIO(pdf_of([arabic_page(t) for t in truth]))),
        Upload("ID_COPY", "id.png", io.BytesIO(png_of(arabic_page(LINES[:1])))),
    ])  # fmt: skip
    assert len(page_ids) == 3

    outcomes = [digitise_page(database, store, pid, work_dir=tmp_path) for pid in page_ids]
    assert [o.status for o in outcomes] == ["done"] * 3
    assert sum(o.document_done for o in outcomes) == 2  # each document assembled by its last page, once

    with database.session() as s:
        pages = s.scalars(select(Page).where(Page.id.in_(page_ids)).order_by(Page.id)).all()
        for page, lines in zip(pages, [*truth, LINES[:1]], strict=True):
            assert page.status == OcrStatus.DONE and page.attempts == 1
            assert page.text is not None and cer("\n".join(lines), page.text) < 0.15, page.text
            assert page.mean_confidence is not None and page.mean_confidence > 50
            assert page.pdf_sha256 and page.preview_sha256 and page.words_sha256
            assert store.get_bytes(page.preview_sha256)[:2] == b"\xff\xd8"
        documents = s.scalars(select(Document).order_by(Document.id)).all()
        assert all(d.ocr_status == OcrStatus.DONE and d.searchable_pdf_sha256 for d in documents)
        searchable = store.get_bytes(documents[0].searchable_pdf_sha256 or "")
    text = pdftotext(searchable, tmp_path)
    assert "\f" in text.strip("\f")  # two pages
    assert "سوهاج" in text and "صلاحية" in text, text  # the text layer is selectable Arabic, in logical order

    # Idempotent: a redelivered task finds the page done and changes nothing.
    again = digitise_page(database, store, page_ids[0], work_dir=tmp_path)
    assert again.already_done
    with database.session() as s:
        page = s.get(Page, page_ids[0])
        assert page is not None and page.attempts == 1


def test_a_tampered_original_fails_the_page_clearly(database: Database, tmp_path: Path) -> None:
    seed(database)
    store = open_store((tmp_path / "objects").as_uri())
    [page_id] = register(database, store, [Upload("ID_COPY", "id.png", io.BytesIO(png_of(arabic_page(LINES))))])
    with database.session() as s:
        key = s.scalars(select(Document.sha256)).one()
    blob = next((tmp_path / "objects").rglob(key))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")

    outcome = digitise_page(database, store, page_id, work_dir=tmp_path)
    assert outcome.status == OcrStatus.FAILED
    with database.session() as s:
        page = s.get(Page, page_id)
        assert page is not None and page.status == OcrStatus.FAILED
        assert page.error and "فحص السلامة" in page.error
        assert page.document.ocr_status == OcrStatus.FAILED


def test_pages_nobody_holds_are_found_and_a_held_page_is_never_read_twice(database: Database, tmp_path: Path) -> None:
    seed(database)
    store = open_store((tmp_path / "objects").as_uri())
    [page_id] = register(database, store, [Upload("ID_COPY", "id.png", io.BytesIO(png_of(arabic_page(LINES))))])
    later = utcnow() + LEASE + timedelta(seconds=1)
    with database.session() as s:
        assert orphaned_page_ids(s) == []  # just registered: its message is on its way
        assert orphaned_page_ids(s, now=later) == [page_id]  # nothing moved for a lease: the message was lost
        mark_sent_again(s, [page_id], now=later)
        s.commit()
        assert orphaned_page_ids(s, now=later + timedelta(seconds=5)) == []  # the new message is given its lease
    # a worker claims it and dies (kill -9): no renewals; a duplicate message meanwhile does not read it again
    with database.session() as s:
        page = s.get(Page, page_id)
        assert page is not None
        page.status, page.lease_at, page.started_at = OcrStatus.RUNNING, utcnow(), utcnow()
        s.commit()
    with pytest.raises(PageHeld):
        digitise_page(database, store, page_id, work_dir=tmp_path)
    with database.session() as s:
        assert orphaned_page_ids(s) == []
        assert orphaned_page_ids(s, now=utcnow() + LEASE + timedelta(seconds=1)) == [page_id]
        mark_sent_again(s, [page_id], now=utcnow() - LEASE - timedelta(seconds=1))  # its lease lapsed long ago
        s.commit()
    outcome = digitise_page(database, store, page_id, work_dir=tmp_path)
    assert outcome.status == OcrStatus.DONE
    with database.session() as s:
        assert s.get(Page, page_id).attempts == 1  # type: ignore[union-attr]
        assert orphaned_page_ids(s, now=utcnow() + timedelta(hours=1)) == []


# --- real workers ---------------------------------------------------------------------------------------------


def _wait_for(condition: Callable[[], bool], timeout: float, what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s; worker log:\n{worker.log_tail()}")
        time.sleep(0.05)


@pytest.fixture
def ocr_workers(tmp_path: Path) -> Iterator[Callable[[Settings, str, str], WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(settings: Settings, queue: str, name: str) -> WorkerProcess:
        argv = worker_argv(settings, 1, "info", [queue], pool="solo", hostname=f"{name}-{queue}@%h")
        log = tmp_path / f"worker-{name}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(argv, env=settings_environ(settings), cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                    stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        workers.append(WorkerProcess(proc, log))
        return workers[-1]

    yield start
    stop_workers(workers)


@pytest.mark.slow
def test_page_of_a_killed_worker_completes_once(
    tmp_path: Path, redis_url: str, ocr_workers: Callable[[Settings, str, str], WorkerProcess]
) -> None:
    """A worker dies (SIGKILL) while reading a page; after Redis' visibility timeout another worker reads it, and
    the page ends done exactly once, with the document assembled."""
    settings = Settings.from_env({
        "SIJILL_DATA_DIR": str(tmp_path / "data"), "SIJILL_ENV": "test", "SIJILL_BROKER_URL": redis_url,
        "SIJILL_VISIBILITY_TIMEOUT": "6",
    })  # fmt: skip
    from archive.migrate import upgrade

    upgrade(settings.database_url)
    database = Database(settings.database_url)
    seed(database)
    store = open_store(settings.storage_url)
    [page_id] = register(database, store, [
        Upload("ID_COPY", "id.pdf", io.BytesIO(pdf_of([arabic_page(LINES * 3, dpi=300)], dpi=300))),
    ])  # fmt: skip
    queue = f"ocr-{uuid.uuid4().hex[:8]}"

    def status() -> str:
        with database.session() as s:
            page = s.get(Page, page_id)
            assert page is not None
            return page.status

    first = ocr_workers(settings, queue, "first")
    app = create_celery(settings)
    try:
        result = app.send_task("ocr.page", args=(page_id,), queue=queue)
        _wait_for(lambda: status() == OcrStatus.RUNNING, 60, "the page starting", first)
        first.kill()
        assert status() == OcrStatus.RUNNING

        second = ocr_workers(settings, queue, "second")
        outcome = result.get(timeout=120)
    finally:
        app.close()
    assert outcome["status"] == "done", second.log_tail()
    with database.session() as s:
        page = s.get(Page, page_id)
        assert page is not None and page.status == OcrStatus.DONE and page.attempts == 2
        assert page.text and "سوهاج" in page.text.replace("\n", " ")
        application = s.scalars(select(Application)).one()
        assert application.documents[0].searchable_pdf_sha256 is not None
