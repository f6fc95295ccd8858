"""The DEMO signing PKI: chain, DEMO marking, key usage, file modes, Arabic names, idempotency."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.dev_pki import (
    DOCUMENT_SIGNING_OID,
    DemoPki,
    DemoPkiError,
    create_demo_pki,
)

PASSWORD = b"demo-password"
ARABIC_NAME = "منى عبد الرحمن السيد"
SIGNERS = [("clerk", ARABIC_NAME), ("manager", "Ahmed Hassan")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return create_demo_pki(tmp_path_factory.mktemp("pki") / "demo", SIGNERS, PASSWORD)


def _cn(cert: x509.Certificate) -> str:
    (attr,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attr.value)


def _org(cert: x509.Certificate) -> str:
    (attr,) = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attr.value)


def _load(path: Path, password: bytes = PASSWORD) -> pkcs12.PKCS12KeyAndCertificates:
    return pkcs12.load_pkcs12(path.read_bytes(), password)


def _serials(pki: DemoPki) -> dict[str, int]:
    out = {"root": pki.root_certificate().serial_number}
    for s in pki.signers:
        bundle = _load(s.pkcs12_path)
        assert bundle.cert is not None
        out[s.key] = bundle.cert.certificate.serial_number
    return out


def test_layout(pki: DemoPki) -> None:
    assert [s.key for s in pki.signers] == ["clerk", "manager"]
    assert pki.pkcs12_paths == {
        "clerk": pki.directory / "clerk.p12",
        "manager": pki.directory / "manager.p12",
    }
    for path in (pki.root_cert_path, pki.root_key_path, pki.readme_path, *pki.pkcs12_paths.values()):
        assert path.is_file(), path
    assert pki.signer("manager").name == "Ahmed Hassan"
    with pytest.raises(KeyError):
        pki.signer("nobody")


def test_pkcs12_holds_key_cert_and_chain_signed_by_root(pki: DemoPki) -> None:
    root = pki.root_certificate()
    root.verify_directly_issued_by(root)  # self-signed
    for signer in pki.signers:
        bundle = _load(signer.pkcs12_path)
        assert bundle.key is not None and bundle.cert is not None
        cert = bundle.cert.certificate
        cert.verify_directly_issued_by(root)
        assert [c.certificate for c in bundle.additional_certs] == [root]
        assert bundle.key.public_key() == cert.public_key()
        assert isinstance(bundle.key, ec.EllipticCurvePrivateKey)
        assert bundle.key.curve.name == "secp256r1"
        # The key really signs, and the certificate's key verifies it.
        sig = bundle.key.sign(b"document digest", ec.ECDSA(hashes.SHA256()))
        public = cert.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(sig, b"document digest", ec.ECDSA(hashes.SHA256()))
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest
        assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value == (
            x509.SubjectKeyIdentifier.from_public_key(bundle.key.public_key())
        )


def test_everything_is_marked_demo(pki: DemoPki) -> None:
    root = pki.root_certificate()
    assert "DEMO" in _cn(root) and "NOT FOR REAL SIGNATURES" in _cn(root)
    assert _org(root) == "DEMO"
    for signer in pki.signers:
        bundle = _load(signer.pkcs12_path)
        assert bundle.cert is not None
        cert = bundle.cert.certificate
        assert _org(cert) == "DEMO"
        (unit,) = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert "تجريبي" in str(unit.value)
    readme = pki.readme_path.read_text(encoding="utf-8")
    assert "DEMO" in readme and "NOT FOR REAL SIGNATURES" in readme
    assert "تجريبي" in readme and "للتجربة فقط" in readme
    assert PASSWORD.decode() not in readme


def test_key_usage_and_validity(pki: DemoPki) -> None:
    root = pki.root_certificate()
    root_bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root_bc.critical and root_bc.value.ca
    root_ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert root_ku.key_cert_sign and root_ku.crl_sign and not root_ku.digital_signature

    bundle = _load(pki.signer("clerk").pkcs12_path)
    assert bundle.cert is not None
    cert = bundle.cert.certificate
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign and not ku.value.key_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert DOCUMENT_SIGNING_OID in eku and DOCUMENT_SIGNING_OID.dotted_string == "1.3.6.1.5.5.7.3.36"
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=729) < lifetime <= dt.timedelta(days=731)
    assert cert.not_valid_before_utc <= dt.datetime.now(dt.UTC) < cert.not_valid_after_utc
    assert cert.not_valid_after_utc <= root.not_valid_after_utc


def test_secret_files_are_owner_only(pki: DemoPki) -> None:
    for path in (pki.root_key_path, *pki.pkcs12_paths.values()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(pki.root_cert_path.stat().st_mode) == 0o644
    assert not any(p.name.endswith(".tmp") for p in pki.directory.iterdir())


def test_arabic_common_name_round_trips(pki: DemoPki) -> None:
    bundle = pki.load_signer("clerk", PASSWORD)
    assert bundle.cert is not None
    assert _cn(bundle.cert.certificate) == ARABIC_NAME
    assert bundle.cert.friendly_name == ARABIC_NAME.encode("utf-8")
    # and survives DER re-encoding
    der = bundle.cert.certificate.public_bytes(serialization.Encoding.DER)
    assert _cn(x509.load_der_x509_certificate(der)) == ARABIC_NAME


def test_second_call_loads_instead_of_regenerating(pki: DemoPki) -> None:
    before = _serials(pki)
    contents = {p: p.read_bytes() for p in pki.directory.iterdir() if p.is_file()}
    again = create_demo_pki(pki.directory, SIGNERS, PASSWORD)
    assert again == pki
    assert _serials(again) == before
    assert {p: p.read_bytes() for p in contents} == contents


def test_new_signer_is_added_under_the_same_root(tmp_path: Path) -> None:
    first = create_demo_pki(tmp_path, SIGNERS[:1], PASSWORD)
    before = _serials(first)
    second = create_demo_pki(tmp_path, [*SIGNERS, ("auditor", "Auditor")], PASSWORD)
    after = _serials(second)
    assert after["root"] == before["root"] and after["clerk"] == before["clerk"]
    bundle = second.load_signer("auditor", PASSWORD)
    assert bundle.cert is not None
    bundle.cert.certificate.verify_directly_issued_by(second.root_certificate())


def test_wrong_password_fails(pki: DemoPki, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        _load(pki.signer("clerk").pkcs12_path, b"wrong")
    with pytest.raises(ValueError):
        pki.load_signer("manager", b"wrong")
    # Re-opening an existing PKI with the wrong password is refused, not papered over.
    with pytest.raises(DemoPkiError, match="Wrong password"):
        create_demo_pki(pki.directory, SIGNERS, b"wrong")
    with pytest.raises(DemoPkiError, match="Wrong password"):
        create_demo_pki(pki.directory, [("new-one", "New")], b"wrong")
    assert not (pki.directory / "new-one.p12").exists()


def test_renamed_signer_is_refused(pki: DemoPki) -> None:
    with pytest.raises(DemoPkiError, match="not 'Someone Else'"):
        create_demo_pki(pki.directory, [("clerk", "Someone Else")], PASSWORD)


@pytest.mark.parametrize(
    ("signers", "password", "message"),
    [
        ([("../escape", "X")], PASSWORD, "Signer key"),
        ([("a b", "X")], PASSWORD, "Signer key"),
        ([("a", "X"), ("a", "Y")], PASSWORD, "twice"),
        ([("a", " ")], PASSWORD, "Signer name"),
        ([("a", "x" * 65)], PASSWORD, "Signer name"),
        ([("a", "X")], b"", "password"),
    ],
)
def test_bad_arguments(tmp_path: Path, signers: list[tuple[str, str]], password: bytes, message: str) -> None:
    with pytest.raises(DemoPkiError, match=message):
        create_demo_pki(tmp_path / "pki", signers, password)
    assert not (tmp_path / "pki").exists()


def test_partial_directory_is_refused(tmp_path: Path) -> None:
    pki = create_demo_pki(tmp_path, SIGNERS, PASSWORD)
    pki.root_cert_path.unlink()
    with pytest.raises(DemoPkiError, match=r"no demo-root-ca\.pem"):
        create_demo_pki(tmp_path, SIGNERS, PASSWORD)


def test_foreign_root_is_refused(tmp_path: Path, pki: DemoPki) -> None:
    other = create_demo_pki(tmp_path / "other", [], PASSWORD)
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "demo-root-ca.pem").write_bytes(other.root_cert_path.read_bytes())
    (tmp_path / "mixed" / "clerk.p12").write_bytes(pki.signer("clerk").pkcs12_path.read_bytes())
    with pytest.raises(DemoPkiError, match="not issued by this demo root"):
        create_demo_pki(tmp_path / "mixed", SIGNERS[:1], PASSWORD)
