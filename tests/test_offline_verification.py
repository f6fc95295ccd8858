"""Offline verification: the signed revocation list and the static offline page.

A permit is issued through the web by two officials (DEMO PKI) and its QR read off a 150 dpi render with zbarimg; the
revocation list is fetched from ``/.well-known/sijill-revocations`` before and after the permit is revoked through
the web, and checked with ``sijill verify-qr --revocations``. The offline page downloaded from ``/verify/offline`` is
opened from ``file://`` in headless Chromium with every request routed to abort (and none attempted), and judges the
genuine QR, tampered, foreign-key, expired, revoked and malformed payloads and a picked PDF.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.pdf_utils.reader import PdfFileReader

from archive.sealing import SealingKey, load_sealing_key
from signing.dev_pki import DemoPki
from signing.renewal import renew_timestamps
from signing.revocations import CLAIM_REVOCATIONS, Revocation, seal_revocations, verify_revocations
from signing.sealed_payload import (
    PREFIX,
    PayloadError,
    bound_part,
    key_id,
    keys_from_jwk_set,
    revision_ends,
    seal,
    verify,
)
from sijill.cli import cli
from tests.fixtures.pki import TestPki
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_verify_pagecache import issue
from tests.test_web_routing import COUNCIL, HEAD, World, check_copy, post, qr_url
from tests.test_web_routing import demo_pki as demo_pki
from tests.test_web_routing import world as world
from web.offline import offline_cache

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SealingKey:
    return load_sealing_key(tmp_path_factory.mktemp("keys") / "sealing_key.pem")


def _keys(private: Ed25519PrivateKey) -> dict[bytes, Any]:
    return {key_id(private.public_key()): private.public_key()}


def _tampered(message: bytes, edit: Any) -> bytes:
    """The COSE_Sign1 with its payload edited and the original signature kept: what a forger without the key makes."""
    tagged = cbor2.loads(message)
    protected, unprotected, payload, signature = tagged.value
    claims = {k: dict(v) if isinstance(v, Mapping) else v for k, v in cbor2.loads(payload).items()}
    edit(claims)
    return bytes(cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims), signature])))


def _flipped(pdf: bytes) -> bytes:
    """``pdf`` with one byte of its first revision changed."""
    changed = bytearray(pdf)
    changed[len(pdf) // 4] ^= 1
    return bytes(changed)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(message: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(message).rstrip(b"=").decode()


def _message(text: str) -> bytes:
    body = text.rsplit("#", 1)[-1][len(PREFIX):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


# --- the signed list on its own -------------------------------------------------------------------------------------


def test_a_revocation_list_round_trips_and_says_when_it_is_outdated(key: SealingKey) -> None:
    revoked = [Revocation("SOH01-BP-2026-000046", NOW - timedelta(days=3)),
               Revocation("SOH01-BP-2026-000012", NOW - timedelta(days=40))]
    data = seal_revocations(key.private, revoked, issued_at=NOW)
    listed = verify_revocations(data, _keys(key.private))
    assert listed.issued_at == NOW and listed.next_update == NOW + timedelta(days=1)
    assert listed.revoked_at("soh01-bp-2026-000046 ") == NOW - timedelta(days=3)
    assert listed.revoked_at("SOH01-BP-2026-000045") is None
    assert list(listed.revoked) == ["SOH01-BP-2026-000012", "SOH01-BP-2026-000046"]  # sorted
    assert not listed.outdated(NOW + timedelta(hours=23)) and listed.outdated(NOW + timedelta(hours=25))
    assert listed.kid == key_id(key.private.public_key()).hex()


@pytest.mark.parametrize("edit", [
    lambda c: c[CLAIM_REVOCATIONS].update({2: []}),  # a revocation removed
    lambda c: c[CLAIM_REVOCATIONS].update({1: 4102358400}),  # next update moved to 2100
    lambda c: c.update({6: 4102358400}),  # made "later"
])
def test_a_tampered_revocation_list_is_refused(key: SealingKey, edit: Any) -> None:
    data = seal_revocations(key.private, [Revocation("SOH01-BP-2026-000046", NOW)], issued_at=NOW)
    with pytest.raises(PayloadError) as caught:
        verify_revocations(_tampered(data, edit), _keys(key.private))
    assert caught.value.reason == "bad_signature"


def test_a_list_from_another_key_and_a_permit_payload_are_not_our_list(key: SealingKey) -> None:
    impostor = Ed25519PrivateKey.generate()
    with pytest.raises(PayloadError) as caught:
        verify_revocations(seal_revocations(impostor, [], issued_at=NOW), _keys(key.private))
    assert caught.value.reason == "unknown_key"
    permit = seal(key.private, permit_number="SOH01-BP-2026-000045", holder_name="منى", service_ar="ترخيص بناء",
                  issued_on=NOW.date(), expires_on=None)
    with pytest.raises(PayloadError) as caught:
        verify_revocations(_message(permit), _keys(key.private))
    assert caught.value.reason == "not_a_revocation_list"
    # ... and the reverse: the same key's list is never read as a permit's facts
    with pytest.raises(PayloadError) as caught:
        verify(_text(seal_revocations(key.private, [], issued_at=NOW)), _keys(key.private))
    assert caught.value.reason == "malformed"
    for junk in (b"", b"\xff" * 10, cbor2.dumps([1, 2]), b"\x9f" * 100_000):
        with pytest.raises(PayloadError):
            verify_revocations(junk, _keys(key.private))


# --- the list served, revoked through the web, read by the CLI ------------------------------------------------------


def _verify_qr(*args: str) -> Any:
    return CliRunner().invoke(cli, ["verify-qr", *args])


def test_revoking_a_permit_puts_it_in_the_served_list_and_the_cli_says_revoked(
    world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tracking, _path = issue(world, demo_pki, monkeypatch)
    permit = world.permit(tracking)
    assert permit is not None
    qr = qr_url(world.client(HEAD).get(f"/applications/{tracking}/permit.pdf").data, tmp_path)
    citizen = world.client()
    keys_file = tmp_path / "keys.json"
    keys_file.write_bytes(citizen.get("/.well-known/sijill-keys.json").data)
    keys = keys_from_jwk_set(keys_file.read_bytes())

    cache = offline_cache(world.app)
    first = citizen.get("/.well-known/sijill-revocations")
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/cose")
    assert "public" in first.headers["Cache-Control"] and first.headers["ETag"]
    before = verify_revocations(first.data, keys)
    assert before.revoked_at(permit.permit_number) is None
    assert abs((before.issued_at - datetime.now(UTC)).total_seconds()) < 60
    builds = cache.builds
    again = citizen.get("/.well-known/sijill-revocations")
    assert again.data == first.data and cache.builds == builds  # served from the cache, not signed again
    assert citizen.get("/.well-known/sijill-revocations",
                       headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    list_file = tmp_path / "before.cose"
    list_file.write_bytes(first.data)
    result = _verify_qr(qr, "--keys", str(keys_file), "--revocations", str(list_file))
    assert result.exit_code == 0 and "Not revoked as of" in result.output, result.output

    response = post(world.client(COUNCIL), f"/applications/{tracking}/revoke", {"reason": "مخالفة لشروط الترخيص"})
    assert response.status_code == 303
    revoked_at = world.permit(tracking).revoked_at  # type: ignore[union-attr]
    assert revoked_at is not None

    after = citizen.get("/.well-known/sijill-revocations")  # the very next request, well within the refresh time
    assert after.data != first.data and cache.builds == builds + 1
    listed = verify_revocations(after.data, keys)
    assert listed.revoked_at(permit.permit_number) == _utc(revoked_at).replace(microsecond=0)
    list_file = tmp_path / "after.cose"
    list_file.write_bytes(after.data)
    result = _verify_qr(qr, "--keys", str(keys_file), "--revocations", str(list_file))
    assert result.exit_code == 3, result.output
    assert "REVOKED" in result.output and "ألغي هذا الترخيص" in result.output
    assert _utc(revoked_at).date().isoformat() in result.output and permit.permit_number in result.output

    # a list edited to drop the revocation is refused, never read as "not revoked"
    forged = tmp_path / "forged.cose"
    forged.write_bytes(_tampered(after.data, lambda c: c[CLAIM_REVOCATIONS].update({2: []})))
    result = _verify_qr(qr, "--keys", str(keys_file), "--revocations", str(forged))
    assert result.exit_code == 2 and "refused" in result.output, result.output
    # an outdated list still counts its revocations, and says that absence from it proves nothing
    old = tmp_path / "old.cose"
    sealing = load_sealing_key(world.rt.settings.sealing_key_path, create=False)
    old.write_bytes(seal_revocations(sealing.private, [], issued_at=datetime.now(UTC) - timedelta(days=3)))
    result = _verify_qr(qr, "--keys", str(keys_file), "--revocations", str(old))
    assert result.exit_code == 0 and "outdated" in result.output, result.output

    # the QR binds the permit's first revision: the issued file starts with it, and that revision has no QR yet
    issued = world.client(HEAD).get(f"/applications/{tracking}/permit.pdf").data
    sealed = verify(qr, keys)
    assert sealed.pdf_sha256 is not None and bound_part(issued, sealed.pdf_sha256) == "first_revision"
    first = next(issued[:end] for end in revision_ends(issued)
                 if hashlib.sha256(issued[:end]).hexdigest() == sealed.pdf_sha256)
    assert len(first) < len(issued) and world.rt.store.get_bytes(permit.draft_pdf_sha256).startswith(first)
    (tmp_path / "first").mkdir()
    with pytest.raises(subprocess.CalledProcessError):
        qr_url(first, tmp_path / "first")  # the blank place the QR was stamped into afterwards
    (tmp_path / "issued.pdf").write_bytes(issued)
    (tmp_path / "altered.pdf").write_bytes(_flipped(issued))
    result = _verify_qr(qr, "--keys", str(keys_file), "--pdf", str(tmp_path / "issued.pdf"))
    assert result.exit_code == 0 and "first revision" in result.output, result.output
    result = _verify_qr(qr, "--keys", str(keys_file), "--pdf", str(tmp_path / "altered.pdf"))
    assert result.exit_code == 1 and "not the issued copy" in result.output, result.output

    # `sijill offline-page` writes the same page as the server, with a list signed now that holds the revocation
    page_file = tmp_path / "offline.html"
    result = CliRunner().invoke(cli, ["offline-page", "--out", str(page_file)], obj=world.rt.settings)
    assert result.exit_code == 0 and "1 revoked permit" in result.output, result.output
    data = _embedded(page_file.read_text(encoding="utf-8"))
    assert keys_from_jwk_set(json.dumps(data["keys"])).keys() == keys.keys()
    embedded = verify_revocations(base64.urlsafe_b64decode(data["revocations"] + "=" * (-len(data["revocations"]) % 4)),
                                  keys)
    assert embedded.revoked_at(permit.permit_number) == listed.revoked_at(permit.permit_number)


def _embedded(body: str) -> dict[str, Any]:
    """The JSON data block the offline page carries (keys, signed list, date)."""
    opening = '<script type="application/json" id="sijill-data">'
    start = body.index(opening) + len(opening)
    data: dict[str, Any] = json.loads(body[start:body.index("</script>", start)])
    return data


# --- the static page in a browser, with no network ------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium, started only after the server-side steps: Playwright's sync API keeps an event loop
    running in this thread, where the signing path's ``asyncio.run`` could not run."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class OfflinePage:
    """The saved page opened in a fresh browser context that may not reach any network."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.context = browser.new_context(locale="ar-EG")
        self.attempted: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.seen: list[str] = []
        self.page.on("request", lambda request: self.seen.append(request.url))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]")

    def _route(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.attempted.append(route.request.url)
            route.abort()

    def check(self, text: str) -> str:
        self.page.fill("#qr-text", text)
        self.page.click("#check")
        self.page.wait_for_function("['', 'busy'].indexOf(document.querySelector('#result').dataset.verdict || '') < 0")
        return str(self.page.get_attribute("#result", "data-verdict"))

    def fact(self, name: str) -> str:
        return str(self.page.inner_text(f'#result [data-fact="{name}"]'))

    def close(self) -> None:
        assert self.errors == []
        assert self.attempted == [] and set(self.seen) == {self.url}  # nothing but the file itself, ever
        self.context.close()


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_offline_page_judges_every_kind_of_payload_with_no_network(
    world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tracking, _path = issue(world, demo_pki, monkeypatch)
    permit = world.permit(tracking)
    assert permit is not None
    issued_pdf = world.client(HEAD).get(f"/applications/{tracking}/permit.pdf").data
    qr = qr_url(issued_pdf, tmp_path)  # the real permit's QR: its page URL with #SJ1:… after it
    sealing = load_sealing_key(world.rt.settings.sealing_key_path, create=False)
    citizen = world.client()

    download = citizen.get("/verify/offline")
    assert download.status_code == 200 and download.mimetype == "text/html"
    assert download.headers["Content-Disposition"] == 'attachment; filename="sijill-offline-verify.html"'
    saved = tmp_path / "offline-before.html"
    saved.write_bytes(download.data)
    # revoked through the web: a page downloaded now embeds the new list
    assert post(world.client(COUNCIL), f"/applications/{tracking}/revoke", {"reason": "مخالفة"}).status_code == 303
    revoked_on = _utc(world.permit(tracking).revoked_at).strftime("%d/%m/%Y")  # type: ignore[union-attr,arg-type]
    saved_after = tmp_path / "offline-after.html"
    saved_after.write_bytes(citizen.get("/verify/offline").data)
    list_file, forged_file = tmp_path / "list.cose", tmp_path / "forged.cose"
    list_file.write_bytes(citizen.get("/.well-known/sijill-revocations").data)
    forged_file.write_bytes(_tampered(list_file.read_bytes(), lambda c: c.update({6: 4102358400})))

    expired = seal(sealing.private, permit_number="SOH01-BP-2020-000007", holder_name="سارة خالد",
                   service_ar="ترخيص بناء", issued_on=date(2020, 1, 5), expires_on=date.today() - timedelta(days=1))
    foreign = seal(Ed25519PrivateKey.generate(), permit_number=permit.permit_number, holder_name="محمد أحمد علي",
                   service_ar="ترخيص بناء", issued_on=date.today(), expires_on=None)
    tampered = _text(_tampered(_message(qr), lambda c: c[-70001].update({2: "خالد س."})))
    file_bound = seal(sealing.private, permit_number=permit.permit_number, holder_name="محمد أحمد علي",
                      service_ar="ترخيص بناء", issued_on=date.today(), expires_on=None,
                      pdf_sha256=hashlib.sha256(issued_pdf).hexdigest())
    issued_file, other_file = tmp_path / "issued.pdf", tmp_path / "other.pdf"
    issued_file.write_bytes(issued_pdf)
    other_file.write_bytes(_flipped(issued_pdf))

    with chromium() as browser:
        page = OfflinePage(browser, saved)  # downloaded before the revocation
        try:
            html = page.page.locator("html")
            assert html.get_attribute("dir") == "rtl" and html.get_attribute("lang") == "ar"
            assert page.page.get_attribute("#list-note", "data-list") == "current"
            assert page.check(qr) == "valid"
            assert page.fact("number") == permit.permit_number and page.fact("holder") == "محمد أ."
            assert "ختم صحيح من المركز" in page.page.inner_text("#verdict")
            assert "لم يكن الترخيص ملغى" in page.page.inner_text("#result")
            # the printed QR binds the permit's first revision: the issued file starts with it, an altered one not
            page.page.set_input_files("#pdf-file", str(issued_file))
            page.page.wait_for_selector('#pdf-result[data-pdf="first_revision"]')
            assert "كما أعده المركز" in page.page.inner_text("#pdf-result")
            page.page.set_input_files("#pdf-file", str(other_file))
            page.page.wait_for_selector('#pdf-result[data-pdf="mismatch"]')

            assert page.check(tampered) == "bad_signature"
            assert "مزورة" in page.page.inner_text("#verdict")
            assert page.check(foreign) == "unknown_key"
            assert page.check(expired) == "expired"
            assert page.page.get_attribute("#pdf-result", "data-pdf") == "none"  # sealed without a file hash
            assert "انتهت" in page.page.inner_text("#verdict") and page.fact("expires") == (
                date.today() - timedelta(days=1)).strftime("%d/%m/%Y")
            for junk in ("SJ1:AAAA", "SJ1:" + "A" * 3000, qr[: len(qr) - 10], "SJ1:!!"):
                assert page.check(junk) == "malformed", junk
            assert page.check(qr.partition("#")[0]) == "no_payload"

            assert page.check(file_bound) == "valid"
            page.page.set_input_files("#pdf-file", str(issued_file))
            page.page.wait_for_selector('#pdf-result[data-pdf="match"]')
            page.page.set_input_files("#pdf-file", str(other_file))
            page.page.wait_for_selector('#pdf-result[data-pdf="mismatch"]')

            page.page.click("#lang")  # English, one click, left to right, the verdict kept
            assert html.get_attribute("dir") == "ltr" and html.get_attribute("lang") == "en"
            assert "Genuine seal of the centre" in page.page.inner_text("#verdict")
            assert "not the sealed permit" in page.page.inner_text("#pdf-result")
            assert page.check(tampered) == "bad_signature" and "altered or forged" in page.page.inner_text("#verdict")

            # the earlier page learns of the revocation from a newer list file; an edited list is refused
            assert page.check(qr) == "valid"
            page.page.set_input_files("#list-file", str(forged_file))
            page.page.wait_for_selector('#list-load-status[data-state="refused"]')
            assert page.check(qr) == "valid"
            page.page.set_input_files("#list-file", str(list_file))
            page.page.wait_for_selector('#list-load-status[data-state="loaded"]')
            assert page.check(qr) == "revoked"
        finally:
            page.close()

        page = OfflinePage(browser, saved_after)  # downloaded after the revocation
        try:
            assert page.check(qr) == "revoked"
            verdict_text = page.page.inner_text("#verdict")
            assert "ألغي هذا الترخيص" in verdict_text and revoked_on in verdict_text
            assert datetime.now(UTC).strftime("%d/%m/%Y") in verdict_text  # the list's date
        finally:
            page.close()


def test_the_page_embeds_the_served_keys_and_forbids_every_connection(world: World) -> None:
    response = world.client().get("/verify/offline")
    body = response.get_data(as_text=True)
    keys = world.client().get("/.well-known/sijill-keys.json").get_json()
    data = _embedded(body)
    assert data["keys"] == keys and data["revocations"]
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', body).group(1))  # type: ignore[union-attr]
    assert policy == response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy and "unsafe-inline" not in policy
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]{44}';", policy)


def test_the_openapi_document_describes_the_offline_downloads(world: World) -> None:
    spec = world.client().get("/api/v1/openapi.json").get_json()
    revocations = spec["paths"]["/.well-known/sijill-revocations"]["get"]
    assert revocations["security"] == [] and "application/cose" in revocations["responses"]["200"]["content"]
    assert "next update" in revocations["description"].lower()
    page = spec["paths"]["/verify/offline"]["get"]
    assert page["security"] == [] and "text/html" in page["responses"]["200"]["content"]
    assert "application/jwk-set+json" in spec["paths"]["/.well-known/sijill-keys.json"]["get"]["responses"]["200"][
        "content"]
    # errors of the machine endpoints are JSON in both languages, like the API's
    missing = world.client().get("/.well-known/sijill-nothing")
    assert missing.status_code == 404 and missing.get_json()["error_ar"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_bound_permit_keeps_its_copy_check_and_binding_through_two_renewals(
    world: World, demo_pki: DemoPki, pki: TestPki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The QR stamped as its own revision changes nothing for the copy check and B-LTA renewal (real TSA)."""
    tracking, path = issue(world, demo_pki, monkeypatch)
    permit = world.permit(tracking)
    assert permit is not None
    issued = world.rt.store.get_bytes(permit.current_pdf_sha256)
    draft = world.rt.store.get_bytes(permit.draft_pdf_sha256)
    keys = keys_from_jwk_set(world.client().get("/.well-known/sijill-keys.json").data)
    sealed = verify(qr_url(issued, tmp_path), keys)
    assert sealed.pdf_sha256 is not None
    first = next(issued[:end] for end in revision_ends(issued)
                 if hashlib.sha256(issued[:end]).hexdigest() == sealed.pdf_sha256)
    tsa_end = pki.cert("tsa").not_valid_after
    for now in (None, tsa_end - timedelta(days=30)):
        report = renew_timestamps(world.rt.db, world.rt.store, timestamp_url=pki.tsa_url,
                                  validation_context=lambda: pki.validation_context(), window=timedelta(days=90),
                                  now=now)
        assert report.renewed == [permit.permit_number] and report.failed == {}, report
    current = world.rt.store.get_bytes(world.permit(tracking).current_pdf_sha256)  # type: ignore[union-attr]
    assert current.startswith(issued) and len(PdfFileReader(io.BytesIO(current)).embedded_timestamp_signatures) == 2
    assert bound_part(current, sealed.pdf_sha256) == "first_revision"  # still starts with the sealed bytes

    citizen = world.client()
    for data, kind in ((current, "identical"), (issued, "earlier_state"), (draft, "before_signatures"),
                       (first, "before_signatures")):
        html = check_copy(citizen, path, data).get_data(as_text=True)
        match = re.search(r'id="verdict" data-state="[a-z_]+" data-copy="([a-z_]+)"', html)
        assert match is not None and match.group(1) == kind, (kind, html[:2000])
