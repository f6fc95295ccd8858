"""Small page makers for the OCR tests: Arabic pages drawn with Pillow, scanner damage, and hostile files.

Everything is generated at test time so that the ground truth is known exactly; nothing here is a fixture file.
(The synthetic benchmark corpus is ocr/synthetic.py, owned by the benchmarks; these helpers stay deliberately small.)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

NASKH = Path("/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf")
LATIN = Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf")
A4_300DPI = (2480, 3508)

# A citizen-service-centre form, the kind of page the clerks scan every day.
FORM_LINES: tuple[str, ...] = (
    "جمهورية مصر العربية",
    "وزارة الداخلية قطاع الأحوال المدنية",
    "مركز خدمة المواطنين بحي مصر الجديدة",
    "طلب استخراج صورة قيد ميلاد مميكنة",
    "اسم مقدم الطلب محمد أحمد عبد الله السيد",
    "العنوان شارع الثورة مصر الجديدة القاهرة",
    "صفة مقدم الطلب صاحب الشأن",
    "المستندات المرفقة صورة بطاقة الرقم القومي",
    "رسوم الخدمة خمسة وأربعون جنيها مصريا",
    "يقر مقدم الطلب بصحة البيانات الواردة أعلاه",
    "توقيع الموظف المختص وختم المركز",
)

ENGLISH_LINES: tuple[str, ...] = (
    "Arab Republic of Egypt, Ministry of Interior",
    "Civil Status Sector, Heliopolis service centre",
    "Application for a birth certificate extract",
    "Fees: 45 EGP, paid by card",
)

BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u061c"), None)


def text_page(
    lines: Sequence[str] = FORM_LINES,
    *,
    size: tuple[int, int] = A4_300DPI,
    font_size: int = 52,
    top: int = 300,
    line_gap: float = 2.0,
    font: Path = NASKH,
) -> Image.Image:
    """A white greyscale page with right-aligned Arabic lines, tagged 300 dpi like a flatbed scan."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    face = ImageFont.truetype(str(font), font_size)
    right = size[0] - size[0] // 10
    y = top
    for line in lines:
        draw.text((right, y), line, font=face, fill=0, direction="rtl", language="ar", anchor="ra")
        y += int(font_size * line_gap)
    page.info["dpi"] = (300, 300)
    return page


def latin_page(lines: Sequence[str] = ENGLISH_LINES, *, size: tuple[int, int] = A4_300DPI) -> Image.Image:
    """A white page of left-aligned English lines (foreign certificates, company papers)."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    face = ImageFont.truetype(str(LATIN), 44)
    for i, line in enumerate(lines):
        draw.text((size[0] // 10, 300 + 90 * i), line, font=face, fill=0)
    page.info["dpi"] = (300, 300)
    return page


def scanned(page: Image.Image, *, seed: int = 0, noise: float = 18.0, speckle: float = 0.002) -> Image.Image:
    """The page as a tired scanner returns it: grey paper, sensor noise and salt-and-pepper specks."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(page.convert("L"), dtype=np.float32)
    pixels = 35 + pixels * (215 / 255)  # grey paper, grey ink
    pixels += rng.normal(0, noise, pixels.shape)
    specks = rng.random(pixels.shape)
    pixels[specks < speckle / 2] = 0
    pixels[specks > 1 - speckle / 2] = 255
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    out.info["dpi"] = page.info.get("dpi", (300, 300))
    return out


