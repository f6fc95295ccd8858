"""Signing at the official's desk: the real `sijill-sign` process, SoftHSM2 as the token, against `sijill run`.

The server runs with the certomancer test PKI's TSA and OCSP on loopback (B-LT signatures), no PKCS#11 module and
no SoftHSM configuration in its environment; the DEMO PKI (which writes PKCS#12 files with keys) is not loaded. The
only signing keys in play are inside the SoftHSM2 token, which only the agent process opens.
"""

from __future__ import annotations

import base64
import io
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from sqlalchemy import select

from archive.models import Application, Permit, PreparedSignature, WorkflowStep
from archive.sealing import load_sealing_key
from archive.store import open_store
from archive.sweeper import sweep_unreferenced
from signing.agent import DeskClient
from signing.pades import signature_levels
from signing.sealed_payload import SealedFacts, bound_part, key_id, verify
from signing.signers import open_signer, sign_raw
from sijill.settings import Settings
from tests.desk_world import Desk, agent, desk_server
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken
from tests.test_permit import rasterise

pytestmark = pytest.mark.slow

BATCH = 4
SPARE = 3  # pending permits for the refusal cases
FIFTY = 50  # the batch: fifty permits, one PIN


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, pki: TestPki, softhsm: SoftHsmToken) -> Iterator[Desk]:
    with desk_server(tmp_path_factory.mktemp("desk"), pki, BATCH + SPARE + FIFTY) as running:
        yield running


def active_step(desk: Desk, tracking: str) -> tuple[int, str]:
    with desk.database.session() as s:
        application = s.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None
        step = next(st for st in application.steps if st.status == "active")
        return step.position, application.status


def preparations(desk: Desk) -> list[PreparedSignature]:
    with desk.database.session() as s:
        return list(s.scalars(select(PreparedSignature)))


# --- refusals first, while everything is pending ------------------------------------------------------------------


def test_wrong_pin_signs_nothing(desk: Desk, softhsm: SoftHsmToken) -> None:
    run = agent(desk, softhsm, "demo.signer", "engineering", "sign", *desk.tracking[:2], pin="0000")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "الرقم السري للشريحة غير صحيح" in run.stdout and "The token PIN is incorrect." in run.stdout
    assert "Nothing was signed." in run.stdout
    assert [active_step(desk, t) for t in desk.tracking[:2]] == [(1, "awaiting_signature")] * 2
    assert preparations(desk) == []


def test_a_certificate_not_registered_for_the_official_is_refused(desk: Desk, softhsm: SoftHsmToken) -> None:
    """The head of engineering's agent pointed at the council head's key on the token."""
    run = agent(desk, softhsm, "demo.signer", "council", "sign", desk.tracking[0])
    assert run.returncode == 1, run.stdout + run.stderr
    assert "شهادة التوقيع غير مسجلة لهذا الموظف في النظام." in run.stdout
    assert "[certificate_unregistered]" in run.stdout and "Signed 0 of 1; 1 refused." in run.stdout
    assert active_step(desk, desk.tracking[0]) == (1, "awaiting_signature")
    assert preparations(desk) == []


def _client(desk: Desk, user: str = "demo.signer") -> DeskClient:
    return DeskClient(desk.base, desk.tokens[user])


def _prepare(desk: Desk, pki: TestPki, tracking: str) -> dict[str, object]:
    answer = _client(desk).prepare(pki.cert("engineering").dump(), [tracking])
    assert answer["refused"] == [], answer
    (prepared,) = answer["prepared"]
    return dict(prepared)


