"""Synthetic Arabic pages with known text, for measuring OCR accuracy.

Everything here is for evaluation (tests and ``bench/``), never for production paths. A page is drawn from our own
Arabic text -- building permit applications, validity statements, shop licences, receipts and decisions of the kind a
citizen service centre in Sohag or Qena handles -- with names, addresses, dates, plot numbers and national-ID-like
digit strings filled in from a seeded random generator. Lines are shaped by Pillow's raqm layout (right to left,
joined letters), right-aligned, and wrapped to the page width. Pillow has no font fallback, and Noto Naskh/Kufi lack
Latin letters (Kufi even the colon), so each line is split into direction runs (a simplified bidi pass: Arabic right
to left, Latin and numbers left to right, punctuation between them follows its neighbours) and characters the
Arabic font lacks are drawn with a Latin font, as a word processor would. The ground truth is the text of the drawn
lines in logical order, one line per ``\\n``.

Degradations are pure functions (an image in, a new image out; randomness only from the ``numpy.random.Generator``
passed in): skew, Gaussian and salt-and-pepper noise, blur, JPEG recompression, low contrast with uneven
illumination, a phone-photo perspective warp on a darker background, and a scanner's black border.
``corpus(n, seed)`` yields the same pages for the same seed.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

# Paper sizes in millimetres (width, height).
A4: tuple[float, float] = (210.0, 297.0)
A5: tuple[float, float] = (148.0, 210.0)

FONT_DIRS: tuple[Path, ...] = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")

# Candidate Arabic fonts: (family, file name). KACST Office is left out: it has no Latin digits or period.
ARABIC_FONTS: tuple[tuple[str, str], ...] = (
    ("Noto Naskh Arabic", "NotoNaskhArabic-Regular.ttf"),
    ("Noto Sans Arabic", "NotoSansArabic-Regular.ttf"),
    ("Noto Kufi Arabic", "NotoKufiArabic-Regular.ttf"),
    ("Amiri", "Amiri-Regular.ttf"),
)
LATIN_FALLBACK_FONTS: tuple[str, ...] = ("NotoSans-Regular.ttf", "DejaVuSans.ttf")


@dataclass(frozen=True)
class ArabicFont:
    name: str
    path: Path


def arabic_fonts(search_dirs: Sequence[Path] = FONT_DIRS) -> list[ArabicFont]:
    """The fonts of ``ARABIC_FONTS`` found under ``search_dirs``, in that order; missing ones are skipped."""
    found: list[ArabicFont] = []
    for name, filename in ARABIC_FONTS:
        for directory in search_dirs:
            if not directory.is_dir():
                continue
            hits = sorted(directory.rglob(filename))
            if hits:
                found.append(ArabicFont(name, hits[0]))
                break
    return found


@dataclass
class SyntheticPage:
    image: Image.Image
    truth: str
    font: str
    degradations: tuple[str, ...]
    params: dict[str, float] = field(default_factory=dict)

    @property
    def recipe(self) -> str:
        """The degradations as one label, ``"clean"`` when there are none."""
        return "+".join(self.degradations) or "clean"

    def save(self, path: Path) -> Path:
        """Write the image (format from the suffix), declaring its resolution as a scanner would."""
        dpi = self.image.info.get("dpi")
        if dpi:
            self.image.save(path, dpi=dpi)
        else:
            self.image.save(path)
        return path


# --------------------------------------------------------------------------------------------------------------------
# Text. Our own lines; {fields} are filled per page from the generator.

DOCUMENTS: tuple[tuple[str, ...], ...] = (
    (
        "جمهورية مصر العربية",
        "محافظة {gov} - الوحدة المحلية لمركز ومدينة {markaz}",
        "مركز خدمات المواطنين - نظام الشباك الواحد",
        "طلب ترخيص أعمال بناء بأنواعه",
        "السيد الأستاذ رئيس الوحدة المحلية لمركز ومدينة {markaz}",
        "تحية طيبة وبعد،",
        "أتقدم أنا {name} المقيم بناحية {village} مركز {markaz}",
        "الرقم القومي {nid} ورقم الهاتف المحمول {phone}",
        "بطلب الترخيص لي بإقامة مبنى سكني على قطعة الأرض رقم {plot}",
        "بحوض {basin} نمرة {hod} بزمام ناحية {village}",
        "بمساحة إجمالية قدرها {area} مترا مربعا وعدد {floors} أدوار فوق الأرضي",
        "مرفق بالطلب صورة بطاقة الرقم القومي وعقد الملكية المسجل",
        "والرسومات الهندسية موقعة من المهندس {engineer} عضو النقابة رقم {syndicate}",
        "وشهادة بيان الصلاحية الصادرة بتاريخ {date}",
        "وتفضلوا بقبول وافر الاحترام،",
        "مقدم الطلب: {name}",
        "تحريرا في {date2}",
    ),
    (
        "طلب بيان صلاحية موقع للبناء أو التعلية",
        "رقم المتابعة: {tracking}",
        "اسم الطالب: {name2}",
        "صفة الطالب: مالك بموجب عقد مسجل برقم {contract} لسنة {year}",
        "موقع العقار: شارع {street} - {village} - مركز {markaz}",
        "رقم القطعة {plot} والمساحة {area} مترا مربعا",
        "تفيد الإدارة الهندسية بأن الموقع يقع داخل الحيز العمراني المعتمد",
        "وأن عرض الشارع أمام العقار {width} متر والارتفاع المسموح به {height} مترا",
        "ولا يوجد مانع من الترخيص طبقا لقانون البناء رقم 119 لسنة 2008",
        "يسري هذا البيان لمدة سنة واحدة من تاريخ صدوره",
        "مهندس التنظيم: {engineer}",
    ),
    (
        "طلب ترخيص تشغيل محل عام",
        "اسم صاحب المحل: {name3}",
        "النشاط: {activity}",
        "الاسم التجاري: {trade}",
        "العنوان: {number} شارع {street} - مدينة {markaz} - محافظة {gov}",
        "السجل التجاري رقم {register} والبطاقة الضريبية رقم {tax}",
        "مساحة المحل {shop_area} مترا مربعا بالدور الأرضي",
        "تمت المعاينة بمعرفة اللجنة المختصة يوم {weekday} الموافق {date}",
        "وتبين استيفاء اشتراطات الأمن الصناعي والحماية المدنية",
        "مدة الترخيص خمس سنوات تبدأ من {date2}",
    ),
    (
        "إيصال استلام طلب",
        "رقم الإيصال: {receipt}",
        "استلمنا من السيد {name} المستندات الآتية:",
        "1- صورة بطاقة الرقم القومي سارية",
        "2- صورة عقد الملكية أو الحيازة",
        "3- عدد 4 نسخ من الرسومات المعمارية والإنشائية",
        "4- شهادة الإشراف على التنفيذ من مهندس نقابي",
        "الرسوم المسددة: {amount} جنيه مصري فقط لا غير",
        "طريقة السداد: Fawry رقم العملية {fawry}",
        "للاستعلام أدخل رقم المتابعة {tracking} على بوابة الخدمات",
        "المدة القانونية لإنهاء الخدمة {days} يوما من تاريخ الاستلام",
        "موظف الشباك: {clerk}",
    ),
    (
        "طلب تعديل رخصة بناء رقم {permit} لسنة {year}",
        "بناء على الطلب المقدم من {name2}",
        "بتعديل الترخيص بإضافة دور علوي بنفس مسطح الدور الأرضي",
        "مع الالتزام بالارتفاع المقرر وخط التنظيم المعتمد",
        "أحيل الطلب إلى الإدارة الهندسية ثم إدارة أملاك الدولة",
        "ثم إلى الشئون المالية لتحصيل فرق الرسوم المستحقة",
        "تاريخ الإحالة {date} والموظف المختص {clerk}",
        "رقم الملف ٢٠٢٦/{file_no} وارد المركز التكنولوجي",
    ),
    (
        "قرار رئيس الوحدة المحلية رقم {decision} لسنة {year}",
        "بعد الاطلاع على قانون نظام الإدارة المحلية رقم 43 لسنة 1979",
        "وعلى توصية لجنة فحص الطلبات بجلستها المنعقدة يوم {weekday}",
        "قرر: الموافقة على منح الترخيص وفقا للرسومات المعتمدة",
        "على أن ينفذ خلال ثلاث سنوات وإلا اعتبر الترخيص ملغى",
        "ويعمل بهذا القرار من تاريخ صدوره، وعلى الجهات المختصة تنفيذه",
        "Ref: {ref}",
    ),
)

# Pages of contacts and codes, where Latin runs sit inside Arabic lines ("mixed" pages only).
MIXED_DOCUMENTS: tuple[tuple[str, ...], ...] = (
    (
        "بيانات التواصل مع مقدم الطلب",
        "البريد الإلكتروني: {email}",
        "الموقع الإلكتروني للمركز www.{domain}.gov.eg",
        "كود الخدمة {service} ورقم المتابعة {tracking}",
        "{department} - {markaz_en} City Council",
        "اسم الشركة بالإنجليزية {trade} Co. وسجلها {register}",
    ),
)

# ID-card-like lines and tables of numbers, Arabic-Indic and Western digits ("digits" pages only).
DIGIT_DOCUMENTS: tuple[tuple[str, ...], ...] = (
    (
        "جمهورية مصر العربية - بطاقة تحقيق الشخصية",
        "{name}",
        "{village} - {markaz} - {gov}",
        "{nid_ar}",
        "تاريخ الإصدار {issued_ar}",
        "الرقم القومي {nid}",
    ),
    (
        "بيان القطع والمساحات والرسوم",
        "رقم القطعة المساحة الرسوم",
        "{row1}",
        "{row2}",
        "{row3}",
        "{row4}",
        "الإجمالي {total_ar} جنيها",
    ),
)

NAMES = (
    "محمد عبد الرحيم حسانين", "فاطمة أحمد السيد", "أحمد محمود عبد العال", "مريم عادل جرجس",
    "خالد سعد الدين الطهطاوي", "هدى مصطفى القناوي", "عبد الله رمضان أبو زيد", "سامية فوزي عبد الحميد",
    "مينا شنودة عزيز", "حسن علي الأنصاري", "نادية إبراهيم البدري", "يوسف عبد الناصر الجرجاوي",
    "ياسمين طارق عثمان", "محمود صلاح الدين حفني", "عائشة حمدي الشريف", "إسلام عبد الجليل موسى",
)
# (governorate, markaz, village, governorate code in the national ID)
PLACES = (
    ("سوهاج", "سوهاج", "العسيرات", "26"), ("سوهاج", "أخميم", "الصوامعة شرق", "26"),
    ("سوهاج", "طهطا", "شطورة", "26"), ("سوهاج", "جرجا", "بيت علام", "26"),
    ("سوهاج", "المراغة", "بناويط", "26"), ("سوهاج", "البلينا", "برديس", "26"),
    ("سوهاج", "طما", "قاو النواورة", "26"), ("سوهاج", "دار السلام", "الخيام", "26"),
    ("قنا", "نجع حمادي", "بهجورة", "27"), ("قنا", "قوص", "حجازة", "27"),
    ("قنا", "دشنا", "فاو بحري", "27"), ("قنا", "قفط", "القلعة", "27"),
    ("قنا", "قنا", "المخادمة", "27"), ("قنا", "أبو تشت", "الكرنك الجديد", "27"),
)
STREETS = ("الجمهورية", "الثورة", "بورسعيد", "المحطة", "الجلاء", "النيل", "المدارس", "الشهيد أحمد حمدي")
BASINS = ("الجزيرة", "أبو عمر", "الشيخ حسن", "البحري", "الغربي", "الساقية")
ACTIVITIES = ("بقالة تموينية", "صيدلية", "مطعم مأكولات شعبية", "ورشة نجارة", "أدوات كهربائية", "مكتبة وأدوات مكتبية")
TRADE_NAMES = ("El Nour Pharmacy", "Sohag Market", "Nile Tech", "Al Amal Store", "Qena Print", "Delta Foods")
ARABIC_TRADE_NAMES = ("صيدلية النور", "سوق سوهاج", "تقنية النيل", "متجر الأمل", "مطبعة قنا", "أغذية الدلتا")
DEPARTMENTS = ("Engineering Dept.", "Finance Dept.", "State Property Dept.", "Planning Office")
SERVICES = ("BUILD-PERMIT", "PERMIT-AMEND", "VALIDITY", "SHOP-LICENCE")
LATIN_NAMES = ("ahmed.saad", "mariam.adel", "k.tahtawy", "hoda.mostafa", "y.gergawy", "mina.shenouda")
DOMAINS = ("sohag", "qena", "luxor", "aswan")
MARKAZ_EN = ("Sohag", "Akhmim", "Tahta", "Girga", "Nag Hammadi", "Qus")
SCRIPTS = ("forms", "arabic", "mixed", "digits")
"""What a page holds: our forms as they are (Arabic with a few Latin lines and fields), Arabic only (no Latin letter
at all), Arabic with Latin runs (names, codes, e-mail addresses), or ID-card-like lines and tables of numbers in
Arabic-Indic and Western digits."""
WEEKDAYS = ("السبت", "الأحد", "الاثنين", "الثلاثاء", "الأربعاء", "الخميس")

_FIELD = re.compile(r"\{(\w+)\}")


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=n))


def national_id_like(rng: np.random.Generator, governorate: str) -> str:
    """A 14-digit string shaped like an Egyptian national ID (the check digit is not computed)."""
    century = int(rng.choice([2, 3]))
    year = int(rng.integers(50, 100)) if century == 2 else int(rng.integers(0, 8))
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    return f"{century}{year:02d}{month:02d}{day:02d}{governorate}{_digits(rng, 4)}{_digits(rng, 1)}"


def _date(rng: np.random.Generator) -> str:
    year, month, day = int(rng.integers(2024, 2027)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    return f"{day:02d}/{month:02d}/{year}" if rng.random() < 0.5 else f"{year}/{month}/{day}"


def page_fields(rng: np.random.Generator) -> dict[str, str]:
    """One set of values for the {fields} of ``DOCUMENTS``."""
    gov, markaz, village, code = PLACES[int(rng.integers(len(PLACES)))]
    names = [NAMES[int(i)] for i in rng.permutation(len(NAMES))[:6]]
    year = str(int(rng.integers(2019, 2027)))
    return {
        "gov": gov, "markaz": markaz, "village": village,
        "name": names[0], "name2": names[1], "name3": names[2], "engineer": names[3], "clerk": names[4],
        "nid": national_id_like(rng, code),
        "phone": "01" + str(int(rng.choice([0, 1, 2, 5]))) + _digits(rng, 8),
        "plot": str(int(rng.integers(1, 400))), "hod": str(int(rng.integers(1, 40))),
        "basin": BASINS[int(rng.integers(len(BASINS)))],
        "area": str(int(rng.integers(80, 600))), "floors": str(int(rng.integers(2, 6))),
        "syndicate": str(int(rng.integers(10000, 99999))),
        "date": _date(rng), "date2": _date(rng), "year": year,
        "tracking": f"SJL-{year}-{_digits(rng, 6)}",
        "contract": str(int(rng.integers(100, 9999))),
        "street": STREETS[int(rng.integers(len(STREETS)))],
        "width": str(int(rng.integers(6, 21))), "height": f"{float(rng.integers(24, 72)) / 2:g}",
        "activity": ACTIVITIES[int(rng.integers(len(ACTIVITIES)))],
        "trade": TRADE_NAMES[int(rng.integers(len(TRADE_NAMES)))],
        "number": str(int(rng.integers(1, 120))),
        "register": str(int(rng.integers(1000, 99999))),
        "tax": f"{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 3)}",
        "shop_area": str(int(rng.integers(12, 90))),
        "weekday": WEEKDAYS[int(rng.integers(len(WEEKDAYS)))],
        "receipt": str(int(rng.integers(100000, 999999))),
        "amount": f"{int(rng.integers(3, 60)) * 50}",
        "fawry": _digits(rng, 9),
        "days": str(int(rng.choice([15, 30, 45, 60]))),
        "permit": str(int(rng.integers(1, 900))),
        "file_no": "".join("٠١٢٣٤٥٦٧٨٩"[int(d)] for d in rng.integers(0, 10, size=4)),
        "decision": str(int(rng.integers(1, 500))),
        "ref": f"LU/{markaz_code(markaz)}/{year}/{_digits(rng, 4)}",
    }


def arabic_indic(text: str) -> str:
    """Western digits written as Arabic-Indic ones (٠-٩), as on an ID card."""
    return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def digit_fields(rng: np.random.Generator, values: dict[str, str]) -> dict[str, str]:
    """Numbers for ``DIGIT_DOCUMENTS``: each table row in Arabic-Indic or Western digits at random."""
    out = {"nid_ar": arabic_indic(values["nid"]), "issued_ar": arabic_indic(_date(rng))}
    total = 0
    for i in range(1, 5):
        plot, area, fee = int(rng.integers(1, 400)), int(rng.integers(80, 900)), int(rng.integers(2, 80)) * 25
        total += fee
        row = f"{plot} {area} {fee}"
        out[f"row{i}"] = arabic_indic(row) if rng.random() < 0.5 else row
    out["total_ar"] = arabic_indic(str(total))
    return out


def mixed_fields(rng: np.random.Generator) -> dict[str, str]:
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    return {"email": f"{pick(LATIN_NAMES)}@{pick(DOMAINS)}.gov.eg", "domain": pick(DOMAINS),
            "service": pick(SERVICES), "department": pick(DEPARTMENTS), "markaz_en": pick(MARKAZ_EN)}


def markaz_code(markaz: str) -> str:
    return f"M{sum(ord(c) for c in markaz) % 97:02d}"


def fill(template: str, values: dict[str, str]) -> str:
    return _FIELD.sub(lambda m: values[m.group(1)], template)


def page_text(rng: np.random.Generator, max_lines: int | None = None, script: str = "forms") -> list[str]:
    """Lines of several documents in a random order, fields filled in; at most ``max_lines`` lines (before
    ``render_page`` wraps the long ones). ``script`` is one of ``SCRIPTS``: "forms" is the documents alone; "mixed"
    adds a page of contacts and codes first; "arabic" gives Arabic trade names and tracking numbers and leaves out
    every line with a Latin letter; "digits" puts an ID-card-like block and a table of numbers first."""
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; known: {SCRIPTS}")
    values = page_fields(rng)
    documents = [DOCUMENTS[int(index)] for index in rng.permutation(len(DOCUMENTS))]
    if script == "arabic":
        values["trade"] = ARABIC_TRADE_NAMES[int(rng.integers(len(ARABIC_TRADE_NAMES)))]
        values["tracking"] = values["tracking"].removeprefix("SJL-").replace("-", "/")
    elif script == "mixed":
        values.update(mixed_fields(rng))
        documents = [*MIXED_DOCUMENTS, *documents]
    elif script == "digits":
        values.update(digit_fields(rng, values))
        documents = [*DIGIT_DOCUMENTS, *documents]
    lines = [fill(line, values) for document in documents for line in document]
    if script == "arabic":
        lines = [line for line in lines if not re.search("[A-Za-z]", line)]
    return lines[:max_lines] if max_lines is not None else lines


def prose_text(rng: np.random.Generator, paragraphs: Sequence[str], max_lines: int | None = None) -> list[str]:
    """Consecutive paragraphs of someone else's prose (e.g. the news articles the project started from), from a
    random one on: text nobody here wrote, with its own vocabulary and spelling, to check that what is measured on
    our own forms holds beyond them. At most ``max_lines`` paragraphs; ``render_page`` wraps them and keeps what fits
    on the page."""
    kept = [" ".join(p.split()) for p in paragraphs if p.strip()]
    if not kept:
        raise ValueError("no prose given")
    start = int(rng.integers(len(kept)))
    lines = kept[start:] + kept[:start]
    return lines[:max_lines] if max_lines is not None else lines


# --------------------------------------------------------------------------------------------------------------------
# Rendering.

def _font(font_path: Path, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path), size_px, layout_engine=ImageFont.Layout.RAQM)


def latin_fallback_font(search_dirs: Sequence[Path] = FONT_DIRS) -> Path | None:
    """A font for the Latin letters and punctuation that an Arabic font lacks (Noto Naskh has no Latin, Noto Kufi not
    even a colon): Noto Sans, else DejaVu Sans."""
    for filename in LATIN_FALLBACK_FONTS:
        for directory in search_dirs:
            if directory.is_dir():
                hits = sorted(directory.rglob(filename))
                if hits:
                    return hits[0]
    return None


class _Glyphs:
    """Whether a font has a glyph for a character: its rendering differs from that of an unassigned code point."""

    def __init__(self, font: ImageFont.FreeTypeFont) -> None:
        self.font = font
        self.cache: dict[str, bool] = {}
        self.notdef = self._render("\U0010fffd")

    def _render(self, ch: str) -> bytes:
        left, top, right, bottom = (int(v) for v in self.font.getbbox(ch))
        image = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
        ImageDraw.Draw(image).text((-left, -top), ch, font=self.font, fill=255)
        return f"{image.size}{self.font.getlength(ch)}".encode() + image.tobytes()

    def has(self, ch: str) -> bool:
        if ch.isspace() or unicodedata.combining(ch):
            return True
        if ch not in self.cache:
            self.cache[ch] = self._render(ch) != self.notdef
        return self.cache[ch]


def _directions(text: str) -> list[str]:
    """A simplified bidi pass for a right-to-left line: "R" for Arabic letters, "L" for Latin letters and all digits
    (numbers are laid out left to right), and neutrals (spaces, punctuation) take the direction of the strong
    characters around them when both sides agree, else the paragraph's "R". Marks follow the preceding character."""
    classes: list[str | None] = []
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            classes.append("R")
        elif kind in ("L", "EN", "AN"):
            classes.append("L")
        elif kind == "NSM" and classes:
            classes.append(classes[-1])
        else:
            classes.append(None)
    resolved: list[str] = []
    for i, strong in enumerate(classes):
        if strong is not None:
            resolved.append(strong)
            continue
        before = resolved[-1] if resolved else "R"  # an earlier neutral of the same sequence resolved alike
        after = next((k for k in classes[i + 1:] if k is not None), "R")
        resolved.append(before if before == after else "R")
    return resolved


