"""The holder's name as public surfaces show it: the first name and the initial of the second.

Shared by the public verification page (``web/verify/model.py``) and the permit's sealed payload
(``signing/sealed_payload.py``): what a QR or a link tells a stranger must never be more than the page tells.
"""

from __future__ import annotations

_COMPOUND_FIRST = ("عبد", "أبو", "ابو", "أبي", "ابي")


def mask_name(name: str) -> str:
    """The first name and the initial of the second: ``محمد أحمد علي`` → ``محمد أ.``.

    The verification URL is a capability held by whoever holds the paper, which already shows the full name; but the
    link can travel further than the paper (a photo, a chat), so the page confirms the name without spelling it out.
    ``عبد``/``أبو`` stay joined to the word they belong to (``عبد الله``).
    """
    words = name.split()
    if not words:
        return ""
    first = words[0]
    rest = words[1:]
    if first in _COMPOUND_FIRST and rest:
        first, rest = f"{first} {rest[0]}", rest[1:]
    if not rest:
        return first
    return f"{first} {rest[0][0]}."
