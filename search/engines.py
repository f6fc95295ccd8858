"""Choose the engine from ``SIJILL_SEARCH_URL``: ``embedded:///path/file.sqlite3`` (SQLite FTS5),
``tantivy:///path/dir`` (Tantivy) or ``http(s)://host:9200`` (Elasticsearch)."""

from __future__ import annotations

from urllib.parse import urlsplit

from search.health import SearchUnavailable, embedded_path
from search.model import Engine


def open_engine(url: str) -> Engine:
    scheme = urlsplit(url).scheme
    if scheme == "embedded":
        from search.embedded import EmbeddedEngine

        return EmbeddedEngine(embedded_path(url))
    if scheme == "tantivy":
        from search.tantivy_engine import TantivyEngine

        return TantivyEngine(embedded_path(url))
    if scheme in ("http", "https"):
        from search.elastic import ElasticEngine

        return ElasticEngine(url)
    raise SearchUnavailable(f"The search URL {url!r} is neither embedded://, tantivy:// nor http(s)://.")
