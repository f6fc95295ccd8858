"""The revision viewer's core: a permit's signed states and what changed after each, from pyHanko's difference analysis.

One real permit (certified by a PKCS#12 key, locked by a SoftHSM2 key, B-LT from the live certomancer PKI) renewed
twice by the live certomancer TSA (``tests.test_copycheck.life``); then copies with a content change, or a note,
appended after the signatures. The album (analysis and first-page pictures) is built into a real local store.
"""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

import signing.revision_album as album_module
from archive.store import LocalStore
from signing.bounded import Checked, Refused, check_untrusted, warm_up
from signing.revision_album import PAGE_WIDTH, THUMB_WIDTH, build_album, ensure_album, load_album
from signing.revisions import RevisionHistory, revision_history, story
from tests.fixtures.pki import TestPki
from tests.test_copycheck import life as life  # the module-scoped fixture: one permit's whole life
from tests.test_copycheck import noop_revisions
from tests.test_web_routing import appended_update

NAMES = {"engineering": "م. سامي فؤاد", "council": "أ. منى الشافعي"}


def stories(history: RevisionHistory, lang: str = "ar") -> list[str]:
    told = [story(e, NAMES.get(e.field_name, ""), names=NAMES) for e in history.entries]
    return [s.after_ar if lang == "ar" else s.after_en for s in told]