def blank_scan(size: tuple[int, int] = A4_300DPI, *, seed: int = 1) -> Image.Image:
    """An empty sheet through the same tired scanner, with a couple of dust spots."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        x, y = int(rng.integers(200, size[0] - 200)), int(rng.integers(200, size[1] - 200))
        draw.ellipse((x, y, x + 3, y + 3), fill=0)
    return scanned(page, seed=seed)


def with_black_border(page: Image.Image, *, border: int = 120) -> Image.Image:
    """The page lying on a black scanner lid: dark margins on every side."""
    width, height = page.size
    out = Image.new("L", (width + 2 * border, height + 2 * border), 12)
    out.paste(page.convert("L"), (border, border))
    out.info["dpi"] = page.info.get("dpi", (300, 300))
    return out


def save_pdf(pages: Sequence[Image.Image], path: Path, *, dpi: int = 300) -> Path:
    """A scanned-image PDF, one page per image, as a copier produces it."""
    first, *rest = [p.convert("L") for p in pages]
    first.save(path, "PDF", resolution=dpi, save_all=True, append_images=rest, quality=80)
    return path


def save_tiff(pages: Sequence[Image.Image], path: Path) -> Path:
    """A multi-frame TIFF as fax-era scanners write it."""
    first, *rest = list(pages)
    first.save(path, "TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(300, 300))
    return path


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A real decompression bomb: a valid 1-bit PNG of width x height white pixels in a few hundred kilobytes.

    Deflating ~300 MB takes seconds, so one block of rows is deflated with a full flush (which makes the block
    independent of what precedes it) and repeated; only the Adler-32 checksum is computed over the whole stream.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte "none", then white pixels
    rows_per_block = max(1, min(height, (1 << 22) // len(row)))
    block_rows = row * rows_per_block
    packer = zlib.compressobj(9)
    first = packer.compress(block_rows) + packer.flush(zlib.Z_FULL_FLUSH)
    header, block = first[:2], first[2:]
    repeats, rest = divmod(height, rows_per_block)
    tail = packer.compress(row * rest) + packer.flush()
    checksum = 1
    for _ in range(repeats):
        checksum = zlib.adler32(block_rows, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    stream = header + block * repeats + tail[:-4] + struct.pack(">I", checksum)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", stream) + chunk(b"IEND", b""))
    return path


def tiff_with_frames(path: Path, frames: int, *, width: int = 4000, height: int = 4000) -> Path:
    """A valid little-endian TIFF of ``frames`` white 1-bit pages, all sharing one deflated strip.

    The file stays a few kilobytes whatever ``frames`` is, yet decoding every frame would cost ``frames`` times
    ``width`` x ``height`` pixels: exactly what must be refused by counting frames, not by reading them.
    """
    strip = zlib.compress(b"\x00" * (((width + 7) // 8) * height), 9)  # WhiteIsZero: zero bits are white
    strip_offset = 8
    first_ifd = strip_offset + len(strip) + (len(strip) % 2)
    tags = [  # tag, type (3 = SHORT, 4 = LONG), value
        (256, 4, width),
        (257, 4, height),
        (258, 3, 1),  # bits per sample
        (259, 3, 8),  # deflate
        (262, 3, 0),  # WhiteIsZero
        (273, 4, strip_offset),
        (277, 3, 1),  # samples per pixel
        (278, 4, height),  # rows per strip
        (279, 4, len(strip)),
    ]
    ifd_size = 2 + 12 * len(tags) + 4
    body = bytearray(b"II*\x00" + struct.pack("<I", first_ifd) + strip + b"\x00" * (len(strip) % 2))
    for frame in range(frames):
        next_ifd = first_ifd + (frame + 1) * ifd_size if frame + 1 < frames else 0
        body += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            field = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)  # left-justified value
            body += struct.pack("<HHI", tag, kind, 1) + field
        body += struct.pack("<I", next_ifd)
    path.write_bytes(bytes(body))
    return path


def normalise(text: str) -> str:
    """Text as the error rate should see it: no direction marks, Tesseract's comma, single spaces, no line breaks."""
    text = text.translate(BIDI_MARKS).replace("،", ",")
    return " ".join(text.split())


def char_error_rate(truth: str, text: str) -> float:
    """Levenshtein distance over the truth's length, both normalised."""
    reference = normalise(truth)
    return Levenshtein.distance(reference, normalise(text)) / max(1, len(reference))
