"""The web pages in a real browser: Debian's headless Chromium driven by Playwright, against `sijill run`.

The server is the real command on a free port (no worker: nothing here needs one); the browser types a DEMO
user's printed password into the Arabic login form, like a clerk at the window would.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        page.click("a[href*='/lang/en']")
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
        expect(page.locator("#ocr-progress")).to_contain_text("قُرئت 1 من 4 صفحات")

        # The receipt's QR code leads the citizen to the inquiry form; the receipt's access code shows the status.
        code = printed_access_code(page, base, tracking)
        citizen = browser.new_page(locale="ar-EG")
        try:
            citizen.goto(f"{base}/track/{tracking.lower()}")
            expect(citizen.locator("#number")).to_have_value(tracking)
            citizen.fill("#access_code", code)
            citizen.click("#inquiry-form button[type=submit]")
            expect(citizen.locator("main")).to_contain_text("تم استلام الطلب")
            expect(citizen.locator("main")).not_to_contain_text("محمد")
            citizen.screenshot(path=str(tmp_path / "track-ar.png"), full_page=True)
        finally:
            citizen.close()
    finally:
        page.close()


def log_in(browser: object, base: str, data_dir: Path, username: str, **context_options: object) -> object:
    """A new browser context (its own cookies) with ``username`` logged in through the Arabic form."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    context = browser.new_context(locale="ar-EG", **context_options)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(data_dir, username))
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login"))  # each role lands where its work is
    return page


def printed_access_code(page: Any, base: str, tracking: str) -> str:
    """The access code as printed on the receipt the clerk prints (read back from the PDF with pdftotext)."""
    pdf = page.request.get(f"{base}/applications/{tracking}/receipt.pdf").body()
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout
    codes = re.findall(r"\b[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}\b", text.decode())
    assert len(codes) == 1, text
    return codes[0]


def register_building_permit(clerk: object, base: str, *, complete: bool = True) -> str:
    """At the window (``clerk`` is a logged-in page): a building permit with every required document (``complete``)
    or with only the ID copy, the rest to follow; returns its tracking number."""
    from playwright.sync_api import Page, expect

    from tests.intake_files import png_bytes

    assert isinstance(clerk, Page)
    clerk.goto(base + "/applications/new?service=BUILD-PERMIT")
    clerk.fill("#applicant_name", "سامية محمود عبد الرحيم")
    clerk.fill("#national_id", "29001012601235")
    clerk.fill("#applicant_phone", "01012345678")
    clerk.fill("#d-plot_number", "٤٥")
    clerk.fill("#d-district", "حي الكوثر")
    clerk.fill("#d-area_m2", "180")
    clerk.set_input_files("#f-ID_COPY", files=[{"name": "id.png", "mimeType": "image/png", "buffer": png_bytes()}])
    if complete:
        for code in ("OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT"):
            clerk.set_input_files(f"#f-{code}", files=[{"name": f"{code.lower()}.png", "mimeType": "image/png",
                                                        "buffer": png_bytes()}])
    else:
        clerk.fill("#incomplete_reason", "باقي المستندات يحضرها المواطن لاحقا")
    clerk.click("#intake-form button[type=submit]")
    expect(clerk).to_have_url(re.compile(re.escape(base) + r"/applications/SOH01-\d{4}-\d{6}-[0-9A-Z]$"))
    tracking = clerk.url.rsplit("/", 1)[-1]
    return tracking


