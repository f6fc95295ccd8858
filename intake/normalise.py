"""Small text normalisers shared by the intake validators.

Clerks type on Arabic keyboards and citizens copy numbers out of Arabic SMS and PDFs, so digits arrive as
Arabic-Indic (٠-٩) or Eastern Arabic-Indic / Persian (۰-۹) and numbers carry stray spaces, dashes and invisible
direction marks. Every validator first maps those to one ASCII form so the rules are written once.
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Spaces of every kind, ASCII and Unicode dashes, and the bidi marks that copying from RTL text drags along.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−_ـ\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]+")


def ascii_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Persian digits replaced by 0-9 (everything else unchanged)."""
    return text.translate(_DIGITS)


def compact(text: str) -> str:
    """``text`` with ASCII digits and without spaces, dashes, tatweel or direction marks: for numbers and codes."""
    return _SEPARATORS.sub("", ascii_digits(text))


def clean_line(text: str) -> str:
    """One line of free text: NFC, control characters removed, runs of whitespace collapsed, trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())