@dataclass(frozen=True)
class _Piece:
    text: str
    font: ImageFont.FreeTypeFont
    direction: str  # "rtl" or "ltr"
    width: float


class _LineLayout:
    """Lays out one line: direction runs ordered right to left, each split where the primary font lacks a glyph
    (those characters are drawn with the fallback font), each piece shaped by raqm."""

    def __init__(self, primary: ImageFont.FreeTypeFont, fallback: ImageFont.FreeTypeFont | None) -> None:
        self.primary, self.fallback = primary, fallback
        self.glyphs = _Glyphs(primary)

    def _font_for(self, ch: str) -> ImageFont.FreeTypeFont:
        return self.primary if self.fallback is None or self.glyphs.has(ch) else self.fallback

    def pieces(self, line: str) -> list[list[_Piece]]:
        """The runs of ``line`` in visual order from the right; each run's pieces in visual order from its right."""
        directions = _directions(line)
        runs: list[list[_Piece]] = []
        i = 0
        while i < len(line):
            j = i
            while j < len(line) and directions[j] == directions[i]:
                j += 1
            run, direction = line[i:j], ("rtl" if directions[i] == "R" else "ltr")
            pieces: list[_Piece] = []
            k = 0
            while k < len(run):
                font = self._font_for(run[k])
                m = k
                while m < len(run) and self._font_for(run[m]) is font:
                    m += 1
                text = run[k:m]
                width = font.getlength(text, direction=direction, language="ar" if direction == "rtl" else "en")
                pieces.append(_Piece(text, font, direction, width))
                k = m
            runs.append(pieces if direction == "rtl" else pieces[::-1])
            i = j
        return runs

    def width(self, line: str) -> float:
        return sum(piece.width for run in self.pieces(line) for piece in run)

    def draw(self, draw: ImageDraw.ImageDraw, right: float, baseline: float, line: str) -> None:
        x = right
        for run in self.pieces(line):
            for piece in run:
                x -= piece.width
                language = "ar" if piece.direction == "rtl" else "en"
                draw.text((x, baseline), piece.text, font=piece.font, fill=0, direction=piece.direction,
                          language=language, anchor="ls")


