"""The embedded engine on Tantivy (the Rust search library, through its official Python bindings) in a directory.

Why Tantivy beside SQLite FTS5: at 100,000 applications a broad word matches most of them, and FTS5 computes BM25,
the total and four facets by visiting every match from Python-driven SQL (0.3-0.6 s a query, see
docs/PERFORMANCE.md); Tantivy ranks with block-max WAND, counts and aggregates in compiled code over columnar "fast
fields", so every query class stays within the search budget. It is chosen with ``SIJILL_SEARCH_URL=tantivy:///dir``.

- The text fields hold the terms of :mod:`search.analyser` and use Tantivy's ``whitespace`` tokenizer only, exactly
  like the Elasticsearch engine: one analyser for every engine by construction. Queries are built from the clauses of
  :mod:`search.query`; a second-tier (fuzzy) key never outranks an exact match (a constant far above BM25 is added
  per clause matched exactly).
- Filter and facet fields are ``raw`` fast fields; filters are constant-score clauses so they do not move the ranking.
- One writer at a time per directory (Tantivy's lock file): each write takes the lock, retrying while another process
  holds it (up to the busy timeout), commits, lets merges finish and releases it, so the web app, several workers and
  ``sijill reindex`` can all write. Readers reload when the index's ``meta.json`` changed.
- Totals are exact up to :data:`search.model.TOTAL_CAP`; pages stop at :data:`search.model.MAX_WINDOW`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import tantivy

from search.analyser import ANALYSER_VERSION, analyse_for_index, normalise, phrase_pairs
from search.embedded import signer_key
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

SCHEMA_VERSION = f"tantivy-2/{ANALYSER_VERSION}"
BUSY_TIMEOUT_S = 30.0
WRITER_HEAP = 64_000_000
_FACETS_POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="sijill-facets")
"""Counts a search's facets beside the search itself (see :meth:`TantivyEngine.search`); one thread per core, so
concurrent searches on a larger server are not queued behind two facet threads."""
REBUILD_BATCH = 10_000
"""Documents per commit in a rebuild (``sijill reindex``). A commit writes a segment and waits for merges: at 500 a
commit, that cost per document was as large as analysing it (about 1,350 applications per CPU second against 2,350 at
10,000, docs/PERFORMANCE.md); 10,000 keep one writer's hold on the lock to a few seconds."""
EXACT_TIER = 1_000_000.0
_MUST, _SHOULD = tantivy.Occur.Must, tantivy.Occur.Should
_KEYWORDS = ("tracking_number", "applicant_name", "national_id", "governorate", "centre", "service", "status")


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name in _KEYWORDS:
        sb.add_text_field(name, stored=True, fast=name in FACETS, tokenizer_name="raw")
    sb.add_integer_field("centre_id", stored=True, indexed=True, fast=True)
    for name in ("created_at", "source_version", "written_at"):
        sb.add_integer_field(name, stored=True, indexed=True, fast=True)
    sb.add_text_field("signer_keys", tokenizer_name="raw")
    sb.add_text_field("data", tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("ocr", tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("fuzzy", tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("pairs", tokenizer_name="whitespace", index_option="basic")
    sb.add_bytes_field("body", stored=True)
    return sb.build()


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) if moment.year >= 1970 else int(
        (moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def _moment(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _day_start(day: date) -> int:
    return _micros(datetime(day.year, day.month, day.day, tzinfo=UTC))


class TantivyEngine:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.schema = _schema()
        self._local = threading.local()
        self._ready = False

    # --- the index ----------------------------------------------------------------------------------------------

    def setup(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            marker = self.path / "sijill-schema"
            written = marker.read_text().strip() if marker.exists() else None
            if written is not None and written != SCHEMA_VERSION:
                for child in self.path.iterdir():  # terms of another analyser: start empty (sijill reindex)
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            tantivy.Index(self.schema, path=str(self.path), reuse=True)
            if written != SCHEMA_VERSION:
                # Written whole or not at all, and only when it changes: rewritten in place by every process that
                # opened the index, the marker was empty for an instant, and a process reading it then took the
                # index for another analyser's and deleted it under the others (meta.json gone mid-commit: the
                # concurrent-writers contract test failed in 1 of 2 CI runs, and in 7 of 20 runs two at a time;
                # 0 of 24 since).
                fresh = self.path / f".sijill-schema-{os.getpid()}-{threading.get_ident()}"
                fresh.write_text(SCHEMA_VERSION)
                os.replace(fresh, marker)
        except (OSError, ValueError) as exc:
            raise SearchError(f"The search directory {self.path} cannot be prepared: {exc}.") from None
        self._ready = True

    def _index(self) -> tantivy.Index:
        if not self._ready:
            self.setup()
        index: tantivy.Index | None = getattr(self._local, "index", None)
        if index is None or getattr(self._local, "pid", None) != os.getpid():
            try:
                index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            except ValueError as exc:
                raise SearchError(f"The search directory {self.path} cannot be opened: {exc}.") from None
            self._local.index, self._local.pid, self._local.seen = index, os.getpid(), None
        return index

    def _searcher(self) -> tantivy.Searcher:
        index = self._index()
        try:
            # meta.json is replaced by a rename on every commit: its inode changes even when two commits fall in
            # one tick of the file system's clock (mtime alone missed those, and a reader kept old documents)
            meta = (self.path / "meta.json").stat()
            stamp: tuple[int, int, int] | None = (meta.st_mtime_ns, meta.st_ino, meta.st_size)
        except OSError:
            stamp = None
        if stamp != self._local.seen:  # another writer committed since: see its segments
            index.reload()
            self._local.seen = stamp
        return index.searcher()

    def _writer(self) -> tantivy.IndexWriter:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._index().writer(WRITER_HEAP, 1)
            except ValueError as exc:
                if "LockBusy" not in str(exc) or time.monotonic() > deadline:
                    raise SearchError(f"The search directory {self.path} cannot be written: {exc}.") from None
                time.sleep(0.02)

    def close(self) -> None:
        self._local.index = None

    def refresh(self) -> None:
        """Commits are visible to the next search (readers reload on a new ``meta.json``)."""

    # --- writing ------------------------------------------------------------------------------------------------

    def _document(self, doc: SearchDocument, now: int) -> tantivy.Document:
        data_text = " ".join((doc.tracking_number, doc.applicant_name, doc.national_id, doc.data_text))
        body = {"signers": list(doc.signers), "data_text": doc.data_text,
                "pages": [{"page_id": p.page_id, "label": p.label, "text": p.text} for p in doc.pages]}
        fields: dict[str, Any] = {name: getattr(doc, name) for name in _KEYWORDS}
        data_terms, data_keys = analyse_for_index(data_text)
        ocr_terms: list[str] = []
        ocr_keys: list[str] = []
        for page in doc.pages:
            terms, keys = analyse_for_index(page.text)
            ocr_terms += terms
            ocr_keys += keys
        fields.update(
            id=doc.id, centre_id=doc.centre_id, created_at=_micros(doc.created_at),
            source_version=_micros(doc.source_version), written_at=now,
            data=" ".join(data_terms), ocr=" ".join(ocr_terms), fuzzy=" ".join(data_keys + ocr_keys),
            pairs=" ".join(phrase_pairs(data_terms) + phrase_pairs(ocr_terms)),
            body=json.dumps(body, ensure_ascii=False).encode(),
        )
        document = tantivy.Document(**fields)
        for signer in doc.signers:
            document.add_text("signer_keys", signer_key(signer))
        return document

    def _write(self, documents: list[SearchDocument], deletions: list[int]) -> None:
        """Each document is analysed and handed to the writer at once: Tantivy's indexing threads work on the ones
        before while Python analyses the next (analysing all first left them idle for half a rebuild's time)."""
        now = _micros(datetime.now(UTC))
        writer = self._writer()
        try:
            for doc_id in [*deletions, *(d.id for d in documents)]:
                writer.delete_documents_by_term("id", doc_id)
            for doc in documents:
                writer.add_document(self._document(doc, now))
            writer.commit()
        except BaseException as exc:
            writer.rollback()
            writer.wait_merging_threads()
            if isinstance(exc, ValueError):
                raise SearchError(f"The search directory {self.path} cannot be written: {exc}.") from None
            raise
        writer.wait_merging_threads()  # finishes merges and releases the lock

    def index(self, documents: list[SearchDocument]) -> None:
        if documents:
            self._write(documents, [])

    def delete(self, ids: list[int]) -> None:
        if ids:
            self._write([], ids)

    def rebuild(self, documents: object, batch: int = REBUILD_BATCH) -> int:
        """Upsert everything, then drop what the source no longer has and nobody wrote since the rebuild began.

        Written ``batch`` documents per writer (one commit each): the index lock is free between batches, so a
        worker indexing a new application meanwhile waits seconds at most, not the whole rebuild.
        """
        assert isinstance(documents, Iterable)
        started = _micros(datetime.now(UTC))
        seen: set[int] = set()
        chunk: list[SearchDocument] = []
        for doc in documents:
            chunk.append(doc)
            seen.add(doc.id)
            if len(chunk) >= batch:
                self.index(chunk)
                chunk = []
        self.index(chunk)
        searcher = self._searcher()
        older = tantivy.Query.range_query(self.schema, "written_at", tantivy.FieldType.Integer, None, started,
                                          include_upper=False)
        found = searcher.search(older, max(1, searcher.num_docs), count=False)
        stale = [i for _score, addr in found.hits if (i := searcher.doc(addr)["id"][0]) not in seen]
        for start in range(0, len(stale), batch):
            self.delete(stale[start:start + batch])
        return len(seen)

    # --- reading ------------------------------------------------------------------------------------------------

    def _field_query(self, field: str, clause: Clause) -> tantivy.Query:
        q = tantivy.Query
        terms: list[str | tuple[int, str]] = list(clause.terms)
        if clause.kind == "word":
            return q.term_query(self.schema, field, clause.terms[0])
        if clause.kind == "prefix":
            return q.regex_query(self.schema, field, re.escape(clause.terms[0]) + ".*")
        if clause.kind == "phrase":
            return q.phrase_query(self.schema, field, terms)
        return q.phrase_prefix_query(self.schema, field, terms)

    def _exact(self, clause: Clause) -> tantivy.Query:
        q = tantivy.Query
        data = q.boost_query(self._field_query("data", clause), 2.0)
        either = q.boolean_query([(_SHOULD, data), (_SHOULD, self._field_query("ocr", clause))])
        whole = clause.terms[:-1] if clause.kind == "phrase_prefix" else clause.terms
        pairs = phrase_pairs(whole) if clause.kind in ("phrase", "phrase_prefix") else []
        if not pairs:
            return either
        # the phrase's neighbouring pairs lead (their posting lists are short); positions are checked only there
        leaders = [(_MUST, q.const_score_query(q.term_query(self.schema, "pairs", pair), 0.0)) for pair in pairs]
        return q.boolean_query([(_MUST, either), *leaders])

    def _filters(self, query: Query) -> list[tantivy.Query]:
        q, f, out = tantivy.Query, query.filters, []
        for name in ("governorate", "centre", "service", "status"):
            values = getattr(f, name)
            if values:
                out.append(q.term_set_query(self.schema, name, list(values)))
        if f.national_id:
            out.append(q.term_query(self.schema, "national_id", normalise(f.national_id.strip())))
        if f.signer:
            out.append(q.term_query(self.schema, "signer_keys", signer_key(f.signer)))
        if f.date_from or f.date_to:
            low = _day_start(f.date_from) if f.date_from else None
            high = _day_start(f.date_to + timedelta(days=1)) if f.date_to and f.date_to < date.max else None
            # an open upper side must be inclusive for tantivy (from= alone was a ValueError -> 500)
            out.append(q.range_query(self.schema, "created_at", tantivy.FieldType.Integer, low, high,
                                     include_upper=high is None))
        if query.centre_ids is not None:
            ids = sorted(query.centre_ids)
            out.append(q.term_set_query(self.schema, "centre_id", ids) if ids else q.empty_query())
        return out

    def _query(self, query: Query, clauses: list[Clause]) -> tantivy.Query:
        q = tantivy.Query
        parts: list[tuple[Any, tantivy.Query]] = []
        for clause in clauses:
            exact = self._exact(clause)
            if clause.fuzzy:
                fuzzy = q.boost_query(q.term_set_query(self.schema, "fuzzy", list(clause.fuzzy)), 0.001)
                exact = q.boolean_query([(_SHOULD, q.const_score_query(exact, EXACT_TIER)), (_SHOULD, exact),
                                         (_SHOULD, fuzzy)])
            parts.append((_MUST, exact))
        parts += [(_MUST, q.const_score_query(f, 0.0)) for f in self._filters(query)]
        return q.boolean_query(parts) if parts else q.all_query()

    def search(self, query: Query) -> Results:
        query.check()
        clauses = parse(query.text)
        searcher = self._searcher()
        tq = self._query(query, clauses)
        offset = (query.page - 1) * query.per_page
        # the facets walk every match again: counted on another core while this thread collects the page (Tantivy
        # releases the GIL), so an expensive query (a phrase of common words) costs its wall time about once
        counting = _FACETS_POOL.submit(
            searcher.aggregate, tq, {name: {"terms": {"field": name, "size": 100}} for name in FACETS})
        try:
            if query.sort == "relevance" and clauses:
                found = searcher.search(tq, query.per_page, count=True, offset=offset)
            else:
                order = tantivy.Order.Asc if query.sort == "oldest" else tantivy.Order.Desc
                found = searcher.search(tq, query.per_page, count=True, order_by_field="created_at", offset=offset,
                                        order=order)
            docs = [searcher.doc(addr).to_dict() for _key, addr in found.hits]
            aggregations = counting.result()
        except ValueError as exc:
            raise SearchError(f"The search directory {self.path} cannot be read: {exc}.") from None
        total = getattr(found, "count", None) or 0  # the stubs omit it; count=True always sets it
        facets = {
            name: sorted(((b["key"], int(b["doc_count"])) for b in aggregations.get(name, {}).get("buckets", [])),
                         key=lambda item: (-item[1], item[0].encode()))
            for name in FACETS
        }
        terms, prefixes, fuzzy = term_set(clauses), prefix_set(clauses), fuzzy_set(clauses)
        hits = []
        for fields in docs:
            doc = self._from_fields(fields)
            hits.append(Hit(
                id=doc.id, tracking_number=doc.tracking_number, applicant_name=doc.applicant_name,
                national_id=doc.national_id, governorate=doc.governorate, centre=doc.centre, service=doc.service,
                status=doc.status, created_at=doc.created_at,
                snippets=snippets(doc.pages, terms, prefixes, query.snippets, fuzzy),
            ))
        return Results(total=min(total, TOTAL_CAP), hits=hits, facets=facets, total_is_lower_bound=total > TOTAL_CAP)

    @staticmethod
    def _from_fields(fields: dict[str, list[Any]]) -> SearchDocument:
        one = {name: values[0] for name, values in fields.items() if values}
        body = json.loads(bytes(one["body"]).decode())
        return SearchDocument(
            id=int(one["id"]), tracking_number=one["tracking_number"], applicant_name=one["applicant_name"],
            national_id=one["national_id"], governorate=one["governorate"], centre=one["centre"],
            centre_id=int(one["centre_id"]), service=one["service"], status=one["status"],
            created_at=_moment(int(one["created_at"])), source_version=_moment(int(one["source_version"])),
            signers=tuple(body["signers"]), data_text=body["data_text"],
            pages=tuple(PageText(p["page_id"], p["label"], p["text"]) for p in body["pages"]),
        )

    def _by_ids(self, ids: list[int]) -> list[SearchDocument]:
        if not ids:
            return []
        searcher = self._searcher()
        found = searcher.search(tantivy.Query.term_set_query(self.schema, "id", ids), len(ids), count=False)
        return [self._from_fields(searcher.doc(addr).to_dict()) for _score, addr in found.hits]

    def get(self, doc_id: int) -> SearchDocument | None:
        docs = self._by_ids([doc_id])
        return docs[0] if docs else None

    def versions(self, ids: list[int]) -> dict[int, datetime]:
        out: dict[int, datetime] = {}
        for start in range(0, len(ids), 500):
            out.update({d.id: d.source_version for d in self._by_ids(ids[start:start + 500])})
        return out

    def stats(self) -> IndexStats:
        searcher = self._searcher()
        count = searcher.num_docs
        if not count:
            return IndexStats(count=0, newest_source_version=None)
        newest = searcher.aggregate(tantivy.Query.all_query(), {"newest": {"max": {"field": "source_version"}}})
        return IndexStats(count=count, newest_source_version=_moment(int(newest["newest"]["value"])))
