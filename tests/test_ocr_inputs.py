"""ocr.inputs: each kind of bad upload is refused with its code, cheaply; good files render one page at a time."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageDraw

from ocr import InputRejected, Limits, inspect, render_page, sniff
from ocr.errors import CODES
from tests.ocr_pages import png_bomb, save_pdf, save_tiff, text_page, tiff_with_frames

ARABIC = range(0x0600, 0x0700)


def refusal(path: Path, limits: Limits = Limits()) -> InputRejected:  # noqa: B008
    with pytest.raises(InputRejected) as caught:
        inspect(path, limits)
    return caught.value


def near(size: tuple[int, int], expected: tuple[int, int]) -> bool:
    """Page sizes in points are floats: a rendered side may be one pixel over its nominal size."""
    return all(0 <= got - want <= 1 for got, want in zip(size, expected, strict=True))


def small_page(size: tuple[int, int] = (600, 800), label: str = "1") -> Image.Image:
    page = Image.new("L", size, 255)
    ImageDraw.Draw(page).text((50, 50), label, fill=0)
    return page


@pytest.fixture
def three_page_pdf(tmp_path: Path) -> Path:
    """Pages of three different sizes, so that each rendered page can be told apart by its size."""
    sizes = [(1240, 1754), (1754, 1240), (874, 1240)]  # A5 portrait, A5 landscape, A6 at 150 dpi
    return save_pdf([small_page(size, str(i)) for i, size in enumerate(sizes)], tmp_path / "three.pdf", dpi=150)


def test_sniff_reads_magic_bytes_not_names() -> None:
    assert sniff(b"%PDF-1.7\n%\xe2\xe3") == "application/pdf"
    assert sniff(b"\r\n" * 100 + b"%PDF-1.4") == "application/pdf"  # junk before the header, as Acrobat allows
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "image/jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n\x00\x00") == "image/png"
    assert sniff(b"II*\x00\x08\x00\x00\x00") == "image/tiff"
    assert sniff(b"MM\x00*\x00\x00\x00\x08") == "image/tiff"
    assert sniff(b"GIF89a") is None
    assert sniff("مرحبا، هذا ملف نصي".encode()) is None
    assert sniff(b"") is None


def test_zero_bytes_is_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "scan.pdf"
    empty.write_bytes(b"")
    exc = refusal(empty)
    assert exc.code == "empty_file"
    assert str(exc) == exc.message_en and "empty" in exc.message_en
    assert any(ord(ch) in ARABIC for ch in exc.message_ar)


def test_text_file_renamed_pdf_is_unsupported(tmp_path: Path) -> None:
    fake = tmp_path / "form.pdf"
    fake.write_text("هذا ليس ملف PDF بل ملف نصي\n", encoding="utf-8")
    exc = refusal(fake)
    assert exc.code == "unsupported_type"
    with pytest.raises(InputRejected, match="not supported"):
        render_page(fake, 0)


@pytest.mark.parametrize("keep", [0.6, 0.1])
def test_truncated_pdf_is_corrupt(tmp_path: Path, three_page_pdf: Path, keep: float) -> None:
    data = three_page_pdf.read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert refusal(cut).code == "corrupt_file"


def test_garbage_after_a_pdf_header_is_corrupt(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + b"\x00garbage\xff" * 500)
    assert refusal(junk).code == "corrupt_file"


def test_pdf_needing_a_password_is_refused(tmp_path: Path, three_page_pdf: Path) -> None:
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(three_page_pdf) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="owner-secret", user="user-secret", R=6))
    exc = refusal(locked)
    assert exc.code == "encrypted_pdf"
    assert "password" in exc.message_en
    with pytest.raises(InputRejected) as caught:
        render_page(locked, 0)
    assert caught.value.code == "encrypted_pdf"


def test_pdf_with_only_an_owner_password_is_accepted(tmp_path: Path, three_page_pdf: Path) -> None:
    """Permission flags without a user password: every viewer opens it, so do we (and we say so)."""
    restricted = tmp_path / "restricted.pdf"
    with pikepdf.open(three_page_pdf) as pdf:
        no_copy = pikepdf.Permissions(extract=False, modify_other=False)
        pdf.save(restricted, encryption=pikepdf.Encryption(owner="owner-secret", user="", allow=no_copy))
    info = inspect(restricted)
    assert (info.page_count, info.encrypted) == (3, True)
    assert not inspect(three_page_pdf).encrypted
    assert near(render_page(restricted, 0).size, (2480, 3508))


def test_png_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    pillow_guard = Image.MAX_IMAGE_PIXELS
    bomb = png_bomb(tmp_path / "bomb.png", 50_000, 50_000)
    assert bomb.stat().st_size < 1_000_000  # 2.5 gigapixels in under a megabyte
    started = time.perf_counter()
    exc = refusal(bomb)
    assert time.perf_counter() - started < 1.0
    assert exc.code == "pixel_limit"
    assert (exc.details["width"], exc.details["height"]) == (50_000, 50_000)
    assert "50000" in exc.message_en and "50000" in exc.message_ar
    with pytest.raises(InputRejected) as caught:
        render_page(bomb, 0)
    assert caught.value.code == "pixel_limit"
    assert Image.MAX_IMAGE_PIXELS == pillow_guard  # Pillow's process-wide guard is left alone


def test_our_pixel_limit_decides_not_pillows(tmp_path: Path) -> None:
    """A 4 Mpx image is far below Pillow's own guard; a small Limits still refuses it, from the declared size."""
    image = tmp_path / "big.png"
    Image.new("L", (2000, 2000), 255).save(image)
    exc = refusal(image, Limits(max_pixels=1_000_000))
    assert exc.code == "pixel_limit" and exc.details["pixels"] == 4_000_000
    assert inspect(image, Limits(max_pixels=4_000_000)).page_count == 1
    assert refusal(image, Limits(max_image_side=1999)).code == "pixel_limit"


