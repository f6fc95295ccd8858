"""The permit's sealed payload: the permit's public facts signed by the centre's sealing key, checkable offline.

Why: the online page (``/v/<number>/<token>``) needs the server. A citizen, a bank or an inspector without network
needs something on the paper itself that a forger cannot make. The payload is that: a few facts, signed with the
system's Ed25519 sealing key (``archive/sealing.py``, ``SIJILL_SEALING_KEY_FILE``; not an official's token), so anyone
holding the public key checks it with no call to us.

Envelope (standards, not our own format): a COSE_Sign1 (RFC 9052, CBOR tag 18) whose payload is a CWT claims map
(RFC 8392), as the EU Digital COVID Certificate does; algorithm EdDSA (``-8``) and the key id (``kid``, the first
8 bytes of SHA-256 of the raw public key) in the protected header, so keys can rotate and an old paper still names
the key that sealed it. Unlike the DCC, no zlib and no base45: the payload travels in a URL fragment of a QR that is
in byte mode anyway (the URL has lower-case letters), where base45's space is not allowed and URL-safe base64 (no
padding) is shorter; zlib gains nothing on ~180 bytes that are mostly a signature and Arabic text. Every byte counts:
the QR must still decode from a 150 dpi print. The text form is ``SJ1:<base64url>``.

Claims: ``iat`` (6) the issue date and ``exp`` (4) the expiry date (midnight UTC; absent for permits with no term),
and the private claim ``-70001``: ``{1: permit number, 2: holder name as the public page shows it (masked,
:func:`mask_name`), 3: service name (Arabic)}`` and, only in a payload sealed over an issued PDF, ``4``: the SHA-256
of that PDF.

What it proves, and what it does not
------------------------------------
A document cannot hold its own hash, and the QR is printed *inside* the permit's PDF, which officials then sign. So
the issuing path (``workflow.routing.prepare_permit``) seals the hash of the permit's **first revision**: the
rendered permit with its empty signature fields and the QR's place left blank. The QR is then drawn in an
incremental update (``signing.permit.stamp_qr``) and the officials sign over both, so the issued PDF and every later
state of it (each renewal) *start with* exactly the bytes the payload vouches for (:func:`bound_part` finds them).
The payload in the permit's QR (``<verification URL>#SJ1:...``; a browser never sends the fragment, the online page
still opens) therefore proves that the centre sealed these facts for this permit number, that the paper's printed
facts match them if the reader compares them, and, given the file, that the file's first revision is the permit the
centre rendered. It does not prove what was added after that revision (the QR, the signatures, the timestamps: their
check is the PAdES validation of the online page or a PDF reader), nor that the permit is still valid today
(revocation needs the online page or the signed revocation list of ``signing/revocations.py``). Older permits (and
any permit prepared without the sealing key) carry the facts without ``4``. ``seal`` with ``pdf_sha256`` of a whole
file makes a payload bound to that exact file (a verification card).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signing.public_name import mask_name

__all__ = [
    "PREFIX",
    "PayloadError",
    "SealedFacts",
    "bound_part",
    "jwk_set",
    "key_id",
    "keys_from_jwk_set",
    "mask_name",
    "open_sign1",
    "revision_ends",
    "seal",
    "sign1",
    "verify",
]

PREFIX = "SJ1:"
MAX_TEXT = 2048
"""Longest payload text accepted (a QR holds at most ~2,900 bytes; ours are ~300)."""
MAX_KEYS = 64
MAX_BOUND_REVISIONS = 8
"""Revision ends of a file tried as the sealed first revision (rendered, then its signature fields: two or three)."""
CLAIM_PERMIT = -70001
ALG_EDDSA = -8
COSE_SIGN1_TAG = 18


class PayloadError(ValueError):
    """The payload is not a genuine sealed payload; ``reason`` is a short code, ``str()`` an English sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SealedFacts:
    """What a valid payload says."""

    permit_number: str
    holder: str
    service_ar: str
    issued_on: date
    expires_on: date | None
    pdf_sha256: str | None
    kid: str
    """Hex key id of the key that sealed it."""

    def expired(self, today: date) -> bool:
        return self.expires_on is not None and today > self.expires_on


