"""The query language of the search box: words, "quoted phrases" and prefixes (``word*``), all required.

Parsing is shared by every engine and each clause is analysed here once, with :mod:`search.analyser`, so all engines
look for exactly the same terms:

- a word that analyses to several terms (``SOH01-2026-000123``, ``عبدالرحمن``, ``الاسم:محمد``) is a phrase of them,
  scored once, not one required word per term;
- ``word*`` is a prefix of the word's normalised, article-free form (``محافظة*`` → ``محافظ``); typed after other
  terms in one word (``SOH01-2026-0001*``) it is a phrase whose last term is a prefix;
- a long single word also carries its skeleton (:func:`search.analyser.skeleton`) for the second, fuzzy tier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.analyser import analyse, prefix_term, skeleton, tokens
from search.model import MAX_CLAUSES, BadQuery

_CLAUSE = re.compile(r'"([^"]*)"?|(\S+)')
MIN_PREFIX = 2


@dataclass(frozen=True)
class Clause:
    kind: str
    """``word``, ``phrase``, ``prefix`` or ``phrase_prefix`` (a phrase whose last term is a prefix)."""
    original: str
    terms: tuple[str, ...]

    @property
    def fuzzy(self) -> tuple[str, ...]:
        """Second-tier keys a single word may also match: its skeleton (OCR confusions) and the word itself (the
        stem of a word that kept a bare prefix letter in the index, see :func:`search.analyser.word_alternatives`)."""
        if self.kind != "word" or self.terms[0].isdigit():
            return ()
        key = skeleton(self.terms[0])
        return (key, self.terms[0]) if key and key != self.terms[0] else (self.terms[0],)


def _words(text: str) -> list[Clause]:
    terms = tuple(analyse(text))
    if len(terms) == 1:
        return [Clause("word", text, terms)]
    return [Clause("phrase", text, terms)] if terms else []


def parse(text: str) -> list[Clause]:
    """Split the search box into clauses; words that analyse to nothing (punctuation) are dropped."""
    clauses: list[Clause] = []
    for match in _CLAUSE.finditer(text or ""):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            clauses += _words(phrase)
            continue
        assert word is not None
        bare = word.rstrip("*")
        if word.endswith("*") and len(bare) >= MIN_PREFIX:
            toks = tokens(bare)
            last = toks[-1] if toks else None
            stem = prefix_term(bare[last.start:last.end]) if last else ""
            parts = [t.term for t in toks if last and t.start < last.start]
            if parts and stem:
                clauses.append(Clause("phrase_prefix", bare, (*parts, stem)))
            elif stem:
                clauses.append(Clause("prefix", bare, (stem,)))
            continue
        clauses += _words(word)
    if len(clauses) > MAX_CLAUSES:
        raise BadQuery(f"At most {MAX_CLAUSES} words, phrases or prefixes in one search.",
                       f"البحث لا يزيد على {MAX_CLAUSES} كلمة أو عبارة.")
    return clauses


def term_set(clauses: list[Clause]) -> set[str]:
    """Whole terms a hit may consist of (words and the words of phrases)."""
    out = {t for c in clauses if c.kind in ("word", "phrase") for t in c.terms}
    return out | {t for c in clauses if c.kind == "phrase_prefix" for t in c.terms[:-1]}


def prefix_set(clauses: list[Clause]) -> set[str]:
    return {c.terms[-1] for c in clauses if c.kind in ("prefix", "phrase_prefix")}


def fuzzy_set(clauses: list[Clause]) -> set[str]:
    return {k for c in clauses for k in c.fuzzy}
