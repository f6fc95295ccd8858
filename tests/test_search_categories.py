"""The analyser's categories through each engine's contract: what an auditor types finds what was scanned, and
nothing else. The embedded engine always runs; Elasticsearch whenever ELASTICSEARCH_URL is set (the tests for the
nine ways its own analysis used to differ are here too: with pre-analysed terms they cannot differ)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from search.model import MAX_WINDOW, BadQuery, Engine, PageText, Query, SearchDocument
from tests.test_search_contract import ENGINES, _open
from tests.test_search_contract import doc as contract_doc


def doc(i: int, **kw: object) -> SearchDocument:
    return contract_doc(i, **{"applicant_name": "سعاد جمال", "data_text": "", **kw})


def page(i: int, text: str) -> tuple[PageText, ...]:
    return (PageText(i * 10, "مستند 1، صفحة 1", text),)


CORPUS = [
    doc(1, applicant_name="عبدالعزيز فتحي والي", pages=page(1, "تسلمنا الوثيقة الأصلية وشئون العاملين وافقت")),
    doc(2, applicant_name="علي حسين", pages=page(2, "تحويل الطلب إلى الإدارة الهندسية على الفور")),
    doc(3, applicant_name="سلمى عمران", data_text="شارع المكان القديم",
        pages=page(3, "تراخيص المباني في المنطقة وصورة رخصته بتاريخ ٠٧/٠٩/٢٠٢٤ ورقم٢٩٩٠٧١٥٢٦٠١٢٣٤")),
    doc(4, applicant_name="منى السيد", data_text="ميدان السكة الحديد",
        pages=page(4, "الاسم:محمد م.سامي المبلغ 1,000 جنيه ترخ\u200cيص البناء ـ للجنة")),
    doc(5, tracking_number="SOH01-2026-000123", pages=page(5, "محافطة سوهاج مسئول الحسابات")),
    doc(6, tracking_number="CAI01-2025-000124", pages=(
        PageText(61, "ص 1", "نص الصفحة الأولى ينتهي بكلمة قطعة"), PageText(62, "ص 2", "الأرض تبدأ بها الصفحة الثانية"),
    )),
    doc(7, pages=page(7, "محافظة سوهاج " * 3)),
]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    gen = _open(request.param, tmp_path)
    eng = next(gen)
    eng.setup()
    eng.index(CORPUS)
    eng.refresh()
    yield eng
    next(gen, None)


def found(engine: Engine, text: str) -> list[int]:
    return sorted(h.id for h in engine.search(Query(text=text, per_page=50)).hits)


@pytest.mark.parametrize(("text", "ids"), [
    ("وثيقة", [1]), ("الوثيقه", [1]), ("والوثيقة", [1]),  # prefixes and a root و
    ("مسؤول", [5]), ("الشئون", [1]),  # hamza seats
    ("عبد العزيز", [1]), ("عبدالعزيز", [1]),  # joined or apart
    ("رخصة", [3]), ("ترخيص", [3, 4]), ("مبنى", [3]),  # possessive, broken plurals, ZWNJ inside a word
    ("7/9/2024", [3]), ("2024-09-07", [3]), ("٧/٩/٢٠٢٤", [3]),  # dates
    ("29907152601234", [3]),  # a national ID glued to a word
    ("محمد", [4]), ("سامي", [4]), ("1000", [4]), ("لجنة", [4]),  # punctuation splits like a reader
    ("محافظة*", [7]), ("محافظه", [5, 7]),  # whole-word prefix; the OCR-confused محافطة in the second tier
    ("شؤون", [1]), ("وشئون", [1]),  # وشئون keeps its و in the first tier, meets شؤون in the second
    ('"قطعة الأرض"', [6]),  # a phrase runs on from one page to the next, in both engines
    ("SOH01-2026-000123", [5]), ("SOH01-2026-0001*", [5]), ("soh01*", [5]), ("CAI01-2025*", [6]),
])
def test_what_an_auditor_types_finds_the_record(engine: Engine, text: str, ids: list[int]) -> None:
    assert found(engine, text) == ids


@pytest.mark.parametrize("text", ["إلى", "على", "مكة", "السكة", "حسن", "سلم", "حد", "2026-000124", "SOH02*"])
def test_negative_cases_stay_negative(engine: Engine, text: str) -> None:
    results = {
        "إلى": [2], "على": [2], "مكة": [], "السكة": [4], "حسن": [], "سلم": [], "حد": [], "2026-000124": [],
        "SOH02*": [],
    }
    assert found(engine, text) == results[text]  # never the name والي, علي, سلمى; never المكان for مكة


def test_a_fuzzy_match_never_outranks_an_exact_one(engine: Engine) -> None:
    hits = engine.search(Query(text="محافظة")).hits
    assert [h.id for h in hits] == [7, 5]  # 7 has the word exactly; 5 has محافطة, a misread
    marked = [t for s in hits[1].snippets for t, is_hit in s.fragments if is_hit]
    assert marked == ["محافطة"]
    assert [h.id for h in engine.search(Query(text="محافطة")).hits] == [5, 7]  # and the other way round


def test_a_word_of_several_terms_is_one_phrase_scored_once(engine: Engine) -> None:
    # CAI01-2025-000124 has "cai", "01", "2025" and "000124"; as separate words they would also match elsewhere
    assert found(engine, "SOH01-2025-000124") == []
    assert found(engine, "الاسم:محمد") == [4] and found(engine, "محمد:الاسم") == []


def test_pages_past_the_window_are_refused_in_every_engine(engine: Engine) -> None:
    with pytest.raises(BadQuery):
        engine.search(Query(page=MAX_WINDOW // 20 + 1, per_page=20))
    assert engine.search(Query(page=MAX_WINDOW // 20, per_page=20)).hits == []


def test_writes_during_a_rebuild_are_kept(engine: Engine) -> None:
    def source() -> Iterator[SearchDocument]:
        yield from CORPUS[:3]
        engine.index([doc(40, pages=page(40, "طلب تظلم جديد أثناء إعادة البناء"))])  # a worker indexes meanwhile
        yield from CORPUS[3:]

    engine.rebuild(source())
    engine.refresh()
    assert found(engine, "تظلم") == [40]
    assert found(engine, "") == [*range(1, 8), 40]


def test_totals_stop_counting_at_the_cap(tmp_path: Path) -> None:
    from search import model
    from search.embedded import EmbeddedEngine

    engine = EmbeddedEngine(tmp_path / "s.sqlite3")
    engine.index([contract_doc(i) for i in range(1, 13)])
    cap = model.TOTAL_CAP
    try:
        model.TOTAL_CAP = 10
        import search.embedded as embedded

        embedded.TOTAL_CAP = 10
        results = engine.search(Query(text="ترخيص"))
        assert results.total == 10 and results.total_is_lower_bound
        assert not engine.search(Query(text="ترخيص", filters=model.Filters(status=("x",)))).total_is_lower_bound
    finally:
        model.TOTAL_CAP = cap
        embedded.TOTAL_CAP = cap
    engine.close()


def test_elasticsearch_receives_only_the_analysers_terms() -> None:
    """Runs without a server: what ES indexes and is asked is the analyser's output, split on spaces only."""
    from search.analyser import analyse
    from search.elastic import ANALYSIS, MAPPINGS, ElasticEngine

    analysers = ANALYSIS["analyzer"]
    assert analysers == {"sijill_terms": {"type": "custom", "tokenizer": "whitespace", "filter": []}}
    assert all(MAPPINGS["properties"][f]["analyzer"] == "sijill_terms" for f in ("data", "ocr", "fuzzy"))
    engine = ElasticEngine("http://127.0.0.1:1")
    source = engine._source(CORPUS[3])
    assert source["ocr"].split() == analyse(CORPUS[3].pages[0].text)
    assert "" not in source["ocr"].split(" ")  # the lone tatweel left no empty token
    query = str(engine._query(Query(text="SOH01-2026-0001* الاسم:محمد")))
    assert "'soh'" in query and "'0001'" in query and "'اسم محمد'" in query and "الاسم" not in query
    engine.close()