def key_id(public: Ed25519PublicKey) -> bytes:
    """The first 8 bytes of SHA-256 of the raw public key: short enough for a QR, enough to pick among our keys."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:8]


def seal(private: Ed25519PrivateKey, *, permit_number: str, holder_name: str, service_ar: str,
         issued_on: date, expires_on: date | None, pdf_sha256: str | None = None) -> str:
    """The ``SJ1:...`` text of a payload over these facts. ``holder_name`` is the full name; it is masked here
    (:func:`mask_name`), so the payload never says more than the public page."""
    facts: dict[int, Any] = {1: permit_number, 2: mask_name(holder_name), 3: service_ar}
    if pdf_sha256 is not None:
        digest = bytes.fromhex(pdf_sha256)
        if len(digest) != 32:
            raise ValueError("pdf_sha256 must be 64 hex digits.")
        facts[4] = digest
    claims: dict[int, Any] = {6: _midnight(issued_on), CLAIM_PERMIT: facts}
    if expires_on is not None:
        claims[4] = _midnight(expires_on)
    message = sign1(private, cbor2.dumps(claims))
    return PREFIX + base64.urlsafe_b64encode(message).rstrip(b"=").decode("ascii")


def sign1(private: Ed25519PrivateKey, payload: bytes, *, content_type: str | None = None) -> bytes:
    """A tagged COSE_Sign1 (EdDSA, ``kid`` and, if given, the content type in the protected header) over
    ``payload``: the one envelope of everything the sealing key signs for offline readers.

    ``content_type`` (header label 3) separates kinds of sealed documents: the revocation list names its own, so a
    verifier of one kind never accepts the other (``signing/revocations.py``)."""
    header: dict[int, Any] = {1: ALG_EDDSA, 4: key_id(private.public_key())}
    if content_type is not None:
        header[3] = content_type
    protected = cbor2.dumps(header)
    signature = private.sign(_sig_structure(protected, payload))
    return bytes(cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])))


def open_sign1(message: bytes, keys: Mapping[bytes, Ed25519PublicKey]) -> tuple[Mapping[Any, Any], bytes, bytes]:
    """(protected header, payload, kid) of a COSE_Sign1 that one of ``keys`` signed; :class:`PayloadError`
    (``malformed``, ``unknown_key``, ``bad_signature``) otherwise. The caller bounds ``message``'s size."""
    try:
        tagged = cbor2.loads(message)
    except (ValueError, cbor2.CBORDecodeError, TypeError, RecursionError):
        raise PayloadError("malformed", "The payload is damaged or not a Sijill payload.") from None
    protected_bytes, protected, payload, signature = _unpack(tagged)
    kid = protected.get(4)
    if protected.get(1) != ALG_EDDSA or not isinstance(kid, bytes):
        raise PayloadError("malformed", "The payload's algorithm or key id is not one Sijill uses.")
    public = keys.get(kid)
    if public is None:
        raise PayloadError("unknown_key", f"The payload was sealed by a key that is not in the key set ({kid.hex()}).")
    try:
        public.verify(signature, _sig_structure(protected_bytes, payload))
    except InvalidSignature:
        raise PayloadError("bad_signature", "The seal does not match the facts: the payload was altered or forged.") \
            from None
    return protected, payload, kid


def verify(text: str, keys: Mapping[bytes, Ed25519PublicKey]) -> SealedFacts:
    """The facts of a genuine payload sealed by one of ``keys`` (kid → key); :class:`PayloadError` otherwise.

    ``text`` may be the payload itself or the whole QR text (``https://…/v/<n>/<token>#SJ1:…``). Bounded: at most
    :data:`MAX_TEXT` characters in.
    """
    if not isinstance(text, str):
        raise PayloadError("malformed", "The payload is not text.")
    text = text.strip()
    if "#" in text:
        text = text.rsplit("#", 1)[1]
    if len(text) > MAX_TEXT:
        raise PayloadError("too_large", "The payload is too long to be a Sijill payload.")
    if not text.startswith(PREFIX):
        raise PayloadError("no_payload", "There is no Sijill sealed payload in this text (it starts with SJ1:).")
    body = text[len(PREFIX):]
    try:
        message = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise PayloadError("malformed", "The payload is damaged or not a Sijill payload.") from None
    protected, payload, kid = open_sign1(message, keys)
    if 3 in protected:  # another kind of sealed document (a revocation list), not a permit's facts
        raise PayloadError("malformed", "This is not a permit's sealed payload.")
    return _facts(payload, kid)


