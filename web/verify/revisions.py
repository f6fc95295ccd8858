"""The revision viewer: the permit as each official signed it, on the public verification page and the staff's page.

Reads the permit's revision album (:mod:`signing.revision_album`: the signed states of its current archived revision,
what changed after each, and a picture of the first page at each state), built once per archived revision by the
worker and kept in the object store. A request only ever reads it: building one costs a second or two of CPU, which a
visitor must not be able to make the web processes spend. When it is not stored yet (a permit signed since the worker's
last pass, a message lost with the broker) the request asks the worker for it (:mod:`web.verify.album_queue`, once per
revision per window across processes) and the page says the pictures are being prepared
(:attr:`AlbumLookup.pending`); the worker's recovery job builds it anyway within a minute or two
(:mod:`signing.album_backlog`). Albums found are cached in-process like the validation reports (they never change for a
revision), and so are the pictures served to browsers; a missing one is not cached, so the next visit after the build
shows it.

Each entry becomes a :class:`RevisionView`: who signed (the official of the workflow step whose field it is, else the
certificate's name) and when, the plain sentence of :func:`signing.revisions.story` in Arabic and English, and the
technical details (pyHanko's modification level, DocMDP verdict, coverage, the list of changes) for a folded section.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from archive.models import Permit, WorkflowStep
from archive.store import StoreError
from signing.revision_album import PREFIX, Album, ImageKind, load_album
from signing.revisions import Change, RevisionHistory, story
from web.runtime import runtime
from web.verify.album_queue import ask_for_album
from web.verify.model import ReportCache
from workflow.routing import field_name_for

log = logging.getLogger(__name__)

ALBUMS_KEY = "sijill_revision_albums"
IMAGES_KEY = "sijill_revision_images"

#: What each kind of change is called in the technical details.
CHANGE_LABELS: dict[str, tuple[str, str]] = {
    "signature": ("توقيع", "signature"),
    "timestamp": ("طابع زمني للمستند", "document timestamp"),
    "validation_data": ("بيانات تحقق (DSS)", "validation data (DSS)"),
    "form": ("حقول نموذج", "form fields"),
    "annotation": ("ملاحظة على الصفحة", "annotation"),
    "page_content": ("محتوى الصفحة", "page content"),
    "other": ("تعديل آخر", "other change"),
}


@dataclass(frozen=True)
class RevisionView:
    number: int
    kind: str
    title_ar: str
    title_en: str
    after_ar: str
    after_en: str
    tone: str
    signed_at: datetime | None
    timestamped: bool
    image_url: str
    revision: int
    end: int
    sha256: str
    field_name: str
    certificate_name: str
    coverage: str
    modification_level: str | None
    docmdp_ok: bool | None
    suspicious: str
    changes: list[Change] = field(default_factory=list)


def _cache(key: str, entries: int) -> ReportCache[object]:
    cache = current_app.extensions.get(key)
    if cache is None:
        cache = current_app.extensions.setdefault(key, ReportCache(ttl_s=3600.0, max_entries=entries))
    assert isinstance(cache, ReportCache)
    return cache


@dataclass(frozen=True)
class AlbumLookup:
    """What a request found of the album of a permit's current revision."""

    album: Album | None = None
    pending: bool = False
    """Not stored yet: the worker was asked for it (or will build it on its own); the page says it is coming."""


class _NotStored(Exception):
    """Raised inside the cache's compute so that a missing album is not remembered as missing."""


