"""The revision viewer on the public verification page and on the staff's application page.

Two permits: one signed by two officials with the live certomancer PKI and renewed twice by the real renewal job
(``tests.test_web_verify.life``), whose album the job builds so the public page only reads it; and one issued through
the web by the DEMO signing path (PKCS#12 files of the DEMO PKI), whose album the worker's task or its recovery job
builds while the pages say the pictures are being prepared (no request ever builds one).
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

import signing.revision_album as album_module
import web.verify.copy
import web.verify.revisions
import worker.dispatch
from archive.models import Permit
from signing.album_backlog import build_missing_albums, missing_album_ids
from signing.copycheck import CheckLimits
from signing.dev_pki import DemoPki
from signing.revision_album import PAGE_WIDTH, THUMB_WIDTH, load_album
from tests.test_revisions import content_changed, png_size
from tests.test_web_routing import (
    COUNCIL,
    HEAD,
    NATIONAL_ID,
    PKI_PASSWORD,
    REVIEWER,
    World,
    decide,
    page,
    qr_url,
    sign_with_pkcs12,
    text_of,
    trust_demo_pki,
)
from tests.test_web_routing import demo_pki as demo_pki
from tests.test_web_routing import world as world
from tests.test_web_verify import NUMBER, PATH, TOKEN, copy_kind, upload
from tests.test_web_verify import life as life
from worker.celery_app import BEAT_SCHEDULE
from worker.tasks import build_missing_revision_albums, build_revision_album

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def entries(html: str, prefix: str = "revision") -> list[tuple[str, str]]:
    """(kind, tone) of each entry of the archived permit's viewer (``revision``) or the uploaded copy's
    (``copy-revision``)."""
    return re.findall(rf'class="revision revision-[a-z]+" id="{prefix}-\d+" data-kind="([a-z]+)" data-tone="([a-z]+)"',
                      html)


def pictures(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def test_the_public_page_shows_each_signed_state_of_a_renewed_permit_from_the_stored_album(
    life: tuple[World, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, copies = life
    # the uploads below are about what the viewer says, not about the deadline (tests/test_revisions.py and
    # tests/test_web_verify.py hold that): a loaded CI machine must not cut the copy's history short
    monkeypatch.setattr(web.verify.copy, "LIMITS", CheckLimits(time_limit_s=30.0))
    with world.session() as s:
        permit = s.scalar(select(Permit).where(Permit.permit_number == NUMBER))
        assert permit is not None
        current = permit.current_pdf_sha256
    assert load_album(world.rt.store, current) is not None  # the renewal job (the worker) built it
    assert permit.album_sha256 == current  # and recorded it, so the recovery job has nothing to do

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a public request built an album")

    monkeypatch.setattr(album_module, "build_album", refuse)
    citizen = world.client()
    html = text_of(citizen.get(PATH))
    assert entries(html) == [("signature", "good"), ("signature", "good"), ("timestamp", "good"),
                             ("timestamp", "good")]
    assert "بعد توقيع أ. منى إبراهيم الشافعي لم يُضَف إلا طوابع زمنية وبيانات تحقق؛ لم يتغير محتوى الترخيص." in html
    assert "أُضيف توقيع أ. منى إبراهيم الشافعي ثم طوابع زمنية وبيانات تحقق" in html
    assert "طابع زمني لحفظ الترخيص في الأرشيف" in html
    details = re.search(r'id="revision-1".*?</li>', html, flags=re.S)
    assert details is not None and "FORM_FILLING" in details.group(0) and "ENTIRE_REVISION" in details.group(0)
    unfolded = re.sub(r"<details.*?</details>", " ", html, flags=re.S)
    assert "FORM_FILLING" not in unfolded and "LTA_UPDATES" not in unfolded  # codes only in the folded details

    # four entries, two pictures (the renewals changed no page); small, served only to the permit's token
    urls = pictures(html)
    assert len(urls) == 4 and len(set(urls)) == 2
    for url in set(urls):
        response = citizen.get(url)
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert png_size(response.data)[0] == THUMB_WIDTH and "private" in response.headers["Cache-Control"]
    name = urls[0].rsplit("/", 1)[-1]
    assert citizen.get(f"/v/{NUMBER}/{'x' * len(TOKEN)}/revisions/{name}").status_code == 404
    assert citizen.get(PATH + "/revisions/" + name.replace("thumb-", "page-")).status_code == 404
    assert citizen.get(PATH + "/revisions/thumb-" + "0" * 64 + ".png").status_code == 404

    # an uploaded copy: the archived permit's viewer, and the copy's own signatures with what changed after each,
    # computed in the bounded validation pool (no pictures for uploads)
    html = text_of(upload(citizen, copies["issued"]))
    assert len(entries(html)) == 4 and entries(html, "copy-revision") == [("signature", "good"), ("signature", "good")]
    assert "لم يتغير شيء بعد توقيع أ. منى إبراهيم الشافعي." in html
    html = text_of(upload(citizen, content_changed(copies["issued"])))
    assert copy_kind(html) == "extended"
    assert entries(html, "copy-revision") == [("signature", "bad"), ("signature", "bad"), ("unsigned", "bad")]
    copy_part = re.search(r'id="copy-revisions".*?</section>', html, flags=re.S)
    assert copy_part is not None and "<img" not in copy_part.group(0)
    assert "بعد توقيع أ. منى إبراهيم الشافعي تغيّر محتوى صفحة الترخيص؛ ما يظهر الآن ليس ما وُقِّع عليه." in html
    assert 'data-change="page_content"' in copy_part.group(0)
    assert len(entries(text_of(upload(citizen, b"not a pdf")), "copy-revision")) == 0

    # the JSON says the same: the archived permit's entries with their pictures, the uploaded copy's in words
    api_path = "/api/v1/verify" + PATH[len("/v"):]
    body = citizen.get(api_path).get_json()
    assert [(r["kind"], r["tone"]) for r in body["revisions"]] == [("signature", "good"), ("signature", "good"),
                                                                    ("timestamp", "good"), ("timestamp", "good")]
    assert body["revisions"][0]["modification_level"] == "FORM_FILLING" and body["revisions"][1]["after_en"]
    assert [r["image_url"] for r in body["revisions"]] == urls
    body = citizen.post(api_path + "/check", data=content_changed(copies["issued"]),
                        content_type="application/pdf").get_json()
    assert body["kind"] == "extended" and [r["kind"] for r in body["revisions"]] == ["signature", "signature",
                                                                                      "unsigned"]
    assert body["revisions"][1]["changes"][-1]["kind"] == "page_content" and not body["revisions"][1]["image_url"]
    spec = citizen.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "revisions" in spec["Verification"]["properties"] and "revisions" in spec["CopyCheck"]["properties"]

    # English is one click away
    citizen.get("/lang/en")
    html = text_of(citizen.get(PATH))
    assert "After أ. منى إبراهيم الشافعي signed, only timestamps with validation data were added" in html
    assert "Archive timestamp" in html


def test_a_permit_issued_by_the_demo_signing_path_shows_its_officials_on_both_pages(
    world: World, demo_pki: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head, council = world.client(HEAD), world.client(COUNCIL)
    tracking = awaiting_signatures(world, demo_pki, head, "المستندات مكتملة")
    assert 'id="revisions"' not in page(head, tracking)  # nobody signed yet
    queued: list[str] = []
    monkeypatch.setattr(worker.dispatch, "enqueue_revision_album", lambda _settings, sha: queued.append(sha))
    own = demo_pki.signer(HEAD).pkcs12_path.read_bytes()
    assert sign_with_pkcs12(head, tracking, own, PKI_PASSWORD).status_code == 303

    # the signature's commit asked the worker for the new revision's album; the worker's task builds it
    signed_sha = world.permit(tracking).current_pdf_sha256  # type: ignore[union-attr]
    assert queued == [signed_sha] and load_album(world.rt.store, signed_sha) is None
    worker_on(world, monkeypatch)
    assert build_revision_album.apply(args=(signed_sha,)).get() == {"pdf_sha256": signed_sha, "entries": 1}
    assert load_album(world.rt.store, signed_sha) is not None
    assert world.permit(tracking).album_sha256 == signed_sha  # type: ignore[union-attr]  # recorded on the row

    # the staff page after the first signature: one entry, by the official of that step, with a legible picture
    html = page(council, tracking)
    assert entries(html) == [("signature", "good")]
    assert "رئيس الإدارة الهندسية" in html

    council_p12 = demo_pki.signer(COUNCIL).pkcs12_path.read_bytes()
    assert sign_with_pkcs12(council, tracking, council_p12, PKI_PASSWORD).status_code == 303
    issued_sha = world.permit(tracking).current_pdf_sha256  # type: ignore[union-attr]
    assert queued[-1] == issued_sha and 'id="revisions-pending"' in page(council, tracking)
    assert build_revision_album.apply(args=(issued_sha,)).get()["entries"] == 2  # the worker, not the page
    html = page(council, tracking)
    assert entries(html) == [("signature", "good"), ("signature", "good")]
    assert "رئيس مجلس المدينة" in html and "لم يتغير شيء بعد توقيع" in html
    staff_urls = pictures(re.search(r'id="revisions".*?</section>', html, flags=re.S).group(0))  # type: ignore[union-attr]
    assert len(staff_urls) == 2 and len(set(staff_urls)) == 2  # the second stamp changed the page
    staff_picture = council.get(staff_urls[1])
    assert staff_picture.status_code == 200 and png_size(staff_picture.data)[0] == PAGE_WIDTH
    assert world.client().get(staff_urls[1]).status_code in (302, 303, 401, 403)  # staff only

    # the public page: the same two entries, small pictures
    issued = head.get(f"/applications/{tracking}/permit.pdf").data
    url = qr_url(issued, tmp_path).partition("#")[0]
    path = url[len(world.rt.settings.base_url):]
    citizen = world.client()
    html = text_of(citizen.get(path))
    assert entries(html) == [("signature", "good"), ("signature", "good")]
    assert "رئيس مجلس المدينة" in html
    public_urls = pictures(html)
    thumb = citizen.get(public_urls[1])
    assert thumb.status_code == 200 and png_size(thumb.data)[0] == THUMB_WIDTH

    # the permit prints the holder's full name and national ID in its body text, which the public page never shows:
    # on the staff picture Tesseract reads body text of that size (the tracking number, 10.5 pt like the ID), on the
    # public thumbnail it reads neither that nor six digits of the ID in a row (the 17 pt permit number may be read)
    staff_text = ocr_text(staff_picture.data, tmp_path / "staff")
    public_text = ocr_text(thumb.data, tmp_path / "public")
    assert glyphs(tracking) in glyphs(staff_text)
    assert glyphs(tracking) not in glyphs(public_text)
    assert common_run(re.sub(r"[^0-9]", "", public_text), NATIONAL_ID) < 6
    assert NATIONAL_ID not in html

    # the viewer is an addition: when its album cannot be had, the staff page still answers, without it
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(web.verify.revisions, "load_album", broken)
    world.app.extensions.pop(web.verify.revisions.ALBUMS_KEY, None)
    response = council.get(f"/applications/{tracking}")
    assert response.status_code == 200 and 'id="revisions"' not in text_of(response)


def test_a_missing_album_is_asked_of_the_worker_once_and_built_by_its_recovery_job_never_by_a_request(
    world: World, demo_pki: DemoPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head, council = world.client(HEAD), world.client(COUNCIL)
    tracking = awaiting_signatures(world, demo_pki, head, "الملف مستوفى")
    # the broker is down: the signatures' own asks for the album are lost, and so is every page's
    lost: list[str] = []

    def broker_down(_settings: object, sha: str) -> None:
        lost.append(sha)
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(worker.dispatch, "enqueue_revision_album", broker_down)
    for user, client in ((HEAD, head), (COUNCIL, council)):
        own = demo_pki.signer(user).pkcs12_path.read_bytes()
        assert sign_with_pkcs12(client, tracking, own, PKI_PASSWORD).status_code == 303
    permit = world.permit(tracking)
    assert permit is not None and permit.status == "issued"
    sha = permit.current_pdf_sha256
    assert lost[-1] == sha and load_album(world.rt.store, sha) is None and permit.album_sha256 is None

    # no request builds it: every page answers, says the pictures are being prepared, and asks the worker once
    real_build = album_module.build_album

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a request built an album")

    monkeypatch.setattr(album_module, "build_album", refuse)
    asked: list[str] = []
    monkeypatch.setattr(worker.dispatch, "enqueue_revision_album", lambda _settings, sha: asked.append(sha))
    issued = head.get(f"/applications/{tracking}/permit.pdf").data
    path = qr_url(issued, tmp_path).partition("#")[0][len(world.rt.settings.base_url):]
    citizen, other_citizen = world.client(), world.client()
    for client in (citizen, other_citizen, citizen):
        html = text_of(client.get(path))
        assert 'id="revisions-pending"' in html and entries(html) == [] and pictures(html) == []
        assert "نُجهّز الآن صور الترخيص كما وقّعه كل مسؤول" in html
        assert 'id="signatures"' in html  # the rest of the page is there
    api_path = "/api/v1/verify" + path[len("/v"):]
    for _ in range(2):
        body = citizen.get(api_path).get_json()
        assert body["revisions_pending"] is True and body["revisions"] == [] and body["valid"] is True
    staff = page(council, tracking)
    assert 'id="revisions-pending"' in staff and entries(staff) == []
    citizen.get("/lang/en")
    html = text_of(citizen.get(path))
    assert "are being prepared now. Open this page again in a minute or two." in html
    citizen.get("/lang/ar")
    assert asked == [sha]  # seven visits, three visitors, two languages, JSON and staff: one message
    assert load_album(world.rt.store, sha) is None  # and nothing was built
    spec = citizen.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "being prepared" in spec["Verification"]["properties"]["revisions_pending"]["description"]

    # that message was lost too: the beat's recovery job finds the permit by its row and builds the album
    monkeypatch.setattr(album_module, "build_album", real_build)
    worker_on(world, monkeypatch)
    assert BEAT_SCHEDULE["missing-revision-albums"]["task"] == build_missing_revision_albums.name
    assert BEAT_SCHEDULE["missing-revision-albums"]["schedule"] <= 60.0
    assert build_missing_revision_albums.apply().get() == {"built": 1, "failed": 0}
    assert load_album(world.rt.store, sha) is not None
    assert world.permit(tracking).album_sha256 == sha  # type: ignore[union-attr]
    assert build_missing_revision_albums.apply().get() == {"built": 0, "failed": 0}  # nothing left to do

    # the next visit shows the signed states with their pictures, and asks nothing more
    monkeypatch.setattr(album_module, "build_album", refuse)
    html = text_of(citizen.get(path))
    assert 'id="revisions-pending"' not in html
    assert entries(html) == [("signature", "good"), ("signature", "good")] and len(pictures(html)) == 2
    body = citizen.get(api_path).get_json()
    assert body["revisions_pending"] is False and len(body["revisions"]) == 2
    staff = page(council, tracking)
    assert 'id="revisions-pending"' not in staff and entries(staff) == [("signature", "good"), ("signature", "good")]
    assert asked == [sha]


def test_the_recovery_job_records_an_album_already_built_and_keeps_trying_one_that_fails(
    world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    head = world.client(HEAD)
    tracking = awaiting_signatures(world, demo_pki, head, "مستندات كاملة")
    monkeypatch.setattr(worker.dispatch, "enqueue_revision_album", lambda _settings, _sha: None)
    assert missing_album_ids_now(world) == []  # a draft nobody signed has no history to show
    own = demo_pki.signer(HEAD).pkcs12_path.read_bytes()
    assert sign_with_pkcs12(head, tracking, own, PKI_PASSWORD).status_code == 303
    permit = world.permit(tracking)
    assert permit is not None
    assert missing_album_ids_now(world) == [permit.id]  # signed once, not issued yet: the staff page shows it

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(album_module, "build_album", broken)
    with caplog.at_level("WARNING"):
        report = build_missing_albums(world.rt.db, world.rt.store)
    assert report.built == [] and list(report.failed) == [permit.permit_number]
    lines = [r for r in caplog.records if permit.permit_number in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None and "renderer exploded" in lines[0].getMessage()
    assert missing_album_ids_now(world) == [permit.id]  # still missing: the next run tries again

    monkeypatch.undo()
    album_module.ensure_album(world.rt.store, permit.current_pdf_sha256)  # built elsewhere (the renewal pass)
    report = build_missing_albums(world.rt.db, world.rt.store)
    assert report.built == [permit.permit_number] and missing_album_ids_now(world) == []


def awaiting_signatures(world: World, demo_pki: DemoPki, head: FlaskClient, note: str) -> str:
    """A new application the reviewer recommended with ``note``, its permit rendered for ``head``: ready for the
    officials' signatures, with the demo PKI trusted. Returns its tracking number."""
    trust_demo_pki(world, demo_pki)
    tracking = world.register()
    assert decide(world.client(REVIEWER), tracking, "recommend", note).status_code == 303
    page(head, tracking)  # renders the permit
    return tracking


