"""No tracebacks in the logs from public input or a tampered archive: pyHanko's complaints become one line naming the
permit or the upload (:mod:`signing.quiet_logs`).

A permit issued through the web by two officials (DEMO PKI) whose archived file is then replaced behind the app's back
by one with a red box drawn after the signatures (a tampered archive), and hostile uploads on its page.
"""

from __future__ import annotations

import io
import logging
import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import text

import worker.dispatch
from signing.dev_pki import DemoPki
from signing.quiet_logs import capture_pyhanko, quiet_pyhanko
from tests.test_revisions import content_changed
from tests.test_verify_pagecache import issue
from tests.test_web_routing import World, text_of
from tests.test_web_routing import demo_pki as demo_pki
from tests.test_web_routing import world as world
from worker.tasks import build_missing_revision_albums


def raised(message: str) -> BaseException:
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc


def test_pyhanko_records_in_the_context_become_one_line_and_others_are_untouched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deep = logging.getLogger("pyhanko.sign.diff_analysis.sijill_probe")  # a logger created after any install
    ours = logging.getLogger("sijill.probe")
    with caplog.at_level(logging.INFO):
        with quiet_pyhanko("permit SOH-PROBE-1") as capture:
            deep.warning("Error in diff operation between revision 2 and 4", exc_info=raised("xref \n broken"))
            deep.error("Could not read stream", exc_info=raised("bad"))
            deep.debug("a detail")  # below a warning and no stack: left alone
            ours.warning("our own line")  # not pyHanko's: left alone
            other = threading.Thread(target=lambda: deep.warning("another request's file", exc_info=raised("x")))
            other.start()
            other.join()
            with quiet_pyhanko("inner, never written"):
                deep.warning("nested")
        assert capture.count == 3
    lines = [r for r in caplog.records if r.name == "signing.quiet_logs"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert lines[0].getMessage() == ("permit SOH-PROBE-1: pyHanko reported 3 problem(s) reading the PDF: Error in diff "
                                     "operation between revision 2 and 4: ValueError: xref broken (+2 more)")
    assert "our own line" in caplog.text and "another request's file" in caplog.text
    assert [r.exc_info is not None for r in caplog.records if r.getMessage() == "another request's file"] == [True]
    assert "inner, never written" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        deep.warning("outside any context")
        with capture_pyhanko() as quiet:
            pass
    assert quiet.count == 0 and [r.getMessage() for r in caplog.records] == ["outside any context"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_tampered_archive_and_hostile_uploads_log_one_line_each_without_a_traceback(
    world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker.dispatch, "enqueue_revision_album", lambda _settings, _sha: None)
    tracking, path = issue(world, demo_pki, monkeypatch)
    permit = world.permit(tracking)
    assert permit is not None
    number, store = permit.permit_number, world.rt.store
    tampered = store.put(content_changed(store.get_bytes(permit.current_pdf_sha256)))
    with world.rt.db.engine.begin() as connection:  # the archive altered behind the app's back
        connection.execute(text("UPDATE permits SET current_pdf_sha256 = :sha WHERE permit_number = :number"),
                           {"sha": tampered, "number": number})
    citizen = world.client()

    def no_stacks() -> None:
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        assert "Traceback" not in caplog.text

    caplog.clear()
    with caplog.at_level(logging.INFO):
        html = text_of(citizen.get(path))
        assert 'id="verdict" data-state="unknown"' in html  # not called valid: the verdict is on the page
    no_stacks()
    named = [r for r in caplog.records if number in r.getMessage() and "pyHanko reported" in r.getMessage()]
    assert len(named) == 1 and tampered[:12] in named[0].getMessage()

    # hostile uploads on its page: each one line naming the permit and the upload, no stack
    hostile = {
        "broken.pdf": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\nxref\n0 7\nzzzz\ntrailer\n<<>>\n"
                      b"startxref\n9999999\n%%EOF\n",
        "redrawn.pdf": content_changed(store.get_bytes(tampered)),  # altered again: not the archived file
        "noise.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40,
    }
    for name, data in hostile.items():
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = citizen.post(path + "/check", content_type="multipart/form-data",
                                    data={"pdf": (io.BytesIO(data), name)})
            assert response.status_code == 200
        no_stacks()
        lines = [r for r in caplog.records if name in r.getMessage()]
        assert len(lines) == 1 and number in lines[0].getMessage() and lines[0].levelno == logging.WARNING

    # the worker building the tampered revision's album: one line naming the permit
    caplog.clear()
    monkeypatch.setattr("worker.tasks.worker_runtime", lambda: SimpleNamespace(store=store, database=world.rt.db))
    with caplog.at_level(logging.INFO):
        assert build_missing_revision_albums.apply().get() == {"built": 1, "failed": 0}
    no_stacks()
    named = [r for r in caplog.records if "pyHanko reported" in r.getMessage()]
    assert len(named) == 1 and number in named[0].getMessage()
