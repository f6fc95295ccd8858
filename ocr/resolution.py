"""How many pixels per inch a page image has, for the size of its PDF page and for Tesseract.

Scanners write the resolution into the file; PDF pages get ``Limits.dpi`` when rasterised. Phone photos and some
scanners say 72 dpi or nothing, which would make a 4000-pixel photo a 1.4-metre PDF page, so an absent or
implausible value is replaced by the resolution at which the page's long side would be A4's (11.69 in).
"""

from __future__ import annotations

from PIL import Image

A4_LONG_SIDE_INCHES = 297 / 25.4
PLAUSIBLE_DPI = (100, 1200)


def page_dpi(image: Image.Image) -> int:
    """The image's declared resolution if plausible, else the one that makes it an A4 page."""
    declared = image.info.get("dpi")
    if isinstance(declared, tuple) and declared:
        try:
            value = round(float(declared[0]))
        except (TypeError, ValueError):
            value = 0
        if PLAUSIBLE_DPI[0] <= value <= PLAUSIBLE_DPI[1]:
            return value
    estimate = round(max(image.size) / A4_LONG_SIDE_INCHES)
    return min(PLAUSIBLE_DPI[1], max(PLAUSIBLE_DPI[0] // 2, estimate))
