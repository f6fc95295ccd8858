"""How much work one uploaded file may cause, decided before any pixel is decoded.

The limits protect the workers, not the citizen: a 300-dpi A4 scan is ~8.7 Mpx and a few MB, so the defaults leave
room for A3 and A2 drawings while refusing decompression bombs and thousand-page TIFFs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-file budget. Frozen so that one instance can be shared by every worker thread."""

    max_bytes: int = 200 * 1024 * 1024
    """Largest accepted file on disk."""
    max_pages: int = 200
    """Most pages in one PDF."""
    max_frames: int = 200
    """Most frames (pages) in one TIFF; counted by walking the directory chain, never by decoding."""
    max_pixels: int = 150_000_000
    """Most pixels in one page after rasterising (A0 at 300 dpi is ~139 Mpx; A4 is ~8.7 Mpx)."""
    max_image_side: int = 30_000
    """Longest accepted side in pixels: stops 1 x 100,000,000 strips that pass the area test but break decoders."""
    dpi: int = 300
    """Resolution at which PDF pages are rasterised; Tesseract reads Arabic best at 300 dpi."""

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pages", "max_frames", "max_pixels", "max_image_side", "dpi"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")