def test_a_permit_is_reviewed_signed_twice_and_verified_from_its_qr_code(
    served: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    """The issue's end to end: the window registers, the reviewer recommends, the head of engineering and the head of
    the city council sign with their DEMO PKCS#12 files, and the QR code read off the rendered permit opens a green
    page on a phone; an altered copy turns it red with the reason, and a revoked permit shows revoked."""
    import subprocess

    from playwright.sync_api import Browser, Page, expect


    assert isinstance(browser, Browser)
    base, data_dir = served
    shots = tmp_path
    pki_password = (data_dir / "demo-pki" / "password.txt").read_text().strip()

    # the one-stop window takes the application in
    clerk = log_in(browser, base, data_dir, "demo.clerk")
    assert isinstance(clerk, Page)
    tracking = register_building_permit(clerk, base)
    expect(clerk.locator("#steps li")).to_have_count(3)
    expect(clerk.locator("#one-stop-note")).to_have_count(0)  # a clerk holds no deciding role
    clerk.context.close()

    # the reviewing engineer finds it in the inbox and recommends
    reviewer = log_in(browser, base, data_dir, "demo.reviewer")
    assert isinstance(reviewer, Page)
    reviewer.click("nav a[href='/inbox']")
    row = reviewer.locator(f"#inbox tr[data-tracking='{tracking}']")
    expect(row).to_contain_text("الخطوة 1 من 3")
    row.locator("a").click()
    reviewer.fill("#reason", "المستندات الأساسية مطابقة")
    reviewer.click("#action-recommend")
    expect(reviewer).to_have_url(base + "/inbox")
    expect(reviewer.locator(".flash")).to_contain_text(tracking)
    reviewer.context.close()

    def sign_as(username: str, expected_step: str) -> Page:
        official = log_in(browser, base, data_dir, username, viewport={"width": 1280, "height": 900})
        assert isinstance(official, Page)
        official.goto(base + "/inbox")
        row = official.locator(f"#inbox tr[data-tracking='{tracking}']")
        expect(row).to_contain_text(expected_step)
        row.locator("a").click()
        expect(official.locator("#sign-form")).to_be_visible()
        expect(official.locator("#permit-link")).to_be_visible()
        # only the chosen method's fields show; the file is picked through an Arabic button, its name shown
        token_offered = official.locator("#method-pkcs11").count() > 0
        if token_offered:
            official.check("#method-pkcs11")
            expect(official.locator("#method-body-pkcs11")).to_be_visible()
            expect(official.locator("#method-body-pkcs12")).to_be_hidden()
        official.check("#method-pkcs12")
        expect(official.locator("#method-body-pkcs12")).to_be_visible()
        if token_offered:
            expect(official.locator("#method-body-pkcs11")).to_be_hidden()
        expect(official.locator("#pkcs12-button")).to_have_text("اختر ملف الشهادة")
        official.set_input_files("#pkcs12", str(data_dir / "demo-pki" / f"{username}.p12"))
        expect(official.locator("#method-body-pkcs12 [data-file-name]")).to_have_text(f"{username}.p12")
        official.fill("#passphrase", pki_password)
        official.screenshot(path=str(shots / f"sign-{username}.png"), full_page=True)
        official.click("#sign-button")
        return official

    head = sign_as("demo.signer", "الخطوة 2 من 3")
    expect(head).to_have_url(base + "/inbox")
    expect(head.locator(".flash")).to_contain_text("انتقل إلى صاحب التوقيع التالي")
    head.context.close()

    council = sign_as("demo.council", "الخطوة 3 من 3")
    expect(council).to_have_url(f"{base}/applications/{tracking}")
    expect(council.locator(".flash")).to_contain_text("صدر الترخيص")
    expect(council.locator("#permit .badge")).to_have_text("صادر")
    council.screenshot(path=str(shots / "issued-application.png"), full_page=True)

    # the printed permit: render page 1 and read its QR code
    permit = council.context.request.get(f"{base}/applications/{tracking}/permit.pdf")
    assert permit.ok and permit.body().startswith(b"%PDF-")
    (shots / "permit.pdf").write_bytes(permit.body())
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", str(shots / "permit.pdf"),
                    str(shots / "permit-page1")], check=True, timeout=60)
    url = subprocess.run(["zbarimg", "-q", "--raw", str(shots / "permit-page1.png")], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    path = "/v/" + url.split("/v/", 1)[1]

    # a citizen's phone opens it: green, both signatures valid, nothing private, no sideways scrolling
    phone = browser.new_context(locale="ar-EG", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                is_mobile=True, has_touch=True)
    citizen = phone.new_page()
    citizen.goto(base + path)
    verdict = citizen.locator("#verdict")
    expect(verdict).to_have_attribute("data-state", "valid")
    expect(verdict).to_contain_text("ترخيص صحيح وسارٍ")
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(19, 121, 79)"
    expect(citizen.locator("#signatures li[data-indication='TOTAL_PASSED']")).to_have_count(2)
    expect(citizen.locator("main")).to_contain_text("رئيس مجلس المدينة (تجريبي)")
    expect(citizen.locator("main")).not_to_contain_text("29001012601235")
    expect(citizen.locator("main")).not_to_contain_text("عبد الرحيم")
    assert citizen.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert citizen.evaluate("getComputedStyle(document.body).direction") == "rtl"
    citizen.screenshot(path=str(shots / "verify-phone-valid.png"), full_page=True)

    # the citizen checks a copy that someone altered: the verdict replaces the green banner, red, with the reason;
    # the DSS-style details are open below
    altered = bytearray(permit.body())
    spot = permit.body().index(b"/Type /Page")
    altered[spot + 1] ^= 0x01
    citizen.set_input_files("#pdf", files=[{"name": "ترخيص.pdf", "mimeType": "application/pdf",
                                           "buffer": bytes(altered)}])
    citizen.click(".check-form button[type=submit]")
    expect(verdict).to_have_attribute("data-copy", "other")
    expect(verdict).to_contain_text("ليست نسخة من هذا الترخيص")
    expect(verdict).to_contain_text("تم تعديل المستند بعد هذا التوقيع")
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"
    expect(citizen.locator("main")).not_to_contain_text("ترخيص صحيح وسارٍ")
    result = citizen.locator("#check-details")
    expect(result).to_have_attribute("data-indication", "TOTAL_FAILED")
    expect(result).to_have_attribute("data-identical", "false")
    verdict.scroll_into_view_if_needed()
    citizen.screenshot(path=str(shots / "verify-phone-altered.png"), full_page=True)

    # the head of the city council revokes it; the citizen's page shows it at once
    council.fill("#revoke-reason", "مخالفة شروط الترخيص")
    council.click("#revoke-form button[type=submit]")
    expect(council.locator(".flash")).to_contain_text("أُلغي الترخيص")
    citizen.goto(base + path)
    expect(verdict).to_have_attribute("data-state", "revoked")
    expect(verdict).to_contain_text("مخالفة شروط الترخيص")
    citizen.screenshot(path=str(shots / "verify-phone-revoked.png"), full_page=True)
    phone.close()
    council.context.close()


def test_the_status_inquiry_works_on_a_phone_and_refuses_a_wrong_id_suffix(
    served: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    """Issue 8: a citizen on a phone (390×844, touch) opens the receipt's QR link, types the last four digits of the
    national ID on the numeric keypad and reads the status; a wrong suffix and an unknown number read the same."""
    from playwright.sync_api import Browser, Page, expect


    assert isinstance(browser, Browser)
    base, data_dir = served
    clerk = log_in(browser, base, data_dir, "demo.clerk")
    assert isinstance(clerk, Page)
    tracking = register_building_permit(clerk, base, complete=False)
    code = printed_access_code(clerk, base, tracking)
    clerk.context.close()

    phone = browser.new_context(locale="ar-EG", viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                is_mobile=True, has_touch=True)
    try:
        page = phone.new_page()
        page.goto(f"{base}/track/{tracking}")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("#number")).to_have_value(tracking)
        expect(page.locator("#access_code")).to_have_attribute("autocapitalize", "characters")
        # Nothing overflows sideways on the phone: the page is no wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert "تم استلام الطلب" not in page.locator("main").inner_text()

        # A wrong suffix: refused, with the same words as for a number that does not exist.
        page.fill("#access_code", "ABCDE-FGHJK")
        page.locator("#inquiry-form button[type=submit]").tap()
        expect(page.locator("#error-summary")).to_be_visible()
        wrong = page.locator("#error-summary").inner_text()
        assert "تم استلام الطلب" not in page.locator("main").inner_text()
        page.screenshot(path=str(tmp_path / "inquiry-wrong-phone.png"), full_page=True)
        unknown = tracking[:-8] + "999999"
        from intake.tracking import check_character

        unknown += "-" + check_character(unknown.replace("-", ""))
        page.fill("#number", unknown)
        page.fill("#access_code", "ABCDE-FGHJK")
        page.locator("#inquiry-form button[type=submit]").tap()
        expect(page.locator("#error-summary")).to_have_text(wrong)

        # The right code (in lower case, digits Arabic-Indic, as a phone keyboard may give them).
        page.fill("#number", tracking)
        page.fill("#access_code", code.lower().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")))
        page.locator("#inquiry-form button[type=submit]").tap()
        expect(page.locator("#status")).to_have_text("تم استلام الطلب")
        expect(page.locator("#stage")).to_contain_text("استُلم طلبك")
        expect(page.locator("#milestones li")).to_have_count(1)
        main = page.locator("main").inner_text()
        for private in ("سامية", "29001012601235", "01012345678", "باقي المستندات"):
            assert private not in main, private
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "inquiry-phone.png"), full_page=True)
    finally:
        phone.close()


