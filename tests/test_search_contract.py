"""One contract for every search engine: the embedded engine always, Elasticsearch whenever ELASTICSEARCH_URL is set.

In production docker-compose provides Elasticsearch 9.1; run for example
``ELASTICSEARCH_URL=http://localhost:9200 pytest tests/test_search_contract.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from search.embedded import EmbeddedEngine
from search.model import BadQuery, Engine, Filters, PageText, Query, SearchDocument

ES_URL = os.environ.get("ELASTICSEARCH_URL", "")

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

PAGE_1 = "محضر معاينة: تقع قطعة الأرض بالمحافظة في شارع النيل، وتمت المعاينة بحضور المهندس المختص."
PAGE_2 = "إقرار بأن المبنى مطابق للرسومات المعتمدة. Building permit attached."
PAGE_3 = "إِسْتِمَارَةُ طَلَبِ ترخيص محل تجاري بمدينة سوهاج"


def doc(i: int, **kw: object) -> SearchDocument:
    base: dict[str, object] = dict(
        id=i,
        tracking_number=f"TRK-{i:05d}",
        applicant_name="أحمد محمد علي",
        national_id=f"2900101{i:07d}",
        governorate="26",
        centre="SOH-01",
        centre_id=1,
        service="BUILD-PERMIT",
        status="received",
        created_at=T0 + timedelta(days=i),
        source_version=T0 + timedelta(days=i, hours=1),
        signers=(),
        data_text="طلب ترخيص أعمال بناء",
        pages=(),
    )
    base.update(kw)
    return SearchDocument(**base)  # type: ignore[arg-type]


CORPUS = [
    doc(1, pages=(PageText(11, "مستند 1، صفحة 1", PAGE_1), PageText(12, "مستند 1، صفحة 2", PAGE_2)),
        signers=("م. سامي حسن",), status="issued"),
    doc(2, pages=(PageText(21, "مستند 1، صفحة 1", PAGE_3),), service="SHOP-LICENCE", applicant_name="منى السيد"),
    doc(3, governorate="01", centre="CAI-01", centre_id=2, status="in_review", national_id="29505051234567",
        pages=(PageText(31, "مستند 1، صفحة 1", "خطاب موجه إلى رئيس الحي بشأن الترخيص"),)),
    doc(4, status="rejected", data_text="ملاحظات: المستندات ناقصة", applicant_name="Sara Ibrahim"),
]


def _embedded(tmp_path: Path) -> Iterator[Engine]:
    engine = EmbeddedEngine(tmp_path / "search.sqlite3")
    yield engine
    engine.close()


def _tantivy(tmp_path: Path) -> Iterator[Engine]:
    from search.tantivy_engine import TantivyEngine

    engine = TantivyEngine(tmp_path / "tantivy")
    yield engine
    engine.close()


def _open(kind: str, tmp_path: Path) -> Iterator[Engine]:
    return {"embedded": _embedded, "tantivy": _tantivy}[kind](tmp_path) if kind != "elasticsearch" else _elastic()


def _elastic() -> Iterator[Engine]:
    from search.elastic import ElasticEngine

    prefix = f"sijill-test-{uuid.uuid4().hex[:8]}"
    engine = ElasticEngine(ES_URL, prefix=prefix)
    yield engine
    engine.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    engine.client.indices.delete_index_template(name=prefix)
    engine.close()


ENGINES = ["embedded", "tantivy", pytest.param("elasticsearch", marks=pytest.mark.skipif(
    not ES_URL, reason="ELASTICSEARCH_URL is not set (docker-compose provides Elasticsearch in production)"))]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    gen = _open(request.param, tmp_path)
    eng = next(gen)
    eng.setup()
    eng.index(CORPUS)
    eng.refresh()
    yield eng
    next(gen, None)


def ids(engine: Engine, text: str = "", **kw: object) -> list[int]:
    return [h.id for h in engine.search(Query(text=text, **kw)).hits]  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", ["محافظة", "المحافظة", "والمحافظة", "محافظه", "المُحَافَظَة", "مـحـافـظـة"])
def test_any_normalised_spelling_finds_the_scanned_page(engine: Engine, spelling: str) -> None:
    assert ids(engine, spelling) == [1]


@pytest.mark.parametrize("spelling", ["أرض", "ارض", "إرض", "الارض"])
def test_alef_forms(engine: Engine, spelling: str) -> None:
    assert ids(engine, spelling) == [1]


@pytest.mark.parametrize("spelling", ["مبنى", "المبني"])
def test_alef_maqsura(engine: Engine, spelling: str) -> None:
    assert ids(engine, spelling) == [1]


def test_diacritics_on_the_page_do_not_hide_it(engine: Engine) -> None:
    assert ids(engine, "استمارة") == [2]


@pytest.mark.parametrize("nid", ["29505051234567", "٢٩٥٠٥٠٥١٢٣٤٥٦٧"])
def test_national_id_in_either_digit_set(engine: Engine, nid: str) -> None:
    assert ids(engine, nid) == [3]
    assert ids(engine, "", filters=Filters(national_id=nid)) == [3]


def test_english_words_and_stems(engine: Engine) -> None:
    assert ids(engine, "buildings") == [1]
    assert ids(engine, "sara") == [4]


def test_all_words_are_required(engine: Engine) -> None:
    assert ids(engine, "ترخيص محل") == [2]
    assert ids(engine, "ترخيص نيل") == [1]
    assert ids(engine, "سوهاج النيل") == []


def test_phrases_keep_word_order(engine: Engine) -> None:
    assert ids(engine, '"شارع النيل"') == [1]
    assert ids(engine, '"النيل شارع"') == []


def _phrase_corpus(engine: Engine) -> None:
    """Documents whose words stand together, apart, reversed, or in pairs that never make the whole phrase."""
    texts = {
        101: "قرار لجنة التظلمات بقبول طلب ترخيص المحل",       # the three words together
        102: "طلب المواطن ترخيص المحل بعد المعاينة",           # the same words, not neighbours
        103: "ترخيص طلب المحل",                                 # reversed
        104: "بقبول طلب عاجل ثم طلب ترخيص آخر للمحل",            # "طلب ترخيص" yes; "بقبول طلب ترخيص" no
        105: "طلب ترخيص " + "ج" * 200 + " المحل",              # a huge OCR term between the words
        106: "قبول طلب ترخيص مخبز",                              # the pairs of the two-word phrase, not the third
    }
    engine.index([doc(i, data_text="ملف", pages=(PageText(i * 10, "صفحة", text),)) for i, text in texts.items()])
    engine.refresh()


def _mine(engine: Engine, text: str) -> list[int]:
    """The hits among :func:`_phrase_corpus`'s documents (the shared corpus says "طلب ترخيص" too)."""
    return sorted(i for i in ids(engine, text, per_page=50) if i > 100)


