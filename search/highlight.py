"""Highlighting by analysis: a word of the original text is a hit when its term is one the query looks for.

Both engines use this, so a snippet shows the page's own spelling (``والمحافظة``) for a query typed differently
(``محافظه``), and the record view marks the same words as the result list.
"""

from __future__ import annotations

from collections.abc import Iterator

from search.analyser import CHUNK, chunk_alternatives, chunk_spans
from search.model import Fragment, PageText, Snippet

CONTEXT = 60
"""Characters of context on each side of a hit in a snippet."""


def iter_hit_spans(text: str, terms: set[str], prefixes: set[str], fuzzy: set[str] | None = None,
                   ) -> Iterator[tuple[int, int]]:
    """Character spans of the words of ``text`` that match a term, start with a prefix or share a fuzzy key."""
    last = None
    starts = tuple(prefixes)
    for match in CHUNK.finditer(text):
        chunk = match.group()
        spans = chunk_spans(chunk)
        alternatives = chunk_alternatives(chunk) if fuzzy else ()
        for i, (term, start, end) in enumerate(spans):
            if (term in terms or (starts and term.startswith(starts))
                    or (fuzzy and not fuzzy.isdisjoint(alternatives[i]))):
                span = (match.start() + start, match.start() + end)
                if span != last:  # a second term of the same word (عبدالرحمن) is one hit
                    last = span
                    yield span


def hit_spans(text: str, terms: set[str], prefixes: set[str], fuzzy: set[str] | None = None) -> list[tuple[int, int]]:
    """Every hit of ``text`` (the record view marks them all)."""
    return list(iter_hit_spans(text, terms, prefixes, fuzzy))


def mark(text: str, spans: list[tuple[int, int]]) -> tuple[Fragment, ...]:
    """Cut ``text`` into plain and hit fragments."""
    out: list[Fragment] = []
    pos = 0
    for start, end in spans:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return tuple(out)


def snippets(pages: tuple[PageText, ...], terms: set[str], prefixes: set[str], limit: int = 3,
             fuzzy: set[str] | None = None) -> tuple[Snippet, ...]:
    """Up to ``limit`` snippets, one per page with hits, each a window around that page's first hits."""
    found: list[Snippet] = []
    if not terms and not prefixes and not fuzzy:
        return ()
    for page in pages:
        if len(found) >= limit:
            break
        found_spans = iter_hit_spans(page.text, terms, prefixes, fuzzy)
        first = next(found_spans, None)
        if first is None:
            continue
        spans = [first]
        for span in found_spans:  # only the hits that can fall in the first hit's window
            if span[0] > first[1] + 3 * CONTEXT:
                break
            spans.append(span)
        start = max(0, spans[0][0] - CONTEXT)
        end = min(len(page.text), spans[0][1] + CONTEXT)
        inside = [(s, e) for s, e in spans if s >= start and e <= end + CONTEXT]
        end = max(end, inside[-1][1])
        # cut at word boundaries where possible
        while start > 0 and not page.text[start - 1].isspace() and spans[0][0] - start < CONTEXT + 20:
            start -= 1
        while end < len(page.text) and not page.text[end].isspace() and end - inside[-1][1] < CONTEXT + 20:
            end += 1
        window = page.text[start:end]
        fragments = list(mark(window, [(s - start, e - start) for s, e in inside]))
        if start > 0:
            fragments.insert(0, ("… ", False))
        if end < len(page.text):
            fragments.append((" …", False))
        found.append(Snippet(page.page_id, page.label, tuple(fragments)))
    return tuple(found)
