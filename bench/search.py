"""Search benchmark: index N synthetic applications into the embedded engine, then time a fixed query mix.

The records are built from our own vocabulary (below): names, streets, services and OCR-like page text in Arabic with
the spellings the analyser must unify (أ/ا/إ, ة/ه, ى/ي, tashkeel, tatweel, prefixes such as وال and بال) and
national IDs, some in Arabic-Indic digits. A seeded generator makes every run index the same records.

Prints Markdown (machine, command, index rate, p50/p95 per query kind) for docs/PERFORMANCE.md::

    .venv/bin/python bench/search.py                       # 100,000 records (~10-20 min on 2 busy cores)
    .venv/bin/python bench/search.py --records 5000        # quick look
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import load_average, table
from search.embedded import EmbeddedEngine
from search.model import Filters, PageText, Query, SearchDocument

FIRST = ["أحمد", "محمد", "محمود", "مصطفى", "إبراهيم", "علي", "حسن", "حسين", "يوسف", "عمر", "خالد", "سامي", "منى",
         "فاطمة", "زينب", "مريم", "آمنة", "هدى", "سلمى", "نورا", "إيمان", "رضا", "طارق", "هشام", "وليد", "ياسر"]
FAMILY = ["السيد", "عبد الله", "عبد الرحمن", "الشريف", "المصري", "النجار", "الحداد", "عثمان", "سليمان", "شحاتة",
          "البنا", "الجمال", "عبد العزيز", "فهمي", "رمضان", "إسماعيل", "منصور", "الشافعي"]
STREETS = ["شارع الجمهورية", "شارع النيل", "شارع الجلاء", "شارع المحطة", "شارع بورسعيد", "طريق الكورنيش",
           "شارع الثورة", "شارع المدارس", "حارة الأزهر", "شارع مصطفى كامل"]
DISTRICTS = ["الكوثر", "الزهراء", "الشهداء", "المنشية", "الحمراء", "الأربعين", "الجامعة", "السلام"]
# words of permits, surveys, contracts and letters, with the variants a scanner and a typist produce
PAGE_WORDS = (
    "محضر معاينة المعاينة بالمعاينة قطعة الأرض الارض والأرض أرض المبنى المبني مبنى البناء البنـاء بناء ترخيص "
    "الترخيص والترخيص رخصة تعديل صلاحية بيان المحافظة بالمحافظة والمحافظة محافظة محافظه المركز مركز مدينة "
    "بمدينة الحي حي رئيس المجلس مجلس المدينة الوحدة المحلية المهندس المختص مهندس الإدارة الهندسية التنظيم "
    "إقرار اقرار تعهد عقد بيع ابتدائي مسجل المساحة مساحة متر مربع الحدود البحري القبلي الشرقي الغربي يحدها "
    "الطابق الأرضي الأول الثاني الثالث الدور سطح واجهة ارتفاع الرسومات المعتمدة الرسومات الإنشائية "
    "المعمارية شهادة إشراف نقابة المهندسين رسوم سداد إيصال الخزينة فاتورة الكهرباء المياه الغاز "
    "محل تجاري نشاط تشغيل ترخيص المحل الدفاع المدني الصحة البيئة السجل التجاري البطاقة الضريبية "
    "صورة بطاقة الرقم القومي توكيل رسمي عام خاص ورثة إعلام وراثة مستشفى مدرسة مسجد كنيسة "
    "مُوَافَقَة المُوافقة الموافقة الموافقه موافقة رَفْض الرفض إعادة استكمال المستندات الناقصة "
    "والمستندات بالمستندات المطلوبة تسليم استلام الطلب الطلبات والطلبات طلب"
).split()
# Real OCR text has tens of thousands of distinct words, most of them rare. After the words above (the most frequent)
# come their forms with prefixes and suffixes, then 30,000 made-up words of 3 to 6 letters (names, places, misreads);
# all are drawn with Zipf's law, so a few words are on every page and most are on few.
_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
_STEMS = sorted({w for w in PAGE_WORDS if len(w) > 3})
_FORMS = [p + stem + s for stem in _STEMS for p in ("", "و", "ب", "ل") for s in ("", "ات", "ين", "ها", "ية")]
_made_up = random.Random(7)
_RARE = ["".join(_made_up.choice(_LETTERS) for _ in range(_made_up.randint(3, 6))) for _ in range(30_000)]
VOCABULARY = PAGE_WORDS + [f for f in _FORMS if f not in PAGE_WORDS] + _RARE
ZIPF = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
SERVICES = ["BUILD-PERMIT", "PERMIT-AMEND", "VALIDITY", "SHOP-LICENCE"]
STATUSES = ["received", "in_review", "awaiting_signature", "returned", "approved", "rejected", "issued"]
GOVERNORATES = {"26": ["SOH-01", "SOH-02", "SOH-03", "SOH-04"], "01": ["CAI-01", "CAI-02"], "02": ["ALX-01"],
                "21": ["GIZ-01", "GIZ-02"], "24": ["MIN-01"]}
CENTRES = [(gov, code) for gov, codes in GOVERNORATES.items() for code in codes]
SIGNERS = ["م. سامي حسن", "م. هدى عثمان", "أ. طارق منصور", "م. إيمان فهمي", "أ. وليد رمضان"]
_CUMULATIVE = list(itertools.accumulate(ZIPF))
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def national_id(rng: random.Random) -> str:
    century = rng.choice("23")
    if century == "2":
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
    else:
        born = date(2000, 1, 1) + timedelta(days=rng.randrange(7 * 365))
    return f"{century}{born:%y%m%d}{rng.choice(list(GOVERNORATES)):0>2}{rng.randrange(10000):04d}{rng.randrange(10)}"


def page_text(rng: random.Random, words: int) -> str:
    lines = []
    while words > 0:
        n = min(words, rng.randint(6, 14))
        lines.append(" ".join(rng.choices(VOCABULARY, cum_weights=_CUMULATIVE, k=n)))
        words -= n
    return "\n".join(lines)


def record(rng: random.Random, i: int) -> SearchDocument:
    gov, centre = rng.choice(CENTRES)
    created = T0 + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
    nid = national_id(rng)
    name = f"{rng.choice(FIRST)} {rng.choice(FIRST)} {rng.choice(FAMILY)}"
    pages = tuple(
        PageText(i * 10 + p, f"scan.pdf · {p + 1}", page_text(rng, rng.randint(60, 160)))
        for p in range(rng.randint(1, 3))
    )
    status = rng.choice(STATUSES)
    signers = tuple(rng.sample(SIGNERS, rng.randint(1, 2))) if status in ("issued", "approved") else ()
    return SearchDocument(
        id=i, tracking_number=f"{centre.replace('-', '')}-{created:%Y}-{i:06d}", applicant_name=name,
        national_id=nid, governorate=gov, centre=centre, centre_id=CENTRES.index((gov, centre)) + 1,
        service=rng.choice(SERVICES), status=status, created_at=created, source_version=created, signers=signers,
        data_text=f"{rng.choice(STREETS)} {rng.choice(DISTRICTS)} قطعة رقم {rng.randrange(1, 400)}", pages=pages,
    )


def records(n: int, seed: int) -> Iterator[SearchDocument]:
    rng = random.Random(seed)
    for i in range(1, n + 1):
        yield record(rng, i)


def query_mix(n: int, seed: int) -> list[tuple[str, Query]]:
    """The fixed mix: what an auditor types, from a common word to a national ID, with and without filters."""
    rng = random.Random(seed + 1)
    sample = list(records(min(n, 2000), seed))
    mix: list[tuple[str, Query]] = []
    for _ in range(40):
        doc = rng.choice(sample)
        word = rng.choice(doc.pages[0].text.split())
        mix += [
            ("one common word", Query(text=rng.choice(["المحافظة", "ترخيص", "الطلب", "موافقه"]))),
            ("one word, other spelling", Query(text=rng.choice(["محافظه", "والارض", "المبنى", "إقرار"]))),
            ("one rare word", Query(text=rng.choice(_RARE[2000:]))),
            ("two words", Query(text=f"{word} {rng.choice(PAGE_WORDS)}")),
            ("phrase", Query(text='"' + " ".join(doc.pages[0].text.split()[:2]) + '"')),
            ("prefix", Query(text=rng.choice(["المعاي*", "رسوم*", "مهندس*", "استكم*"]))),
            ("national ID (Arabic-Indic digits)", Query(text=doc.national_id.translate(ARABIC_DIGITS))),
            ("applicant name", Query(text=doc.applicant_name)),
            ("word + governorate + status", Query(text=word, filters=Filters(governorate=(doc.governorate,),
                                                                              status=(doc.status,)))),
            ("filters only, newest first", Query(filters=Filters(centre=(doc.centre,), date_from=date(2024, 6, 1),
                                                                 date_to=date(2024, 9, 30)), sort="newest")),
            ("word, centre scope, page 3", Query(text=rng.choice(["المحافظة", "الطلب"]),
                                                 centre_ids=frozenset({doc.centre_id}), page=3)),
        ]
    return mix


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the index (default: a temporary dir)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="sijill-bench-search-"))
    path = work / "search.sqlite3"
    path.unlink(missing_ok=True)
    engine = EmbeddedEngine(path)
    engine.setup()

    words = 0
    started = time.perf_counter()
    batch: list[SearchDocument] = []
    for doc in records(args.records, args.seed):
        words += sum(len(p.text.split()) for p in doc.pages)
        batch.append(doc)
        if len(batch) == args.batch:
            engine.index(batch)
            batch = []
            print(f"\r{doc.id} indexed", end="", file=sys.stderr)
    engine.index(batch)
    index_seconds = time.perf_counter() - started
    print(file=sys.stderr)
    size_mb = sum(p.stat().st_size for p in work.glob("search.sqlite3*")) / 2**20

    mix = query_mix(args.records, args.seed)
    for _kind, query in mix[:20]:  # warm the page cache and the analyser's memo
        engine.search(query)
    times: dict[str, list[float]] = {}
    totals: dict[str, list[int]] = {}
    for kind, query in mix:
        started = time.perf_counter()
        total = engine.search(query).total
        times.setdefault(kind, []).append(time.perf_counter() - started)
        totals.setdefault(kind, []).append(total)
    every = [t for ts in times.values() for t in ts]

    rate = args.records / index_seconds
    print(f"- Records: {args.records:,} applications, {words:,} words of page text "
          f"({words / args.records:.0f} per application), index file {size_mb:.0f} MiB (FTS5 + stored fields)")
    print(f"- Load average when the numbers were printed (1/5/15 min): {load_average()}")
    print()
    print(table([f"indexing (embedded, batches of {args.batch})", "value"], [
        ["wall time", f"{index_seconds:.0f} s"],
        ["applications per second", f"{rate:,.0f}"],
        ["words per second", f"{words / index_seconds:,.0f}"],
    ]))
    print()
    rows = [
        [kind, len(ts), f"{statistics.median(totals[kind]):,.0f}", f"{1000 * percentile(ts, .5):.1f} ms",
         f"{1000 * percentile(ts, .95):.1f} ms"]
        for kind, ts in times.items()
    ]
    rows.append(["**all**", len(every), "", f"**{1000 * percentile(every, .5):.1f} ms**",
                 f"**{1000 * percentile(every, .95):.1f} ms**"])
    print(table(["query kind (20 per page, facets and snippets)", "queries", "median hits", "p50", "p95"], rows))
    if args.json:
        args.json.write_text(json.dumps({
            "records": args.records, "index_seconds": index_seconds, "words": words,
            "latency_ms": {k: [1000 * t for t in ts] for k, ts in times.items()},
        }, indent=1))
    engine.close()


if __name__ == "__main__":
    main()
