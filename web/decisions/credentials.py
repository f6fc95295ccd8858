"""Turn the signing form into a signing credential, and the settings into signing options.

A PKCS#12 file uploaded by an official (development and DEMO) is kept in an anonymous in-memory file
(``memfd_create``) for the length of the request and closed afterwards: it is never written to disk, the object
store or the database, and no copy outlives the request. A PKCS#11 token is the one plugged into the machine that
runs Sijill (``SIJILL_PKCS11_MODULE``), opened with the label and PIN the official types.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from signing.certificates import Revocation, signing_context
from signing.errors import SigningRefused
from signing.signers import Credential, Pkcs11Credential, Pkcs12Credential
from sijill.settings import Settings

log = logging.getLogger(__name__)

PKCS12_MAX_BYTES = 256 * 1024
"""A PKCS#12 file holds a key and a few certificates: a few kilobytes."""


@contextmanager
def in_memory_pkcs12(data: bytes, passphrase: str) -> Iterator[Pkcs12Credential]:
    """A :class:`Pkcs12Credential` over ``data`` held in an anonymous memory file, closed when the block ends."""
    if not data or len(data) > PKCS12_MAX_BYTES:
        raise SigningRefused("credential_unreadable", f"{len(data)} bytes is not a PKCS#12 file")
    fd = os.memfd_create("sijill-pkcs12", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        yield Pkcs12Credential(Path(f"/proc/self/fd/{fd}"), passphrase.encode("utf-8"))
    finally:
        os.close(fd)


def pkcs11_credential(settings: Settings, *, token_label: str, pin: str, key_label: str) -> Pkcs11Credential:
    """The official's key on the token ``token_label`` of the configured module, with the configured CA chain."""
    return Pkcs11Credential(
        module_path=settings.pkcs11_module,
        token_label=token_label,
        pin=pin,
        key_label=key_label,
        ca_chain=tuple(ca_chain(settings.signing_ca_chain)),
    )


@lru_cache(maxsize=4)
def _read_chain(path: str, _mtime: float) -> tuple[asn1_x509.Certificate, ...]:
    data = Path(path).read_bytes()
    certs = []
    for _kind, _headers, der in pem.unarmor(data, multiple=True):
        certs.append(asn1_x509.Certificate.load(der))
    return tuple(certs)


def ca_chain(path: str) -> list[asn1_x509.Certificate]:
    """The certificates of ``SIJILL_SIGNING_CA_CHAIN`` (re-read when it changes); none when unset or unreadable."""
    if not path:
        return []
    try:
        return list(_read_chain(path, Path(path).stat().st_mtime))
    except (OSError, ValueError) as exc:
        log.error("SIJILL_SIGNING_CA_CHAIN %s cannot be read: %s", path, exc)
        return []


@dataclass(frozen=True)
class SigningOptions:
    """How :func:`workflow.routing.sign_step` signs under these settings (PAdES level, revocation checking)."""

    revocation: Revocation
    timestamp_url: str | None
    embed_validation_info: bool

    @property
    def level(self) -> str:
        if not self.timestamp_url:
            return "B-B"
        return "B-LT" if self.embed_validation_info else "B-T"

    def validation_context(self, roots: Sequence[asn1_x509.Certificate],
                           chain: Sequence[asn1_x509.Certificate]) -> Any:
        """For B-LT: trusts the active roots (the TSA's included) and may fetch OCSP/CRL answers to embed."""
        if not self.embed_validation_info:
            return None
        return signing_context(roots, revocation=self.revocation, intermediates=chain)


def signing_options(settings: Settings) -> SigningOptions:
    revocation: Revocation = "off" if settings.signing_revocation == "off" else (
        "require" if settings.signing_revocation == "require" else "soft-fail"
    )
    tsa = settings.tsa_url or None
    return SigningOptions(
        revocation=revocation,
        timestamp_url=tsa,
        embed_validation_info=tsa is not None and revocation != "off",
    )


__all__ = [
    "PKCS12_MAX_BYTES",
    "Credential",
    "SigningOptions",
    "ca_chain",
    "in_memory_pkcs12",
    "pkcs11_credential",
    "signing_options",
]
