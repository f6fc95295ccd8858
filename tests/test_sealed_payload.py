"""The permit's sealed QR payload: sealed with the real sealing key, printed in a real permit, read back from a 150 dpi
render with zbarimg, checked offline by ``sijill verify-qr`` against the published JWK set."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import cbor2
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from archive.sealing import SealingKey, load_sealing_key
from signing.permit import render_permit
from signing.public_name import mask_name
from signing.sealed_payload import PREFIX, PayloadError, jwk_set, key_id, keys_from_jwk_set, seal, verify
from sijill.cli import cli
from sijill.settings import Settings
from tests.signing_samples import FIELDS, sample_facts, verify_url
from tests.test_permit import rasterise
from web.verify.model import mask_name as page_mask_name

HOLDER = "عبد الرحمن محمود سالم"
ISSUED, EXPIRES = date(2026, 12, 5), date(2029, 12, 4)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SealingKey:
    return load_sealing_key(tmp_path_factory.mktemp("keys") / "sealing_key.pem")


def _seal(key: SealingKey, **overrides: object) -> str:
    facts: dict[str, object] = dict(permit_number="SOH01-BP-2026-000045", holder_name=HOLDER,
                                    service_ar="ترخيص بناء", issued_on=ISSUED,
                                    expires_on=EXPIRES)
    facts.update(overrides)
    return seal(key.private, **facts)  # type: ignore[arg-type]


def _keys(key: SealingKey) -> dict[bytes, object]:
    return dict(keys_from_jwk_set(json.dumps(jwk_set([key.private.public_key()]))))


def test_round_trip_shows_only_the_masked_name(key: SealingKey) -> None:
    text = _seal(key)
    facts = verify(text, _keys(key))  # type: ignore[arg-type]
    assert facts.permit_number == "SOH01-BP-2026-000045"
    assert facts.holder == "عبد الرحمن م." == mask_name(HOLDER)
    assert "سالم" not in facts.holder and facts.service_ar == "ترخيص بناء"
    assert (facts.issued_on, facts.expires_on, facts.pdf_sha256) == (ISSUED, EXPIRES, None)
    assert facts.kid == key_id(key.private.public_key()).hex()
    assert len(text) < 400


def test_the_public_page_and_the_payload_mask_names_alike() -> None:
    assert page_mask_name is mask_name  # one function, so the QR can never tell more than the page
    expected = {"محمد أحمد علي": "محمد أ.", "أبو بكر الصديق": "أبو بكر ا.", "منى": "منى", "عبد الله": "عبد الله",
                "  سارة   خالد  ": "سارة خ.", "": "", "عبد الرحمن محمود سالم": "عبد الرحمن م."}
    assert {name: mask_name(name) for name in expected} == expected


def test_a_payload_with_a_pdf_hash_binds_that_file(key: SealingKey) -> None:
    digest = hashlib.sha256(b"issued pdf").hexdigest()
    assert verify(_seal(key, pdf_sha256=digest), _keys(key)).pdf_sha256 == digest  # type: ignore[arg-type]


def _reseal_claims(text: str, edit: object) -> str:
    """The payload with its claims edited and the original signature kept: what a forger without the key makes."""
    message = cbor2.loads(base64.urlsafe_b64decode(text[len(PREFIX):] + "=" * (-len(text) % 4)))
    protected, unprotected, payload, signature = message.value
    claims = {k: dict(v) if isinstance(v, Mapping) else v for k, v in cbor2.loads(payload).items()}
    edit(claims)  # type: ignore[operator]
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims), signature]))
    return PREFIX + base64.urlsafe_b64encode(forged).rstrip(b"=").decode()


@pytest.mark.parametrize("edit", [
    lambda c: c.update({4: 4102358400}),
    lambda c: c[-70001].update({2: "خالد س."}),
    lambda c: c[-70001].update({1: "SOH01-BP-2026-000046"}),
])
def test_an_edited_fact_breaks_the_seal(key: SealingKey, edit: object) -> None:
    with pytest.raises(PayloadError) as caught:
        verify(_reseal_claims(_seal(key), edit), _keys(key))  # type: ignore[arg-type]
    assert caught.value.reason == "bad_signature"


def test_a_look_alike_key_is_not_ours(key: SealingKey) -> None:
    impostor = Ed25519PrivateKey.generate()
    text = seal(impostor, permit_number="SOH01-BP-2026-000045", holder_name=HOLDER, service_ar="ترخيص بناء",
                issued_on=ISSUED, expires_on=None)
    with pytest.raises(PayloadError) as caught:
        verify(text, _keys(key))  # type: ignore[arg-type]
    assert caught.value.reason == "unknown_key"


@pytest.mark.parametrize("text", [
    "", "SJ1:", "SJ1:!!!!", "https://x.example/v/1/2", "SJ1:" + "A" * 5000,
    PREFIX + base64.urlsafe_b64encode(cbor2.dumps([1, 2, 3])).decode(),
    PREFIX + base64.urlsafe_b64encode(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""]))).decode(),
    PREFIX + base64.urlsafe_b64encode(cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -8, 4: b"x" * 8}), {}, b"",
                                                                     b""]))).decode(),
])
def test_hostile_text_is_refused_cleanly(key: SealingKey, text: str) -> None:
    with pytest.raises(PayloadError):
        verify(text, _keys(key))  # type: ignore[arg-type]


def test_a_key_set_with_a_lying_kid_is_refused(key: SealingKey) -> None:
    document = jwk_set([key.private.public_key()])
    document["keys"][0]["kid"] = "AAAAAAAAAAA"
    with pytest.raises(PayloadError):
        keys_from_jwk_set(json.dumps(document))


def test_printed_permit_qr_opens_the_page_and_verifies_offline(key: SealingKey, tmp_path: Path) -> None:
    facts = sample_facts()
    url = verify_url(facts.permit_number)
    payload = seal(key.private, permit_number=facts.permit_number, holder_name=facts.applicant_name,
                   service_ar=facts.service_name_ar, issued_on=facts.issued_on,
                   expires_on=facts.expires_on)
    permit = render_permit(facts, verify_url=url, slots_for=FIELDS, sealed_payload=payload)
    png = rasterise(permit.pdf, tmp_path, dpi=150)
    out = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True, timeout=60, check=True)
    decoded = out.stdout.strip()
    assert decoded == f"{url}#{payload}"  # the page's URL, with the payload in the fragment a browser never sends
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(jwk_set([key.private.public_key()])))

    result = CliRunner().invoke(cli, ["verify-qr", "--image", str(png), "--keys", str(keys_file)])
    assert result.exit_code == 0, result.output
    assert facts.permit_number in result.output and mask_name(facts.applicant_name) in result.output
    assert "GENUINE" in result.output and "ختم صحيح" in result.output
    assert facts.applicant_name not in result.output or mask_name(facts.applicant_name) == facts.applicant_name

    forged = _reseal_claims(payload, lambda c: c.update({4: 4102358400}))
    result = CliRunner().invoke(cli, ["verify-qr", f"{url}#{forged}", "--keys", str(keys_file)])
    assert result.exit_code == 1 and "NOT GENUINE" in result.output and "مزورة" in result.output


def test_cli_says_when_it_cannot_check(key: SealingKey, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    _white_png(blank)
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(jwk_set([key.private.public_key()])))
    assert CliRunner().invoke(cli, ["verify-qr", "--image", str(blank), "--keys", str(keys_file)]).exit_code == 2
    assert CliRunner().invoke(cli, ["verify-qr", _seal(key), "--keys", str(tmp_path / "none.json")]).exit_code == 2
    (tmp_path / "bad.json").write_text("{\"keys\": 5}")
    assert CliRunner().invoke(cli, ["verify-qr", _seal(key), "--keys", str(tmp_path / "bad.json")]).exit_code == 2


def test_cli_compares_a_pdf_with_the_sealed_hash(key: SealingKey, tmp_path: Path) -> None:
    issued = tmp_path / "issued.pdf"
    issued.write_bytes(b"%PDF-1.7 the issued permit")
    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF-1.7 something else")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(jwk_set([key.private.public_key()])))
    text = _seal(key, pdf_sha256=hashlib.sha256(issued.read_bytes()).hexdigest())
    assert CliRunner().invoke(cli, ["verify-qr", text, "--keys", str(keys_file), "--pdf", str(issued)]).exit_code == 0
    result = CliRunner().invoke(cli, ["verify-qr", text, "--keys", str(keys_file), "--pdf", str(other)])
    assert result.exit_code == 1 and "not the issued copy" in result.output


def _white_png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (200, 200), "white").save(path)


def test_well_known_keys_are_public_and_match_the_sealing_key(client: FlaskClient, settings: Settings) -> None:
    response = client.get("/.well-known/sijill-keys.json")
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]
    keys = keys_from_jwk_set(response.data)
    sealing = load_sealing_key(settings.sealing_key_path, create=False)
    text = seal(sealing.private, permit_number="SOH01-BP-2026-000045", holder_name=HOLDER, service_ar="ترخيص بناء",
                issued_on=ISSUED, expires_on=None)
    assert verify(text, keys).kid == key_id(sealing.private.public_key()).hex()
