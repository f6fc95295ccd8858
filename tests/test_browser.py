"""The web pages in a real browser: Debian's headless Chromium driven by Playwright, against `sijill run`.

The server is the real command on a free port (no worker: nothing here needs one); the browser types a DEMO
user's printed password into the Arabic login form, like a clerk at the window would.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sijill_process import run_sijill, serving, sijill_env

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def demo_password(data_dir: Path, username: str) -> str:
    for line in (data_dir / "demo-credentials.txt").read_text(encoding="utf-8").splitlines():
        name, _, password = line.partition("\t")
        if name == username:
            return password
    raise AssertionError(f"{username} is not in the DEMO credentials file")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`sijill db upgrade`, `sijill demo`, then `sijill run --no-worker` until the module's tests are done."""
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    env = sijill_env(data_dir)
    for command in (("db", "upgrade"), ("demo",)):
        done = run_sijill(env, *command)
        assert done.returncode == 0, done.stderr
    with serving(env, "--no-worker") as base:
        yield base, data_dir


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_demo_clerk_logs_in_and_sees_the_arabic_rtl_home(served: tuple[str, Path], browser: object,
                                                          tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    base, data_dir = served
    page = browser.new_page(locale="ar-EG")
    try:
        page.goto(base + "/")
        # Not logged in: the home page sends the clerk to the Arabic login form.
        expect(page).to_have_url(re.compile(re.escape(base) + r"/login\?next=(/|%2F)$"))
        html = page.locator("html")
        expect(html).to_have_attribute("lang", "ar")
        expect(html).to_have_attribute("dir", "rtl")
        expect(page.locator("h1")).to_have_text("تسجيل دخول الموظفين")

        page.fill("#username", "demo.clerk")
        page.fill("#password", "not the password")
        page.click("button[type=submit]")
        expect(page.locator(".flash, .error").first).to_be_visible()

        page.fill("#username", "demo.clerk")
        page.fill("#password", demo_password(data_dir, "demo.clerk"))
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/")
        expect(html).to_have_attribute("dir", "rtl")
        expect(page.locator("h1")).to_contain_text("مرحبا")
        expect(page.locator("main")).to_contain_text("موظف الشباك")
        # Right-to-left for real: the computed direction, not only the attribute.
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        page.screenshot(path=str(tmp_path / "home-ar.png"), full_page=True)

        # The English switch turns the same page left-to-right.
        page.click("a[href$='/lang/en']")
        expect(html).to_have_attribute("lang", "en")
        expect(html).to_have_attribute("dir", "ltr")
        expect(page.locator("h1")).to_contain_text("Welcome")
    finally:
        page.close()


def test_clerk_registers_an_application_in_the_browser(served: tuple[str, Path], browser: object,
                                                       tmp_path: Path) -> None:
    """Choose a service, type the applicant, attach scans (one by drag and drop), watch the checklist, submit."""
    import base64

    from playwright.sync_api import Browser, expect

    from tests.intake_files import pdf_bytes, png_bytes, tiff_bytes

    assert isinstance(browser, Browser)
    base, data_dir = served
    page = browser.new_page(locale="ar-EG", viewport={"width": 1280, "height": 900})
    try:
        page.goto(base + "/login")
        page.fill("#username", "demo.clerk")
        page.fill("#password", demo_password(data_dir, "demo.clerk"))
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/")

        page.click("nav a[href='/applications/new']")
        expect(page.locator("h1")).to_have_text("تسجيل طلب جديد")
        # Choosing the service reloads the page with that service's required documents (no button needed).
        page.select_option("#service", "VALIDITY")
        expect(page).to_have_url(re.compile(r"/applications/new\?service=VALIDITY$"))
        checklist = page.locator("#checklist li")
        expect(checklist).to_have_count(3)
        expect(page.locator("#checklist li.missing")).to_have_count(3)
        expect(page.locator("#missing-note")).to_be_visible()

        page.fill("#applicant_name", "محمد أحمد عبد الله السيد")
        page.fill("#national_id", "٢٩٠٠١٠١٢٦٠١٢٣٥")
        page.fill("#applicant_phone", "01012345678")
        page.fill("#d-plot_number", "١٢٣")
        page.fill("#d-district", "حي الكوثر")
        page.fill("#d-area_m2", "250")

        page.set_input_files("#f-ID_COPY", files=[
            {"name": "بطاقة.png", "mimeType": "image/png", "buffer": png_bytes()},
        ])
        id_row = page.locator("#checklist li[data-requirement='ID_COPY']")
        expect(id_row).to_have_class(re.compile(r"\bprovided\b"))
        expect(id_row.locator(".state")).to_have_text("مرفق (1)")
        expect(page.locator(".dropzone[data-requirement='ID_COPY'] .chosen li")).to_contain_text("بطاقة.png")

        # Drag and drop a two-page TIFF onto the ownership document's zone.
        transfer = page.evaluate_handle(
            """(b64) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const dt = new DataTransfer();
                dt.items.add(new File([bytes], "ownership.tiff", {type: "image/tiff"}));
                return dt;
            }""",
            base64.b64encode(tiff_bytes()).decode("ascii"),
        )
        zone = ".dropzone[data-requirement='OWNERSHIP']"
        page.dispatch_event(zone, "dragenter", {"dataTransfer": transfer})
        expect(page.locator(zone)).to_have_class(re.compile(r"\bdragging\b"))
        page.dispatch_event(zone, "drop", {"dataTransfer": transfer})
        expect(page.locator("#checklist li[data-requirement='OWNERSHIP']")).to_have_class(re.compile(r"\bprovided\b"))
        expect(page.locator(zone + " .chosen li")).to_contain_text("ownership.tiff")
        expect(page.locator("#missing-note")).to_be_visible()

        page.set_input_files("#f-SITE_PLAN", files=[
            {"name": "site-plan.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()},
        ])
        expect(page.locator("#checklist li.missing")).to_have_count(0)
        expect(page.locator("#missing-note")).to_be_hidden()
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        page.screenshot(path=str(tmp_path / "new-application-ar.png"), full_page=True)

        page.click("#intake-form button[type=submit]")
        expect(page).to_have_url(re.compile(re.escape(base) + r"/applications/SOH01-\d{4}-\d{6}-[0-9A-Z]$"))
        tracking = page.url.rsplit("/", 1)[-1]
        expect(page.locator("#tracking-number")).to_have_text(tracking)
        expect(page.locator(".flash")).to_contain_text(tracking)
        expect(page.locator(".flash a")).to_have_attribute("href", f"/applications/{tracking}/receipt.pdf")
        expect(page.locator("section.document")).to_have_count(3)
        expect(page.locator("article.ocr-page")).to_have_count(4)
        page.screenshot(path=str(tmp_path / "application-ar.png"), full_page=True)

        # While OCR runs the page polls its status and reloads itself when a page has been read.
        with sqlite3.connect(data_dir / "sijill.sqlite3") as db:
            db.execute(
                "UPDATE pages SET status = 'done', text = 'صورة بطاقة الرقم القومي', mean_confidence = 88.0 "
                "WHERE id = (SELECT min(p.id) FROM pages p JOIN documents d ON d.id = p.document_id "
                "JOIN applications a ON a.id = d.application_id WHERE a.tracking_number = ?)",
                (tracking,),
            )
        expect(page.locator(".ocr-text").first).to_have_text("صورة بطاقة الرقم القومي", timeout=15_000)
        expect(page.locator("#ocr-progress")).to_contain_text("قُرئت 1 من 4 صفحة")

        # The receipt's QR code leads the citizen to a public page: status, no personal data.
        citizen = browser.new_page(locale="ar-EG")
        try:
            citizen.goto(f"{base}/track/{tracking.lower()}")
            expect(citizen.locator("main")).to_contain_text("تم استلام الطلب")
            expect(citizen.locator("main")).not_to_contain_text("محمد")
            citizen.screenshot(path=str(tmp_path / "track-ar.png"), full_page=True)
        finally:
            citizen.close()
    finally:
        page.close()