def bound_part(pdf: bytes, pdf_sha256: str) -> str | None:
    """Which part of ``pdf`` has the sealed SHA-256: ``"file"`` (the whole file), ``"first_revision"`` (a prefix
    ending at one of its first :data:`MAX_BOUND_REVISIONS` revision ends: the permit as rendered, before the QR and
    the signatures were added), or None (not the sealed permit)."""
    if hashlib.sha256(pdf).hexdigest() == pdf_sha256:
        return "file"
    for end in revision_ends(pdf)[:MAX_BOUND_REVISIONS]:
        if hashlib.sha256(pdf[:end]).hexdigest() == pdf_sha256:
            return "first_revision"
    return None


def revision_ends(pdf: bytes) -> list[int]:
    """Where each revision of ``pdf`` may end: after each ``%%EOF`` and after its end-of-line, if any (a writer
    appending an update may or may not add one)."""
    ends: list[int] = []
    at = pdf.find(b"%%EOF")
    while at >= 0:
        end = at + 5
        ends.append(end)
        if pdf[end:end + 2] == b"\r\n":
            ends.append(end + 2)
        elif pdf[end:end + 1] in (b"\n", b"\r"):
            ends.append(end + 1)
        at = pdf.find(b"%%EOF", end)
    return ends


def jwk_set(publics: Iterable[Ed25519PublicKey]) -> dict[str, Any]:
    """A JWK set (RFC 7517/8037) of the sealing public keys, each with its ``kid`` (URL-safe base64 of the 8 bytes)."""
    keys = []
    for public in publics:
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys.append({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                     "kid": _b64(key_id(public)), "x": _b64(raw)})
    return {"keys": keys}


def keys_from_jwk_set(data: bytes | str) -> dict[bytes, Ed25519PublicKey]:
    """kid → key from a JWK set as :func:`jwk_set` writes it; :class:`PayloadError` (``bad_keys``) if unusable."""
    try:
        document = json.loads(data)
        entries = document["keys"]
        if not isinstance(entries, list) or len(entries) > MAX_KEYS:
            raise ValueError("keys")
        keys: dict[bytes, Ed25519PublicKey] = {}
        for entry in entries:
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
                continue
            public = Ed25519PublicKey.from_public_bytes(_unb64(entry["x"]))
            if _unb64(entry["kid"]) != key_id(public):
                raise ValueError("a kid does not match its key")
            keys[key_id(public)] = public
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PayloadError("bad_keys", f"The key set is not a JWK set of Ed25519 keys: {exc}.") from None
    if not keys:
        raise PayloadError("bad_keys", "The key set has no Ed25519 key.")
    return keys


# --- inside ---------------------------------------------------------------------------------------------------------


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4: what a COSE_Sign1 signs (no external data)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _unpack(tagged: Any) -> tuple[bytes, Mapping[Any, Any], bytes, bytes]:
    bad = PayloadError("malformed", "The payload is not a COSE_Sign1 message.")
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != COSE_SIGN1_TAG:
        raise bad
    parts = tagged.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:  # cbor2 6 decodes arrays as tuples
        raise bad
    protected_bytes, _unprotected, payload, signature = parts
    if not all(isinstance(p, bytes) for p in (protected_bytes, payload, signature)):
        raise bad
    try:
        protected = cbor2.loads(protected_bytes)
    except (ValueError, cbor2.CBORDecodeError):
        raise bad from None
    if not isinstance(protected, Mapping):
        raise bad
    return protected_bytes, protected, payload, signature


def _facts(payload: bytes, kid: bytes) -> SealedFacts:
    try:
        claims = cbor2.loads(payload)
        facts = claims[CLAIM_PERMIT]
        digest = facts.get(4)
        expires = claims.get(4)
        return SealedFacts(
            permit_number=str(facts[1]), holder=str(facts[2]), service_ar=str(facts[3]),
            issued_on=_day(claims[6]), expires_on=_day(expires) if expires is not None else None,
            pdf_sha256=digest.hex() if isinstance(digest, bytes) and len(digest) == 32 else None, kid=kid.hex(),
        )
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, OSError, cbor2.CBORDecodeError):
        raise PayloadError("malformed", "The sealed claims are not a Sijill permit's facts.") from None


def _day(timestamp: object) -> date:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise TypeError("a date claim must be an integer")
    return datetime.fromtimestamp(timestamp, UTC).date()


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
