"""One application from the window to searchable Arabic text, through the real processes of `make run`.

`sijill run` serves the web app and starts a worker on the embedded broker; the test registers an application
through the JSON API with mixed PDF/TIFF/JPEG scans, waits for the worker to read every page with Tesseract, and
downloads the searchable PDF to check its Arabic text layer.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.sijill_process import run_sijill, serving, sijill_env

pytestmark = pytest.mark.slow

FONT = "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf"


def page(lines: list[str], dpi: int = 200) -> Image.Image:
    width, height = int(8.27 * dpi), int(3.5 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, int(14 * dpi / 72))
    for i, line in enumerate(lines):
        draw.text((width - int(0.6 * dpi), int((0.5 + 0.45 * i) * dpi)), line, font=font, fill=0, anchor="ra",
                  direction="rtl", language="ar")
    return image


def encode(images: list[Image.Image], fmt: str) -> bytes:
    out = io.BytesIO()
    extra: dict[str, Any] = {"save_all": True, "append_images": images[1:]} if len(images) > 1 else {}
    if fmt == "PDF":
        extra["resolution"] = 200
    images[0].save(out, format=fmt, **extra)
    return out.getvalue()


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n".encode())
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_window_to_searchable_pdf_through_sijill_run(tmp_path: Path) -> None:
    env = sijill_env(tmp_path / "data")

    def sijill(*args: str) -> str:
        done = run_sijill(env, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    sijill("db", "upgrade")
    sijill("demo", "--no-history")
    token = sijill("users", "token", "demo.clerk").strip()
    with serving(env, "--concurrency", "2", log=tmp_path / "run.log") as base:
        body, content_type = multipart(
            {
                "service_code": "VALIDITY", "applicant_name": "سعاد محمود حسن", "national_id": "٢٩٠٠١٠١٢٦٠١٢٣٥",
                "applicant_phone": "01012345678", "details.plot_number": "15", "details.district": "الكوثر",
                "details.area_m2": "300",
            },
            [
                ("doc.ID_COPY", "id.jpg", encode([page(["بطاقة الرقم القومي"]).convert("RGB")], "JPEG")),
                ("doc.OWNERSHIP", "ownership.tif", encode([page(["عقد ملكية الأرض"]), page(["مدينة سوهاج"])],
                                                          "TIFF")),
                ("doc.SITE_PLAN", "site.pdf", encode([page(["كروكي الموقع بشارع الجمهورية"])], "PDF")),
            ],
        )  # fmt: skip
        request = urllib.request.Request(base + "/api/v1/applications", data=body, method="POST",
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201
            created = json.load(response)
        tracking = created["tracking_number"]

        def status() -> dict[str, Any]:
            req = urllib.request.Request(f"{base}/api/v1/applications/{tracking}",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=30) as response:
                result: dict[str, Any] = json.load(response)
                return result

        deadline = time.monotonic() + 240
        while True:
            current = status()
            pages = [p for d in current["documents"] for p in d["pages"]]
            failed = any(p["status"] == "failed" for p in pages)
            if failed or (pages and all(d["searchable_pdf"] for d in current["documents"])):
                break
            assert time.monotonic() < deadline, (current, (tmp_path / "run.log").read_text()[-3000:])
            time.sleep(1)
        assert [p["status"] for p in pages] == ["done"] * 4, pages
        texts = " ".join(p["text"] for p in pages)
        assert "سوهاج" in texts and "الموقع" in texts, texts

        assert all(d["ocr_status"] == "done" for d in current["documents"])
        site = next(d for d in current["documents"] if d["requirement"] == "SITE_PLAN")
        pdf_path = tmp_path / "site.pdf"
        _download_searchable(base, token, site["id"], pdf_path, env)
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "الجمهورية" in text, text

        # the worker indexed the application when its OCR finished: any spelling of a word on a scan finds it
        def search(q: str) -> dict[str, Any]:
            req = urllib.request.Request(f"{base}/api/v1/search?" + urllib.parse.urlencode({"q": q}),
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=30) as response:
                result: dict[str, Any] = json.load(response)
                return result

        deadline = time.monotonic() + 120
        while not (found := search("والموقع"))["total"]:
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(1)
        assert [h["tracking_number"] for h in found["hits"]] == [tracking]
        marked = [f["text"] for s in found["hits"][0]["snippets"] for f in s["fragments"] if f["hit"]]
        assert marked == ["الموقع"], found
        assert search("٢٩٠٠١٠١٢٦٠١٢٣٥")["total"] == 1


def _download_searchable(base: str, token: str, document_id: int, path: Path, env: dict[str, str]) -> None:
    """The searchable PDF as the application page links it (a staff session, since pages use cookies)."""
    from http.cookiejar import CookieJar

    from tests.test_browser import demo_password

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(base + "/login", timeout=30).read().decode()
    marker = 'name="csrf_token" type="hidden" value="'
    start = login_page.index(marker) + len(marker)
    csrf = login_page[start : login_page.index('"', start)]
    from urllib.parse import urlencode

    data_dir = Path(env["SIJILL_DATA_DIR"])
    form = urlencode({"csrf_token": csrf, "username": "demo.clerk",
                      "password": demo_password(data_dir, "demo.clerk")}).encode()
    opener.open(base + "/login", data=form, timeout=30).close()
    with opener.open(f"{base}/documents/{document_id}/searchable.pdf", timeout=60) as response:
        assert response.headers["Content-Type"] == "application/pdf"
        path.write_bytes(response.read())