def test_a_signature_over_other_bytes_is_refused(desk: Desk, pki: TestPki, softhsm: SoftHsmToken) -> None:
    tracking = desk.tracking[BATCH]
    prepared = _prepare(desk, pki, tracking)
    with open_signer(softhsm.credential("engineering")) as token:
        wrong = sign_raw(token, base64.b64decode(str(prepared["to_sign"])) + b"-not-what-was-prepared")
    answer = _client(desk).complete([(int(str(prepared["prepared_id"])), wrong)])
    assert answer["signed"] == []
    (refusal,) = answer["refused"]
    assert refusal["code"] == "signature_mismatch"
    assert refusal["tracking_number"] == tracking
    assert refusal["error_ar"].startswith("التوقيع المرسل لا يطابق المستند المُعد للتوقيع")
    assert active_step(desk, tracking) == (1, "awaiting_signature")


def test_an_altered_prepared_document_is_refused(desk: Desk, pki: TestPki, softhsm: SoftHsmToken) -> None:
    tracking = desk.tracking[BATCH + 1]
    prepared = _prepare(desk, pki, tracking)
    (row,) = [p for p in preparations(desk) if p.id == prepared["prepared_id"]]
    path = open_store(Settings.from_env(desk.env).storage_url).path_for(row.prepared_pdf_sha256)  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    at = data.index(b"/Reason")
    data[at + 9] ^= 0x01  # one letter of the reason, inside the signed byte range
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    with open_signer(softhsm.credential("engineering")) as token:
        value = sign_raw(token, base64.b64decode(str(prepared["to_sign"])))
    answer = _client(desk).complete([(int(str(prepared["prepared_id"])), value)])
    assert answer["signed"] == []
    (refusal,) = answer["refused"]
    assert refusal["code"] == "prepared_document_altered"
    assert "The prepared document changed in the archive" in refusal["error"]
    assert active_step(desk, tracking) == (1, "awaiting_signature")


