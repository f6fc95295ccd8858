"""Accept or refuse an uploaded file cheaply, then rasterise its pages one at a time.

Two functions do all the work:

* ``inspect`` looks at the bytes on disk and at the headers only: file size, magic bytes (never the file name), PDF
  structure and encryption, page or frame count, and every page's declared pixel size. It decodes no pixel data, so a
  decompression bomb or a TIFF of ten thousand frames is refused in milliseconds.
* ``render_page`` turns one page into a Pillow image (RGB or L), re-checking the limits for that page, so a worker
  never holds more than one page of pixels at a time.

Decisions worth knowing:

* A PDF that needs a password to open is refused (``encrypted_pdf``). A PDF protected only by an owner password
  (permission flags such as "no copying", empty user password) opens in every viewer, so it is accepted: the original
  file is archived unchanged and our searchable copy is a new rendering. ``SourceInfo.encrypted`` says it happened.
* Pillow's process-wide decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) is neither changed nor relied on.
  Images are opened with the one decoder class their magic bytes name (not ``Image.open``, whose guard would fire
  before we see the size), so our own test of the declared size against ``Limits.max_pixels`` decides, and the
  refusal can say how big the page claims to be. Pillow checks again when decoding; its warning for sizes between
  its threshold (~89 Mpx) and ours is silenced there because the decision is already made, and its error (only
  possible if a deployment raises ``max_pixels`` above ~179 Mpx) becomes the same ``pixel_limit`` refusal.
* A PDF without any page is ``empty_file``: there is nothing to read, as with a zero-byte file.
* PDFium (pypdfium2) is not thread-safe: call these functions from one thread per process, as the Celery prefork
  workers do.
"""

from __future__ import annotations

import math
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from ocr.errors import InputRejected
from ocr.limits import Limits

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
SUPPORTED_MEDIA_TYPES: frozenset[str] = frozenset({PDF, JPEG, PNG, TIFF})

SNIFF_BYTES = 1024
"""How much of the head ``sniff`` needs: PDF readers accept the ``%PDF-`` header anywhere in the first kilobyte."""

_DECODERS: dict[str, type[ImageFile.ImageFile]] = {
    JPEG: JpegImagePlugin.JpegImageFile,
    PNG: PngImagePlugin.PngImageFile,
    TIFF: TiffImagePlugin.TiffImageFile,
}
# What Pillow and its decoders raise on damaged data (zlib for PNG/TIFF deflate, struct for short headers).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError)


@dataclass
class SourceInfo:
    """What ``inspect`` learnt about an accepted file."""

    media_type: str
    page_count: int
    size_bytes: int
    encrypted: bool = False
    """True for a PDF with an owner password only (opened without a password, see the module docstring)."""


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes of a file, or None when it is none of the supported types."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF, both byte orders
        return TIFF
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return PDF
    return None


def inspect(path: Path, limits: Limits = Limits()) -> SourceInfo:  # noqa: B008 - Limits is frozen
    """Validate a file without decoding its pixels; raise InputRejected with the first reason to refuse it."""
    path = Path(path)
    media_type, size = _sniff_file(path, limits)
    if media_type == PDF:
        pages, encrypted = _inspect_pdf(path, limits)
        return SourceInfo(media_type, pages, size, encrypted)
    return SourceInfo(media_type, _inspect_image(path, media_type, limits), size)


