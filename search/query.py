"""The query language of the search box: words, "quoted phrases" and prefixes (``word*``), all required.

Parsing is shared by both engines: each clause is analysed here once, so the embedded engine and Elasticsearch look
for the same terms (Elasticsearch also receives the original words for its own analyser; see :mod:`search.elastic`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.analyser import analyse, prefix_term
from search.model import MAX_CLAUSES, BadQuery

_CLAUSE = re.compile(r'"([^"]*)"?|(\S+)')
MIN_PREFIX = 2


@dataclass(frozen=True)
class Clause:
    kind: str
    """``word``, ``phrase`` or ``prefix``."""
    original: str
    terms: tuple[str, ...]


def parse(text: str) -> list[Clause]:
    """Split the search box into clauses; words that analyse to nothing (punctuation) are dropped."""
    clauses: list[Clause] = []
    for match in _CLAUSE.finditer(text or ""):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            terms = tuple(analyse(phrase))
            if len(terms) == 1:
                clauses.append(Clause("word", phrase, terms))
            elif terms:
                clauses.append(Clause("phrase", phrase, terms))
            continue
        assert word is not None
        if word.endswith("*") and len(word.rstrip("*")) >= MIN_PREFIX:
            stem = prefix_term(word.rstrip("*"))
            if stem:
                clauses.append(Clause("prefix", word.rstrip("*"), (stem,)))
            continue
        for term in analyse(word):
            clauses.append(Clause("word", word, (term,)))
    if len(clauses) > MAX_CLAUSES:
        raise BadQuery(f"At most {MAX_CLAUSES} words, phrases or prefixes in one search.",
                       f"البحث لا يزيد على {MAX_CLAUSES} كلمة أو عبارة.")
    return clauses


def term_set(clauses: list[Clause]) -> set[str]:
    """Whole terms a hit may consist of (words and the words of phrases)."""
    return {t for c in clauses if c.kind != "prefix" for t in c.terms}


def prefix_set(clauses: list[Clause]) -> set[str]:
    return {c.terms[0] for c in clauses if c.kind == "prefix"}
