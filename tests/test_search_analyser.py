"""The analyser makes every spelling the brief names meet on one term (issue 6's "done when")."""

from __future__ import annotations

import pytest

from search.analyser import analyse, normalise, prefix_term, tokens


@pytest.mark.parametrize(
    ("spellings", "term"),
    [
        (["أرض", "ارض", "إرض", "آرض"], "ارض"),  # alef forms
        (["محافظة", "محافظه", "المحافظة", "والمحافظة", "بالمحافظة", "مُحَافَظَةٌ", "محـــافظة"], "محافظ"),
        (["مبنى", "مبني", "المبنى"], "مبن"),  # alef maqsura, then the ي suffix
        (["الطلبات", "طلبات", "والطلبات"], "طلب"),  # suffix ات
        (["المهندسين", "مهندسين", "مهندسون"], "مهندس"),
    ],
)
def test_every_spelling_meets_on_one_term(spellings: list[str], term: str) -> None:
    assert {tuple(analyse(s)) for s in spellings} == {(term,)}


def test_national_ids_in_either_digit_set_are_the_same_term() -> None:
    assert analyse("٢٩٠٠١٠١٢٣٤٥٦٧٨") == analyse("29001012345678") == ["29001012345678"]
    assert analyse("۲۹۰۰۱۰۱۲۳۴۵۶۷۸") == ["29001012345678"]  # Persian (extended) digits too


def test_english_is_lower_cased_and_stemmed() -> None:
    assert analyse("Building PERMITS") == ["build", "permit"]


def test_short_words_keep_their_letters() -> None:
    # light10 needs two letters left after a prefix and four letters before removing و
    assert analyse("وفد") == ["وفد"]
    assert analyse("ال") == ["ال"]


def test_tokens_point_at_the_original_spelling() -> None:
    text = "طلب ترخيص للمُحافَظة، والمحافظة"
    spans = [(t.term, text[t.start:t.end]) for t in tokens(text)]
    assert spans[-1] == ("محافظ", "والمحافظة")
    assert ("ترخيص", "ترخيص") in spans


def test_prefix_terms_are_normalised_but_not_stemmed() -> None:
    assert prefix_term("والمحاف") == "محاف"
    assert prefix_term("إستما") == "استما"
    assert normalise("أحمدُ") == "احمد"


# --- the categories of issue 16, each with words of our own service language -----------------------------------


def same(*spellings: str) -> set[tuple[str, ...]]:
    return {tuple(analyse(s)) for s in spellings}


@pytest.mark.parametrize("spellings", [
    ("وثيقة", "الوثيقة", "والوثيقة", "بالوثيقة"),  # a root that starts with و keeps it, bare or not
    ("ورقة", "الورقة", "للورقة"),
    ("وصية", "الوصية"),
    ("وكيل", "الوكيل", "والوكيل"),
    ("وظيفة", "الوظيفة"),
    ("وجبة", "الوجبة"),  # not in the curated lexicon: kept because what remains is short
    ("وسائل", "الوسائل"),
    ("بطاقة", "البطاقة", "بالبطاقة"),  # ب as a root letter
    ("فاتورة", "الفاتورة"),  # ف as a root letter
    ("لجنة", "اللجنة", "للجنة"),  # ل as a root letter, and ل + the article merged
])
def test_a_first_root_letter_that_looks_like_a_prefix_stays(spellings: tuple[str, ...]) -> None:
    assert len(same(*spellings)) == 1


@pytest.mark.parametrize(("spellings", "term"), [
    (("وللمهندسين", "للمهندس", "المهندس", "مهندس"), "مهندس"),  # و + ل + the article
    (("وبالرخصة", "بالرخصة", "الرخصة", "رخصة"), "رخص"),  # و + ب + the article
    (("فبالعقد", "فالعقد", "كالعقد", "عقد"), "عقد"),
    (("وبطلب", "بطلب", "لطلب", "طلب"), "طلب"),  # a bare prefix before a known word
    (("وترخيص", "وللترخيص", "ترخيص"), "ترخيص"),
])
def test_prefixes_alone_and_combined_are_removed(spellings: tuple[str, ...], term: str) -> None:
    assert same(*spellings) == {(term,)}


@pytest.mark.parametrize(("one", "other"), [
    ("والي", "إلى"), ("الوالي", "إلى"),  # the governor is not the preposition
    ("علي", "على"), ("وعلي", "وعلى"),  # the name is not the preposition
    ("مكان", "مكة"), ("سكان", "السكة"),  # a short word does not lose half of itself
    ("حسين", "حسن"), ("أمين", "أم"), ("عمران", "عمر"), ("مالك", "مال"), ("سلمى", "سلم"), ("ليلى", "ليل"),
    ("بيته", "بيه"), ("قانون", "قان"), ("مخزون", "مخز"), ("وفد", "فد"), ("بيان", "يان"),
])
def test_over_stemming_does_not_join_different_words(one: str, other: str) -> None:
    assert analyse(one) != analyse(other)


