"""Assemble the searchable PDF of a document from its one-page PDFs.

Each page is OCR'd on its own (one task per page, possibly on different workers), so each yields a one-page PDF;
this module puts them together in order with pikepdf (qpdf), which copies the pages' objects as they are: the
invisible text layer stays selectable and searchable, and no image is re-encoded.

Memory: qpdf copies a page's objects lazily and reads their stream data only when the result is written, so each
source stays open until then. A source given as a Path is read from disk at write time (nothing is held in memory
but its object table); a source given as bytes is held as it is (no copy). The output is written once, to a path or
to any binary stream.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import pikepdf
from PIL import Image


def merge_pages(
    pages: Iterable[bytes | Path],
    out: BinaryIO | Path,
    *,
    title: str | None = None,
    lang: str | None = "ar",
) -> int:
    """Write the pages of every PDF in ``pages`` (in order) as one PDF to ``out``; return the number of pages.

    ``title`` goes into the document information and XMP metadata; ``lang`` is the document's natural language
    (``/Lang``), which screen readers use. Raises ``pikepdf.PdfError`` if a page PDF cannot be read and
    ``ValueError`` if there is no page at all.
    """
    with ExitStack() as sources:
        merged = sources.enter_context(pikepdf.new())
        for page in pages:
            source = pikepdf.open(io.BytesIO(page) if isinstance(page, bytes | bytearray) else Path(page))
            sources.enter_context(source)
            merged.pages.extend(source.pages)
        count = len(merged.pages)
        if count == 0:
            raise ValueError("no pages to merge")
        if lang:
            merged.Root.Lang = pikepdf.String(lang)
        if title:
            with merged.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta["dc:title"] = title
        merged.save(
            out,
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            fix_metadata_version=bool(title),
        )
    return count


def image_pdf(image: Image.Image, *, dpi: int, quality: int = 75) -> bytes:
    """A one-page PDF of the image alone (no text layer), e.g. for a blank page that was not OCR'd.

    The page has the same size as Tesseract would give it, so a document keeps uniform pages; the image is stored
    as a JPEG of the given quality, like Tesseract's pages.
    """
    buffer = io.BytesIO()
    page = image if image.mode in ("L", "RGB") else image.convert("L")
    page.save(buffer, "PDF", resolution=float(dpi), quality=quality)
    return buffer.getvalue()