def test_a_phrase_finds_its_words_together_only(engine: Engine) -> None:
    _phrase_corpus(engine)
    assert _mine(engine, '"طلب ترخيص"') == [101, 104, 105, 106]
    assert _mine(engine, '"بقبول طلب ترخيص"') == [101]
    assert _mine(engine, '"طلب ترخيص المحل"') == [101]  # 104 has both pairs' words, 105 a term between
    assert _mine(engine, '"ترخيص المحل بعد المعاينة"') == [102]
    assert _mine(engine, '"المحل ترخيص طلب"') == []
    assert _mine(engine, 'طلب-ترخيص-المح*') == [101]  # a phrase whose last term is a prefix
    assert _mine(engine, 'ترخيص-المح*') == [101, 102]


def test_a_phrase_with_a_huge_term_is_still_found(engine: Engine) -> None:
    _phrase_corpus(engine)
    assert _mine(engine, '"ترخيص ' + "ج" * 200 + '"') == [105]
    assert _mine(engine, '"' + "ج" * 200 + ' المحل"') == [105]


def test_prefix(engine: Engine) -> None:
    assert ids(engine, "والمعاي*") == [1]
    assert ids(engine, "استما*") == [2]


def test_field_filters(engine: Engine) -> None:
    assert sorted(ids(engine, "ترخيص", filters=Filters(governorate=("26",)))) == [1, 2]
    assert ids(engine, "", filters=Filters(centre=("CAI-01",))) == [3]
    assert ids(engine, "", filters=Filters(service=("SHOP-LICENCE",))) == [2]
    assert sorted(ids(engine, "", filters=Filters(status=("issued", "rejected")))) == [1, 4]
    assert ids(engine, "", filters=Filters(signer="م. سامى حسن")) == [1]
    window = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 4))
    assert sorted(ids(engine, "", filters=window)) == [2, 3]
    since = set(ids(engine, "", filters=Filters(date_from=date(2025, 3, 3))))  # open-ended sides (was a 500)
    until = set(ids(engine, "", filters=Filters(date_to=date(2025, 3, 4))))
    assert since & until == {2, 3} and since | until == {1, 2, 3, 4}
    assert ids(engine, "", filters=Filters(date_from=date(7511, 8, 15))) == []