def permit_album(permit: Permit, *, ask: bool = True) -> AlbumLookup:
    """The stored album of the permit's current archived revision, read only (never built here).

    Not stored: ``pending``, and (with ``ask``) the worker is asked for it. Unreadable store: neither (the viewer is
    left out; the page still answers)."""
    sha = permit.current_pdf_sha256
    if not sha or sha == permit.draft_pdf_sha256:
        return AlbumLookup()

    def read() -> Album:
        album = load_album(runtime().store, sha)
        if album is None:
            raise _NotStored
        return album

    try:
        found = _cache(ALBUMS_KEY, 256).get(("album", sha), read)
    except _NotStored:
        if ask:
            ask_for_album(sha)
        return AlbumLookup(pending=True)
    except Exception as exc:  # a store fault or an unreadable record: one line, and the page goes on without it
        log.error("revision viewer: album of permit %s (%s) unavailable: %s: %s", permit.permit_number, sha[:12],
                  type(exc).__name__, exc)
        return AlbumLookup()
    return AlbumLookup(album=found if isinstance(found, Album) else None)


@dataclass(frozen=True)
class ArchivedRevisions:
    """The viewer of the archived permit as a page shows it: its entries, or that its pictures are being prepared."""

    entries: list[RevisionView] = field(default_factory=list)
    pending: bool = False


def archived_views(permit: Permit, image_kind: ImageKind, image_url: Callable[[str], str]) -> ArchivedRevisions:
    """The viewer of the permit's current archived revision from its stored album (see :func:`permit_album`)."""
    found = permit_album(permit)
    return ArchivedRevisions(entries=revision_views(permit, found.album, image_kind, image_url), pending=found.pending)


def revision_views(permit: Permit, album: Album | None, image_kind: ImageKind,
                   image_url: Callable[[str], str]) -> list[RevisionView]:
    """The viewer's entries for ``permit``'s archived revision; ``image_url`` turns a picture's file name into its
    URL."""
    if album is None:
        return []

    def picture(index: int) -> str:
        name = album.image(image_kind, index)
        return image_url(name.rsplit("/", 1)[-1]) if name else ""

    return history_views(permit, album.history, picture)


def history_views(permit: Permit, history: RevisionHistory | None,
                  picture: Callable[[int], str] = lambda _index: "") -> list[RevisionView]:
    """The viewer's entries for a revision history (the archived permit's, or an uploaded copy's), the officials'
    names taken from the permit's workflow steps by signature field."""
    if history is None:
        return []
    steps: dict[str, WorkflowStep] = {field_name_for(s): s for s in permit.application.steps if s.signs}
    entries = history.entries

    def official(field_name: str, certificate_name: str) -> str:
        step = steps.get(field_name)
        if step is not None and step.decided_by is not None:
            return step.decided_by.full_name
        return certificate_name

    names = {e.field_name: official(e.field_name, e.signer_name) for e in entries if e.kind == "signature"}
    views = []
    for index, entry in enumerate(entries):
        step = steps.get(entry.field_name)
        told = story(entry, names.get(entry.field_name, ""), step.title_ar if step is not None else "",
                     step.title_en if step is not None else "", names)
        views.append(RevisionView(
            number=index + 1, kind=entry.kind, title_ar=told.title_ar, title_en=told.title_en,
            after_ar=told.after_ar, after_en=told.after_en, tone=told.tone,
            signed_at=entry.timestamp_time or entry.signing_time, timestamped=entry.timestamp_time is not None,
            image_url=picture(index),
            revision=entry.revision, end=entry.end, sha256=entry.sha256, field_name=entry.field_name,
            certificate_name=entry.signer_name, coverage=entry.coverage,
            modification_level=entry.modification_level, docmdp_ok=entry.docmdp_ok, suspicious=entry.suspicious,
            changes=list(entry.changes_after),
        ))  # fmt: skip
    return views


def album_image(permit: Permit, image_kind: ImageKind, file_name: str) -> bytes | None:
    """The picture ``file_name`` if it belongs to the album of the permit's current revision, else None."""
    album = permit_album(permit, ask=False).album
    if album is None:
        return None
    name = PREFIX + file_name
    if not album.has_image(image_kind, name):
        return None
    try:
        data = _cache(IMAGES_KEY, 128).get(("image", name), lambda: runtime().store.get_named(name))
    except StoreError as exc:
        log.error("revision viewer: picture %s unavailable: %s", name, exc)
        return None
    return data if isinstance(data, bytes) else None
