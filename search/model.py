"""What goes into the index and what comes out of it: plain data shared by both engines and their callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "oldest")
FACETS = ("governorate", "centre", "service", "status")
"""Fields counted for the facets, in the order the search page shows them."""
MAX_PER_PAGE = 200
MAX_WINDOW = 10_000
"""Deepest hit a page may reach (page × per_page), as Elasticsearch's ``index.max_result_window``: past it a query
is refused with a clear message instead of asking an engine to rank and skip millions of rows."""
MAX_QUERY_CHARS = 500
"""Longest search box text; an auditor types words, not pages."""
MAX_CLAUSES = 24
"""Most words, phrases and prefixes in one query (each one is a posting list to intersect)."""
TOTAL_CAP = 10_000
"""Totals are exact up to here and then reported as "more than", like Elasticsearch's ``track_total_hits``."""


class SearchError(RuntimeError):
    """The engine failed (file unreadable, cluster down); the message is one sentence for the operator."""


class BadQuery(ValueError):
    """The query cannot be run as given (unknown sort, page out of range); the message says what to change.

    ``message_ar`` is the same sentence for the Arabic interface.
    """

    def __init__(self, message_en: str, message_ar: str = "طلب البحث غير صحيح.") -> None:
        super().__init__(message_en)
        self.message_ar = message_ar


@dataclass(frozen=True)
class PageText:
    """The OCR text of one scanned page, with a label such as ``document 2, page 3`` chosen by the caller."""

    page_id: int
    label: str
    text: str


@dataclass(frozen=True)
class SearchDocument:
    """One application as the index sees it: filterable fields, free text, and the pages' OCR text.

    ``source_version`` is the time of the newest change the document reflects (application or page); comparing it
    with the database shows an index that lags behind.
    """

    id: int
    tracking_number: str
    applicant_name: str
    national_id: str
    governorate: str
    centre: str
    centre_id: int
    service: str
    status: str
    created_at: datetime
    source_version: datetime
    signers: tuple[str, ...] = ()
    data_text: str = ""
    """Everything searchable about the application besides the scans (names, service, address, notes)."""
    pages: tuple[PageText, ...] = ()


@dataclass(frozen=True)
class Filters:
    """Field filters; an empty tuple or ``None`` means "any"."""

    governorate: tuple[str, ...] = ()
    centre: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    signer: str | None = None
    national_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    """Inclusive bounds on the day an application was taken in (UTC)."""


@dataclass(frozen=True)
class Query:
    text: str = ""
    filters: Filters = field(default_factory=Filters)
    centre_ids: frozenset[int] | None = None
    """Role scope: only these centres (a centre's staff); ``None`` means every centre (an auditor)."""
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 20
    snippets: int = 3

    def check(self) -> None:
        if self.sort not in SORTS:
            raise BadQuery(f"Sort must be one of {', '.join(SORTS)}, not {self.sort!r}.", "طريقة الترتيب غير معروفة.")
        if self.page < 1:
            raise BadQuery("Page numbers start at 1.", "أرقام الصفحات تبدأ من 1.")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise BadQuery(f"Results per page must be between 1 and {MAX_PER_PAGE}.",
                           f"عدد النتائج في الصفحة بين 1 و{MAX_PER_PAGE}.")
        if self.page * self.per_page > MAX_WINDOW:
            raise BadQuery(f"Only the first {MAX_WINDOW:,} results can be paged through; narrow the search.",
                           f"لا يمكن تصفح أكثر من أول {MAX_WINDOW:,} نتيجة؛ ضيّق البحث.")
        if len(self.text) > MAX_QUERY_CHARS:
            raise BadQuery(f"The search text is limited to {MAX_QUERY_CHARS} characters.",
                           f"نص البحث لا يزيد على {MAX_QUERY_CHARS} حرف.")
        if not 0 <= self.snippets <= 10:
            raise BadQuery("Snippets per hit must be between 0 and 10.", "عدد المقتطفات بين 0 و10.")
        f = self.filters
        if f.date_from and f.date_to and f.date_from > f.date_to:
            raise BadQuery("The start date is after the end date.", "تاريخ البداية بعد تاريخ النهاية.")


Fragment = tuple[str, bool]
"""A piece of a snippet and whether it is a hit."""


@dataclass(frozen=True)
class Snippet:
    page_id: int
    label: str
    fragments: tuple[Fragment, ...]


@dataclass(frozen=True)
class Hit:
    id: int
    tracking_number: str
    applicant_name: str
    national_id: str
    governorate: str
    centre: str
    service: str
    status: str
    created_at: datetime
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True)
class Results:
    total: int
    """Exact up to :data:`TOTAL_CAP`; above it, :data:`TOTAL_CAP` itself with ``total_is_lower_bound`` set."""
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    """For each of :data:`FACETS`, values and counts in the matching set, most frequent first."""
    total_is_lower_bound: bool = False
    """True when more than :data:`TOTAL_CAP` documents match (the page says "more than 10,000")."""


@dataclass(frozen=True)
class IndexStats:
    count: int
    newest_source_version: datetime | None


class Engine(Protocol):
    """What every search engine offers; the contract tests in ``tests/test_search_contract.py`` hold each to it."""

    def setup(self) -> None:
        """Create the index (idempotent)."""

    def index(self, documents: list[SearchDocument]) -> None:
        """Add or replace documents by id (idempotent; the whole batch or an error)."""

    def delete(self, ids: list[int]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    def search(self, query: Query) -> Results:
        """Run a query with its filters, scope, facets, sort, pagination and snippets."""

    def get(self, doc_id: int) -> SearchDocument | None:
        """The stored document, or ``None``."""

    def versions(self, ids: list[int]) -> dict[int, datetime]:
        """``source_version`` of each of these documents the index holds (absent ids are left out)."""

    def stats(self) -> IndexStats:
        """How many documents and the newest change they reflect (for the lag check)."""

    def rebuild(self, documents: object) -> int:
        """Index an iterable of documents into a fresh index and switch to it when complete; returns the count."""

    def refresh(self) -> None:
        """Make everything indexed so far visible to searches (a no-op where writes are visible at once)."""

    def close(self) -> None:
        """Release connections."""