def content_changed(pdf: bytes) -> bytes:
    """``pdf`` with a red box drawn over its first page in an incremental update (no signature)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    overlay = writer.add_object(generic.StreamObject(stream_data=b"q 1 0 0 rg 100 600 300 60 re f Q"))
    writer.add_stream_to_page(0, overlay)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_two_signatures_then_renewals_give_one_entry_each_with_the_right_sentences(life: dict[str, bytes]) -> None:
    issued = revision_history(life["issued"])
    assert [(e.kind, e.field_name) for e in issued.entries] == [("signature", "engineering"), ("signature", "council")]
    assert stories(issued) == [
        "بعد توقيع م. سامي فؤاد أُضيف توقيع أ. منى الشافعي؛ لم يتغير محتوى الترخيص.",
        "لم يتغير شيء بعد توقيع أ. منى الشافعي.",
    ]
    first, second = issued.entries
    assert (first.modification_level, first.docmdp_ok, first.coverage) == ("FORM_FILLING", True, "ENTIRE_REVISION")
    assert (second.modification_level, second.docmdp_ok, second.coverage) == ("NONE", True, "ENTIRE_FILE")
    assert first.end < second.end == len(life["issued"]) and life["issued"][: first.end] == life["one"]
    assert first.timestamp_time is not None and first.signer_name == "م. سامي فؤاد عبد الله"

    # one renewal: a third entry, the archive timestamp; the signatures now say only a timestamp came after
    renewed = revision_history(life["renewed"])
    assert [e.kind for e in renewed.entries] == ["signature", "signature", "timestamp"]
    assert stories(renewed) == [
        "بعد توقيع م. سامي فؤاد أُضيف توقيع أ. منى الشافعي ثم طابع زمني وبيانات تحقق؛ لم يتغير محتوى الترخيص.",
        "بعد توقيع أ. منى الشافعي لم يُضَف إلا طابع زمني وبيانات تحقق؛ لم يتغير محتوى الترخيص.",
        "بعد هذا الطابع الزمني لم يُضَف إلا بيانات تحقق (حالة الشهادات)؛ لم يتغير محتوى الترخيص.",
    ]
    assert stories(renewed, "en")[1] == (
        "After أ. منى الشافعي signed, only a timestamp with validation data was added; the permit's content did not"
        " change.")
    assert renewed.entries[1].modification_level == "LTA_UPDATES"

    # two renewals: four entries; the validation data the last renewal adds after its timestamp is no entry
    current = revision_history(life["current"])
    assert [e.kind for e in current.entries] == ["signature", "signature", "timestamp", "timestamp"]
    assert [c.kind for c in current.entries[0].changes_after] == [
        "signature", "timestamp", "validation_data", "timestamp", "validation_data"]
    assert stories(current)[1] == (
        "بعد توقيع أ. منى الشافعي لم يُضَف إلا طوابع زمنية وبيانات تحقق؛ لم يتغير محتوى الترخيص.")
    assert stories(current)[3] == (
        "بعد هذا الطابع الزمني لم يُضَف إلا بيانات تحقق (حالة الشهادات)؛ لم يتغير محتوى الترخيص.")
    assert all(story(e).tone == "good" for e in current.entries)
    # each entry is the state as signed: the issued copy ends with the last signature, a renewal's with its timestamp
    assert life["current"][: current.entries[1].end] == life["issued"]
    ts_end = current.entries[2].end
    assert len(life["issued"]) < ts_end < len(life["renewed"]) and life["renewed"][:ts_end] == life["current"][:ts_end]
    assert RevisionHistory.from_json(current.to_json()) == current


def test_a_content_change_or_a_note_after_the_signatures_is_shown_as_such(life: dict[str, bytes]) -> None:
    changed = revision_history(content_changed(life["issued"]))
    assert [e.kind for e in changed.entries] == ["signature", "signature", "unsigned"]
    for entry in changed.entries[:2]:
        assert entry.modification_level == "OTHER" and entry.docmdp_ok is False and entry.page_changed_after
        assert entry.changes_after[-1].kind == "page_content" and entry.changes_after[-1].detail
    assert stories(changed)[:2] == [
        "بعد توقيع م. سامي فؤاد تغيّر محتوى صفحة الترخيص؛ ما يظهر الآن ليس ما وُقِّع عليه.",
        "بعد توقيع أ. منى الشافعي تغيّر محتوى صفحة الترخيص؛ ما يظهر الآن ليس ما وُقِّع عليه.",
    ]
    assert stories(changed, "en")[1] == (
        "After أ. منى الشافعي signed, the page content was changed: what shows now is not what was signed.")
    assert story(changed.entries[2]).tone == "bad"

    noted = revision_history(appended_update(life["renewed"]))  # a note on the page after the renewal
    assert [e.kind for e in noted.entries] == ["signature", "signature", "timestamp", "unsigned"]
    assert noted.entries[2].changes_after[-1].kind == "annotation"
    assert stories(noted)[2] == (
        "بعد هذا الطابع الزمني أُضيفت إلى صفحة الترخيص ملاحظة أو علامة غير مسموح بها لم يوقّع عليها أحد.")

    assert revision_history(b"not a pdf").refused == "unreadable"
    assert revision_history(life["fields"]).entries == []  # nothing signed yet: nothing to show


def test_the_album_is_built_once_with_bounded_pictures_and_renewals_reuse_them(
    life: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path / "objects")
    key = store.put(life["current"])
    assert load_album(store, key) is None
    album = ensure_album(store, key)
    assert len(album.thumbs) == len(album.pages) == 4 and all(album.thumbs) and all(album.pages)
    # the two signatures changed the page (each stamp appears); the renewals did not, so they reuse the picture
    assert album.thumbs[0] != album.thumbs[1] and album.thumbs[1] == album.thumbs[2] == album.thumbs[3]
    assert album.pages[0] != album.pages[1] and album.pages[1] == album.pages[3]
    thumb, page = store.get_named(album.thumbs[1]), store.get_named(album.pages[1])
    assert png_size(thumb)[0] == THUMB_WIDTH and png_size(page)[0] == PAGE_WIDTH
    assert png_size(page)[1] > png_size(page)[0]  # the first page of an A4 permit, portrait

    # stored: the next reader (any process) loads it and never builds again
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("built twice")

    monkeypatch.setattr(album_module, "build_album", refuse)
    again = ensure_album(store, key)
    assert again == album and load_album(store, key) == album

    tampered = content_changed(life["issued"])
    monkeypatch.undo()
    other = build_album(store, store.put(tampered))
    assert len(other.thumbs) == 3 and other.thumbs[2] != other.thumbs[1]  # the file as it is now: the red box


def test_an_uploaded_copys_history_comes_from_the_bounded_pool_within_its_deadline(
    life: dict[str, bytes], pki: TestPki
) -> None:
    roots = list(pki.trust_roots)
    assert warm_up(wait_s=120)
    checked = check_untrusted(content_changed(life["issued"]), roots, time_limit_s=20)
    assert isinstance(checked, Checked) and checked.history is not None
    assert checked.report.indication == "TOTAL_FAILED"
    assert [e.kind for e in checked.history.entries] == ["signature", "signature", "unsigned"]
    assert checked.history.entries[1].page_changed_after
    # a file slower than its deadline is still refused as a whole, history or not
    slow = noop_revisions(life["issued"], 60)
    started = time.perf_counter()
    result = check_untrusted(slow, roots, time_limit_s=0.1)
    assert isinstance(result, Refused) and result.reason == "timeout" and time.perf_counter() - started < 2.0

