"""The revision viewer: the permit as each official signed it, on the public verification page and the staff's page.

Reads the permit's revision album (:mod:`signing.revision_album`: the signed states of its current archived revision,
what changed after each, and a picture of the first page at each state), built once per archived revision and kept in
the object store; only when none was built yet (a permit issued since the worker's last pass) does the first reader
build it, once. Albums are cached in-process like the validation reports (they never change for a revision), and so
are the pictures served to browsers.

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
from signing.revision_album import PREFIX, Album, ImageKind, RenderFailed, ensure_album
from signing.revisions import Change, RevisionHistory, story
from web.runtime import runtime
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


def permit_album(permit: Permit) -> Album | None:
    """The album of the permit's current archived revision (built now, once, if there is none), or None if the
    archive cannot be read or the page cannot be rendered."""
    sha = permit.current_pdf_sha256
    if not sha:
        return None
    try:
        album = _cache(ALBUMS_KEY, 256).get(("album", sha), lambda: ensure_album(runtime().store, sha))
    except (StoreError, RenderFailed, OSError) as exc:
        log.error("revision viewer: album of permit %s (%s) unavailable: %s", permit.permit_number, sha, exc)
        return None
    except Exception as exc:  # the viewer is an addition to the page: never let it take the page down
        log.error("revision viewer: album of permit %s (%s) failed: %r", permit.permit_number, sha, exc)
        return None
    return album if isinstance(album, Album) else None


def queue_album(pdf_sha256: str | None) -> None:
    """After a signature's commit: have the worker build the new revision's album now (``permits.revision_album``), so
    no page has to. A broker that is down only means the first reader builds it."""
    if not pdf_sha256:
        return
    try:
        from worker.dispatch import enqueue_revision_album

        enqueue_revision_album(runtime().settings, pdf_sha256)
    except Exception as exc:
        log.warning("revision album of %s not queued (%s: %s); the first reader builds it", pdf_sha256[:12],
                    type(exc).__name__, exc)


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
    album = permit_album(permit)
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
