"""Dark borders around a scanned page: a scanner lid around a smaller sheet, and thin ragged bands along the edges.

Both would pass for ink in every later step (orientation, deskew, blank detection, Tesseract's layout), so the
clean-up removes them first, and orientation detection ignores edge bands even when the crop step is off.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from ocr.skew import Gray
from ocr.tones import percentile

MIN_CROP_SIDE = 200
"""Images smaller than this (pixels, short side) are never cropped: there is no scanner lid around a thumbnail."""
EDGE_BAND_DEPTH = 0.1
"""Share of the image, from each edge inwards, searched for a scanner's dark band."""
EDGE_BAND_SHARE = 0.5
"""An edge has a band when at least this share of its pixels is dark and starts a dark run inwards. Text never
touches the edge over half its length; scanner bands do along all of it, with ragged inner edges."""
EDGE_BAND_PAD = 3
"""Pixels whitened beyond a band's dark run: its soft inner edge, lighter than the dark threshold but not paper."""


def crop_page(gray: Gray) -> tuple[Gray, tuple[int, int, int, int] | None]:
    """Both kinds of dark border; the box is in the input's pixels.

    Thin bands go first: left in place, their ragged inner edges dent the sheet that ``crop_borders`` looks for,
    and what its convex hull leaves of them inside the sheet then reads as a column of "|" and ":" (measured). A
    side whose dark run is deeper than EDGE_BAND_DEPTH is a lid around a smaller sheet: ``crop_borders`` cuts it,
    and the band pass after it whitens what is left along the new edges.
    """
    kept, box = remove_edge_bands(gray, thin_only=True)
    for step in (crop_borders, remove_edge_bands):
        kept, inner = step(kept)
        box = _inside(box, inner)
    return kept, box


def _inside(
    outer: tuple[int, int, int, int] | None, inner: tuple[int, int, int, int] | None
) -> tuple[int, int, int, int] | None:
    """Box ``inner`` (relative to ``outer``) in the coordinates ``outer`` is given in."""
    if outer is None or inner is None:
        return inner or outer
    return outer[0] + inner[0], outer[1] + inner[1], outer[0] + inner[2], outer[1] + inner[3]


def remove_edge_bands(gray: Gray, *, thin_only: bool = False) -> tuple[Gray, tuple[int, int, int, int] | None]:
    """Whiten the dark bands a scanner leaves along the edges, and cut each band's typical depth away.

    From each edge inwards (at most EDGE_BAND_DEPTH of the image), every row or column's run of dark pixels
    (below half the paper's brightness) is measured. If at least EDGE_BAND_SHARE of the edge starts dark, the edge
    has a band: each run, plus EDGE_BAND_PAD pixels of soft edge, is painted white, and the band's median depth is
    cut off. Bands too thin for the sheet detector of ``crop_borders`` (a few pixels, the sheet then "fills" the
    image) are the case this is for. Returns the page and the kept box, or the page itself and None.
    """
    height, width = gray.shape
    if min(height, width) < MIN_CROP_SIDE:
        return gray, None
    limit = 0.5 * percentile(gray[::8, ::8], 90)
    cuts = [0, 0, 0, 0]  # top, bottom, left, right
    bands: list[tuple[int, int, npt.NDArray[np.intp]]] = []  # side, depth, whitened run per position
    for side, view in enumerate((gray, gray[::-1], gray.T, gray.T[::-1])):  # each edge at row 0, running inwards
        # Every side is measured on the page as it came: where two bands meet in a corner, one side's run ends at
        # the other's ragged edge, and whitening one band before measuring the next would leave slivers there.
        depth = max(1, int(EDGE_BAND_DEPTH * view.shape[0]))
        dark = view[:depth] < limit
        run = np.where(dark.all(axis=0), depth, np.argmin(dark, axis=0))
        middle = run[len(run) // 10 : len(run) - len(run) // 10]  # the corners belong to the neighbouring bands
        if float(np.mean(run > 0)) < EDGE_BAND_SHARE or (thin_only and float(np.mean(middle >= depth)) > 0.05):
            continue
        reach = np.where(run > 0, np.minimum(depth, run + EDGE_BAND_PAD), 0)
        bands.append((side, depth, reach))
        cuts[side] = int(np.median(reach))
    if not bands:
        return gray, None
    out = gray.copy()
    views = (out, out[::-1], out.T, out.T[::-1])
    for side, depth, reach in bands:
        views[side][:depth][np.arange(depth)[:, None] < reach[None, :]] = 255
    top, bottom, left, right = cuts
    return out[top : height - bottom, left : width - right].copy(), (left, top, width - right, height - bottom)


def crop_borders(gray: Gray) -> tuple[Gray, tuple[int, int, int, int] | None]:
    """Cut away dark scanner margins around the sheet and paint the dark wedges of a skewed sheet white.

    The sheet is the largest bright region of a small, blurred copy, thresholded by Otsu (paper against lid, since
    ink is a minority of any page); its convex hull fills the notches a dark photo or stamp at the edge would leave.
    Nothing is cut when the sheet already fills the image (within 1%), is implausibly small (< 20%), or when what lies
    outside it is not dark (a certificate's printed frame has white margins around it).
    """
    height, width = gray.shape
    if min(height, width) < MIN_CROP_SIDE:
        return gray, None
    scale = min(1.0, 600 / max(height, width))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.medianBlur(small, 5)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count < 2:
        return gray, None
    sheet = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours((labels == sheet).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.vstack(contours)).astype(np.float64) / scale
    hull_area = cv2.contourArea(hull.astype(np.float32))
    left, top = max(0, int(np.floor(hull[:, 0, 0].min()))), max(0, int(np.floor(hull[:, 0, 1].min())))
    right, bottom = min(width, int(np.ceil(hull[:, 0, 0].max()))), min(height, int(np.ceil(hull[:, 0, 1].max())))
    if hull_area < 0.2 * width * height or hull_area > 0.99 * width * height:
        return gray, None
    lid = np.ones(small.shape, np.uint8)
    cv2.fillConvexPoly(lid, np.round(hull * scale).astype(np.int32), 0)
    outside, inside = small[lid == 1], small[lid == 0]
    if outside.size < 0.01 * small.size or inside.size == 0:
        return gray, None
    if float(outside.mean()) > 0.5 * percentile(inside, 90):
        return gray, None  # what lies outside is not dark: white margins around a printed frame, not a scanner lid
    inset = max(2, round(1 / scale))  # the blurred edge of the sheet belongs to the lid
    left, top, right, bottom = left + inset, top + inset, right - inset, bottom - inset
    kept = gray[top:bottom, left:right].copy()
    outside = np.full(kept.shape, 255, np.uint8)
    polygon = np.round(hull - [left, top]).astype(np.int32)
    cv2.fillConvexPoly(outside, polygon, 0)
    shrunk = cv2.erode(255 - outside, np.ones((2 * inset + 1, 2 * inset + 1), np.uint8))
    kept[shrunk == 0] = 255
    return kept, (left, top, right, bottom)
