"""The visible part of a signature: an Arabic stamp with the official's name, title and the signing time.

Why a picture and not PDF text: pyHanko's text stamps use a Latin-only font by default, and its OpenType text box
shapes each line as one run without the Unicode bidirectional algorithm, so Arabic mixed with digits or Latin comes
out in the wrong order. Pillow with libraqm (FriBiDi + HarfBuzz) shapes and orders Arabic correctly, so the stamp is
drawn here at print resolution and placed in the signature field as a static image (pyHanko ``StaticStampStyle``).
What the stamp says is not what makes the signature: the signer's name and the time that count are in the signed
CMS (certificate, timestamp); the stamp is for people reading the permit.

Layout, centred, Arabic first: a small "signed electronically" header, the name (bold), the title, optionally the
English name and title, and the date and time with Latin digits on a line of their own (so no bidi reordering can
move them). Font sizes shrink until everything fits the field's box.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.stamp import StaticStampStyle

__all__ = [
    "DEFAULT_STAMP_SIZE",
    "StampText",
    "draw_stamp",
    "render_stamp",
    "stamp_style",
]

#: Width and height in PDF points (1/72 inch) when the field's box is not known: 7.8 cm x 3.2 cm.
DEFAULT_STAMP_SIZE = (220.0, 90.0)
#: Pixels per point: 4 gives 288 dpi, sharp when printed, ~30 KB per stamp in the PDF.
SCALE = 4
INK = (18, 52, 120, 255)  # the dark blue of an office stamp
HEADER = "وُقِّع إلكترونيًا"  # "signed electronically"

# Noto Naskh reads best at stamp size but has no brackets or hyphen, which officials' names and titles often
# contain; a line it cannot cover is drawn in the next font that can (Amiri), never with empty boxes.
ARABIC_REGULAR = (
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
    "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf",
    "/usr/share/fonts/truetype/fonts-hosny-amiri/Amiri-Regular.ttf",
)
ARABIC_BOLD = (
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Bold.ttf",
    "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Bold.ttf",
    *ARABIC_REGULAR,
)
LATIN_REGULAR = (
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf",
)


@dataclass(frozen=True)
class StampText:
    """What the stamp says about the signer (from the official's record, not from the certificate)."""

    name_ar: str
    title_ar: str
    name_en: str | None = None
    title_en: str | None = None


@dataclass(frozen=True)
class _Line:
    text: str
    rtl: bool
    bold: bool
    weight: float  # relative font size


def _first_existing(candidates: Sequence[str]) -> str:
    for candidate in candidates:
        if Path(candidate).is_file():
            return candidate
    raise RuntimeError(f"no usable font; install fonts-noto-core or fonts-hosny-amiri (looked for {candidates[0]})")


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.RAQM)


def format_signed_at(signed_at: dt.datetime, tz: dt.tzinfo | None = None) -> str:
    """``2026-11-23 13:45 UTC+02:00``: ISO order, Latin digits, the offset spelled out so no one guesses the zone."""
    if signed_at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    local = signed_at.astimezone(tz or _cairo())
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} UTC{offset[:3]}:{offset[3:]}"


def _cairo() -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo("Africa/Cairo")
    except zoneinfo.ZoneInfoNotFoundError:  # pragma: no cover - no tzdata on the machine
        return dt.UTC


