"""The web pages in a real browser: Debian's headless Chromium driven by Playwright, against `sijill run`.

The server is the real command on a free port (no worker: nothing here needs one); the browser types a DEMO
user's printed password into the Arabic login form, like a clerk at the window would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environ(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIJILL_")}
    env.update({"SIJILL_DATA_DIR": str(data_dir), "SIJILL_ENV": "test"})
    return env


def _sijill(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "sijill", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


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
    env = _environ(data_dir)
    _sijill(env, "db", "upgrade")
    _sijill(env, "demo")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sijill", "run", "--no-worker", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("sijill run did not come up") from None
                time.sleep(0.3)
        yield base, data_dir
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


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
