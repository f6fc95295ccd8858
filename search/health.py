"""Reachability checks for the search backends, kept free of Flask and the database like the rest of ``search``."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit


class SearchUnavailable(RuntimeError):
    """The configured search backend cannot be used; the message is one sentence for the operator."""


def embedded_path(url: str) -> Path:
    """The SQLite file behind an ``embedded:///abs/path`` URL."""
    parts = urlsplit(url)
    path = (parts.netloc + parts.path) if parts.netloc else parts.path
    if not path:
        raise SearchUnavailable(f"The embedded search URL {url!r} names no file.")
    return Path(path)


def check_search(url: str, timeout: float = 3.0) -> str:
    """Return a short description of a working backend or raise :class:`SearchUnavailable`."""
    scheme = urlsplit(url).scheme
    if scheme == "embedded":
        return _check_embedded(embedded_path(url))
    if scheme == "tantivy":
        return _check_tantivy(embedded_path(url))
    if scheme in ("http", "https"):
        return _check_elasticsearch(url, timeout)
    raise SearchUnavailable(f"The search URL {url!r} is neither embedded://, tantivy:// nor http(s)://.")


def _check_embedded(path: Path) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.sijill_probe USING fts5(body)")
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        raise SearchUnavailable(f"The embedded search file {path} cannot be used: {exc}.") from None
    return f"embedded SQLite FTS5 at {path}"


def _check_tantivy(path: Path) -> str:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".sijill-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SearchUnavailable(f"The Tantivy search directory {path} cannot be used: {exc}.") from None
    return f"embedded Tantivy at {path}"


def _check_elasticsearch(url: str, timeout: float) -> str:
    health_url = url.rstrip("/") + "/_cluster/health"
    try:
        with urllib.request.urlopen(health_url, timeout=timeout) as response:  # noqa: S310 - URL from settings
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SearchUnavailable(f"Elasticsearch at {url} cannot be reached: {reason}.") from None
    status = body.get("status")
    if status not in ("green", "yellow"):
        raise SearchUnavailable(f"Elasticsearch at {url} reports cluster status {status!r}.")
    return f"Elasticsearch cluster {body.get('cluster_name', '?')} is {status}"
