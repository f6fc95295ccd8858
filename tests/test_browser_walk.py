"""Every page as every role, in Arabic and English and on a 390 px phone, in Chromium, on the DEMO world.

For each role the walk follows the role's own navigation plus the pages its work leads to (an application, a record,
a governance report form) and on every page checks what a person reads:

- untranslated text: Arabic interface words on an English page, or English words on an Arabic page, outside what is
  data (names, OCR text, values people typed) and marked as such with ``lang``, ``<bdi>`` or ``dir``;
- raw codes: snake_case words, dotted action codes (``page.view``) and catalogue codes (``BUILD-PERMIT``,
  ``SOH-01``) in the visible text;
- accessibility: axe-core (npm ``axe-core``, installed by ``scripts/install.sh --test``) injected into the page,
  no serious or critical violations; on the phone also no sideways scrolling.

The administrator's forms (a new account, an account, the catalogue's service form, a new service) are also sent
with a mistake in them, on the desktop and the phone, and the answer must carry the error summary and pass the same
checks. The dashboard and a record view are photographed with the DEMO world's year of history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sijill_process import run_sijill, serving, sijill_env
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, demo_password

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
ROLES = ("demo.clerk", "demo.reviewer", "demo.signer", "demo.auditor", "demo.monitor", "demo.admin")

# Text nodes inside these are data (or deliberately in the other language) and are not judged.
DATA = ("[lang]:not(html), bdi, [dir=auto], [dir=ltr]:not(html), [dir=rtl]:not(html), code, pre, textarea, input, "
        "select, option, .ocr-text, .who, .tracking, .hash, .data, svg, script, style, noscript")
VISIBLE_TEXT = """(data) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    if (!text) continue;
    const el = node.parentElement;
    if (!el || el.closest(data)) continue;
    if (!el.getClientRects().length) continue;
    out.push(text);
  }
  return out;
}"""
ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# Latin words an Arabic page may show: formats, units, standards and product names.
LATIN_OK = {"PDF", "CSV", "XLSX", "YAML", "PKCS", "PIN", "DEMO", "API", "SMS", "QR", "KB", "MB", "SHA", "OCR", "DSS",
            "PAdES", "LTA", "TSA", "OCSP", "CRL", "JSON", "English", "Sijill", "ITIDA", "USB", "HSM", "ETSI", "EU",
            "PEM", "DER", "CMS", "XML", "HTML", "URL", "OID"}
CODES = [
    (re.compile(r"\b[a-z]+_[a-z_]+\b"), "snake_case"),
    (re.compile(r"\b(?:application|page|admin|search|login|receipt|document|permit)\.[a-z_.]+\b"), "action code"),
    (re.compile(r"\b[A-Z]{3,}(?:-[A-Z]{3,})+\b"), "catalogue code"),
    (re.compile(r"\b[A-Z]{3}-\d{2}\b"), "centre code"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("walk") / "data"
    env = sijill_env(data_dir)
    for command in (("db", "upgrade"), ("demo",)):
        done = run_sijill(env, *command, timeout=300)
        assert done.returncode == 0, done.stderr
    with serving(env, "--no-worker") as base:
        yield base, data_dir


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def problems_on(page: Any, lang: str, url: str, *, phone: bool = False) -> list[str]:
    """What a person would trip over on the page now open."""
    found: list[str] = []
    texts: list[str] = page.evaluate(VISIBLE_TEXT, DATA)
    for text in texts:
        if lang == "en" and ARABIC.search(text):
            found.append(f"{url} [en]: Arabic interface text {text[:80]!r}")
        if lang == "ar":
            stray = [w for w in LATIN_WORD.findall(text) if w not in LATIN_OK and w.upper() not in LATIN_OK]
            if stray:
                found.append(f"{url} [ar]: English interface text {text[:80]!r}")
        for pattern, kind in CODES:
            match = pattern.search(text)
            if match:
                found.append(f"{url} [{lang}]: raw {kind} {match.group()!r} in {text[:80]!r}")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")
    found += [f"{url} [{lang}{' phone' if phone else ''}] axe {v}" for v in result]
    if phone and not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"):
        found.append(f"{url} [{lang} phone]: the page scrolls sideways")
    return found


def log_in(context: Any, base: str, data_dir: Path, username: str) -> Any:
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", demo_password(data_dir, username))
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def walk_urls(page: Any, base: str) -> list[str]:
    """The role's navigation and one page of each kind its work leads to."""
    links = page.eval_on_selector_all("nav.mainnav a", "els => els.map(e => e.getAttribute('href'))")
    urls = ["/", *[u for u in links if u and u.startswith("/")]]
    extra = []
    for listing, selector in (("/applications", "main a[href^='/applications/']:not([href$='/new'])"),
                              ("/search?q=%D8%B7%D9%84%D8%A8", "main a[href^='/search/records/']")):
        if listing.split("?")[0] in urls:
            page.goto(base + listing)
            first = page.locator(selector).first
            if first.count():
                extra.append(first.get_attribute("href"))
    if "/governance" in urls:
        extra.append("/governance/reports")
    for listing, selector, also in (("/admin/users", "main a[href^='/admin/users/']:not([href$='/new'])",
                                     "/admin/users/new"),
                                    ("/admin/catalogue", "main a[href^='/admin/catalogue/services/']",
                                     "/admin/catalogue/new")):
        if listing in urls:  # the administrator's forms: a new account, an account, a service, a new service
            extra.append(also)
            page.goto(base + listing)
            first = page.locator(selector).first
            if first.count():
                extra.append(first.get_attribute("href"))
    seen: list[str] = []
    for u in urls + extra:
        if u not in seen and not u.endswith(".csv") and "/lang/" not in u:
            seen.append(u)
    return seen