def test_tiff_with_hundreds_of_frames_is_refused_without_decoding(tmp_path: Path) -> None:
    tiff = tiff_with_frames(tmp_path / "fax.tif", 300)  # 300 frames of 16 Mpx each, in a few kilobytes
    started = time.perf_counter()
    exc = refusal(tiff)
    elapsed = time.perf_counter() - started
    assert exc.code == "too_many_frames" and exc.details["limit"] == 200
    assert elapsed < 0.5, f"counting frames took {elapsed:.2f} s: were they decoded?"
    generous = Limits(max_frames=1000)
    assert inspect(tiff, generous).page_count == 300
    last = render_page(tiff, 299, generous)  # the file is valid: its last frame renders, and it is white
    assert last.size == (4000, 4000) and last.getextrema() == (255, 255)
    with pytest.raises(InputRejected) as caught:
        render_page(tiff, 250)
    assert caught.value.code == "too_many_frames"


def test_pdf_with_more_pages_than_allowed(tmp_path: Path) -> None:
    many = tmp_path / "many.pdf"
    with pikepdf.new() as pdf:
        for _ in range(5):
            pdf.add_blank_page(page_size=(595, 842))
        pdf.save(many)
    exc = refusal(many, Limits(max_pages=3))
    assert exc.code == "too_many_pages" and exc.details == {"pages": 5, "limit": 3}
    assert "5" in exc.message_ar and "3" in exc.message_ar
    assert inspect(many, Limits(max_pages=5)).page_count == 5


def test_pdf_page_too_large_at_the_rendering_resolution(tmp_path: Path) -> None:
    poster = tmp_path / "poster.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(595, 842))
        pdf.add_blank_page(page_size=(4000, 4000))  # 55.6 in square: 16667 x 16667 px = 278 Mpx at 300 dpi
        pdf.save(poster)
    exc = refusal(poster)
    assert exc.code == "pixel_limit"
    assert exc.details["page_number"] == 2 and exc.details["width"] == 16667
    assert inspect(poster, Limits(dpi=150)).page_count == 2  # 69 Mpx at 150 dpi
    assert near(render_page(poster, 0).size, (2479, 3508))
    with pytest.raises(InputRejected):
        render_page(poster, 1)


def test_file_larger_than_max_bytes(tmp_path: Path) -> None:
    image = tmp_path / "scan.png"
    text_page().save(image)
    size = image.stat().st_size
    exc = refusal(image, Limits(max_bytes=size - 1))
    assert exc.code == "too_large"
    assert exc.details["size_bytes"] == size and exc.details["limit_bytes"] == size - 1
    assert inspect(image, Limits(max_bytes=size)).size_bytes == size


