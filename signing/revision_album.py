"""The revision album of an archived permit: its signed states analysed once and rendered once, kept in the archive.

The verification page and the staff's application page show the permit as each official signed it
(:mod:`signing.revisions`) with a picture of its first page at that state. Analysing the revisions and rendering
pages costs a second or so, far too much for a public request, and never changes for a given archived revision. So the
*album* of a revision (the history as JSON and the PNG images) is computed once per archived revision, keyed by that
revision's SHA-256, and kept in the object store as named records (:data:`PREFIX`); every later reader only loads it.
Only the worker builds it: the task ``permits.revision_album``, queued after each signature's commit (and by a page
that found none, :mod:`web.verify.album_queue`), the daily renewal pass (:mod:`signing.renewal`) for each revision it
stores, and the recovery job ``permits.missing_albums`` (:mod:`signing.album_backlog`) for any permit whose row says its
current revision has none. :func:`ensure_album` builds at most once per revision per process at a time; two workers at
worst repeat it, and the records are identical. A web request only reads (:func:`load_album`).

Bounds: only the first page is rendered, at a fixed width (:data:`THUMB_WIDTH` for the public page,
:data:`PAGE_WIDTH` for staff), by ``pdftoppm`` in a subprocess with a timeout (PDFium is not thread-safe in the
threaded web server, poppler in its own process is), at most :data:`MAX_RENDERS` renders per album; a renewal adds
only a timestamp and validation data, which change no page, so it reuses the previous picture.

Privacy: the permit prints the holder's full name and national ID, which the public page deliberately does not show
(:mod:`web.verify.model` masks them). The public picture is therefore a thumbnail too small to read the text (the
layout, the filled signature boxes and the stamps are what it shows); the legible picture is for staff only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from archive.store import ObjectNotFound, ObjectStore
from signing.quiet_logs import quiet_pyhanko
from signing.revisions import RevisionHistory, revision_history

__all__ = [
    "MAX_RENDERS",
    "PAGE_WIDTH",
    "PREFIX",
    "THUMB_WIDTH",
    "Album",
    "RenderFailed",
    "album_name",
    "build_album",
    "ensure_album",
    "load_album",
    "render_first_page",
]

log = logging.getLogger(__name__)

PREFIX = "permit-revisions/v1/"
"""Named records: ``<PREFIX><revision sha256>.json`` (the album) and ``<PREFIX>{thumb,page}-<png sha256>.png``. The
version changes whenever the album's format or the rendering does, so old albums are simply not found."""
THUMB_WIDTH = 220
"""Public picture width in pixels: an A4 page at about 27 dpi, the text a blur (see the module's docstring)."""
PAGE_WIDTH = 900
"""Staff picture width: an A4 page at about 110 dpi, legible."""
MAX_RENDERS = 12
"""Distinct states rendered per album (two pictures each); later states beyond it get no picture."""
RENDER_TIMEOUT_S = 30.0
MAX_PDF_BYTES = 16 * 1024 * 1024

ImageKind = Literal["thumb", "page"]


class RenderFailed(RuntimeError):
    """pdftoppm could not render the page (missing, timed out, or the file is unreadable)."""