def test_an_expired_preparation_is_refused_and_prepared_again_without_debris(
    desk: Desk, pki: TestPki, softhsm: SoftHsmToken
) -> None:
    tracking = desk.tracking[BATCH + 2]
    first = _prepare(desk, pki, tracking)
    database_file = Settings.from_env(desk.env).database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database_file) as db:  # the clock moved past the preparation's lifetime
        db.execute("UPDATE prepared_signatures SET expires_at = ? WHERE id = ?",
                   ((datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                    first["prepared_id"]))
    with open_signer(softhsm.credential("engineering")) as token:
        value = sign_raw(token, base64.b64decode(str(first["to_sign"])))
    answer = _client(desk).complete([(int(str(first["prepared_id"])), value)])
    assert [r["code"] for r in answer["refused"]] == ["preparation_expired"]
    assert "prepare it again" in answer["refused"][0]["error"]
    assert active_step(desk, tracking) == (1, "awaiting_signature")
    old_key = next(p.prepared_pdf_sha256 for p in preparations(desk) if p.id == first["prepared_id"])

    # the agent prepares it again and signs: the old preparation is gone, its PDF left to the sweeper
    run = agent(desk, softhsm, "demo.signer", "engineering", "sign", tracking)
    assert run.returncode == 0, run.stdout + run.stderr
    assert active_step(desk, tracking) == (2, "awaiting_signature")
    assert all(p.id != first["prepared_id"] for p in preparations(desk))
    settings = Settings.from_env(desk.env)
    with desk.database.session() as s:
        report = sweep_unreferenced(s, open_store(settings.storage_url), grace=timedelta(0),
                                    now=datetime.now(UTC) + timedelta(seconds=5))
    assert old_key in report.deleted


# --- the batch ----------------------------------------------------------------------------------------------------


def test_a_batch_is_signed_by_two_officials_with_one_pin_each(desk: Desk, pki: TestPki, softhsm: SoftHsmToken,
                                                              tmp_path: Path) -> None:
    batch = desk.tracking[:BATCH]
    listed = agent(desk, softhsm, "demo.signer", "engineering", "list")
    assert listed.returncode == 0 and all(t in listed.stdout for t in batch), listed.stdout

    saved = tmp_path / "first.pdf"
    opened = agent(desk, softhsm, "demo.signer", "engineering", "open", batch[0], "--output", str(saved), "--no-view")
    assert opened.returncode == 0 and saved.read_bytes().startswith(b"%PDF-"), opened.stdout

    first = agent(desk, softhsm, "demo.signer", "engineering", "sign", *batch)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("✓") == BATCH and f"Signed {BATCH} of {BATCH}; 0 refused." in first.stdout
    assert [active_step(desk, t)[0] for t in batch] == [2] * BATCH

    second = agent(desk, softhsm, "demo.council", "council", "sign", "--all")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("issued") >= BATCH

    with desk.database.session() as s:
        apps = list(s.scalars(select(Application).where(Application.tracking_number.in_(batch))))
        assert {a.status for a in apps} == {"issued"}
        store = open_store(Settings.from_env(desk.env).storage_url)
        permits, step_ids = [], set()
        for application in apps:
            steps = s.scalars(select(WorkflowStep).where(WorkflowStep.application_id == application.id)).all()
            step_ids.update(st.id for st in steps)
            permits.append(store.get_bytes(max(steps, key=lambda st: st.position).signed_pdf_sha256 or ""))
    assert not [p for p in preparations(desk) if p.step_id in step_ids]  # finished preparations are gone
    for i, pdf in enumerate(permits):
        reader = PdfFileReader(io.BytesIO(pdf))
        sigs = reader.embedded_regular_signatures
        assert len(sigs) == 2
        for sig in sigs:
            status = validate_pdf_signature(sig, pki.validation_context())
            assert status.bottom_line, status.pretty_print_details()
        assert set(signature_levels(pdf).values()) == {"B-LT"}
        path = tmp_path / f"permit-{i}.pdf"
        path.write_bytes(pdf)
        result = subprocess.run(["pdfsig", "-nocert", "-no-ocsp", str(path)], capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0 and result.stdout.count("Signature is Valid.") == 2, result.stdout
        assert "Total document signed" in result.stdout

    # a permit the agent signed without opening it first was prepared by the agent's call: its QR is sealed too
    unopened = next(pdf for app, pdf in zip(apps, permits, strict=True) if app.tracking_number != batch[0])
    facts = sealed_facts_of(unopened, tmp_path, Settings.from_env(desk.env).sealing_key_path)
    assert facts.permit_number.startswith("SOH01-")
    assert bound_part(unopened, facts.pdf_sha256 or "") == "first_revision"

    check_the_verification_page_shows_the_level_before_and_after_the_b_lta_timestamp(desk, pki, tmp_path)


def sealed_facts_of(pdf: bytes, tmp: Path, key_path: Path) -> SealedFacts:
    """The facts sealed in the QR of ``pdf``'s first page, read from a 150 dpi render as a phone would."""
    png = rasterise(pdf, tmp, dpi=150)
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True, timeout=60,
                             check=True).stdout.strip()
    public = load_sealing_key(key_path, create=False).private.public_key()
    return verify(decoded, {key_id(public): public})


def test_the_server_never_held_a_private_key(desk: Desk, pki: TestPki) -> None:
    """Nothing in the server's data directory (database, archive, settings) holds key material of the signers."""
    secrets = []
    for label in ("engineering", "council"):
        key = serialization.load_pem_private_key(pki.key_path(label).read_bytes(), None)
        if isinstance(key, rsa.RSAPrivateKey):
            d = key.private_numbers().d
            secrets.append(d.to_bytes((d.bit_length() + 7) // 8, "big"))
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            secrets.append(key.private_numbers().private_value.to_bytes(32, "big"))
    assert "SOFTHSM2_CONF" not in desk.env and desk.env["SIJILL_PKCS11_MODULE"] == ""
    files = [p for p in desk.data_dir.rglob("*") if p.is_file()]
    assert files
    # the one private key the server does hold is its own seal for audit checkpoints and QR payloads, never a
    # signer's: it is exempt from the PEM check below, not from the signers' secrets
    sealing_key = Settings.from_env(desk.env).sealing_key_path.resolve()
    for path in files:
        data = path.read_bytes()
        if path.resolve() != sealing_key:
            assert b"PRIVATE KEY" not in data, path
        assert not path.name.endswith((".p12", ".pfx", ".key")), path
        for secret in secrets:
            assert secret not in data, path


def check_the_verification_page_shows_the_level_before_and_after_the_b_lta_timestamp(
    desk: Desk, pki: TestPki, tmp_path: Path
) -> None:
    """Part of the batch test (it needs the permits that test issues; as a test of its own it failed whenever
    pytest-xdist ran it on another worker than the batch)."""
    import re
    import urllib.request

    from signing.renewal import renew_timestamps

    settings = Settings.from_env(desk.env)
    store = open_store(settings.storage_url)
    with desk.database.session() as s:
        application = s.scalar(select(Application).where(Application.tracking_number == desk.tracking[0]))
        assert application is not None and application.status == "issued"
        permit = s.scalar(select(Permit).where(Permit.application_id == application.id))
        assert permit is not None
        number, key = permit.permit_number, permit.current_pdf_sha256
    (tmp_path / "p.pdf").write_bytes(store.get_bytes(key))
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    # the printed link may wrap at a hyphen of its token: read it with the line breaks taken out (32 characters)
    match = re.search(r"/v/[A-Z0-9-]+/[A-Za-z0-9_-]{32}", re.sub(r"\s+", "", text))
    assert match is not None, text

    def page() -> str:
        with urllib.request.urlopen(desk.base + match.group(0), timeout=60) as response:
            return str(response.read().decode("utf-8"))

    before = page()
    assert number in before and before.count("PAdES B-LT<") == 2, before

    report = renew_timestamps(desk.database, store, timestamp_url=pki.tsa_url,
                              validation_context=lambda: pki.validation_context(), window=timedelta(days=90))
    assert number in report.renewed and report.failed == {}
    after = page()
    assert after.count("PAdES B-LTA<") == 2, after


def test_fifty_permits_are_signed_with_one_pin_entry(desk: Desk, softhsm: SoftHsmToken) -> None:
    fifty = desk.tracking[BATCH + SPARE:]
    assert len(fifty) == FIFTY
    run = agent(desk, softhsm, "demo.signer", "engineering", "sign", *fifty)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("✓") == FIFTY and f"Signed {FIFTY} of {FIFTY}; 0 refused." in run.stdout
    assert [line.split("]")[0] for line in run.stdout.splitlines() if "✓" in line] == [
        f"[{i}/{FIFTY}" for i in range(1, FIFTY + 1)
    ]
    assert {active_step(desk, t) for t in fifty} == {(2, "awaiting_signature")}


def test_api_errors_are_json_with_a_reason(desk: Desk) -> None:
    import json
    import urllib.error
    import urllib.request

    def post(path: str, body: dict[str, object], token: str | None) -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(desk.base + path, data=json.dumps(body).encode(), headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    token = desk.tokens["demo.signer"]
    status, body = post("/api/v1/signing/prepare", {"certificate": "bm90IGEgY2VydA==", "tracking_numbers": ["x"]},
                        token)
    assert (status, body["code"]) == (400, "bad_certificate") and body["error_ar"]
    status, body = post("/api/v1/signing/complete", {"signatures": [{"prepared_id": 1, "signature": "@@"}]}, token)
    assert (status, body["code"]) == (400, "bad_signature_encoding")
    status, body = post("/api/v1/signing/complete", {"signatures": [{"prepared_id": 999999, "signature": "AAAA"}]},
                        token)
    assert status == 200 and [r["code"] for r in body["refused"]] == ["preparation_not_found"]  # type: ignore[union-attr]
    status, body = post("/api/v1/signing/prepare", {"certificate": "AAAA", "tracking_numbers": ["x"]}, None)
    assert status == 401 and "error" in body