def test_role_scope(engine: Engine) -> None:
    assert sorted(ids(engine, "", centre_ids=frozenset({2}))) == [3]
    assert ids(engine, "", centre_ids=frozenset()) == []
    assert sorted(ids(engine, "", centre_ids=None)) == [1, 2, 3, 4]


def test_facets_count_the_matching_set(engine: Engine) -> None:
    results = engine.search(Query(text="ترخيص"))
    assert results.total == 3  # the fourth application's data and pages never mention it
    assert results.facets["governorate"] == [("26", 2), ("01", 1)]
    assert results.facets["service"] == [("BUILD-PERMIT", 2), ("SHOP-LICENCE", 1)]
    assert ("issued", 1) in results.facets["status"]


def test_snippets_highlight_the_word_as_printed(engine: Engine) -> None:
    hit = engine.search(Query(text="محافظه")).hits[0]
    assert hit.snippets[0].page_id == 11
    marked = [text for s in hit.snippets for text, is_hit in s.fragments if is_hit]
    assert marked == ["بالمحافظة"]
    hit = engine.search(Query(text="معاين*")).hits[0]
    assert [t for s in hit.snippets for t, h in s.fragments if h] == ["معاينة", "المعاينة"]


def test_sort_and_pagination(engine: Engine) -> None:
    assert ids(engine, "", sort="newest") == [4, 3, 2, 1]
    assert ids(engine, "", sort="oldest", per_page=2, page=2) == [3, 4]
    assert engine.search(Query(sort="oldest", per_page=2, page=2)).total == 4
    with pytest.raises(BadQuery):
        engine.search(Query(sort="random"))  # type: ignore[arg-type]


def test_relevance_prefers_more_hits(engine: Engine) -> None:
    assert ids(engine, "معاينة")[0] == 1
    assert ids(engine, "ترخيص")[0] in (2, 3)  # ترخيص is in their pages as well as in their data


def test_replace_delete_get_and_stats(engine: Engine) -> None:
    engine.index([doc(2, status="issued", pages=())])
    engine.refresh()
    assert ids(engine, "استمارة") == []
    assert sorted(ids(engine, "", filters=Filters(status=("issued",)))) == [1, 2]
    got = engine.get(1)
    assert got is not None and got.pages[0].text == PAGE_1 and got.signers == ("م. سامي حسن",)
    engine.delete([4, 999])
    engine.refresh()
    stats = engine.stats()
    assert stats.count == 3
    assert stats.newest_source_version == T0 + timedelta(days=3, hours=1)
    assert engine.get(4) is None
    assert engine.versions([1, 4, 3]) == {1: T0 + timedelta(days=1, hours=1), 3: T0 + timedelta(days=3, hours=1)}


def test_rebuild_replaces_everything(engine: Engine) -> None:
    assert engine.rebuild(iter([doc(7, pages=(PageText(71, "ص", PAGE_3),)), doc(8)])) == 2
    engine.refresh()
    assert sorted(ids(engine)) == [7, 8]
    assert ids(engine, "استمارة") == [7]


def _write_many(path: str, start: int) -> None:
    engine = EmbeddedEngine(Path(path))
    for i in range(start, start + 40):
        engine.index([doc(i, pages=(PageText(i, "ص", PAGE_1),))])
    engine.close()


