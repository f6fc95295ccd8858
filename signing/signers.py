"""Where an official's signing key lives, and how to open it for a signature.

Officials sign with a USB token (PKCS#11: the key never leaves the device) issued by a licensed CA; development and
the DEMO use a PKCS#12 file. Both become one :class:`LoadedSigner` (the pyHanko ``Signer``, the signing certificate
and the chain to embed), opened by :func:`open_signer` as a context manager so that a token session is always
closed, even when signing fails halfway.

Loading is the expensive part (decrypting a PKCS#12 RSA key takes ~40 ms, opening a token session logs in), so a
caller that signs several documents for the same official opens the signer once and reuses it inside the ``with``.

Every failure an official can cause or fix (wrong PIN, token unplugged, wrong passphrase) becomes a
:class:`~signing.errors.SigningRefused` with a specific code; nothing here prints or logs secrets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import keys as asn1_keys
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import SigningRefused

if TYPE_CHECKING:
    from pkcs11 import Session

__all__ = [
    "Credential",
    "LoadedSigner",
    "Pkcs11Credential",
    "Pkcs12Credential",
    "open_signer",
    "sign_raw",
]


@dataclass(frozen=True)
class Pkcs12Credential:
    """A PKCS#12 (.p12 / .pfx) file holding key, certificate and CA chain: development and DEMO signers."""

    path: Path
    passphrase: bytes = field(repr=False)


@dataclass(frozen=True)
class Pkcs11Credential:
    """A key on a PKCS#11 token (an official's USB token, or SoftHSM2 in tests).

    The key is found by label and/or id; the certificate by ``cert_label`` / ``cert_id``, defaulting to the key's id
    (tokens written by CAs give key and certificate the same CKA_ID, not always the same label). Tokens usually hold
    only the end-entity certificate, so the CA chain to embed in signatures comes from configuration (``ca_chain``).
    """

    module_path: str
    token_label: str
    pin: str = field(repr=False)
    key_label: str | None = None
    key_id: bytes | None = None
    cert_label: str | None = None
    cert_id: bytes | None = None
    ca_chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if self.key_label is None and self.key_id is None:
            raise ValueError("a PKCS#11 credential needs key_label or key_id")


Credential = Pkcs12Credential | Pkcs11Credential


@dataclass(frozen=True)
class LoadedSigner:
    """An opened credential: ready to sign until its :func:`open_signer` block ends."""

    signer: Signer
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    """The other certificates known with the key (intermediates, root): embedded in the CMS and used to build paths."""

    @property
    def key_algorithm(self) -> str:
        """``"rsa"`` or ``"ec"`` (what the certificate says), for logs and benchmarks."""
        return str(self.certificate.public_key.algorithm)


@contextmanager
def open_signer(credential: Credential) -> Iterator[LoadedSigner]:
    """Open ``credential`` for signing; a PKCS#11 session is closed when the block ends.

    Raises :class:`SigningRefused` with ``bad_passphrase``, ``credential_unreadable``, ``wrong_pin``, ``pin_locked``,
    ``token_not_found``, ``key_not_found`` or ``certificate_not_found``.
    """
    if isinstance(credential, Pkcs12Credential):
        yield _load_pkcs12(credential)
    elif isinstance(credential, Pkcs11Credential):
        with _open_pkcs11(credential) as loaded:
            yield loaded
    else:  # pragma: no cover - guarded by the type checker
        raise TypeError(f"not a signing credential: {type(credential).__name__}")


def sign_raw(loaded: LoadedSigner, data: bytes, digest_algorithm: str = "sha256") -> bytes:
    """The raw signature of ``data`` (hashed with ``digest_algorithm``) by the opened key: RSA PKCS#1 v1.5 or DER
    ECDSA, as the certificate's key type says. The desk agent signs prepared CMS signed attributes with it.

    Token errors become ``credential_unreadable`` (the token was pulled out, the session died).
    """
    try:
        return bytes(asyncio.run(loaded.signer.async_sign_raw(data, digest_algorithm)))
    except Exception as exc:
        if type(exc).__module__.startswith("pkcs11"):
            raise SigningRefused("credential_unreadable", type(exc).__name__) from None
        raise


# --- PKCS#12 -------------------------------------------------------------------------------------------------------