@dataclass(frozen=True)
class Album:
    """The history of one archived revision with the names of its pictures (``""``: no picture for that entry)."""

    pdf_sha256: str
    history: RevisionHistory
    thumbs: list[str]
    pages: list[str]

    def image(self, kind: ImageKind, index: int) -> str:
        names = self.thumbs if kind == "thumb" else self.pages
        return names[index] if 0 <= index < len(names) else ""

    def has_image(self, kind: ImageKind, name: str) -> bool:
        return bool(name) and name in (self.thumbs if kind == "thumb" else self.pages)

    def to_json(self) -> bytes:
        return json.dumps({"pdf_sha256": self.pdf_sha256, "history": self.history.to_json(), "thumbs": self.thumbs,
                           "pages": self.pages}, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Album:
        raw = json.loads(data)
        return cls(pdf_sha256=str(raw["pdf_sha256"]), history=RevisionHistory.from_json(raw["history"]),
                   thumbs=[str(n) for n in raw["thumbs"]], pages=[str(n) for n in raw["pages"]])


def album_name(pdf_sha256: str) -> str:
    return f"{PREFIX}{pdf_sha256}.json"


def image_name(kind: ImageKind, png_sha256: str) -> str:
    return f"{PREFIX}{kind}-{png_sha256}.png"


def render_first_page(pdf: bytes, width: int, *, timeout_s: float = RENDER_TIMEOUT_S) -> bytes:
    """A PNG of the first page of ``pdf``, ``width`` pixels wide, from poppler's ``pdftoppm`` in a subprocess."""
    if len(pdf) > MAX_PDF_BYTES:
        raise RenderFailed("file too large to render")
    with tempfile.TemporaryDirectory(prefix="sijill-render-") as tmp:
        source = Path(tmp) / "in.pdf"
        source.write_bytes(pdf)
        target = Path(tmp) / "page"
        try:
            subprocess.run(
                ["pdftoppm", "-q", "-f", "1", "-l", "1", "-singlefile", "-png", "-scale-to-x", str(int(width)),
                 "-scale-to-y", "-1", str(source), str(target)],
                check=True, timeout=timeout_s, capture_output=True,
            )
            return (Path(tmp) / "page.png").read_bytes()
        except (OSError, subprocess.SubprocessError) as exc:
            raise RenderFailed(f"pdftoppm failed: {exc!r}") from exc


def load_album(store: ObjectStore, pdf_sha256: str) -> Album | None:
    """The stored album of this archived revision, or None if it was never built."""
    try:
        return Album.from_json(store.get_named(album_name(pdf_sha256)))
    except ObjectNotFound:
        return None


def build_album(store: ObjectStore, pdf_sha256: str, pdf: bytes | None = None) -> Album:
    """Analyse and render the archived revision ``pdf_sha256`` and store its album (pictures first, then the JSON that
    names them, so a stored album never names a missing picture)."""
    data = pdf if pdf is not None else store.get_bytes(pdf_sha256)
    with quiet_pyhanko(f"revision album {pdf_sha256[:12]}", log):  # an altered file: one line, no stacks
        history = revision_history(data)
    thumbs: list[str] = []
    pages: list[str] = []
    renders = 0
    for index, entry in enumerate(history.entries):
        previous = history.entries[index - 1] if index else None
        same_page = previous is not None and all(
            c.kind in ("validation_data", "timestamp")
            for c in previous.changes_after if c.revision <= entry.revision
        )
        if same_page and thumbs:  # a renewal: validation data and a timestamp, no page changed
            thumbs.append(thumbs[-1])
            pages.append(pages[-1])
            continue
        if renders >= MAX_RENDERS:
            thumbs.append("")
            pages.append("")
            continue
        renders += 1
        state = data[: entry.end]
        names: list[str] = []
        sizes: tuple[tuple[ImageKind, int], ...] = (("thumb", THUMB_WIDTH), ("page", PAGE_WIDTH))
        for kind, width in sizes:
            try:
                png = render_first_page(state, width)
            except RenderFailed as exc:
                log.warning("revision album %s: entry %d not rendered: %s", pdf_sha256[:12], index, exc)
                names.append("")
                continue
            name = image_name(kind, hashlib.sha256(png).hexdigest())
            store.put_named(name, png)
            names.append(name)
        thumbs.append(names[0])
        pages.append(names[1])
    album = Album(pdf_sha256=pdf_sha256, history=history, thumbs=thumbs, pages=pages)
    store.put_named(album_name(pdf_sha256), album.to_json())
    return album


_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def ensure_album(store: ObjectStore, pdf_sha256: str, pdf: bytes | None = None) -> Album:
    """The stored album, built now if there is none (once per revision per process: concurrent callers wait for the
    first one's build and then load it)."""
    album = load_album(store, pdf_sha256)
    if album is not None:
        return album
    with _locks_guard:
        lock = _locks.setdefault(pdf_sha256, threading.Lock())
    try:
        with lock:
            album = load_album(store, pdf_sha256)
            if album is None:
                album = build_album(store, pdf_sha256, pdf)
            return album
    finally:
        with _locks_guard:
            if not lock.locked():
                _locks.pop(pdf_sha256, None)