@pytest.mark.parametrize("spellings", [
    ("شؤون", "شئون", "الشؤون"),  # hamza on و or ي
    ("مسؤولية", "مسئولية", "المسؤولية"),
    ("رؤساء", "رئساء"),
    ("یاسر", "ياسر"),  # Persian ya
    ("کارت", "كارت"),  # Persian kaf
    ("ﻟﺠﻨﺔ", "لجنة"),  # presentation forms, as some PDFs carry them
])
def test_letter_variants_meet(spellings: tuple[str, ...]) -> None:
    assert len(same(*spellings)) == 1


@pytest.mark.parametrize(("joined", "apart"), [
    ("عبدالعزيز", "عبد العزيز"), ("عبدالحميد", "عبد الحميد"), ("عبدالفتاح", "عبد الفتاح"),
])
def test_abd_names_joined_or_apart(joined: str, apart: str) -> None:
    assert analyse(joined) == analyse(apart)
    assert len(analyse(joined)) == 2


@pytest.mark.parametrize(("possessed", "plain"), [
    ("رخصته", "رخصة"), ("شهادتها", "شهادة"), ("بطاقته", "البطاقة"), ("عقده", "عقد"), ("ملفاتهم", "ملف"),
    ("مستنداته", "المستندات"), ("محافظتها", "محافظة"), ("بيته", "بيت"),
])
def test_possessive_suffixes(possessed: str, plain: str) -> None:
    assert analyse(possessed) == analyse(plain)


@pytest.mark.parametrize(("plural", "singular"), [
    ("تراخيص", "ترخيص"), ("التراخيص", "الترخيص"), ("عقود", "عقد"), ("مباني", "مبنى"), ("الأراضي", "أرض"),
    ("وثائق", "وثيقة"), ("المحاضر", "محضر"), ("فواتير", "فاتورة"), ("تصاريح", "تصريح"), ("قراريط", "قيراط"),
    ("تراخيصه", "ترخيص"),
])
def test_broken_plurals_of_the_service_vocabulary(plural: str, singular: str) -> None:
    assert analyse(plural) == analyse(singular)


@pytest.mark.parametrize("spellings", [
    ("7/9/2024", "07/09/2024", "٧/٩/٢٠٢٤", "۰۷/۰۹/۲۰۲۴", "2024-09-07", "2024/9/7", "7-9-2024", "07.09.2024"),
])
def test_dates_with_or_without_leading_zeros_in_any_digit_set(spellings: tuple[str, ...]) -> None:
    assert same(*spellings) == {("20240907",)}
    assert analyse("7/13/2024") == ["7", "13", "2024"]  # not a day/month/year: plain numbers


def test_a_national_id_glued_to_a_word_by_ocr() -> None:
    assert analyse("الرقم٢٩٩٠٧١٥٢٦٠١٢٣٤القومي") == ["رقم", "29907152601234", "قوم"]
    assert analyse("رقم29907152601234") == ["رقم", "29907152601234"]


def test_tokens_split_where_a_reader_would() -> None:
    assert analyse("الاسم:محمد") == ["اسم", "محمد"]
    assert analyse("م.سامي") == analyse("م. سامي")
    assert analyse("1,000") == analyse("١٬٠٠٠") == analyse("1000") == ["1000"]
    assert analyse("ترخ\u200cيص") == analyse("ترخ\u200eيص") == analyse("ترخيص")  # ZWNJ, LRM inside a word
    assert analyse("ـ") == [] and analyse("\u200f") == []  # a lone tatweel or mark is no term


def test_ocr_confusions_share_a_skeleton_in_long_words_only() -> None:
    from search.analyser import skeleton

    [a], [b] = analyse("محافظة"), analyse("محافطة")  # ظ/ط
    assert a != b and skeleton(a) == skeleton(b)
    [c] = analyse("ىرخيص")  # a dotless letter read for ت
    assert skeleton(c) == skeleton(analyse("ترخيص")[0])
    assert skeleton(analyse("ظل")[0]) is None  # short words: one dot is a different word


def test_a_whole_word_prefix_query_is_stemmed_like_the_index() -> None:
    assert prefix_term("محافظة") == "محافظ" and analyse("المحافظات")[0].startswith(prefix_term("محافظة"))
    assert analyse("رخصته")[0].startswith(prefix_term("رخصة"))


def test_phrase_pairs_are_neighbours_once_each_without_huge_ones() -> None:
    from search.analyser import PAIR_JOINER, phrase_pairs

    terms = analyse("طلب ترخيص طلب ترخيص محل")
    assert phrase_pairs(terms) == [f"{terms[0]}{PAIR_JOINER}{terms[1]}", f"{terms[1]}{PAIR_JOINER}{terms[0]}",
                                   f"{terms[1]}{PAIR_JOINER}{terms[4]}"]
    assert phrase_pairs(terms[:1]) == [] and phrase_pairs([]) == []
    assert phrase_pairs(["طلب", "ج" * 200, "محل"]) == []
    assert all(PAIR_JOINER not in term for term in analyse("a|b طلب|ترخيص ١|٢"))
