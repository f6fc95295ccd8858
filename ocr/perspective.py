"""Flatten a phone photo of a page: find the sheet's four corners on the darker background and warp it upright.

A clerk who photographs a form with a phone holds it at an angle: the sheet is a trapezoid on a desk, its lines
converge, and Tesseract's single-block layout (``--psm 6``) then cuts and merges lines. A scanner never does this,
so the step only acts when the evidence is clear:

- the sheet is the largest bright region of a small, blurred copy (Otsu: paper against desk), closed so that the
  text inside does not punch holes in it, between 25% and 88% of the image (a page filling the frame is a scan;
  a photo that leaves less than ~12% of desk around the sheet is therefore not flattened);
- its outline simplifies to four corners, or else its minimum-area rectangle stands in for them;
- what lies around it is dark compared with the paper;
- at least one corner is more than ``MIN_CORNER_DEVIATION`` degrees off square. A sheet that is merely turned on a
  scanner lid is a rectangle: ``ocr.cleanup.crop_borders`` and the text-based deskew handle it more precisely.

The warp maps the corners onto a rectangle as large as the sheet's longer opposite edges (no detail is thrown
away), scaled up to at least ``MIN_LONG_SIDE`` pixels so that a low-resolution photo still gives Tesseract letters
of a readable size (~200 dpi on A4).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from ocr.skew import Gray
from ocr.tones import percentile

WORK_LONG_SIDE = 800
"""Pixels on the long side of the copy the sheet is looked for in: the sheet's outline needs no more."""
MIN_AREA, MAX_AREA = 0.25, 0.88
"""Shares of the image the sheet may cover. Measured on our synthetic corpus: photographed sheets 0.69-0.83; scans
with ragged black bands along the edges (whose bright region the corner search also finds) 0.90-0.96."""
MIN_CORNER_DEVIATION = 2.5
"""Degrees off square at the worst corner below which the sheet is taken as a rectangle (no warp needed).
Measured: photographed sheets 4.6-8.4; the bright region inside a scanner's ragged bands 0.7-2.2."""
MIN_LONG_SIDE = 2400
"""Smallest long side, in pixels, of the flattened page (A4 at ~200 dpi)."""
DARK_SURROUNDING = 0.7
"""The surroundings' mean must be below this share of the paper's brightness (90th percentile inside)."""


@dataclass(frozen=True)
class Quad:
    corners: npt.NDArray[np.float32]
    """Top-left, top-right, bottom-right, bottom-left, in pixels of the full image."""
    worst_angle: float
    """Largest deviation of a corner from 90 degrees."""


def order_corners(points: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Four points as top-left, top-right, bottom-right, bottom-left (by x + y and y - x)."""
    points = points.reshape(4, 2).astype(np.float32)
    total, diff = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array(
        [points[np.argmin(total)], points[np.argmin(diff)], points[np.argmax(total)], points[np.argmax(diff)]],
        dtype=np.float32,
    )


def corner_deviation(corners: npt.NDArray[np.float32]) -> float:
    """Largest difference, in degrees, between a corner's angle and a right angle."""
    worst = 0.0
    for i in range(4):
        a, b = corners[i - 1] - corners[i], corners[(i + 1) % 4] - corners[i]
        cosine = float(np.dot(a, b) / max(1e-9, float(np.linalg.norm(a) * np.linalg.norm(b))))
        worst = max(worst, abs(90.0 - float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))))
    return worst


def find_sheet(gray: Gray) -> Quad | None:
    """The sheet's corners if the page lies, clearly bounded, on a darker background; else None."""
    height, width = gray.shape
    scale = min(1.0, WORK_LONG_SIDE / max(height, width))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    small = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    side = max(3, round(0.02 * max(small.shape)) | 1)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (side, side)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count < 2:
        return None
    sheet = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours((labels == sheet).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    area = cv2.contourArea(hull)
    if not MIN_AREA * small.size <= area <= MAX_AREA * small.size:
        return None
    perimeter = cv2.arcLength(hull, True)
    corners = None
    for share in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, share * perimeter, True)
        if len(approx) == 4:
            corners = approx.reshape(4, 2).astype(np.float32)
            break
    if corners is None:
        corners = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)
    if cv2.contourArea(corners) < 0.9 * area:  # four corners that do not describe the region: no clear sheet
        return None
    outside = np.ones(small.shape, np.uint8)
    cv2.fillConvexPoly(outside, np.round(corners).astype(np.int32), 0)
    around, inside = small[outside == 1], small[outside == 0]
    if around.size == 0 or float(around.mean()) > DARK_SURROUNDING * percentile(inside, 90):
        return None
    ordered = order_corners(corners / scale)
    return Quad(ordered, corner_deviation(ordered))


def flatten(gray: Gray, quad: Quad) -> Gray:
    """Warp the sheet onto an upright rectangle (white where the corners overshoot the image)."""
    tl, tr, br, bl = quad.corners
    width = max(float(np.linalg.norm(tr - tl)), float(np.linalg.norm(br - bl)))
    height = max(float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr)))
    zoom = max(1.0, MIN_LONG_SIDE / max(width, height))
    out_w, out_h = max(1, round(width * zoom)), max(1, round(height * zoom))
    target = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.corners, target)
    warped = cv2.warpPerspective(gray, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    return np.asarray(warped, dtype=np.uint8)


def dewarp(gray: Gray) -> tuple[Gray, Quad | None]:
    """The flattened sheet and its corners when a photographed page was found, else the page and None."""
    quad = find_sheet(gray)
    if quad is None or quad.worst_angle < MIN_CORNER_DEVIATION:
        return gray, None
    return flatten(gray, quad), quad