def _wrap(line: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy word wrap in logical order (the first words of a right-to-left line are the rightmost)."""
    out: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else word
        if current and not fits(candidate):
            out.append(current)
            current = word
        else:
            current = candidate
    if current:
        out.append(current)
    return out


def render_page(
    lines: Sequence[str],
    font_path: Path,
    *,
    dpi: int = 300,
    size: tuple[float, float] = A4,
    font_pt: float = 14,
    margin_mm: float = 20,
    line_spacing: float = 1.7,
    fallback_font: Path | None = None,
) -> SyntheticPage:
    """Draw ``lines`` right to left, shaped and right-aligned, on a white grayscale page of ``size`` mm at ``dpi``.

    Characters the font lacks (Latin letters, "-" or "/" in Noto Naskh) are drawn with ``fallback_font`` (default:
    ``latin_fallback_font()``), as a word processor would. Long lines are wrapped at the margin; lines that do not fit
    on the page are left out, and the truth holds exactly the lines drawn. Empty strings add half a line of space.
    """
    if not features.check("raqm"):
        raise RuntimeError("Pillow was built without raqm: Arabic cannot be shaped")
    width, height = (round(mm / 25.4 * dpi) for mm in size)
    margin = round(margin_mm / 25.4 * dpi)
    size_px = round(font_pt * dpi / 72)
    font = _font(font_path, size_px)
    fallback_path = fallback_font or latin_fallback_font()
    layout = _LineLayout(font, _font(fallback_path, size_px) if fallback_path else None)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    pitch = round(size_px * line_spacing)
    ascent = font.getmetrics()[0]

    def fits(text: str) -> bool:
        return layout.width(text) <= width - 2 * margin

    drawn: list[str] = []
    y = margin
    for line in lines:
        if not line.strip():
            y += pitch // 2
            continue
        for part in _wrap(line, fits):
            if y + pitch > height - margin:
                break
            layout.draw(draw, width - margin, y + ascent, part)
            drawn.append(part)
            y += pitch
    image.info["dpi"] = (dpi, dpi)
    family = font.getname()[0] or font_path.stem
    return SyntheticPage(image=image, truth="\n".join(drawn), font=family, degradations=())


# --------------------------------------------------------------------------------------------------------------------
# Degradations: pure functions.

def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)


def _to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8))


def skew(image: Image.Image, angle: float) -> Image.Image:
    """Rotate by ``angle`` degrees (counter-clockwise), growing the canvas, filling with white."""
    fill: int | tuple[int, ...] = 255 if image.mode == "L" else (255,) * len(image.getbands())
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def gaussian_noise(image: Image.Image, rng: np.random.Generator, sigma: float = 20.0) -> Image.Image:
    return _to_image(_gray(image) + rng.normal(0.0, sigma, size=(image.height, image.width)))


def salt_and_pepper(image: Image.Image, rng: np.random.Generator, amount: float = 0.004) -> Image.Image:
    array = _gray(image)
    draw = rng.random(array.shape)
    array[draw < amount / 2] = 0
    array[draw > 1 - amount / 2] = 255
    return _to_image(array)


def blur(image: Image.Image, sigma: float = 1.5) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(sigma))


def jpeg_recompress(image: Image.Image, quality: int = 15) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.copy()


def _illumination(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth light field in [1 - strength, 1]: a linear gradient in a random direction and a soft hot spot."""
    h, w = shape
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.float32(np.cos(theta)) * xx / w + np.float32(np.sin(theta)) * yy / h
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    spot = np.exp(-(((yy - cy) / (0.6 * h)) ** 2)) * np.exp(-(((xx - cx) / (0.6 * w)) ** 2))
    light = 0.6 * ramp + 0.4 * (1 - spot)
    return np.asarray(1.0 - strength * light, dtype=np.float32)


def low_contrast(
    image: Image.Image, rng: np.random.Generator, contrast: float = 0.4, illumination: float = 0.35
) -> Image.Image:
    """Squeeze ink and paper together (ink at ``255 * (1 - contrast)`` ... paper at 255), then light unevenly."""
    array = _gray(image)
    squeezed = 255.0 - (255.0 - array) * contrast
    return _to_image(squeezed * _illumination(array.shape, rng, illumination))


def photo_warp(
    image: Image.Image, rng: np.random.Generator, jitter: float = 0.05, background: float = 70.0
) -> Image.Image:
    """A phone photo: the page in perspective on a darker, textured background, unevenly lit, slightly soft, RGB."""
    page = _gray(image)
    h, w = page.shape
    inset = rng.uniform(0.04, 0.08)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    target = np.array(
        [[inset * w, inset * h], [(1 - inset) * w, inset * h], [(1 - inset) * w, (1 - inset) * h],
         [inset * w, (1 - inset) * h]],
        dtype=np.float32,
    )
    target += rng.uniform(-jitter, jitter, size=(4, 2)).astype(np.float32) * np.array([w, h], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target)
    warped = cv2.warpPerspective(page, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    mask = cv2.warpPerspective(np.ones_like(page), matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    noise = rng.normal(0.0, 12.0, size=(h // 8 + 1, w // 8 + 1)).astype(np.float32)
    table = cv2.resize(background + cv2.GaussianBlur(noise, (0, 0), 2.0), (w, h), interpolation=cv2.INTER_LINEAR)
    combined = (warped * mask + table * (1 - mask)) * _illumination((h, w), rng, 0.3)
    combined = cv2.GaussianBlur(combined, (0, 0), 0.8) + rng.normal(0.0, 4.0, size=(h, w)).astype(np.float32)
    tint = np.array([1.0, rng.uniform(0.95, 0.99), rng.uniform(0.85, 0.95)], dtype=np.float32)  # warm light
    rgb = np.clip(np.rint(combined[..., None] * tint), 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, mode="RGB")


def scanner_border(image: Image.Image, rng: np.random.Generator, max_fraction: float = 0.04) -> Image.Image:
    """Black bands with ragged inner edges along the sides, as a scanner gives with the lid open or a small page."""
    array = _gray(image)
    h, w = array.shape
    for side in ("top", "bottom", "left", "right"):
        if rng.random() < 0.2:
            continue
        length, depth = (w, h) if side in ("top", "bottom") else (h, w)
        base = rng.uniform(0.005, max_fraction) * depth
        edge = np.clip(base + np.cumsum(rng.normal(0.0, 0.6, size=length)), 1, 2 * max_fraction * depth).astype(int)
        darkness = rng.uniform(0, 35)
        index = np.arange(depth)
        band = index[None, :] < edge[:, None]  # (length, depth), True inside the band
        if side == "top":
            array[band.T] = darkness
        elif side == "bottom":
            array[band.T[::-1, :]] = darkness
        elif side == "left":
            array[band] = darkness
        else:
            array[band[:, ::-1]] = darkness
    return _to_image(array)


Degradation = Callable[[Image.Image, np.random.Generator], tuple[Image.Image, dict[str, float]]]


def _skew(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    angle = float(rng.uniform(1.5, 5.0) * rng.choice([-1, 1]))
    return skew(image, angle), {"skew_angle": angle}


def _noise(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    sigma, amount = float(rng.uniform(25, 40)), float(rng.uniform(0.004, 0.01))
    return salt_and_pepper(gaussian_noise(image, rng, sigma), rng, amount), {"noise_sigma": sigma, "speckle": amount}


def _blur(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    sigma = float(rng.uniform(1.6, 2.4))
    return blur(image, sigma), {"blur_sigma": sigma}


def _jpeg(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    quality = int(rng.integers(5, 12))
    return jpeg_recompress(image, quality), {"jpeg_quality": float(quality)}


def _low_contrast(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    contrast, light = float(rng.uniform(0.25, 0.4)), float(rng.uniform(0.3, 0.45))
    return low_contrast(image, rng, contrast, light), {"contrast": contrast, "illumination": light}


def _photo(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    return photo_warp(image, rng), {}


def _border(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    return scanner_border(image, rng), {}


DEGRADATIONS: dict[str, Degradation] = {
    "skew": _skew,
    "noise": _noise,
    "blur": _blur,
    "jpeg": _jpeg,
    "low_contrast": _low_contrast,
    "photo": _photo,
    "border": _border,
}

# One recipe per corpus page: "clean" or degradation names joined by "+", applied left to right.
DEFAULT_RECIPES: tuple[str, ...] = ("clean", "skew", "noise", "blur", "jpeg", "low_contrast", "photo", "border")


def parse_recipe(recipe: str) -> tuple[str, ...]:
    names = tuple(n for n in recipe.split("+") if n and n != "clean")
    unknown = [n for n in names if n not in DEGRADATIONS]
    if unknown:
        raise ValueError(f"unknown degradation(s) {unknown}; known: {sorted(DEGRADATIONS)}")
    return names


def degrade(page: SyntheticPage, recipe: str, rng: np.random.Generator) -> SyntheticPage:
    """A new page with the degradations of ``recipe`` applied in order; the truth is unchanged.

    The declared resolution is kept, except after "photo": a phone says nothing useful about dots per inch.
    """
    image, params = page.image, dict(page.params)
    names = parse_recipe(recipe)
    for name in names:
        image, used = DEGRADATIONS[name](image, rng)
        params.update(used)
    if names and "dpi" in page.image.info and "photo" not in names:
        image.info["dpi"] = page.image.info["dpi"]
    return SyntheticPage(image=image, truth=page.truth, font=page.font, degradations=page.degradations + names,
                         params=params)


def corpus(
    n_pages: int,
    seed: int,
    degradations: Sequence[str] = DEFAULT_RECIPES,
    fonts: Sequence[Path] | None = None,
    *,
    dpi: int = 300,
    size: tuple[float, float] = A4,
    font_pt: float = 14,
    max_lines: int | None = None,
    script: str = "forms",
    prose: Sequence[str] = (),
) -> Iterator[SyntheticPage]:
    """``n_pages`` pages cycling through every font, then every recipe: page ``i`` has font ``i % len(fonts)`` and
    recipe ``(i // len(fonts)) % len(degradations)``, so ``len(fonts) * len(degradations)`` pages cover each pair once.

    Page ``i`` draws its text and degradation parameters from ``numpy.random.default_rng([seed, i])``: the same seed
    gives the same pages, and a page does not depend on the ones before it. ``script`` "prose" draws the text from
    the paragraphs of ``prose`` (``prose_text``) instead of our own documents.
    """
    font_paths = list(fonts) if fonts is not None else [f.path for f in arabic_fonts()]
    if not font_paths:
        raise RuntimeError("no Arabic font found; install fonts-noto-core or fonts-hosny-amiri")
    if not degradations:
        raise ValueError("at least one recipe is needed (use 'clean' for none)")
    for recipe in degradations:
        parse_recipe(recipe)
    for i in range(n_pages):
        rng = np.random.default_rng([seed, i])
        font_path = font_paths[i % len(font_paths)]
        recipe = degradations[(i // len(font_paths)) % len(degradations)]
        lines = prose_text(rng, prose, max_lines) if script == "prose" else page_text(rng, max_lines, script)
        page = render_page(lines, font_path, dpi=dpi, size=size, font_pt=font_pt)
        yield degrade(page, recipe, rng)
