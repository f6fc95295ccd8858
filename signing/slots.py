"""Where a signature goes on a rendered document: shared by the permit renderer and the PAdES signer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignatureSlot:
    """One empty signature box drawn on a page, to be filled by the signature field called ``field_name``.

    ``page`` counts from 0. ``box`` is ``(x1, y1, x2, y2)`` in PDF points (1/72 in) from the bottom-left corner of the
    page's media box, with ``x1 < x2`` and ``y1 < y2``: the outer edge of the box's printed border, ready to be the
    ``/Rect`` of the signature widget (pyHanko's ``SigFieldSpec(box=...)``).
    """

    field_name: str
    page: int
    box: tuple[float, float, float, float]
