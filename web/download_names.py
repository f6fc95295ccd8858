"""Download names from the content, not from whatever the uploader typed.

An uploaded name is the citizen's or the scanner's: ``scan.pdf`` may hold a PNG, and ``invoice\\u202egnp.exe`` shows
as ``invoiceexe.png`` in a file manager (a right-to-left override reverses what follows it). A download is named
here from its bytes instead:

* the type is read from the content's magic bytes (:func:`ocr.inputs.sniff`: PDF, PNG, JPEG, TIFF); what that does not
  know (CSV, XLSX, JSON made by Sijill itself) keeps the type the caller states;
* the extension is the one of that type, replacing the uploaded one;
* bidirectional controls (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM), every other control or format
  character, path separators and quotes are removed; an empty stem falls back to the caller's neutral name.

The uploaded name itself is never changed: it stays in the database (``documents.filename``) and is shown on the
application page beside the name a download gets (:func:`display_original`).
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

from ocr.inputs import sniff

EXTENSIONS: dict[str, str] = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "application/json": ".json",
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/x-yaml": ".yaml",
}
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
MAX_STEM = 120
_UNSAFE = frozenset('/\\"\'<>:|?*')


SCANS = frozenset({"application/pdf", "image/png", "image/jpeg", "image/tiff", "application/octet-stream"})
"""Stated types the magic bytes decide between; a type Sijill writes itself (JSON word boxes, CSV) is never re-read
as a scan because its text happens to contain ``%PDF-``."""


def detected_type(head: bytes, stated: str) -> str:
    """The media type the first bytes show when the content is a scan or a PDF, else the one the caller stated."""
    if stated.split(";")[0].strip().lower() not in SCANS:
        return stated
    return sniff(head) or stated


def clean_text(name: str) -> str:
    """``name`` without bidi controls, control or format characters (Unicode Cc/Cf), separators or quotes."""
    kept = []
    for ch in unicodedata.normalize("NFC", name):
        if ch in BIDI_CONTROLS or ch in _UNSAFE or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def download_name(original: str, media_type: str, fallback: str) -> str:
    """The name a download of ``media_type`` content gets: the cleaned stem of ``original`` (else of ``fallback``)
    and the extension of the type; the type's extension replaces whatever extension the name had."""
    extension = EXTENSIONS.get(media_type.split(";")[0].strip().lower(), ".bin")
    for candidate in (original, fallback):
        cleaned = clean_text(PurePosixPath(candidate.replace("\\", "/")).name)
        stem = cleaned.rsplit(".", 1)[0] if "." in cleaned else cleaned
        stem = stem.strip(" ._-")[:MAX_STEM].strip(" ._-")
        if stem:
            return stem + extension
    return "download" + extension


def display_original(name: str) -> str:
    """The uploaded name as the page shows it: invisible controls made visible as ``<U+202E>``, so a disguised
    name cannot reorder itself on screen."""
    return "".join(f"<U+{ord(ch):04X}>" if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf")
                   else ch for ch in name)
