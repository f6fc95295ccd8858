"""Small scans for the intake tests, drawn with Pillow at test time: Arabic text as PNG, multi-page TIFF, PDF, JPEG."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

NASKH = Path("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf")


def arabic_page(text: str, size: tuple[int, int] = (700, 300)) -> Image.Image:
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(NASKH), 36)
    draw.text((size[0] - 30, 60), text, font=font, fill=0, direction="rtl", language="ar", anchor="ra")
    return page


def png_bytes(text: str = "صورة بطاقة الرقم القومي") -> bytes:
    out = io.BytesIO()
    arabic_page(text).save(out, "PNG")
    return out.getvalue()


def tiff_bytes(pages: int = 2) -> bytes:
    frames = [arabic_page(f"مستند الملكية صفحة {i + 1}") for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return out.getvalue()


def pdf_bytes(text: str = "كروكي الموقع") -> bytes:
    out = io.BytesIO()
    arabic_page(text).convert("RGB").save(out, "PDF", resolution=150)
    return out.getvalue()


def jpeg_bytes(text: str = "معاينة") -> bytes:
    out = io.BytesIO()
    arabic_page(text).convert("RGB").save(out, "JPEG")
    return out.getvalue()
