"""A cache of the public verification answers (the QR page and its JSON), checked against the permit's row on every hit.

Rendering ``/v/<number>/<token>`` costs an ORM session, the permit and its application, steps and officials, the
validation report and a Jinja template (the JSON answer the same, plus its schema): a few milliseconds, which caps one
process at a few hundred answers a second. The answer about an issued permit changes only when the permit's row does
(revoked, renewed, expired, its revision album stored by the worker) or the day turns, so the rendered body is kept
per (kind, permit number, token digest, language) in a small in-process LRU, together with the *stamp* it was rendered
from: the row's status, current archived hash, expiry date, revocation time and stored album's revision, and the
Egyptian calendar day. (A page saying the revision pictures are being prepared is therefore cached too, and replaced
as soon as the worker records the album: :mod:`signing.album_backlog`.)

A hit is never trusted on its own. Every request reads that stamp again with one indexed Core query (a statement built
once, on a pooled connection, no ORM session), which also checks the token's digest; the cached body is served only
when the fresh stamp equals the cached one. So a revocation or a renewal made by any process (another server worker,
the CLI, the worker, even a direct SQL update) shows on the very next request: a revoked permit is never served from
the cache as valid. :data:`PAGE_TTL_S` bounds what the stamp does not see (a change of trust roots, which the
validation report cache keys on, or of the catalogue's names) to half a minute.

Only anonymous visitors with nothing flashed are served from or stored into the cache (a logged-in official's page
carries their menu). The page is the same bytes for every anonymous visitor: its copy-check form carries no CSRF token
(``web.verify.views.check`` is exempt: an anonymous check that changes nothing has no ambient authority to protect), so
a hit sets no session cookie. The rate limit (Flask-Limiter, before the view) is unchanged: a hit costs a limit check,
one small query and no rendering.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import Flask, current_app, session
from flask_babel import get_locale
from sqlalchemy import bindparam, select

from archive.models import Permit
from intake.national_id import EGYPT
from web.runtime import runtime

EXTENSION_KEY = "sijill_verify_pages"
PAGE_TTL_S = 30.0
"""Longest a rendered page is reused; the stamp check makes revocation and renewal immediate regardless."""
PAGE_ENTRIES = 2048

Stamp = tuple[str, str, str, str, str, str]
"""(status, current archived SHA-256, expiry date, revocation time, stored album's revision, today's date in Egypt)."""


def _today() -> str:
    return datetime.now(EGYPT).date().isoformat()


def _iso(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def stamp_of(permit: Permit) -> Stamp:
    """The stamp of a permit row already loaded by the view (what the page about to be stored was rendered from)."""
    return (permit.status, permit.current_pdf_sha256 or "", _iso(permit.expires_on), _iso(permit.revoked_at),
            permit.album_sha256 or "", _today())


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedPage:
    stamp: Stamp
    body: str
    stored_at: float


@dataclass
class PageCache:
    """Thread-safe LRU of rendered answers keyed by (kind, number, token digest, language)."""

    ttl_s: float = PAGE_TTL_S
    max_entries: int = PAGE_ENTRIES
    _items: OrderedDict[tuple[str, str, str, str], CachedPage] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0

    def get(self, key: tuple[str, str, str, str]) -> CachedPage | None:
        with self._lock:
            page = self._items.get(key)
            if page is None or time.monotonic() - page.stored_at >= self.ttl_s:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return page

    def put(self, key: tuple[str, str, str, str], page: CachedPage) -> None:
        with self._lock:
            self._items[key] = page
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def page_cache(app: Flask | None = None) -> PageCache:
    extensions = (app or current_app).extensions
    cache = extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = extensions.setdefault(EXTENSION_KEY, PageCache())
    assert isinstance(cache, PageCache)
    return cache


def _cacheable() -> bool:
    """Anonymous and nothing flashed: the page then depends only on the permit, the token and the language."""
    return "_user_id" not in session and "_flashes" not in session


def _key(kind: str, permit_number: str, token: str) -> tuple[str, str, str, str]:
    return (kind, permit_number.strip().upper(), token_digest(token), str(get_locale()))


_STAMP_QUERY = select(Permit.status, Permit.current_pdf_sha256, Permit.expires_on, Permit.revoked_at,
                      Permit.album_sha256, Permit.token_sha256).where(Permit.permit_number == bindparam("number"))
"""Built once: building a statement per hit cost more than running it."""


def fresh_stamp(permit_number: str, token: str) -> Stamp | None:
    """The permit's stamp read now (one Core query), or None if the number is unknown or the token is wrong."""
    with runtime().db.engine.connect() as connection:
        row = connection.execute(_STAMP_QUERY, {"number": permit_number.strip().upper()}).one_or_none()
    if row is None or not hmac.compare_digest(str(row.token_sha256 or ""), token_digest(token)):
        return None
    return (row.status, row.current_pdf_sha256 or "", _iso(row.expires_on), _iso(row.revoked_at),
            row.album_sha256 or "", _today())


def cached_body(permit_number: str, token: str, kind: str = "page") -> str | None:
    """The cached answer (``page`` or ``json``) for this visitor if the permit's row still matches what it was
    rendered from, else None."""
    if len(token) > 256 or not _cacheable():
        return None
    page = page_cache().get(_key(kind, permit_number, token))
    if page is None:
        return None
    if fresh_stamp(permit_number, token) != page.stamp:
        return None  # revoked, renewed, expired or a new day since it was rendered: render again
    return page.body


def remember(permit_number: str, token: str, permit: Permit, body: str, kind: str = "page") -> None:
    """Keep ``body`` (rendered from ``permit`` as loaded in this request) for the next visitors of the same URL."""
    if len(token) > 256 or not _cacheable():
        return
    page = CachedPage(stamp=stamp_of(permit), body=body, stored_at=time.monotonic())
    page_cache().put(_key(kind, permit_number, token), page)