@contextmanager
def _strict_truncation() -> Iterator[None]:
    """Refuse truncated images while decoding a scan, whatever another library set process-wide: WeasyPrint sets
    ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` when imported, which would let a half-uploaded scan through as a
    page with a grey bottom half."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def render_page(path: Path, index: int, limits: Limits = Limits()) -> Image.Image:  # noqa: B008 - Limits is frozen
    """Rasterise page ``index`` (0-based) alone, as an RGB or L image whose ``info["dpi"]`` is set when known.

    The file is re-checked (size, type, that page's pixel size) so that callers cannot skip ``inspect`` by accident.
    Raises IndexError for a page that does not exist and InputRejected for a file that cannot be read.
    """
    path = Path(path)
    if index < 0:
        raise IndexError(f"page index {index} is negative")
    media_type, _ = _sniff_file(path, limits)
    if media_type == PDF:
        return _render_pdf_page(path, index, limits)
    return _render_image_page(path, media_type, index, limits)


# --- shared checks -------------------------------------------------------------------------------------------------


def _sniff_file(path: Path, limits: Limits) -> tuple[str, int]:
    size = path.stat().st_size
    if size == 0:
        raise InputRejected("empty_file", details={"size_bytes": 0})
    if size > limits.max_bytes:
        raise InputRejected(
            "too_large",
            details={
                "size_bytes": size,
                "limit_bytes": limits.max_bytes,
                "size_mb": _megabytes(size),
                "limit_mb": _megabytes(limits.max_bytes),
            },
        )
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    media_type = sniff(head)
    if media_type is None:
        raise InputRejected("unsupported_type", details={"head_hex": head[:8].hex()})
    return media_type, size


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


def _check_page_size(width: int, height: int, index: int, limits: Limits) -> None:
    """Refuse a page whose declared size is absurd, before a single pixel of it is allocated."""
    if width <= 0 or height <= 0:
        raise InputRejected("corrupt_file", details={"page_number": index + 1, "width": width, "height": height})
    if width * height > limits.max_pixels or max(width, height) > limits.max_image_side:
        raise InputRejected(
            "pixel_limit",
            details={
                "page_number": index + 1,
                "width": width,
                "height": height,
                "pixels": width * height,
                "limit": limits.max_pixels,
                "max_side": limits.max_image_side,
            },
        )


# --- PDF -----------------------------------------------------------------------------------------------------------


@contextmanager
def _open_pdf(path: Path) -> Iterator[pdfium.PdfDocument]:
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise InputRejected("encrypted_pdf", details={"pdfium": str(exc)}) from exc
        raise InputRejected("corrupt_file", details={"pdfium": str(exc)}) from exc
    try:
        yield document
    finally:
        document.close()


def _pdf_page_pixels(document: pdfium.PdfDocument, index: int, dpi: int) -> tuple[int, int]:
    """A page's size in pixels at ``dpi``, from its box alone (the page's content is not parsed)."""
    try:
        width_pt, height_pt = document.get_page_size(index)
    except pdfium.PdfiumError as exc:
        raise InputRejected("corrupt_file", details={"page_number": index + 1, "pdfium": str(exc)}) from exc
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)):
        raise InputRejected("corrupt_file", details={"page_number": index + 1})
    return math.ceil(abs(width_pt) * dpi / 72), math.ceil(abs(height_pt) * dpi / 72)


def _inspect_pdf(path: Path, limits: Limits) -> tuple[int, bool]:
    with _open_pdf(path) as document:
        pages = len(document)
        if pages == 0:
            raise InputRejected("empty_file", details={"pages": 0})
        if pages > limits.max_pages:
            raise InputRejected("too_many_pages", details={"pages": pages, "limit": limits.max_pages})
        for index in range(pages):
            _check_page_size(*_pdf_page_pixels(document, index, limits.dpi), index, limits)
        encrypted = pdfium_c.FPDF_GetSecurityHandlerRevision(document) != -1
        return pages, encrypted


def _render_pdf_page(path: Path, index: int, limits: Limits) -> Image.Image:
    with _open_pdf(path) as document:
        pages = len(document)
        if index >= pages:
            raise IndexError(f"page index {index} out of range for a PDF of {pages} pages")
        if pages > limits.max_pages:
            raise InputRejected("too_many_pages", details={"pages": pages, "limit": limits.max_pages})
        _check_page_size(*_pdf_page_pixels(document, index, limits.dpi), index, limits)
        document.init_forms()  # so that filled-in form fields are drawn like a viewer shows them
        try:
            page = document[index]
            try:
                bitmap = page.render(scale=limits.dpi / 72, may_draw_forms=True)
                image = bitmap.to_pil()
                bitmap.close()
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise InputRejected("corrupt_file", details={"page_number": index + 1, "pdfium": str(exc)}) from exc
    image = _to_rgb_or_l(image)
    image.info["dpi"] = (limits.dpi, limits.dpi)
    return image


# --- JPEG, PNG, TIFF -----------------------------------------------------------------------------------------------


@contextmanager
def _open_image(path: Path, media_type: str) -> Iterator[Image.Image]:
    """Open lazily (headers only) with the one decoder the magic bytes named."""
    try:
        image = _DECODERS[media_type](path)  # reads the headers; Image.open would add its global guard here
    except _DECODE_ERRORS as exc:
        raise InputRejected("corrupt_file", details={"pillow": str(exc)}) from exc
    try:
        yield image
    finally:
        image.close()


def _inspect_image(path: Path, media_type: str, limits: Limits) -> int:
    with _open_image(path, media_type) as image:
        if media_type != TIFF:
            _check_page_size(*image.size, 0, limits)
            if media_type == PNG:
                try:
                    image.verify()  # chunk CRCs, without inflating the pixels
                except _DECODE_ERRORS as exc:
                    raise InputRejected("corrupt_file", details={"pillow": str(exc)}) from exc
            return 1
        return _count_tiff_frames(image, limits)


def _count_tiff_frames(image: Image.Image, limits: Limits) -> int:
    """Walk the TIFF directory chain, checking each frame's size; stop as soon as there are too many frames.

    Each step reads one directory (a few hundred bytes), so the work is bounded by ``limits.max_frames`` whatever
    the file claims. Pillow itself stops on a directory chain that loops back.
    """
    frames = 0
    while True:
        _check_page_size(*image.size, frames, limits)
        frames += 1
        try:
            image.seek(frames)
        except EOFError:
            return frames
        except _DECODE_ERRORS as exc:
            raise InputRejected("corrupt_file", details={"page_number": frames + 1, "pillow": str(exc)}) from exc
        if frames >= limits.max_frames:
            raise InputRejected("too_many_frames", details={"limit": limits.max_frames})


def _render_image_page(path: Path, media_type: str, index: int, limits: Limits) -> Image.Image:
    with _open_image(path, media_type) as image:
        if media_type == TIFF:
            if index >= limits.max_frames:
                raise InputRejected("too_many_frames", details={"limit": limits.max_frames})
            try:
                image.seek(index)
            except EOFError as exc:
                raise IndexError(f"page index {index} out of range for this TIFF") from exc
            except _DECODE_ERRORS as exc:
                raise InputRejected("corrupt_file", details={"page_number": index + 1, "pillow": str(exc)}) from exc
        elif index != 0:
            raise IndexError(f"page index {index} out of range for a single-page image")
        _check_page_size(*image.size, index, limits)
        dpi = image.info.get("dpi")
        try:
            with warnings.catch_warnings(), _strict_truncation():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
                upright = ImageOps.exif_transpose(image)
                page = _to_rgb_or_l(upright)
        except Image.DecompressionBombError as exc:
            raise InputRejected("pixel_limit", details={"page_number": index + 1, "pillow": str(exc)}) from exc
        except _DECODE_ERRORS as exc:
            raise InputRejected("corrupt_file", details={"page_number": index + 1, "pillow": str(exc)}) from exc
    if dpi:
        page.info["dpi"] = dpi
    return page


def _to_rgb_or_l(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to RGB or L: transparency onto white paper, 16-bit scans down to 8 bits."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = float(values.max()) if values.size else 0.0
        scale = 255.0 / 65535.0 if top > 255 else 1.0  # 16-bit scans; 8-bit data in a wide container stays as is
        return Image.fromarray(np.clip(values * scale, 0, 255).astype(np.uint8), "L")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return image.convert("RGB")
