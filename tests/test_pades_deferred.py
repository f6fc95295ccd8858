"""Interrupted (deferred) signing at the PDF level: the server prepares, the token signs the signed attributes.

The key is only ever inside SoftHSM2; the test process opens the token like the desk agent would and signs the bytes
:func:`prepare_pdf_signature` returned.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature

from signing.errors import SigningRefused
from signing.pades import add_signature_fields, signature_levels
from signing.pades_deferred import finish_pdf_signature, prepare_pdf_signature
from signing.signers import open_signer, sign_raw
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken
from tests.test_signing import COUNCIL, SLOTS, make_pdf, pdfsig


def prepare(pki: TestPki, key: str, **kwargs: object) -> object:
    pdf = add_signature_fields(make_pdf(), SLOTS)
    return prepare_pdf_signature(
        pdf, pki.cert(key), pki.chain(key), field_name="engineering", stamp=COUNCIL, reason="اعتماد",
        location="سوهاج", certify=True, lock_document=False, timestamp_url=pki.tsa_url, embed_validation_info=True,
        validation_context=pki.validation_context(), **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("key", ["council", "engineering"])  # RSA and EC on the token
def test_prepared_then_signed_on_the_token_validates(key: str, pki: TestPki, softhsm: SoftHsmToken,
                                                     tmp_path: Path) -> None:
    prepared = prepare(pki, key)
    with open_signer(softhsm.credential(key)) as token:
        value = sign_raw(token, prepared.signed_attributes)
    signed = finish_pdf_signature(prepared, pki.cert(key), pki.chain(key), value,  # type: ignore[arg-type]
                                  timestamp_url=pki.tsa_url)
    reader = PdfFileReader(io.BytesIO(signed))
    status = validate_pdf_signature(reader.embedded_regular_signatures[0], pki.validation_context())
    assert status.bottom_line, status.pretty_print_details()
    assert signature_levels(signed) == {"engineering": "B-LT"}
    code, out = pdfsig(signed, tmp_path)
    assert code == 0 and "Signature is Valid." in out, out


def test_a_value_over_other_bytes_is_refused(pki: TestPki, softhsm: SoftHsmToken) -> None:
    prepared = prepare(pki, "council")
    with open_signer(softhsm.credential("council")) as token:
        value = sign_raw(token, prepared.signed_attributes + b"x")
    with pytest.raises(SigningRefused) as refused:
        finish_pdf_signature(prepared, pki.cert("council"), pki.chain("council"), value,  # type: ignore[arg-type]
                             timestamp_url=None)
    assert refused.value.code == "signature_mismatch"
