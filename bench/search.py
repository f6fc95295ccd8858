"""Search benchmark: index N synthetic applications into each engine, then time a fixed query mix on each.

The engines, in one run on the same records and queries: Tantivy (``tantivy://``), the analysed SQLite FTS5 engine
(``embedded://``) and, as the anchor, a plain FTS5 index of the same texts (no analyser, no facets, no snippets).

The records are built from our own vocabulary (below): names, streets, services and OCR-like page text in Arabic with
the spellings the analyser must unify (أ/ا/إ, ة/ه, ى/ي, tashkeel, tatweel, prefixes such as وال and بال) and
national IDs, some in Arabic-Indic digits. A seeded generator makes every run index the same records.

Prints Markdown (machine, command, index rate, p50/p95 per query kind) for docs/PERFORMANCE.md::

    .venv/bin/python bench/search.py                       # 100,000 records (~15-25 min on 2 busy cores)
    .venv/bin/python bench/search.py --records 5000        # quick look
    .venv/bin/python bench/search.py --records 1000000 --engines tantivy,plain   # the 1M row (not in CI)
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import load_average, table
from search.embedded import EmbeddedEngine
from search.model import Filters, PageText, Query, SearchDocument
from search.tantivy_engine import REBUILD_BATCH, TantivyEngine

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


class PlainFts5:
    """The anchor the issue names: a plain FTS5 index of the same texts (unicode61 tokenizer, no analyser), with the
    filter fields beside it. A query is its words quoted (phrases kept, ``word*`` a prefix), all required; it returns
    the total and the top 20 by FTS5's rank, with the same filters and pages, but no facets and no snippets."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.executescript(
            "CREATE VIRTUAL TABLE fts USING fts5(data, ocr, tokenize = 'unicode61 remove_diacritics 2');"
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, governorate TEXT, centre TEXT, centre_id INTEGER,"
            " status TEXT, created_at TEXT);"
        )

    def index(self, docs: list[SearchDocument]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT INTO fts (rowid, data, ocr) VALUES (?, ?, ?)", [
            (d.id, " ".join((d.tracking_number, d.applicant_name, d.national_id, d.data_text)),
             "\n".join(p.text for p in d.pages)) for d in docs])
        self.conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", [
            (d.id, d.governorate, d.centre, d.centre_id, d.status, d.created_at.isoformat()) for d in docs])
        self.conn.execute("COMMIT")

    def search(self, query: Query) -> int:
        where, params = [], []
        parts = []
        for match in re.finditer(r'"([^"]*)"|(\S+)', query.text):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            star = text.endswith("*")
            words = re.findall(r"\w+", text.rstrip("*"))
            if words:
                parts.append('"' + " ".join(words) + '"' + ("*" if star else ""))
        f = query.filters
        for name in ("governorate", "centre", "status"):
            if getattr(f, name):
                values = getattr(f, name)
                where.append(f"d.{name} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if f.date_from:
            where.append("d.created_at >= ?")
            params.append(f.date_from.isoformat())
        if f.date_to:
            where.append("d.created_at < ?")
            params.append((f.date_to + timedelta(days=1)).isoformat())
        if query.centre_ids:
            where.append(f"d.centre_id IN ({', '.join('?' * len(query.centre_ids))})")
            params.extend(sorted(query.centre_ids))
        if parts:
            source = "fts CROSS JOIN docs d ON d.id = fts.rowid"
            where.insert(0, "fts MATCH ?")
            params.insert(0, " AND ".join(parts))
            order = "fts.rank"
        else:
            source, order = "docs d", "d.created_at DESC"
        conditions = " AND ".join(where) or "1"
        count_sql = f"SELECT count(*) FROM {source} WHERE {conditions}"  # noqa: S608 - fixed names, placeholders
        total = self.conn.execute(count_sql, params).fetchone()[0]
        offset = (query.page - 1) * query.per_page
        page_sql = f"SELECT d.id FROM {source} WHERE {conditions} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608
        self.conn.execute(page_sql, [*params, query.per_page, offset]).fetchall()
        return int(total)

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def open_engine(kind: str, work: Path) -> Any:
    if kind == "tantivy":
        engine: Any = TantivyEngine(work / "tantivy")
    elif kind == "fts5":
        engine = EmbeddedEngine(work / "search.sqlite3")
    else:
        return PlainFts5(work / "plain.sqlite3")
    engine.setup()
    return engine


LABELS = {"tantivy": "Tantivy (analysed)", "fts5": "FTS5 (analysed, Sijill's embedded)", "plain": "plain FTS5"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=REBUILD_BATCH,
                        help="documents per engine.index call (default: what sijill reindex writes per commit)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engines", default="tantivy,fts5,plain",
                        help="comma-separated: tantivy, fts5 (the analysed FTS5 engine), plain (the anchor)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the indexes (default: a temporary dir)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="sijill-bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    kinds = [k.strip() for k in args.engines.split(",") if k.strip()]
    engines = {kind: open_engine(kind, work) for kind in kinds}

    words = 0
    index_seconds = dict.fromkeys(kinds, 0.0)
    index_cpu = dict.fromkeys(kinds, 0.0)
    batch: list[SearchDocument] = []

    def flush() -> None:
        for kind, engine in engines.items():
            started, cpu = time.perf_counter(), time.process_time()
            engine.index(batch)
            index_seconds[kind] += time.perf_counter() - started
            index_cpu[kind] += time.process_time() - cpu

    for doc in records(args.records, args.seed):
        words += sum(len(p.text.split()) for p in doc.pages)
        batch.append(doc)
        if len(batch) == args.batch:
            flush()
            batch = []
            print(f"\r{doc.id} indexed", end="", file=sys.stderr)
    flush()
    print(file=sys.stderr)

    mix = query_mix(args.records, args.seed)
    times: dict[str, dict[str, list[float]]] = {kind: {} for kind in kinds}
    cpu_times: dict[str, dict[str, list[float]]] = {kind: {} for kind in kinds}
    totals: dict[str, list[int]] = {}
    for kind, engine in engines.items():
        for _kind, query in mix[:20]:  # warm the page cache and the analyser's memo
            engine.search(query)
        for qkind, query in mix:
            started, cpu = time.perf_counter(), time.process_time()
            result = engine.search(query)
            times[kind].setdefault(qkind, []).append(time.perf_counter() - started)
            cpu_times[kind].setdefault(qkind, []).append(time.process_time() - cpu)
            if kind == kinds[0]:
                totals.setdefault(qkind, []).append(result if isinstance(result, int) else result.total)

    print(f"- Records: {args.records:,} applications, {words:,} words of page text "
          f"({words / args.records:.0f} per application)")
    print(f"- Load average when the numbers were printed (1/5/15 min): {load_average()}")
    print()
    print(table([f"indexing (batches of {args.batch})", "wall time", "applications per second",
                 "CPU time (process)", "applications per CPU second", "words per second"],
                [[LABELS[k], f"{index_seconds[k]:.0f} s", f"{args.records / index_seconds[k]:,.0f}",
                  f"{index_cpu[k]:.0f} s", f"{args.records / index_cpu[k]:,.0f}",
                  f"{words / index_seconds[k]:,.0f}"] for k in kinds]))
    print()
    head = ["query kind (40 each)", f"median hits ({LABELS[kinds[0]]})"]
    head += [f"{LABELS[k]} p50 / p95 (CPU p95)" for k in kinds]
    rows = []
    for qkind in times[kinds[0]]:
        row = [qkind, f"{statistics.median(totals[qkind]):,.0f}"]
        row += [f"{1000 * percentile(times[k][qkind], .5):.1f} / {1000 * percentile(times[k][qkind], .95):.1f} ms "
                f"({1000 * percentile(cpu_times[k][qkind], .95):.1f})" for k in kinds]
        rows.append(row)
    every = {k: [t for ts in times[k].values() for t in ts] for k in kinds}
    every_cpu = {k: [t for ts in cpu_times[k].values() for t in ts] for k in kinds}
    rows.append(["**all**", ""] + [f"**{1000 * percentile(every[k], .5):.1f} / {1000 * percentile(every[k], .95):.1f}"
                                   f" ms** ({1000 * percentile(every_cpu[k], .95):.1f})" for k in kinds])
    print(table(head, rows))
    for kind in kinds:
        size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file() and (
            (kind == "tantivy" and "tantivy" in p.parts) or (kind == "fts5" and p.name.startswith("search.sqlite3"))
            or (kind == "plain" and p.name.startswith("plain.sqlite3"))))
        print(f"- {LABELS[kind]}: index size {size / 2**20:,.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({
            "records": args.records, "index_seconds": index_seconds, "index_cpu_seconds": index_cpu, "words": words,
            "latency_ms": {k: {q: [1000 * t for t in ts] for q, ts in times[k].items()} for k in kinds},
            "cpu_ms": {k: {q: [1000 * t for t in ts] for q, ts in cpu_times[k].items()} for k in kinds},
        }, indent=1))
    for engine in engines.values():
        engine.close()


if __name__ == "__main__":
    main()
