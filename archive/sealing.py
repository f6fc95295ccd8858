"""The system's sealing key: what makes an audit checkpoint something a database writer cannot forge.

The audit chain's hashes have no key: anyone who can write the database can edit an event and recompute every later
hash and the head row. A checkpoint signed with a key that is *not* in the database closes that gap: to forge one,
the attacker also needs the key.

The key is an Ed25519 private key in a PEM file (``SIJILL_SEALING_KEY_FILE``, default ``<data>/sealing_key.pem``),
made on first use with mode 0600. Keep it off the database host and out of database backups (a mounted secret in
production). Checking a checkpoint needs only the public key, which every checkpoint names by its fingerprint
(:attr:`SealingKey.key_id`); ``sijill audit verify --public-key FILE`` lets an auditor check with a public key they
hold themselves, so a key swapped on the server cannot vouch for itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


class SealingKeyError(ValueError):
    """The sealing key file is unreadable or not an Ed25519 key; the message says which file and why."""


def public_key_id(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: how a checkpoint names the key that signed it."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class VerifyingKey:
    """A public key that checks seals (from the private key, or from a PEM file an auditor holds)."""

    public: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return public_key_id(self.public)

    @property
    def public_pem(self) -> str:
        return public_key_pem(self.public)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_pem_file(cls, path: Path) -> VerifyingKey:
        try:
            loaded = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SealingKeyError(f"The public key file {path} cannot be read as a PEM public key: {exc}.") from None
        if not isinstance(loaded, Ed25519PublicKey):
            raise SealingKeyError(f"The public key in {path} is not an Ed25519 key.")
        return cls(loaded)


@dataclass(frozen=True)
class SealingKey:
    """The private key that signs checkpoints, loaded once per process."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def verifying(self) -> VerifyingKey:
        return VerifyingKey(self.private.public_key())

    @property
    def key_id(self) -> str:
        return self.verifying.key_id

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def load_sealing_key(path: Path, *, create: bool = True) -> SealingKey:
    """The key in ``path``; with ``create`` a new key is written there (0600, atomically) if there is none.

    A new key is logged loudly: on a running system it means the old key was lost or removed, and the checkpoints it
    signed can then only be checked with its public key (``sijill audit verify --public-key``).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise SealingKeyError(f"There is no sealing key at {path} (SIJILL_SEALING_KEY_FILE).") from None
        return _make_key(path)
    except OSError as exc:
        raise SealingKeyError(f"The sealing key {path} cannot be read: {exc.strerror or exc}.") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SealingKeyError(f"The sealing key {path} is not an unencrypted PEM private key: {exc}.") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SealingKeyError(f"The sealing key {path} is not an Ed25519 key.")
    return SealingKey(private, path)


def _make_key(path: Path) -> SealingKey:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        tmp.unlink()
        return load_sealing_key(path, create=False)
    tmp.unlink()
    key = SealingKey(private, path)
    log.warning("made a new audit sealing key %s (key id %s); keep a copy of its public key with the auditors",
                path, key.key_id)
    return key