def error_states(page: Any, base: str, lang: str, *, phone: bool = False) -> list[str]:
    """The administrator's forms answering a mistake (nothing is saved): each must show its error summary, and the
    page is judged like any other."""
    found: list[str] = []
    steps = [
        ("/admin/users/new", lambda: page.fill("#username", "x"), "#user-form button[type=submit]"),
        ("/admin/users/new", lambda: page.fill("#email", "not an address"), "#user-form button[type=submit]"),
        ("/admin/catalogue/new", lambda: page.fill("#legal_days", "abc"), "#service-form button[type=submit]"),
    ]
    page.goto(base + "/admin/catalogue")
    service = page.locator("main a[href^='/admin/catalogue/services/']").first
    if service.count():
        href = str(service.get_attribute("href"))
        steps.append((href, lambda: (page.fill("#name_en", ""), page.fill("#step-0-title_ar", "")),
                      "#service-form button[type=submit]"))
    page.goto(base + "/admin/users")
    account = page.locator("main a[href^='/admin/users/']:not([href$='/new'])").first
    if account.count():
        href = str(account.get_attribute("href"))
        steps.append((href, lambda: page.fill("#new_password", "short"), "#password-form button[type=submit]"))
    for url, mistake, submit in steps:
        page.goto(base + url)
        mistake()
        page.click(submit)
        page.wait_for_load_state()
        label = f"{url} (refused)"
        if not page.locator("[data-error-summary] a").count():
            found.append(f"{label} [{lang}]: no error summary linking to a field")
        found += problems_on(page, lang, label, phone=phone)
    return found


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_every_page_as_every_role_reads_right_and_passes_axe(world: tuple[str, Path], chromium: Any, lang: str,
                                                             tmp_path: Path) -> None:
    assert AXE.exists(), "npm axe-core is missing: scripts/install.sh --test installs it"
    base, data_dir = world
    problems: list[str] = []
    visited = 0
    phone_urls: dict[str, str] = {}
    for username in ROLES:
        context = chromium.new_context(bypass_csp=True, locale="ar-EG", viewport={"width": 1280, "height": 900})
        try:
            page = log_in(context, base, data_dir, username)
            page.goto(f"{base}/lang/{lang}")
            for url in walk_urls(page, base):
                page.goto(base + url)
                problems += [f"{username} {p}" for p in problems_on(page, lang, url)]
                visited += 1
                phone_urls.setdefault(url.split("?")[0], username)
            if username == "demo.admin":
                problems += [f"{username} {p}" for p in error_states(page, base, lang)]
            if username == "demo.monitor":
                page.goto(base + "/governance")
                page.screenshot(path=str(tmp_path / f"dashboard-{lang}.png"), full_page=True)
            if username == "demo.auditor":
                page.goto(base + "/applications")
                first = page.locator("main a[href^='/applications/']").first
                if first.count():
                    page.goto(base + str(first.get_attribute("href")))
                    page.screenshot(path=str(tmp_path / f"record-{lang}.png"), full_page=True)
        finally:
            context.close()
    # The same pages on a phone, once each (as the first role that reached them).
    by_user: dict[str, list[str]] = {}
    for url, username in phone_urls.items():
        by_user.setdefault(username, []).append(url)
    for username, urls in by_user.items():
        context = chromium.new_context(bypass_csp=True, locale="ar-EG", viewport={"width": 390, "height": 844},
                                       is_mobile=True, has_touch=True)
        try:
            page = log_in(context, base, data_dir, username)
            page.goto(f"{base}/lang/{lang}")
            for url in urls:
                page.goto(base + url)
                problems += [f"{username} {p}" for p in problems_on(page, lang, url, phone=True)]
            if username == "demo.admin":
                problems += [f"{username} {p}" for p in error_states(page, base, lang, phone=True)]
        finally:
            context.close()
    # The public pages, logged out.
    context = chromium.new_context(bypass_csp=True, locale="ar-EG", viewport={"width": 390, "height": 844},
                                   is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.goto(f"{base}/lang/{lang}")
        for url in ("/login", "/track"):
            page.goto(base + url)
            problems += problems_on(page, lang, url, phone=True)
    finally:
        context.close()
    assert visited >= 30, visited  # the walk really went through the roles' pages
    (tmp_path / "problems.json").write_text(json.dumps(problems, ensure_ascii=False, indent=1), encoding="utf-8")
    assert problems == [], "\n".join(problems[:60])
