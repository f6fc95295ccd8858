"""Archive search through the API: the same query, filters, scope and audit trail as the search page."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint

from archive.roles import Permission
from archive_search.queries import BadSearch, export_csv, parse_request, results_json, search
from search.model import SearchError
from web.errors import ExplainedError
from web.permissions import current_principal, requires
from web.runtime import db_session, runtime
from web.search import searcher_of, unavailable

blp = Blueprint("api_search", __name__, url_prefix="/api/v1", description="Archive search")

PARAMETERS: list[dict[str, Any]] = [
    {"name": "q", "in": "query", "schema": {"type": "string"},
     "description": 'Words (all required), "a phrase", or a prefix*; Arabic spellings are normalised'},
    *({"name": n, "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "explode": True,
       "description": f"Filter by {n} code; repeat to allow several"} for n in ("governorate", "centre", "service",
                                                                             "status")),
    {"name": "signer", "in": "query", "schema": {"type": "string"}, "description": "Full name of a signing official"},
    {"name": "national_id", "in": "query", "schema": {"type": "string"}, "description": "14 digits, either digit set"},
    {"name": "signed", "in": "query", "schema": {"type": "boolean"},
     "description": "true: only applications with an uploaded PDF that carries electronic signatures"},
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["relevance", "newest", "oldest"]}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]


def _run(export: bool) -> Any:
    principal = current_principal()
    assert principal is not None
    session = db_session()
    try:
        query = parse_request(request.args)
        if export:
            text, _rows = export_csv(session, runtime().search, searcher_of(principal), query)
            session.commit()
            response = Response(text, mimetype="text/csv")
            response.headers["Content-Disposition"] = 'attachment; filename="sijill-search.csv"'
            return response
        results = search(session, runtime().search, searcher_of(principal), query)
        session.commit()
    except BadSearch as exc:
        raise ExplainedError(400, exc.message_ar, exc.message_en, "bad_search") from None
    except SearchError as exc:
        raise unavailable(exc) from None
    return jsonify(results_json(results, query))


@blp.route("/search")
@blp.doc(parameters=PARAMETERS, responses={"200": {"description": "Hits with snippets, facets and the total"}})
@requires(Permission.APPLICATION_VIEW)
def search_archive() -> Any:
    """Search applications and the OCR text of their pages (scoped to the caller's centre unless an auditor)."""
    return _run(export=False)


@blp.route("/search/export.csv")
@blp.doc(parameters=PARAMETERS, responses={"200": {"description": "CSV (UTF-8 with BOM) of every matching row"}})
@requires(Permission.APPLICATION_VIEW)
def export_archive() -> Any:
    """The same search as CSV (at most 10,000 rows)."""
    return _run(export=True)