def test_embedded_engine_takes_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite3"
    EmbeddedEngine(path).setup()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), 100 + 100 * n)) for n in range(4)]
    for p in procs:
        p.start()
    reader = EmbeddedEngine(path)
    while any(p.is_alive() for p in procs):
        reader.search(Query(text="محافظة"))  # reads while writers write
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert reader.search(Query(text="المحافظه", per_page=200)).total == 160


@pytest.mark.parametrize("bad", [
    {"page": 9223372036854775807}, {"page": 2**70}, {"page": 0}, {"page": -3}, {"per_page": 0},
    {"per_page": 10_000}, {"page": 51, "per_page": 200}, {"text": "ترخيص " * 200},
    {"text": " ".join(f"كلمة{i}" for i in range(40))},
])
def test_out_of_range_parameters_are_refused_and_the_engine_keeps_working(engine: Engine, bad: dict) -> None:
    with pytest.raises(BadQuery) as refused:
        engine.search(Query(**bad))
    assert refused.value.message_ar and str(refused.value)
    assert ids(engine, "استمارة") == [2]  # the same thread searches again at once


def test_the_deepest_page_allowed_is_answered(engine: Engine) -> None:
    assert engine.search(Query(page=50, per_page=200)).hits == []
    assert engine.search(Query(page=10_000, per_page=1)).hits == []


def test_an_engine_error_mid_search_leaves_no_transaction_open(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "search.sqlite3")
    engine.setup()
    engine.index(CORPUS)

    class Boom(Exception):
        pass

    real = engine._conn

    def failing() -> object:
        conn = real()

        class Wrapped:
            in_transaction = property(lambda self: conn.in_transaction)

            def execute(self, sql: str, *args: object) -> object:
                if sql.startswith("SELECT d.id"):
                    raise Boom
                return conn.execute(sql, *args)

        return Wrapped()

    engine._conn = failing  # type: ignore[method-assign]
    with pytest.raises(Boom):
        engine.search(Query(text="ترخيص"))
    engine._conn = real  # type: ignore[method-assign]
    assert sorted(ids(engine, "ترخيص")) == [1, 2, 3]
    engine.close()


def _write_many_tantivy(path: str, start: int) -> None:
    from search.tantivy_engine import TantivyEngine

    engine = TantivyEngine(Path(path))
    for i in range(start, start + 15):
        engine.index([doc(i, pages=(PageText(i, "ص", PAGE_1),))])
    engine.close()


def test_tantivy_engine_takes_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    from search.tantivy_engine import TantivyEngine

    path = tmp_path / "tantivy"
    TantivyEngine(path).setup()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many_tantivy, args=(str(path), 100 + 100 * n)) for n in range(3)]
    for p in procs:
        p.start()
    reader = TantivyEngine(path)
    while any(p.is_alive() for p in procs):
        reader.search(Query(text="محافظة"))  # reads while writers write
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert reader.search(Query(text="المحافظه", per_page=200)).total == 45
    assert reader.stats().count == 45


def test_the_widest_dates_are_answered(engine: Engine) -> None:
    wide = Filters(date_from=date.min, date_to=date.max)
    assert sorted(ids(engine, "", filters=wide)) == [1, 2, 3, 4]


def test_tantivy_schema_marker_is_written_once_and_whole(tmp_path: Path) -> None:
    """Every process that opens the index runs ``setup``: the schema marker is not rewritten when it is current (an
    in-place rewrite left it empty for an instant, and a process reading it then deleted the index under the
    others), and a marker of another analyser still empties the index for ``sijill reindex``."""
    from search.tantivy_engine import SCHEMA_VERSION, TantivyEngine

    path = tmp_path / "tantivy"
    engine = TantivyEngine(path)
    engine.index([doc(1)])
    marker = path / "sijill-schema"
    before = marker.stat()
    TantivyEngine(path).setup()
    after = marker.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert marker.read_text() == SCHEMA_VERSION and not list(path.glob(".sijill-schema-*"))
    assert ids(TantivyEngine(path), "ترخيص") == [1]
    marker.write_text("tantivy-0")
    TantivyEngine(path).setup()
    assert marker.read_text() == SCHEMA_VERSION and ids(TantivyEngine(path), "ترخيص") == []
