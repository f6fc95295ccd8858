"""The embedded engine: SQLite FTS5 in its own file, fed with the analyser's terms.

Why this shape:

- Its own file (not the application database), so the index can be deleted and rebuilt at will and a busy search
  never holds the database's write lock.
- WAL journal and a busy timeout, one connection per thread and process, writes in ``BEGIN IMMEDIATE``
  transactions: the web app and several workers can write at once and readers never wait for writers.
- FTS5 receives terms already analysed by :mod:`search.analyser` (space-separated), so its own tokenizer only splits
  on spaces and the embedded and Elasticsearch engines agree on what a word is.
- Filters and facets are plain SQL on the stored fields; snippets come from :mod:`search.highlight` on the stored
  page text, which maps analysed hits back to the words as they were printed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from search.analyser import ANALYSER_VERSION, analyse, normalise, second_tier
from search.highlight import snippets
from search.model import (
    FACETS,
    TOTAL_CAP,
    Hit,
    IndexStats,
    PageText,
    Query,
    Results,
    SearchDocument,
    SearchError,
)
from search.query import Clause, fuzzy_set, parse, prefix_set, term_set

BUSY_TIMEOUT_MS = 30_000
SCHEMA_VERSION = f"2/{ANALYSER_VERSION}"
"""The tables' layout and the analyser's version: a file made with another is emptied and must be reindexed."""
CACHE_KIB = 65536
"""Page cache per connection: filters and facets touch the small ``docs`` table, which then stays in memory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    tracking_number TEXT NOT NULL,
    applicant_name TEXT NOT NULL,
    national_id TEXT NOT NULL,
    governorate TEXT NOT NULL,
    centre TEXT NOT NULL,
    centre_id INTEGER NOT NULL,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_day TEXT NOT NULL,
    source_version TEXT NOT NULL,
    written_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bodies (
    id INTEGER PRIMARY KEY,
    signers TEXT NOT NULL,
    data_text TEXT NOT NULL,
    pages TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_created ON docs (created_at);
CREATE INDEX IF NOT EXISTS docs_centre_day ON docs (centre_id, created_day);
CREATE INDEX IF NOT EXISTS docs_centre_code_day ON docs (centre, created_day);
CREATE INDEX IF NOT EXISTS docs_governorate_day ON docs (governorate, created_day);
CREATE INDEX IF NOT EXISTS docs_day ON docs (created_day);
CREATE INDEX IF NOT EXISTS docs_national_id ON docs (national_id);
CREATE INDEX IF NOT EXISTS docs_source_version ON docs (source_version);
CREATE TABLE IF NOT EXISTS signers (doc_id INTEGER NOT NULL, signer TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS signers_doc ON signers (doc_id);
CREATE INDEX IF NOT EXISTS signers_name ON signers (signer);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    data, ocr, skel, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3 4'
);
"""

# ``docs`` holds what filters, facets, sorting and result lists read; ``bodies`` the large texts, so that scanning
# 100,000 matches reads a small table.
_DOC_FIELDS = ("id", "tracking_number", "applicant_name", "national_id", "governorate", "centre", "centre_id",
               "service", "status", "created_at", "created_day", "source_version")
_WRITE_FIELDS = (*_DOC_FIELDS, "written_at")
_BODY_FIELDS = ("signers", "data_text", "pages")
_FIELDS = _DOC_FIELDS + _BODY_FIELDS


_INSERT = f"INSERT OR REPLACE INTO docs ({', '.join(_WRITE_FIELDS)}) VALUES ({', '.join('?' * len(_WRITE_FIELDS))})"  # noqa: S608
_INSERT_BODY = "INSERT OR REPLACE INTO bodies (id, signers, data_text, pages) VALUES (?, ?, ?, ?)"
_D_COLUMNS = ", ".join(["d." + f for f in _DOC_FIELDS] + ["b." + f for f in _BODY_FIELDS])
_SELECT_ONE = f"SELECT {_D_COLUMNS} FROM docs d JOIN bodies b ON b.id = d.id WHERE d.id = ?"  # noqa: S608


def signer_key(name: str) -> str:
    """How signer names are compared: normalised words, single spaces (both engines store this form)."""
    return " ".join(normalise(w) for w in name.split())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _exact(clause: Clause) -> str:
    if clause.kind == "prefix":
        return f'{{data ocr}} : "{clause.terms[0]}"*'
    if clause.kind == "phrase_prefix":
        return '{data ocr} : "' + " ".join(clause.terms) + '"*'
    return '{data ocr} : "' + " ".join(clause.terms) + '"'


def match_expression(clauses: list[Clause], fuzzy: bool = False) -> str:
    """An FTS5 query for the clauses: every clause required, terms quoted (they are letters and digits only).

    With ``fuzzy``, a long word also matches its skeleton in the ``skel`` column (the second tier).
    """
    parts = []
    for clause in clauses:
        if fuzzy and clause.fuzzy:
            keys = " OR ".join(f'"{k}"' for k in clause.fuzzy)
            parts.append(f"({_exact(clause)} OR skel : ({keys}))")
        else:
            parts.append(f"({_exact(clause)})")
    return " AND ".join(parts)


class EmbeddedEngine:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._ready = False

    # --- connections ------------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute("PRAGMA temp_store = MEMORY")
        except (OSError, sqlite3.Error) as exc:
            raise SearchError(f"The search file {self.path} cannot be opened: {exc}.") from None
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so two writers queue on the busy timeout instead of deadlocking."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise SearchError(f"The search file {self.path} cannot be written: {exc}.") from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _ensure(self) -> None:
        if not self._ready:
            self.setup()

    def setup(self) -> None:
        try:
            with self._write() as conn:
                has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
                version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() if has_meta else None
                if version is not None and version[0] != SCHEMA_VERSION:
                    # terms made by another analyser cannot be searched with this one: start empty (reindex)
                    for table in ("fts", "signers", "bodies", "docs", "meta"):
                        conn.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        except sqlite3.Error as exc:
            raise SearchError(f"The search file {self.path} cannot be prepared: {exc}.") from None
        self._ready = True

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None

    # --- writing ----------------------------------------------------------------------------------------------

    @staticmethod
    def _row(doc: SearchDocument) -> tuple[object, ...]:
        pages = [{"page_id": p.page_id, "label": p.label, "text": p.text} for p in doc.pages]
        return (
            doc.id, doc.tracking_number, doc.applicant_name, doc.national_id, doc.governorate, doc.centre,
            doc.centre_id, doc.service, doc.status, _iso(doc.created_at), _iso(doc.created_at)[:10],
            _iso(doc.source_version), json.dumps(list(doc.signers), ensure_ascii=False), doc.data_text,
            json.dumps(pages, ensure_ascii=False),
        )

    def _put(self, conn: sqlite3.Connection, docs: list[SearchDocument]) -> None:
        ids = [(d.id,) for d in docs]
        conn.executemany("DELETE FROM fts WHERE rowid = ?", ids)
        conn.executemany("DELETE FROM signers WHERE doc_id = ?", ids)
        now = time.time()
        conn.executemany(_INSERT, [(*self._row(d)[: len(_DOC_FIELDS)], now) for d in docs])
        conn.executemany(_INSERT_BODY, [(d.id, *self._row(d)[len(_DOC_FIELDS):]) for d in docs])
        rows = []
        for d in docs:
            data_text = " ".join((d.tracking_number, d.applicant_name, d.national_id, d.data_text))
            ocr = " ".join(" ".join(analyse(p.text)) for p in d.pages)
            fuzzy = " ".join([*second_tier(data_text), *(k for p in d.pages for k in second_tier(p.text))])
            rows.append((d.id, " ".join(analyse(data_text)), ocr, fuzzy))
        conn.executemany("INSERT INTO fts (rowid, data, ocr, skel) VALUES (?, ?, ?, ?)", rows)
        conn.executemany(
            "INSERT INTO signers (doc_id, signer) VALUES (?, ?)",
            [(d.id, signer_key(s)) for d in docs for s in d.signers],
        )

    def index(self, documents: list[SearchDocument]) -> None:
        if not documents:
            return
        self._ensure()
        try:
            with self._write() as conn:
                self._put(conn, documents)
        except sqlite3.Error as exc:
            raise SearchError(f"The search file {self.path} cannot be written: {exc}.") from None

    def delete(self, ids: list[int]) -> None:
        self._ensure()
        rows = [(i,) for i in ids]
        with self._write() as conn:
            conn.executemany("DELETE FROM fts WHERE rowid = ?", rows)
            conn.executemany("DELETE FROM signers WHERE doc_id = ?", rows)
            conn.executemany("DELETE FROM docs WHERE id = ?", rows)
            conn.executemany("DELETE FROM bodies WHERE id = ?", rows)

    def rebuild(self, documents: object, batch: int = 500) -> int:
        """Upsert everything, then drop what the source no longer has: searches keep working throughout.

        A document another process writes meanwhile (a worker indexing a new application) is newer than the rebuild
        started and is kept even though the source did not list it.
        """
        self._ensure()
        assert isinstance(documents, Iterable)
        started = time.time()
        seen: set[int] = set()
        chunk: list[SearchDocument] = []
        for doc in documents:
            chunk.append(doc)
            seen.add(doc.id)
            if len(chunk) >= batch:
                self.index(chunk)
                chunk = []
        self.index(chunk)
        stale = [r[0] for r in self._conn().execute("SELECT id FROM docs WHERE written_at < ?", (started,))
                 if r[0] not in seen]
        for start in range(0, len(stale), batch):
            self.delete(stale[start:start + batch])
        with self._write() as conn:
            conn.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        return len(seen)

    def refresh(self) -> None:
        """Writes are visible as soon as they commit."""

    # --- reading ----------------------------------------------------------------------------------------------

    def _where(self, query: Query) -> tuple[list[str], list[object]]:
        f = query.filters
        where: list[str] = []
        params: list[object] = []
        for name in ("governorate", "centre", "service", "status"):
            values = getattr(f, name)
            if values:
                where.append(f"d.{name} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if f.national_id:
            where.append("d.national_id = ?")
            params.append(normalise(f.national_id.strip()))
        if f.signer:
            where.append("d.id IN (SELECT doc_id FROM signers WHERE signer = ?)")
            params.append(signer_key(f.signer))
        if f.date_from:
            where.append("d.created_day >= ?")
            params.append(f.date_from.isoformat())
        if f.date_to:
            where.append("d.created_day <= ?")
            params.append(f.date_to.isoformat())
        if query.centre_ids is not None:
            ids = sorted(query.centre_ids)
            where.append(f"d.centre_id IN ({', '.join('?' * len(ids))})" if ids else "0")
            params.extend(ids)
        return where, params

    def search(self, query: Query) -> Results:
        query.check()
        self._ensure()
        clauses = parse(query.text)
        where, params = self._where(query)
        fuzzy = any(c.fuzzy for c in clauses)
        tier = ""
        if clauses:
            # CROSS JOIN keeps FTS5 as the outer loop: otherwise SQLite may walk a centre's rows through an index
            # and run the full-text query once per row (45 s instead of 0.1 s on 100,000 applications)
            source = "fts CROSS JOIN docs d ON d.id = fts.rowid"
            where.insert(0, "fts MATCH ?")
            params.insert(0, match_expression(clauses, fuzzy))
            rank = "bm25(fts, 2.0, 1.0, 0.0), "
            if fuzzy:  # exact matches first, whatever their score: a skeleton match never outranks them
                tier = "fts.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?) DESC, "
        else:
            source, rank = "docs d", ""
        order = {
            "relevance": f"{tier}{rank}d.created_at DESC, d.id DESC",
            "newest": "d.created_at DESC, d.id DESC",
            "oldest": "d.created_at ASC, d.id ASC",
        }[query.sort]
        order_params = [match_expression(clauses)] if tier and query.sort == "relevance" else []
        # Only fixed column names and placeholders are formatted into the SQL; every value is a parameter.
        # Two passes over the matches beat materialising them: counts and facets need no ranking, and the page
        # needs only the ids (the large texts are read for the 20 hits shown, not for every match).
        conditions = " AND ".join(where) or "1"
        columns = ", ".join("d." + f for f in FACETS)
        facet_sql = f"SELECT {columns}, count(*) FROM {source} WHERE {conditions} GROUP BY {columns}"  # noqa: S608
        page_sql = f"SELECT d.id FROM {source} WHERE {conditions} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608
        conn = self._conn()
        try:
            conn.execute("BEGIN")  # one snapshot for the counts and the page
            # one pass for all facets: the combinations are few (a centre implies its governorate)
            combos = conn.execute(facet_sql, params).fetchall()
            offset = (query.page - 1) * query.per_page
            ids = [r[0] for r in conn.execute(page_sql, [*params, *order_params, query.per_page, offset])]
            marks = ", ".join("?" * len(ids))
            found = {
                row[0]: row
                for row in conn.execute(
                    f"SELECT {_D_COLUMNS} FROM docs d JOIN bodies b ON b.id = d.id WHERE d.id IN ({marks})", ids  # noqa: S608
                )
            } if ids else {}
            conn.execute("COMMIT")
        except BaseException as exc:
            # whatever failed (SQLite, a value SQLite cannot bind, an interrupt), the snapshot must not stay open:
            # the next search on this thread would otherwise fail with "cannot start a transaction within one"
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise SearchError(f"The search file {self.path} cannot be read: {exc}.") from None
            raise
        rows = [found[i] for i in ids if i in found]
        total = sum(combo[-1] for combo in combos)
        capped = total > TOTAL_CAP
        counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        for combo in combos:
            for name, value in zip(FACETS, combo[:-1], strict=True):
                counts[name][value] = counts[name].get(value, 0) + combo[-1]
        facets = {
            name: sorted(counts[name].items(), key=lambda item: (-item[1], item[0].encode()))[:100] for name in FACETS
        }
        terms, prefixes, skeletons = term_set(clauses), prefix_set(clauses), fuzzy_set(clauses)
        hits = []
        for row in rows:
            doc = _document(row)
            hits.append(
                Hit(
                    id=doc.id, tracking_number=doc.tracking_number, applicant_name=doc.applicant_name,
                    national_id=doc.national_id, governorate=doc.governorate, centre=doc.centre,
                    service=doc.service, status=doc.status, created_at=doc.created_at,
                    snippets=snippets(doc.pages, terms, prefixes, query.snippets, skeletons),
                )
            )
        return Results(total=min(total, TOTAL_CAP), hits=hits, facets=facets, total_is_lower_bound=capped)

    def get(self, doc_id: int) -> SearchDocument | None:
        self._ensure()
        row = self._conn().execute(_SELECT_ONE, (doc_id,)).fetchone()
        return _document(row) if row else None

    def versions(self, ids: list[int]) -> dict[int, datetime]:
        self._ensure()
        found: dict[int, datetime] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            select = f"SELECT id, source_version FROM docs WHERE id IN ({marks})"  # noqa: S608 - placeholders only
            for doc_id, version in self._conn().execute(select, chunk):
                found[doc_id] = datetime.fromisoformat(version)
        return found

    def stats(self) -> IndexStats:
        self._ensure()
        count, newest = self._conn().execute("SELECT count(*), max(source_version) FROM docs").fetchone()
        return IndexStats(count=count, newest_source_version=datetime.fromisoformat(newest) if newest else None)


def _document(row: tuple[object, ...]) -> SearchDocument:
    r = dict(zip(_FIELDS, row, strict=True))
    pages = tuple(PageText(p["page_id"], p["label"], p["text"]) for p in json.loads(str(r["pages"])))
    return SearchDocument(
        id=int(str(r["id"])), tracking_number=str(r["tracking_number"]), applicant_name=str(r["applicant_name"]),
        national_id=str(r["national_id"]), governorate=str(r["governorate"]), centre=str(r["centre"]),
        centre_id=int(str(r["centre_id"])), service=str(r["service"]), status=str(r["status"]),
        created_at=datetime.fromisoformat(str(r["created_at"])),
        source_version=datetime.fromisoformat(str(r["source_version"])),
        signers=tuple(json.loads(str(r["signers"]))), data_text=str(r["data_text"]), pages=pages,
    )