def _load_pkcs12(credential: Pkcs12Credential) -> LoadedSigner:
    try:
        data = credential.path.read_bytes()
    except OSError as exc:
        raise SigningRefused("credential_unreadable", f"{credential.path}: {exc.strerror}") from None
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, credential.passphrase or None)
    except ValueError:
        # cryptography says "Invalid password or PKCS12 data" for both; tell them apart by the structure, so an
        # official is not told to retype a passphrase for a file that is simply damaged.
        raise SigningRefused(
            "bad_passphrase" if _is_pkcs12_structure(data) else "credential_unreadable",
            f"{credential.path}: cannot decrypt",
        ) from None
    if key is None or cert is None:
        raise SigningRefused("credential_unreadable", f"{credential.path}: holds no key and certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                      | ed448.Ed448PrivateKey):
        raise SigningRefused("credential_unreadable", f"{credential.path}: unsupported key type")
    key_info = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )
    certificate = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    chain = tuple(x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra)
    signer = _KeptKeySigner(
        key,
        signing_cert=certificate,
        signing_key=key_info,
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    return LoadedSigner(signer=signer, certificate=certificate, chain=chain)


_SoftwareKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


class _KeptKeySigner(SimpleSigner):
    """pyHanko's ``SimpleSigner``, keeping the parsed private key instead of re-parsing it for every signature.

    ``SimpleSigner.sign_raw`` loads the DER key on each call, twice per PDF signature (size estimate, then the real
    one), and cryptography checks an RSA key's consistency on every load: ~50 ms per load for RSA-2048, most of the
    signing time. Everything except the key handling is pyHanko's.
    """

    def __init__(self, private_key: _SoftwareKey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from pyhanko.sign.general import get_pyca_cryptography_hash

        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        key = self._private_key
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if mechanism in {"ed25519", "ed448"} and isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            return key.sign(data)
        return super().sign_raw(data, digest_algorithm)  # PSS and the rest: pyHanko's own path


def _is_pkcs12_structure(data: bytes) -> bool:
    try:
        pfx = asn1_pkcs12.Pfx.load(data)
        pfx["auth_safe"]["content_type"].native  # noqa: B018 - forces parsing
    except (ValueError, TypeError, KeyError):
        return False
    return True


# --- PKCS#11 -------------------------------------------------------------------------------------------------------


@contextmanager
def _open_pkcs11(credential: Pkcs11Credential) -> Iterator[LoadedSigner]:
    import pkcs11.exceptions as p11

    session = _open_session(credential)
    try:
        try:
            loaded = _pkcs11_signer(session, credential)
        except p11.PKCS11Error as exc:  # e.g. the token was pulled out between login and lookup
            raise SigningRefused("credential_unreadable", type(exc).__name__) from None
        yield loaded
    finally:
        try:
            session.close()
        except Exception:  # noqa: S110 - a vanished token must not hide the real error
            pass


def _open_session(credential: Pkcs11Credential) -> Session:
    import pkcs11.exceptions as p11
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import open_pkcs11_session

    try:
        return open_pkcs11_session(
            credential.module_path,
            token_criteria=TokenCriteria(label=credential.token_label),
            user_pin=credential.pin,
        )
    except (p11.PinIncorrect, p11.PinLenRange, p11.PinInvalid) as exc:
        raise SigningRefused("wrong_pin", type(exc).__name__) from None
    except (p11.PinLocked, p11.PinExpired) as exc:
        raise SigningRefused("pin_locked", type(exc).__name__) from None
    except (p11.TokenNotPresent, p11.TokenNotRecognised, p11.NoSuchToken, p11.DeviceRemoved) as exc:
        raise SigningRefused("token_not_found", type(exc).__name__) from None
    except p11.PKCS11Error as exc:
        # pyHanko raises the generic error for "no token with this label"; loading a missing module also lands here.
        message = str(exc)
        if "No token" in message:
            raise SigningRefused("token_not_found", message) from None
        raise SigningRefused("credential_unreadable", message) from None
    except OSError as exc:
        raise SigningRefused("credential_unreadable", str(exc)) from None


def _pkcs11_signer(session: Session, credential: Pkcs11Credential) -> LoadedSigner:
    from pkcs11 import Attribute, KeyType, ObjectClass, PrivateKey
    from pyhanko.sign.pkcs11 import PKCS11Signer

    key_query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    if credential.key_label is not None:
        key_query[Attribute.LABEL] = credential.key_label
    if credential.key_id is not None:
        key_query[Attribute.ID] = credential.key_id
    keys = list(session.get_objects(key_query))
    if len(keys) != 1:
        raise SigningRefused("key_not_found", f"{len(keys)} private keys match")
    key = keys[0]
    assert isinstance(key, PrivateKey)

    # PKCS#11 links a key to its certificate by CKA_ID; labels often differ (the CA names the certificate after the
    # holder, the key after its purpose), so the key's label is only the fallback for tokens that set no id.
    cert_query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.CERTIFICATE}
    if credential.cert_label is not None:
        cert_query[Attribute.LABEL] = credential.cert_label
    if credential.cert_id is not None:
        cert_query[Attribute.ID] = credential.cert_id
    if len(cert_query) == 1:
        key_id = key[Attribute.ID]
        if key_id:
            cert_query[Attribute.ID] = key_id
        else:
            cert_query[Attribute.LABEL] = key[Attribute.LABEL]
    certs = list(session.get_objects(cert_query))
    if len(certs) != 1:
        raise SigningRefused("certificate_not_found", f"{len(certs)} certificates match")
    certificate = x509.Certificate.load(certs[0][Attribute.VALUE])

    signer = PKCS11Signer(
        session,
        signing_cert=certificate,
        ca_chain=list(credential.ca_chain),
        key_label=key[Attribute.LABEL],
        key_id=key[Attribute.ID],
        # Many tokens (SoftHSM2 among them) have no hash-then-sign ECDSA mechanism; raw CKM_ECDSA over a digest that
        # pyHanko computes works everywhere and produces the same signature.
        use_raw_mechanism=key.key_type == KeyType.EC,
    )
    return LoadedSigner(signer=signer, certificate=certificate, chain=tuple(credential.ca_chain))

