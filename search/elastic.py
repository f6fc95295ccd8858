"""The Elasticsearch engine, with the official client.

- An index template (``sijill-search-*``) holds the analyser and the mappings, so every versioned index
  (``sijill-search-<UTC time>``) is made the same way; the alias ``sijill-search`` points at the live one.
  :meth:`ElasticEngine.rebuild` fills a new index with bulk requests and swaps the alias in one atomic call,
  so searches never see a half-built index (zero-downtime reindexing); the old index is then deleted.
- One analyser by construction: the text fields hold the terms :mod:`search.analyser` made, separated by spaces, and
  Elasticsearch's only analysis is the ``whitespace`` tokenizer (``sijill_terms``); queries are built from the terms
  :mod:`search.query` made. So ES cannot tokenise ``الاسم:محمد``, ``م.سامي`` or ``1,000`` its own way, keep ZWNJ or
  LRM in a word, index an empty token for a lone tatweel, score a multi-term word once per term or treat
  ``SOH01-2026-0001*`` as one literal term. The pages' terms are one field value, so a phrase runs on from one page
  to the next as in the embedded engine. The second (fuzzy) tier is the ``fuzzy`` field; an exact clause adds a
  constant far above any BM25 score, so a fuzzy match never outranks an exact one.
- Totals are counted up to :data:`search.model.TOTAL_CAP` (``track_total_hits``), pages stop at
  :data:`search.model.MAX_WINDOW` (the index's ``max_result_window``), for both engines alike.
- Writes during :meth:`ElasticEngine.rebuild` go to the live index *and* the one being built (the ``…-building``
  alias), with the document's ``source_version`` as an external version, so neither a worker's newer write nor the
  rebuild's older copy is lost or wins wrongly.
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

from search.analyser import analyse, normalise, second_tier
from search.embedded import signer_key
from search.highlight import snippets
from search.model import (
    FACETS,
    MAX_WINDOW,
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

ALIAS = "sijill-search"
TEMPLATE = "sijill-search"

ANALYSIS: dict[str, Any] = {
    # the terms arrive analysed by search.analyser: splitting on spaces is all that is left to do
    "analyzer": {"sijill_terms": {"type": "custom", "tokenizer": "whitespace", "filter": []}},
}
EXACT_TIER = 1_000_000.0
"""Added once per clause matched exactly: far above any BM25 score, so the fuzzy tier always ranks below."""

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
        # index_phrases: Elasticsearch's own form of the Tantivy engine's pair terms (search.analyser.phrase_pairs):
        # neighbouring terms indexed together, so a phrase of common words is looked up, not checked everywhere
        "data": {"type": "text", "analyzer": "sijill_terms", "index_phrases": True},
        "data_text": {"type": "text", "index": False},
        "ocr": {"type": "text", "analyzer": "sijill_terms", "index_phrases": True},
        "fuzzy": {"type": "text", "analyzer": "sijill_terms", "index_options": "freqs"},
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
                template={"settings": {"analysis": ANALYSIS, "max_result_window": MAX_WINDOW}, "mappings": MAPPINGS},
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
        data_text = " ".join((doc.tracking_number, doc.applicant_name, doc.national_id, doc.data_text))
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
            "data": " ".join(analyse(data_text)),
            "data_text": doc.data_text,
            "ocr": " ".join(" ".join(analyse(p.text)) for p in doc.pages),
            "fuzzy": " ".join([*second_tier(data_text), *(k for p in doc.pages for k in second_tier(p.text))]),
            "pages": [{"page_id": p.page_id, "label": p.label, "text": p.text} for p in doc.pages],
        }

    def _bulk(self, index: str, actions: Iterable[dict[str, Any]]) -> int:
        """Send the actions; a version conflict means the index already holds a newer copy, which is fine."""
        count = 0
        failed: list[Any] = []
        try:
            for ok, item in streaming_bulk(self.client, actions, index=index, chunk_size=500, max_retries=5,
                                           initial_backoff=1, raise_on_error=False, raise_on_exception=True):
                result = next(iter(item.values())) if isinstance(item, dict) and item else {}
                if ok or result.get("status") == 409:
                    count += 1
                else:
                    failed.append(item)
        except (BulkIndexError, ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch refused a bulk request: {exc}.") from None
        if failed:
            raise SearchError(f"Elasticsearch refused {len(failed)} documents, the first: {failed[0]}.")
        return count

    @property
    def building(self) -> str:
        """The alias of an index being rebuilt: writes go there too until the switch."""
        return f"{self.alias}-building"

    def _targets(self) -> list[str]:
        targets = [self.alias]
        if self.client.indices.exists_alias(name=self.building):
            targets.append(self.building)
        return targets

    @staticmethod
    def _action(doc: SearchDocument, source: dict[str, Any]) -> dict[str, Any]:
        moment = doc.source_version if doc.source_version.tzinfo else doc.source_version.replace(tzinfo=UTC)
        return {"_id": str(doc.id), "_source": source, "version": int(moment.timestamp() * 1_000_000),
                "version_type": "external_gte"}

    def index(self, documents: list[SearchDocument]) -> None:
        if not documents:
            return
        try:
            targets = self._targets()
        except (ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch failed (index): {exc}.") from None
        sources = [(d, self._source(d)) for d in documents]
        for target in targets:
            self._bulk(target, (self._action(d, src) for d, src in sources))

    @_explained
    def delete(self, ids: list[int]) -> None:
        for target in self._targets():
            for doc_id in ids:
                try:
                    self.client.delete(index=target, id=str(doc_id))
                except NotFoundError:
                    pass

    @_explained
    def rebuild(self, documents: object) -> int:
        """Fill a new versioned index, then move the alias to it in one atomic request."""
        assert isinstance(documents, Iterable)
        self.setup()
        new = self._new_index_name()
        self.client.indices.create(index=new, settings={"refresh_interval": "-1", "number_of_replicas": 0},
                                   aliases={self.building: {}})

        def actions() -> Iterator[dict[str, Any]]:
            for doc in documents:
                yield self._action(doc, self._source(doc))

        try:
            count = self._bulk(new, actions())
        except BaseException:
            self.client.indices.delete(index=new, ignore_unavailable=True)
            raise
        self.client.indices.put_settings(index=new, settings={"refresh_interval": None, "number_of_replicas": None})
        self.client.indices.refresh(index=new)
        old = list(self.client.indices.get_alias(name=self.alias).body)
        self.client.indices.update_aliases(
            actions=[{"remove": {"index": i, "alias": self.alias}} for i in old]
            + [{"add": {"index": new, "alias": self.alias}}, {"remove": {"index": new, "alias": self.building}}]
        )
        for index in old:
            self.client.indices.delete(index=index)
        return count

    # --- reading ------------------------------------------------------------------------------------------------

    @staticmethod
    def _exact(clause: Clause) -> dict[str, Any]:
        def each(field: str, boost: float) -> dict[str, Any]:
            terms = clause.terms
            if clause.kind == "word":
                return {"term": {field: {"value": terms[0], "boost": boost}}}
            if clause.kind == "prefix":
                return {"prefix": {field: {"value": terms[0], "boost": boost}}}
            if clause.kind == "phrase":
                return {"match_phrase": {field: {"query": " ".join(terms), "analyzer": "sijill_terms",
                                                 "boost": boost}}}
            return {"span_near": {"clauses": [*({"span_term": {field: t}} for t in terms[:-1]),
                                              {"span_multi": {"match": {"prefix": {field: terms[-1]}}}}],
                                  "slop": 0, "in_order": True, "boost": boost}}

        return {"bool": {"should": [each("data", 2.0), each("ocr", 1.0)], "minimum_should_match": 1}}

    def _query(self, query: Query) -> dict[str, Any]:
        must: list[dict[str, Any]] = []
        for clause in parse(query.text):
            exact = self._exact(clause)
            if clause.fuzzy:
                must.append({"bool": {"should": [
                    {"constant_score": {"filter": exact, "boost": EXACT_TIER}}, exact,
                    {"terms": {"fuzzy": list(clause.fuzzy), "boost": 0.001}},
                ], "minimum_should_match": 1}})
            else:
                must.append(exact)
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
                track_total_hits=TOTAL_CAP,
                aggs={name: {"terms": {"field": name, "size": 100, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
                      for name in FACETS},
            ).body
        except (ApiError, TransportError) as exc:
            raise SearchError(f"Elasticsearch refused the search: {exc}.") from None
        terms, prefixes, fuzzy = term_set(clauses), prefix_set(clauses), fuzzy_set(clauses)
        hits = []
        for item in body["hits"]["hits"]:
            doc = _document(item["_source"])
            hits.append(Hit(
                id=doc.id, tracking_number=doc.tracking_number, applicant_name=doc.applicant_name,
                national_id=doc.national_id, governorate=doc.governorate, centre=doc.centre, service=doc.service,
                status=doc.status, created_at=doc.created_at,
                snippets=snippets(doc.pages, terms, prefixes, query.snippets, fuzzy),
            ))
        facets = {name: [(b["key"], b["doc_count"]) for b in body["aggregations"][name]["buckets"]]
                  for name in FACETS}
        total = body["hits"]["total"]
        capped = total["relation"] != "eq" or total["value"] > TOTAL_CAP
        return Results(total=min(total["value"], TOTAL_CAP), hits=hits, facets=facets, total_is_lower_bound=capped)

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