def worker_on(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's tasks, run here with ``apply``, use this test's archive and database."""
    monkeypatch.setattr("worker.tasks.worker_runtime",
                        lambda: SimpleNamespace(store=world.rt.store, database=world.rt.db))


def missing_album_ids_now(world: World) -> list[int]:
    with world.session() as s:
        return missing_album_ids(s)


def common_run(a: str, b: str) -> int:
    """Length of the longest run of characters ``a`` and ``b`` share."""
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


def glyphs(text: str) -> str:
    """``text`` with the letter O and the digit zero as one character: in the permit's typeface they are the same
    oval to a reader of this size, and Tesseract's choice between them varies with poppler's and Tesseract's builds
    (one CI machine read the tracking number's "SOH01" as "SOHO1"); the check is about legibility, not that choice."""
    return text.upper().replace("O", "0")


def ocr_text(png: bytes, base: Path) -> str:
    """Tesseract's reading of the picture enlarged to 1,800 pixels wide (the same size whatever the source, so only
    what the picture holds differs), without blanks."""
    base.mkdir()
    upscaled = base / "up.png"
    with Image.open(io.BytesIO(png)) as image:
        ratio = 1800 / image.width
        image.convert("L").resize((1800, round(image.height * ratio)), Image.Resampling.LANCZOS).save(upscaled)
    text = subprocess.run(["tesseract", str(upscaled), "-", "--psm", "6", "-l", "eng"], capture_output=True,
                          check=True).stdout.decode()
    return re.sub(r"\s+", "", text)