def render_stamp(
    name_ar: str,
    title_ar: str,
    signed_at: dt.datetime,
    *,
    name_en: str | None = None,
    title_en: str | None = None,
    size: tuple[float, float] = DEFAULT_STAMP_SIZE,
    tz: dt.tzinfo | None = None,
) -> bytes:
    """The stamp as a PNG (RGBA, transparent outside the ink) of ``size`` points at :data:`SCALE` pixels per point."""
    image = draw_stamp(name_ar, title_ar, signed_at, name_en=name_en, title_en=title_en, size=size, tz=tz)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def draw_stamp(
    name_ar: str,
    title_ar: str,
    signed_at: dt.datetime,
    *,
    name_en: str | None = None,
    title_en: str | None = None,
    size: tuple[float, float] = DEFAULT_STAMP_SIZE,
    tz: dt.tzinfo | None = None,
) -> Image.Image:
    """The stamp as a Pillow image; :func:`render_stamp` without the PNG encoding (signing skips it: ~20 ms)."""
    if not features.check("raqm"):  # pragma: no cover - Pillow wheels ship raqm; a distro build may not
        raise RuntimeError("Pillow was built without libraqm: Arabic cannot be shaped")
    lines = [_Line(HEADER, True, False, 0.75), _Line(name_ar, True, True, 1.0), _Line(title_ar, True, False, 0.9)]
    if name_en:
        lines.append(_Line(name_en, False, False, 0.8))
    if title_en:
        lines.append(_Line(title_en, False, False, 0.8))
    lines.append(_Line(format_signed_at(signed_at, tz), False, False, 0.75))

    width, height = round(size[0] * SCALE), round(size[1] * SCALE)
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    border = max(2, SCALE)
    draw.rounded_rectangle((border // 2, border // 2, width - 1 - border // 2, height - 1 - border // 2),
                           radius=6 * SCALE, outline=INK, width=border, fill=(255, 255, 255, 235))

    pad = 5 * SCALE
    box_w, box_h = width - 2 * pad, height - 2 * pad
    base = _fit(lines, box_w, box_h)
    placed = [(line, _font_for(line, base)) for line in lines]
    heights = [_line_height(font) for _, font in placed]
    y = pad + (box_h - sum(heights)) / 2
    for (line, font), line_h in zip(placed, heights, strict=True):
        direction, language = _direction(line)
        text_w = draw.textlength(line.text, font=font, direction=direction, language=language)
        x = pad + (box_w - text_w) / 2
        draw.text((x, y), line.text, font=font, fill=INK, direction=direction, language=language)
        y += line_h
    return image


def _direction(line: _Line) -> tuple[str, str]:
    """(direction, language) for raqm: Arabic lines right-to-left, Latin ones (names, the date) left-to-right."""
    return ("rtl", "ar") if line.rtl else ("ltr", "en")


@lru_cache(maxsize=16)
def _codepoints(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(path, lazy=True).getBestCmap())


def font_covering(text: str, candidates: Sequence[str]) -> str:
    """The first existing font of ``candidates`` with a glyph for every character of ``text`` (else the first)."""
    existing = [c for c in candidates if Path(c).is_file()]
    needed = {ord(ch) for ch in text if not ch.isspace() and ch not in "\u200e\u200f\u2066\u2067\u2068\u2069"}
    for path in existing:
        if needed <= _codepoints(path):
            return path
    return _first_existing(candidates)


def _font_for(line: _Line, base: int) -> ImageFont.FreeTypeFont:
    if line.rtl:
        path = font_covering(line.text, ARABIC_BOLD if line.bold else ARABIC_REGULAR)
    else:
        path = _first_existing(LATIN_REGULAR)
    return _font(path, max(6, round(base * line.weight)))


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    # Naskh fonts reserve tall ascenders and deep descenders; 85 % of the nominal height keeps lines readable
    # without the stamp looking double-spaced.
    return round((ascent + descent) * 0.85)


def _fit(lines: Sequence[_Line], box_w: int, box_h: int) -> int:
    """The largest base font size (pixels) at which every line fits the width and all lines the height."""
    probe = Image.new("L", (1, 1))
    draw = ImageDraw.Draw(probe)
    size = 14 * SCALE
    while size > 6:
        fonts = [_font_for(line, size) for line in lines]
        too_wide = any(
            draw.textlength(line.text, font=font, direction=_direction(line)[0], language=_direction(line)[1]) > box_w
            for line, font in zip(lines, fonts, strict=True)
        )
        if not too_wide and sum(_line_height(f) for f in fonts) <= box_h:
            return size
        size -= 2
    return size


def stamp_style(stamp: bytes | Image.Image) -> StaticStampStyle:
    """A pyHanko appearance showing ``stamp`` (PNG bytes or an image) filling the field's box, nothing else."""
    image: Image.Image
    if isinstance(stamp, bytes):
        image = Image.open(io.BytesIO(stamp))
        image.load()
    else:
        image = stamp
    return StaticStampStyle(
        background=PdfImage(image),
        background_opacity=1.0,
        border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
        ),
    )