def test_corrupt_images(tmp_path: Path) -> None:
    png = io.BytesIO()
    text_page().save(png, "PNG")
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    assert refusal(cut_png).code == "corrupt_file"  # chunk CRCs are checked without inflating

    jpeg = io.BytesIO()
    text_page().save(jpeg, "JPEG")
    cut_jpeg = tmp_path / "cut.jpg"
    cut_jpeg.write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    assert inspect(cut_jpeg).page_count == 1  # the header is intact ...
    with pytest.raises(InputRejected) as caught:  # ... and decoding finds the damage
        render_page(cut_jpeg, 0)
    assert caught.value.code == "corrupt_file"

    header_only = tmp_path / "header.png"
    header_only.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
    assert refusal(header_only).code == "corrupt_file"


def test_pdf_pages_render_one_at_a_time(three_page_pdf: Path) -> None:
    info = inspect(three_page_pdf)
    assert (info.media_type, info.page_count) == ("application/pdf", 3)
    assert near(render_page(three_page_pdf, 1).size, (3508, 2480))  # twice the 150-dpi pixels at 300 dpi
    page = render_page(three_page_pdf, 2)
    assert near(page.size, (1748, 2480)) and page.mode in ("RGB", "L") and page.info["dpi"] == (300, 300)
    assert near(render_page(three_page_pdf, 2, Limits(dpi=150)).size, (874, 1240))
    with pytest.raises(IndexError):
        render_page(three_page_pdf, 3)


def test_tiff_frames_render_one_at_a_time(tmp_path: Path) -> None:
    frames = [small_page((300 + 100 * i, 400), str(i)).convert("1" if i == 1 else "L") for i in range(3)]
    tiff = save_tiff(frames, tmp_path / "three.tif")
    assert inspect(tiff).page_count == 3
    for index in range(3):
        page = render_page(tiff, index)
        assert page.size == (300 + 100 * index, 400) and page.mode == "L"
    with pytest.raises(IndexError):
        render_page(tiff, 3)


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    """A phone photo stored sideways with Orientation=6 ("rotate 90° clockwise to view") comes out upright."""
    stored = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(stored).rectangle((0, 0, 99, 199), fill="black")  # a dark band on the stored image's left
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "photo.jpg"
    stored.save(photo, "JPEG", exif=exif, quality=95)
    page = render_page(photo, 0)
    assert page.size == (200, 400)
    gray = page.convert("L")
    assert gray.getpixel((100, 40)) < 60  # the band is now at the top ...
    assert gray.getpixel((100, 360)) > 200  # ... and the rest below it


def test_transparent_png_lands_on_white_paper(tmp_path: Path) -> None:
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(clear)
    page = render_page(clear, 0)
    assert page.mode in ("RGB", "L") and page.convert("L").getextrema() == (255, 255)


def test_sixteen_bit_scan_is_scaled_not_clipped(tmp_path: Path) -> None:
    deep = tmp_path / "deep.png"
    Image.new("I;16", (40, 40), 32768).save(deep)
    page = render_page(deep, 0)
    assert page.mode == "L" and page.getextrema() == (127, 127)


def test_every_code_has_both_languages() -> None:
    for code in CODES:
        exc = InputRejected(code, details={"pages": 9, "limit": 2})
        assert exc.message_en and exc.message_ar and str(exc) == exc.message_en
        assert any(ord(ch) in ARABIC for ch in exc.message_ar)
    with pytest.raises(ValueError):
        InputRejected("no_such_code")


def test_truncated_scan_is_refused_even_after_weasyprint_loosened_pillow(tmp_path: Path) -> None:
    """WeasyPrint (receipts, permits) sets Pillow's LOAD_TRUNCATED_IMAGES process-wide when imported; a worker that
    rendered a receipt must still refuse a half-uploaded scan."""
    import weasyprint  # noqa: F401 - imported for its side effect on Pillow
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    jpeg = io.BytesIO()
    text_page().save(jpeg, "JPEG")
    cut_jpeg = tmp_path / "cut.jpg"
    cut_jpeg.write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    with pytest.raises(InputRejected) as caught:
        render_page(cut_jpeg, 0)
    assert caught.value.code == "corrupt_file"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # put back as it was
