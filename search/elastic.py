"""The Elasticsearch engine, with the official client.

- An index template (``sijill-search-*``) holds the analyser and the mappings, so every versioned index
  (``sijill-search-<UTC time>``) is made the same way; the alias ``sijill-search`` points at the live one.
  :meth:`ElasticEngine.rebuild` fills a new index with bulk requests and swaps the alias in one atomic call,
  so searches never see a half-built index (zero-downtime reindexing); the old index is then deleted.
- The ``sijill_text`` analyser matches :mod:`search.analyser` step for step (see the table there). Prefix queries and
  signer names are not analysed by Elasticsearch, so both engines receive strings prepared by :mod:`search.query`.
- The client retries on timeouts and connection errors; bulk indexing retries documents refused with 429.
- Snippets are made by :mod:`search.highlight` from the stored pages, like the embedded engine, so both engines
  highlight the same words.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from elasticsearch.helpers import BulkIndexError, streaming_bulk

from search.analyser import EXTRA_MARKS, normalise
from search.embedded import signer_key
from search.highlight import snippets
from search.model import FACETS, Hit, IndexStats, PageText, Query, Results, SearchDocument, SearchError
from search.query import parse, prefix_set, term_set

ALIAS = "sijill-search"
TEMPLATE = "sijill-search"

ANALYSIS: dict[str, Any] = {
    "char_filter": {
        "sijill_marks": {"type": "mapping", "mappings": [f"\\u{ord(c):04x}=>" for c in EXTRA_MARKS]},
    },
    "filter": {"sijill_english": {"type": "stemmer", "language": "porter2"}},
    "analyzer": {
        "sijill_text": {
            "type": "custom",
            "char_filter": ["sijill_marks"],
            "tokenizer": "standard",
            "filter": ["lowercase", "decimal_digit", "arabic_normalization", "arabic_stem", "sijill_english"],
        }
    },
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "long"},
        "tracking_number": {"type": "keyword"},
        "applicant_name": {"type": "keyword"},
        "national_id": {"type": "keyword"},
        "governorate": {"type": "keyword"},
        "centre": {"type": "keyword"},
        "centre_id": {"type": "long"},
        "service": {"type": "keyword"},
        "status": {"type": "keyword"},
        "created_at": {"type": "date"},
        "source_version": {"type": "date"},
        "signers": {"type": "keyword"},
        "signer_keys": {"type": "keyword"},
        "data": {"type": "text", "analyzer": "sijill_text"},
        "data_text": {"type": "text", "index": False},
        "ocr": {"type": "text", "analyzer": "sijill_text"},
        "pages": {"type": "object", "enabled": False},
    },
}


F = TypeVar("F", bound=Callable[..., Any])


def _explained(method: F) -> F:
    """Any client or server failure becomes a :class:`SearchError` in one sentence, like the embedded engine's."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch failed ({method.__name__}): {exc}.") from None

    return wrapper  # type: ignore[return-value]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class ElasticEngine:
    def __init__(self, url: str, *, prefix: str = ALIAS, client: Elasticsearch | None = None) -> None:
        self.alias = prefix
        self.template = prefix
        self.client = client or Elasticsearch(
            url, request_timeout=30, max_retries=5, retry_on_timeout=True, retry_on_status=(502, 503, 504)
        )

    # --- index life ---------------------------------------------------------------------------------------------

    def _new_index_name(self) -> str:
        return f"{self.alias}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"

    def setup(self) -> None:
        try:
            self.client.indices.put_index_template(
                name=self.template,
                index_patterns=[f"{self.alias}-*"],
                template={"settings": {"analysis": ANALYSIS}, "mappings": MAPPINGS},
                priority=100,
            )
            if not self.client.indices.exists_alias(name=self.alias):
                self.client.indices.create(index=self._new_index_name(), aliases={self.alias: {}})
        except (ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch refused to set up the index: {exc}.") from None

    def close(self) -> None:
        self.client.close()

    @_explained
    def refresh(self) -> None:
        self.client.indices.refresh(index=self.alias)

    # --- writing ------------------------------------------------------------------------------------------------

    @staticmethod
    def _source(doc: SearchDocument) -> dict[str, Any]:
        return {
            "id": doc.id,
            "tracking_number": doc.tracking_number,
            "applicant_name": doc.applicant_name,
            "national_id": doc.national_id,
            "governorate": doc.governorate,
            "centre": doc.centre,
            "centre_id": doc.centre_id,
            "service": doc.service,
            "status": doc.status,
            "created_at": _iso(doc.created_at),
            "source_version": _iso(doc.source_version),
            "signers": list(doc.signers),
            "signer_keys": [signer_key(s) for s in doc.signers],
            "data": " ".join((doc.tracking_number, doc.applicant_name, doc.national_id, doc.data_text)),
            "data_text": doc.data_text,
            "ocr": [p.text for p in doc.pages],
            "pages": [{"page_id": p.page_id, "label": p.label, "text": p.text} for p in doc.pages],
        }

    def _bulk(self, index: str, actions: Iterable[dict[str, Any]]) -> int:
        count = 0
        try:
            for ok, _item in streaming_bulk(self.client, actions, index=index, chunk_size=500, max_retries=5,
                                           initial_backoff=1, raise_on_error=True):
                count += int(ok)
        except (BulkIndexError, ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch refused a bulk request: {exc}.") from None
        return count

    def index(self, documents: list[SearchDocument]) -> None:
        if documents:
            self._bulk(self.alias, ({"_id": str(d.id), "_source": self._source(d)} for d in documents))

    @_explained
    def delete(self, ids: list[int]) -> None:
        for doc_id in ids:
            try:
                self.client.delete(index=self.alias, id=str(doc_id))
            except NotFoundError:
                pass

    @_explained
    def rebuild(self, documents: object) -> int:
        """Fill a new versioned index, then move the alias to it in one atomic request."""
        assert isinstance(documents, Iterable)
        self.setup()
        new = self._new_index_name()
        self.client.indices.create(index=new, settings={"refresh_interval": "-1", "number_of_replicas": 0})

        def actions() -> Iterator[dict[str, Any]]:
            for doc in documents:
                yield {"_id": str(doc.id), "_source": self._source(doc)}

        count = self._bulk(new, actions())
        self.client.indices.put_settings(index=new, settings={"refresh_interval": None, "number_of_replicas": None})
        self.client.indices.refresh(index=new)
        old = list(self.client.indices.get_alias(name=self.alias).body)
        self.client.indices.update_aliases(
            actions=[{"remove": {"index": i, "alias": self.alias}} for i in old]
            + [{"add": {"index": new, "alias": self.alias}}]
        )
        for index in old:
            self.client.indices.delete(index=index)
        return count

    # --- reading ------------------------------------------------------------------------------------------------

    def _query(self, query: Query) -> dict[str, Any]:
        must: list[dict[str, Any]] = []
        for clause in parse(query.text):
            if clause.kind == "prefix":
                must.append({"bool": {"should": [{"prefix": {f: clause.terms[0]}} for f in ("data", "ocr")],
                                      "minimum_should_match": 1}})
            elif clause.kind == "phrase":
                must.append({"multi_match": {"query": clause.original, "fields": ["data^2", "ocr"],
                                             "type": "phrase"}})
            else:
                must.append({"multi_match": {"query": clause.original, "fields": ["data^2", "ocr"],
                                             "operator": "and"}})
        f = query.filters
        flt: list[dict[str, Any]] = []
        for name in ("governorate", "centre", "service", "status"):
            values = getattr(f, name)
            if values:
                flt.append({"terms": {name: list(values)}})
        if f.national_id:
            flt.append({"term": {"national_id": normalise(f.national_id.strip())}})
        if f.signer:
            flt.append({"term": {"signer_keys": signer_key(f.signer)}})
        if f.date_from or f.date_to:
            bounds: dict[str, str] = {"format": "strict_date_optional_time", "time_zone": "UTC"}
            if f.date_from:
                bounds["gte"] = f.date_from.isoformat()
            if f.date_to:
                bounds["lte"] = f.date_to.isoformat() + "||/d"
            flt.append({"range": {"created_at": bounds}})
        if query.centre_ids is not None:
            flt.append({"terms": {"centre_id": sorted(query.centre_ids)}})
        return {"bool": {"must": must or [{"match_all": {}}], "filter": flt}}

    def search(self, query: Query) -> Results:
        query.check()
        clauses = parse(query.text)
        sort: Any = {
            "relevance": ["_score", {"created_at": "desc"}, {"id": "desc"}],
            "newest": [{"created_at": "desc"}, {"id": "desc"}],
            "oldest": [{"created_at": "asc"}, {"id": "asc"}],
        }[query.sort]
        try:
            body = self.client.search(
                index=self.alias,
                query=self._query(query),
                sort=sort,
                from_=(query.page - 1) * query.per_page,
                size=query.per_page,
                track_total_hits=True,
                aggs={name: {"terms": {"field": name, "size": 100, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
                      for name in FACETS},
            ).body
        except (ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch refused the search: {exc}.") from None
        terms, prefixes = term_set(clauses), prefix_set(clauses)
        hits = []
        for item in body["hits"]["hits"]:
            doc = _document(item["_source"])
            hits.append(Hit(
                id=doc.id, tracking_number=doc.tracking_number, applicant_name=doc.applicant_name,
                national_id=doc.national_id, governorate=doc.governorate, centre=doc.centre, service=doc.service,
                status=doc.status, created_at=doc.created_at,
                snippets=snippets(doc.pages, terms, prefixes, query.snippets),
            ))
        facets = {name: [(b["key"], b["doc_count"]) for b in body["aggregations"][name]["buckets"]]
                  for name in FACETS}
        return Results(total=body["hits"]["total"]["value"], hits=hits, facets=facets)

    @_explained
    def get(self, doc_id: int) -> SearchDocument | None:
        try:
            body = self.client.get(index=self.alias, id=str(doc_id)).body
        except NotFoundError:
            return None
        return _document(body["_source"])

    @_explained
    def versions(self, ids: list[int]) -> dict[int, datetime]:
        if not ids:
            return {}
        body = self.client.mget(index=self.alias, ids=[str(i) for i in ids], source_includes=["source_version"]).body
        return {int(d["_id"]): datetime.fromisoformat(d["_source"]["source_version"])
                for d in body["docs"] if d.get("found")}

    @_explained
    def stats(self) -> IndexStats:
        body = self.client.search(index=self.alias, size=0, track_total_hits=True,
                                  aggs={"newest": {"max": {"field": "source_version"}}}).body
        newest = body["aggregations"]["newest"].get("value_as_string")
        return IndexStats(count=body["hits"]["total"]["value"],
                          newest_source_version=datetime.fromisoformat(newest.replace("Z", "+00:00")) if newest
                          else None)


def _document(src: dict[str, Any]) -> SearchDocument:
    return SearchDocument(
        id=int(src["id"]), tracking_number=src["tracking_number"], applicant_name=src["applicant_name"],
        national_id=src["national_id"], governorate=src["governorate"], centre=src["centre"],
        centre_id=int(src["centre_id"]), service=src["service"], status=src["status"],
        created_at=datetime.fromisoformat(src["created_at"]),
        source_version=datetime.fromisoformat(src["source_version"]),
        signers=tuple(src["signers"]), data_text=src["data_text"],
        pages=tuple(PageText(p["page_id"], p["label"], p["text"]) for p in src["pages"]),
    )
