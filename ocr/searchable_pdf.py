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
import re
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import pikepdf
from PIL import Image

from ocr.tesseract import tessdata_dir

_ARABIC = re.compile("[\u0621-\u064a\u0671-\u06d3\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
"""Arabic letters: a word with one is drawn right to left. Arabic-Indic digits are not letters: a number reads left
to right in either digit set."""


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


@dataclass(frozen=True)
class TextWord:
    """One word of the invisible text layer and its box in image pixels."""

    text: str
    left: int
    top: int
    right: int
    bottom: int


def searchable_page(image: Image.Image, lines: list[list[TextWord]], *, dpi: int, quality: int = 75) -> bytes:
    """A one-page searchable PDF: the page image as a JPEG of ``quality`` under an invisible text layer of
    ``lines``, what Tesseract's ``pdf`` renderer made before the page was read in-process.

    Why JPEG: a cleaned 300-dpi A4 page then makes a PDF of ~0.2-0.4 MB, where a lossless image made 5 MB on a noisy
    scan; the text was read from the image itself, so the JPEG's loss touches only what a person sees.
    """
    return with_text_layer(image_pdf(image, dpi=dpi, quality=quality), lines, dpi=dpi)


GLYPHLESS_FONT = "/GlyphLessFont"


@lru_cache(maxsize=1)
def _glyphless_font_file() -> bytes | None:
    """Tesseract's invisible font (``pdf.ttf`` in its tessdata, 572 bytes: one blank glyph); None if not there."""
    path = Path(tessdata_dir()) / "pdf.ttf"
    return path.read_bytes() if path.is_file() else None


def _glyphless_font(pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    """The font Tesseract's PDF renderer writes for its invisible text: every character is the CID of its UTF-16
    code, drawn as the one blank glyph, and mapped back to itself for extraction (``ToUnicode``)."""
    to_unicode = (b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n<<\n"
                  b"  /Registry (Adobe)\n  /Ordering (UCS)\n  /Supplement 0\n>> def\n"
                  b"/CMapName /Adobe-Identify-UCS def\n"
                  b"/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n1 beginbfrange\n"
                  b"<0000> <FFFF> <0000>\nendbfrange\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\n"
                  b"end\n")
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name(GLYPHLESS_FONT), Flags=5,
        FontBBox=pikepdf.Array([0, 0, 500, 1000]), ItalicAngle=0, Ascent=1000, Descent=-1, CapHeight=1000, StemV=80,
    )
    font_file = _glyphless_font_file()
    if font_file is not None:
        stream = pdf.make_stream(font_file)
        stream.Length1 = len(font_file)
        descriptor.FontFile2 = stream
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2, BaseFont=pikepdf.Name(GLYPHLESS_FONT),
        CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                         Supplement=0),
        CIDToGIDMap=pdf.make_stream(b"\x00\x01" * 65536), FontDescriptor=pdf.make_indirect(descriptor), DW=500,
    )
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name(GLYPHLESS_FONT),
        Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=pikepdf.Array([pdf.make_indirect(cid_font)]),
        ToUnicode=pdf.make_stream(to_unicode),
    )


def with_text_layer(page_pdf: bytes, lines: list[list[TextWord]], *, dpi: int) -> bytes:
    """A one-page PDF with its text layer replaced: each line's words in reading order, each at its box (a page
    without a text layer, such as ``image_pdf``'s, gets Tesseract's invisible font first).

    Why: Tesseract writes a number inside an Arabic line as part of the line's mirrored (right-to-left) run, and text
    extraction (Poppler's ``pdftotext``, what indexers and copy-paste use) then returns it reversed: "رقم القطعة 245"
    came out as "رقم القطعة 542". Here every word is drawn at its own box in its own direction: an Arabic word right to
    left from its right edge, a number or a Latin word left to right from its left edge, in Tesseract's invisible
    glyph-less font (each character a CID equal to its UTF-16 code, mapped back to Unicode) scaled to the box's
    width, and the words follow each other in reading order, so extraction by position (Poppler) and by stream
    order (PDFium) both give the reading order. The layer also carries the words ``ocr.arabic_first`` replaced.
    """
    with pikepdf.open(io.BytesIO(page_pdf)) as pdf:
        page = pdf.pages[0]
        fonts = list(page.Resources.get("/Font", {}).keys())
        if not fonts:
            if "/Font" not in page.Resources:
                page.Resources.Font = pikepdf.Dictionary()
            page.Resources.Font["/f-0-0"] = pdf.make_indirect(_glyphless_font(pdf))
            fonts = ["/f-0-0"]
        contents = page.Contents
        content = (b"".join(part.read_bytes() for part in contents) if isinstance(contents, pikepdf.Array)
                   else contents.read_bytes())
        parts = [content.split(b"BT", 1)[0].rstrip() + b"\n", b"BT\n3 Tr\n"]
        scale = 72.0 / dpi
        height = float(page.MediaBox[3])
        for line in lines:
            if not line:
                continue
            size = max(1.0, (max(w.bottom for w in line) - min(w.top for w in line)) * scale)
            baseline = height - max(w.bottom for w in line) * scale
            for word in line:  # no space characters: the gaps between the boxes are the spaces, as extractors see
                text = "".join(ch for ch in word.text if ord(ch) <= 0xFFFF)
                if not text.strip() or word.right <= word.left:
                    continue
                stretch = 100.0 * (word.right - word.left) * scale / (len(text) * size * 0.5)  # glyphs: 500/1000 em
                rtl = bool(_ARABIC.search(text))
                x, mirror = (word.right * scale, -1) if rtl else (word.left * scale, 1)
                parts.append(b"%d 0 0 1 %.2f %.2f Tm /%s %.2f Tf %.3f Tz <%s> Tj\n" % (
                    mirror, x, baseline, fonts[0].lstrip("/").encode(), size, stretch,
                    text.encode("utf-16-be").hex().upper().encode()))
        parts.append(b"ET\n")
        page.Contents = pdf.make_stream(b"".join(parts))
        out = io.BytesIO()
        pdf.save(out, compress_streams=True)
        return out.getvalue()
