"""Recognising a permit's copies for its whole life, and bounding what a hostile copy may cost.

A real permit (certified by a PKCS#12 key, locked by a key on SoftHSM2, both B-LT from the live certomancer PKI) gets
two document timestamp renewals from the live certomancer TSA; every copy it ever was must then be recognised. Hostile
copies (a thousand no-op revisions, padding, garbage) are judged by the cheap pre-checks; the worker pool's deadline is
shown on a file that takes longer to validate than it is allowed to.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import re
import time
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.bounded import Refused, validate_untrusted, warm_up
from signing.copycheck import LIMITS, archived_states, match_archived, precheck
from signing.pades import add_document_timestamp
from signing.validate import ValidationReport
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken
from tests.test_signing import SignedPermit, make_pdf, sign_both
from tests.test_web_routing import appended_update


@pytest.fixture(scope="module")
def life(pki: TestPki, softhsm: SoftHsmToken, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Each state of one permit's life: fields only, one signature, issued (B-LT), after two renewals (B-LTA)."""
    signed: SignedPermit = sign_both(make_pdf(owner="هالة سمير عبد الحميد"), pki, softhsm,
                                     tmp_path_factory.mktemp("life"))
    first = add_document_timestamp(signed.final, pki.tsa_url, pki.validation_context())
    second = add_document_timestamp(first, pki.tsa_url, pki.validation_context())
    assert second.startswith(first) and first.startswith(signed.final)
    assert len(PdfFileReader(io.BytesIO(second)).embedded_timestamp_signatures) == 2
    return {"fields": signed.fields_only, "one": signed.after_first, "issued": signed.final,
            "renewed": first, "current": second}


def roots(pki: TestPki) -> list[asn1_x509.Certificate]:
    return list(pki.trust_roots)


def noop_revisions(pdf: bytes, count: int) -> bytes:
    """``pdf`` with ``count`` incremental updates that change nothing (an empty xref section each)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root = reader.trailer.raw_get("/Root")
    size = int(reader.trailer["/Size"])
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    for _ in range(count):
        offset = len(out)
        out += (f"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size {size} /Root {root.idnum} {root.generation} R"
                f" /Prev {previous} >>\nstartxref\n{offset}\n%%EOF\n").encode()
        previous = offset
    return bytes(out)


def test_every_state_of_a_renewed_permit_is_recognised(life: dict[str, bytes]) -> None:
    states = archived_states(life["current"])
    assert states[-1].end == len(life["current"]) and states[-1].signatures == 2 and states[-1].timestamps == 2

    def kind(data: bytes) -> str | None:
        match = match_archived(data, states)
        return match.kind if match is not None else None

    assert kind(life["current"]) == "identical"
    assert kind(life["renewed"]) == "earlier_state"  # between the two renewals
    assert kind(life["issued"]) == "earlier_state"  # the copy the citizen got at issue
    assert kind(life["one"]) == "before_signatures"
    assert kind(life["fields"]) == "before_signatures"
    match = match_archived(life["issued"], states)
    assert match is not None and match.state is not None and match.state.signatures == 2
    assert match.state.timestamps == 0

    # an annotation appended to a genuine state: starts as the permit, is not it
    tampered = appended_update(life["renewed"])
    match = match_archived(tampered, states)
    assert match is not None and match.kind == "extended" and match.state is not None
    assert match.state.end == len(life["renewed"])
    assert kind(life["current"][:-300]) == "extended"  # cut short: the renewed state plus half a revision
    # cut short before the first state, one byte changed, or another permit: no archived state at all
    assert kind(life["current"][:1000]) is None
    flipped = bytearray(life["issued"])
    flipped[len(flipped) // 2] ^= 1
    assert kind(bytes(flipped)) is None
    assert kind(make_pdf(owner="شخص آخر")) is None


def test_archived_states_are_validated_in_the_pool_and_all_pass(life: dict[str, bytes], pki: TestPki) -> None:
    for name in ("issued", "renewed", "current"):
        result = validate_untrusted(life[name], roots(pki), time_limit_s=20)
        assert isinstance(result, ValidationReport), (name, result)
        assert result.passed, (name, result.reasons_en, [s.reasons_en for s in result.signatures])
        assert [s.level for s in result.signatures] == (["B-LT", "B-LT"] if name == "issued" else ["B-LTA"] * 2)
    before = validate_untrusted(life["fields"], roots(pki), time_limit_s=20)
    assert isinstance(before, ValidationReport) and before.indication == "TOTAL_FAILED"
    assert before.reasons_en == ["The document carries no electronic signature."]


def test_hostile_copies_are_refused_by_the_cheap_prechecks_in_milliseconds(life: dict[str, bytes]) -> None:
    thousand = noop_revisions(life["issued"], 1000)
    padded = life["issued"] + b"%" + b" " * (5 * 1024 * 1024) + b"\n"
    objects = life["issued"] + b"".join(b"%d 0 obj\nnull\nendobj\n" % (90000 + i) for i in range(5000))
    digits = b"%PDF-1.7\n" + b"7" * 3_000_000  # no regular expression may go quadratic on this
    assert precheck(life["current"]) is None and precheck(noop_revisions(life["issued"], 20)) is None
    for data, reason in ((thousand, "revisions"), (padded, "size"), (objects, "objects")):
        started = time.perf_counter()
        assert precheck(data) == reason
        assert time.perf_counter() - started < 1.0  # generous: the real figure is a few milliseconds
    started = time.perf_counter()
    assert precheck(digits) is None
    assert time.perf_counter() - started < 1.0
    assert len(thousand) < LIMITS.max_bytes  # the revisions, not the size, are what gives it away


def test_a_copy_slower_than_its_deadline_is_stopped_and_the_worker_keeps_working(
    life: dict[str, bytes], pki: TestPki
) -> None:
    slow = noop_revisions(life["issued"], 60)  # within the pre-check bounds; pyHanko's diff analysis is quadratic
    assert warm_up(wait_s=120)  # a server starts its workers before the first upload (the page's GET does)
    started = time.perf_counter()
    result = validate_untrusted(slow, roots(pki), time_limit_s=0.1)
    assert isinstance(result, Refused) and result.reason == "timeout"
    assert time.perf_counter() - started < 2.0
    after = validate_untrusted(life["issued"], roots(pki), time_limit_s=20)  # the same worker, still healthy
    assert isinstance(after, ValidationReport) and after.passed

    # a flood: more checks at once than the pool takes; every one is answered within the deadline, none hangs
    garbage = [b"%PDF-1.7\n" + bytes([i]) * 50_000 for i in range(10)]
    with cf.ThreadPoolExecutor(10) as threads:
        started = time.perf_counter()
        results = list(threads.map(lambda d: validate_untrusted(d, roots(pki), time_limit_s=1.6), garbage))
        elapsed = time.perf_counter() - started
    assert elapsed < 2.0 + 1.5  # the 2 s promise, with slack for a machine shared by eight engineers
    assert any(isinstance(r, Refused) and r.reason == "busy" for r in results)  # the queue is bounded
    reports = [r for r in results if isinstance(r, ValidationReport)]
    assert reports and all(r.indication == "TOTAL_FAILED" for r in reports)


def test_noop_revision_helper_makes_a_readable_pdf(life: dict[str, bytes], tmp_path: Path) -> None:
    reader = PdfFileReader(io.BytesIO(noop_revisions(life["issued"], 3)), strict=False)
    assert reader.xrefs.total_revisions >= 3 + PdfFileReader(io.BytesIO(life["issued"])).xrefs.total_revisions
