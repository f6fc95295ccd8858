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
