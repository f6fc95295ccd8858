"""The signed revocation list: which permits were revoked, sealed by the centre's key, for checks with no network.

Why: a permit's sealed QR payload (``signing/sealed_payload.py``) proves the facts the centre sealed, but not that the
permit still stands: a revocation happens after the paper is printed. An inspector without network needs the list
of revoked permits, and needs to know it is ours and how old it is. The list is downloaded while online
(``/.well-known/sijill-revocations``, or embedded in the static offline page) and checked later with the same
published keys as the payloads.

Envelope: the same COSE_Sign1 (RFC 9052) signed by the same Ed25519 sealing key (``kid`` in the protected header),
with the content type :data:`CONTENT_TYPE` in the protected header, so a revocation list can never be passed off as a
permit's payload or the reverse. The payload is a CWT-style claims map: ``iat`` (6) the moment the list was made, and
the private claim :data:`CLAIM_REVOCATIONS` = ``{1: next update, 2: [[permit number, revoked at], …]}`` (times in
seconds since the epoch, UTC), the numbers sorted.

"Next update" (like a CRL's ``nextUpdate``, RFC 5280 §5.1.2.5): the latest moment by which the centre publishes a
newer list. The server makes a fresh list at every revocation and at least every few minutes, so a list fetched
online is never more than minutes behind; ``next_update`` is :data:`VALIDITY` after ``iat``. Before it, a permit
absent from the list was not revoked as of ``iat``; after it, the list is *outdated*: the revocations in it still
count, but absence from it no longer says anything, and readers (``sijill verify-qr --revocations``, the offline
page) say so and ask for a newer list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from archive.models import Permit, PermitStatus
from signing.sealed_payload import PayloadError, open_sign1, sign1

__all__ = [
    "CONTENT_TYPE",
    "Revocation",
    "RevocationList",
    "list_stamp",
    "revoked_permits",
    "seal_revocations",
    "verify_revocations",
]

CONTENT_TYPE = "application/sijill-revocations+cbor"
CLAIM_REVOCATIONS = -70002
VALIDITY = timedelta(days=1)
"""How long after it was made a list stays current (its ``next_update``)."""
MAX_LIST_BYTES = 8 * 1024 * 1024
"""Largest list a reader accepts (~250,000 revocations); a bigger file is refused before it is decoded."""


@dataclass(frozen=True)
class Revocation:
    permit_number: str
    revoked_at: datetime


@dataclass(frozen=True)
class RevocationList:
    """What a genuine list says."""

    issued_at: datetime
    next_update: datetime
    revoked: Mapping[str, datetime]
    """Permit number (upper case) → when it was revoked."""
    kid: str

    def revoked_at(self, permit_number: str) -> datetime | None:
        return self.revoked.get(permit_number.strip().upper())

    def outdated(self, now: datetime) -> bool:
        return now > self.next_update

    @property
    def issued_on(self) -> date:
        return self.issued_at.date()


def revoked_permits(session: Session | Connection) -> list[Revocation]:
    """Every revoked permit, by number: one query on the indexed status column."""
    rows = session.execute(
        select(Permit.permit_number, Permit.revoked_at)
        .where(Permit.status == PermitStatus.REVOKED.value)
        .order_by(Permit.permit_number)
    ).all()
    return [Revocation(number, _aware(at)) for number, at in rows if at is not None]


def list_stamp(session: Session | Connection) -> tuple[int, str]:
    """(how many permits are revoked, the latest revocation time): changes whenever a permit is revoked, by any
    process, so a cached list can be checked against it with one cheap query."""
    count, latest = session.execute(
        select(func.count(Permit.id), func.max(Permit.revoked_at)).where(Permit.status == PermitStatus.REVOKED.value)
    ).one()
    return int(count or 0), latest.isoformat() if latest is not None else ""


def seal_revocations(private: Ed25519PrivateKey, revocations: Iterable[Revocation], *, issued_at: datetime,
                     validity: timedelta = VALIDITY) -> bytes:
    """The COSE_Sign1 bytes of a list of ``revocations`` made at ``issued_at``."""
    issued_at = _aware(issued_at)
    entries = sorted([r.permit_number, _seconds(r.revoked_at)] for r in revocations)
    claims = {6: _seconds(issued_at), CLAIM_REVOCATIONS: {1: _seconds(issued_at + validity), 2: entries}}
    return sign1(private, cbor2.dumps(claims), content_type=CONTENT_TYPE)


def verify_revocations(data: bytes, keys: Mapping[bytes, Ed25519PublicKey]) -> RevocationList:
    """The contents of a genuine list sealed by one of ``keys``; :class:`PayloadError` otherwise (``too_large``,
    ``malformed``, ``unknown_key``, ``bad_signature``, ``not_a_revocation_list``)."""
    if len(data) > MAX_LIST_BYTES:
        raise PayloadError("too_large", "The revocation list is larger than any Sijill list.")
    protected, payload, kid = open_sign1(data, keys)
    if protected.get(3) != CONTENT_TYPE:
        raise PayloadError("not_a_revocation_list", "This sealed document is not a Sijill revocation list.")
    try:
        claims = cbor2.loads(payload)
        body = claims[CLAIM_REVOCATIONS]
        revoked: dict[str, datetime] = {}
        for number, at in body[2]:
            if not isinstance(number, str):
                raise TypeError("a permit number must be text")
            revoked[number.strip().upper()] = _moment(at)
        return RevocationList(issued_at=_moment(claims[6]), next_update=_moment(body[1]), revoked=revoked,
                              kid=kid.hex())
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, OSError, cbor2.CBORDecodeError):
        raise PayloadError("malformed", "The revocation list's contents are not a Sijill revocation list.") from None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seconds(moment: datetime) -> int:
    return int(_aware(moment).timestamp())


def _moment(value: Any) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("a time must be an integer")
    return datetime.fromtimestamp(value, UTC)