def test_the_governance_dashboard_renders_its_charts_for_the_monitor(
    served: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    base, data_dir = served
    page = log_in(browser, base, data_dir, "demo.monitor")
    assert isinstance(page, Page)
    try:
        page.click("nav.mainnav >> text=لوحة الحوكمة")
        expect(page).to_have_url(re.compile(re.escape(base) + r"/governance$"))
        expect(page.locator("h1")).to_have_text("لوحة الحوكمة")
        expect(page.locator(".charts svg")).to_have_count(3)
        expect(page.locator("#kpi-received")).to_have_text(re.compile(r"^\d+$"))
        page.click("text=الشهر الماضي")
        expect(page).to_have_url(re.compile(r"/governance\?from=\d{4}-\d{2}-01&to="))
        page.screenshot(path=str(tmp_path / "governance-ar.png"), full_page=True)
        page.goto(base + "/governance/reports")
        expect(page.locator("#generate-form")).to_be_visible()
    finally:
        page.context.close()


def test_a_file_returned_for_two_missing_papers_is_completed_at_the_window_and_issued(
    served: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    """Issue 13's browser flow: registered without the survey and the supervision certificate, the reviewer cannot
    recommend it and returns it naming both; the window sees them in its returned list, drops the two scans on the
    application page and resubmits; the file is back at the reviewer's step and ends in an issued permit."""
    from playwright.sync_api import Browser, Page, expect

    from tests.intake_files import png_bytes

    assert isinstance(browser, Browser)
    base, data_dir = served
    pki_password = (data_dir / "demo-pki" / "password.txt").read_text().strip()

    def scan(name: str) -> list[dict[str, object]]:
        return [{"name": name, "mimeType": "image/png", "buffer": png_bytes()}]

    clerk = log_in(browser, base, data_dir, "demo.clerk")
    assert isinstance(clerk, Page)
    clerk.goto(base + "/applications/new?service=BUILD-PERMIT")
    clerk.fill("#applicant_name", "هالة عبد الحميد منصور")
    clerk.fill("#national_id", "29001012601235")
    clerk.fill("#applicant_phone", "01012345678")
    clerk.fill("#d-plot_number", "٧٧")
    clerk.fill("#d-district", "حي الزهور")
    clerk.fill("#d-area_m2", "210")
    for code in ("ID_COPY", "OWNERSHIP", "DRAWINGS"):
        clerk.set_input_files(f"#f-{code}", files=scan(f"{code.lower()}.png"))
    clerk.fill("#incomplete_reason", "الرفع المساحي وشهادة الإشراف لم يصدرا بعد")
    clerk.click("#intake-form button[type=submit]")
    expect(clerk).to_have_url(re.compile(re.escape(base) + r"/applications/SOH01-\d{4}-\d{6}-[0-9A-Z]$"))
    tracking = clerk.url.rsplit("/", 1)[-1]

    reviewer = log_in(browser, base, data_dir, "demo.reviewer")
    assert isinstance(reviewer, Page)
    reviewer.goto(f"{base}/applications/{tracking}")
    expect(reviewer.locator("#missing-guard")).to_contain_text("الرفع المساحي")
    reviewer.click("#action-recommend")  # refused: nothing is approved while papers are missing
    expect(reviewer.locator("#workflow-error")).to_contain_text("مستندات مطلوبة ناقصة")
    reviewer.select_option("#item-SURVEY", "missing")
    reviewer.select_option("#item-ENGINEER_CERT", "missing")
    reviewer.fill("#reason", "أحضر الرفع المساحي وشهادة الإشراف الهندسي")
    reviewer.click("#action-return")
    expect(reviewer).to_have_url(base + "/inbox")

    clerk.goto(base + "/inbox")
    row = clerk.locator(f"#returned tr[data-tracking='{tracking}']")
    expect(row).to_contain_text("الرفع المساحي")
    expect(row).to_contain_text("شهادة الإشراف الهندسي")
    row.locator("a").click()
    expect(clerk.locator("#requested-papers li")).to_have_count(2)
    clerk.set_input_files("#add-SURVEY", files=scan("الرفع المساحي.png"))
    clerk.set_input_files("#add-ENGINEER_CERT", files=scan("شهادة الإشراف.png"))
    clerk.click("#add-documents-button")
    expect(clerk.locator(".flash")).to_contain_text("الرفع المساحي.png")
    expect(clerk.locator("#requested-papers li.provided")).to_have_count(2)
    clerk.screenshot(path=str(tmp_path / "completed-at-the-window.png"), full_page=True)
    clerk.click("#resubmit-form button[type=submit]")
    expect(clerk.locator(".flash")).to_contain_text("عاد إلى الخطوة التي أعادته")
    clerk.context.close()

    reviewer.goto(base + "/inbox")
    reviewer.locator(f"#inbox tr[data-tracking='{tracking}'] a").click()
    reviewer.click("#action-recommend")
    expect(reviewer).to_have_url(base + "/inbox")
    reviewer.context.close()

    for username in ("demo.signer", "demo.council"):
        official = log_in(browser, base, data_dir, username)
        assert isinstance(official, Page)
        official.goto(f"{base}/applications/{tracking}")
        official.check("#method-pkcs12")
        official.set_input_files("#pkcs12", str(data_dir / "demo-pki" / f"{username}.p12"))
        official.fill("#passphrase", pki_password)
        official.click("#sign-button")
        expect(official.locator(".flash")).to_be_visible()
        if username == "demo.council":
            expect(official.locator("#permit .badge")).to_have_text("صادر")
        official.context.close()
