"""Signing at the official's desk: the server prepares, the token signs, the server checks and finishes.

The private key stays on the official's PKCS#11 token; the desk agent (:mod:`signing.agent`, ``sijill-sign``) sends
the token's certificate, receives the bytes to sign, and returns only signature values. This module holds the
server's two halves, over the same routing rules as a signature made with a key on the server
(:func:`workflow.routing.signing_target`, :func:`~workflow.routing.check_official_certificate`,
:func:`~workflow.routing.record_signature`):

* :func:`prepare_step_signature` checks that the official may sign the active step and that the certificate is one
  of theirs (registered, trusted, valid, not revoked), lays the signature out (:mod:`signing.pades_deferred`),
  stores the prepared PDF content-addressed *before* the :class:`~archive.models.PreparedSignature` row that points
  at it, and replaces any earlier preparation of the step (its PDF, unreferenced, goes to the sweeper).
* :func:`finish_step_signature` refuses, before writing anything, a preparation that is unknown or someone else's
  (``preparation_not_found``), expired (``preparation_expired``), prepared from a permit revision that is no longer
  current (``document_changed``), whose stored PDF no longer hashes to its key (``prepared_document_altered``), a
  signature value that does not verify over the prepared signed attributes with the registered certificate's key
  (``signature_mismatch``) and a certificate that stopped being acceptable. Then it embeds the value, adds the
  signature timestamp (B-T), stores the signed revision, deletes the row and advances the step.

Like :mod:`workflow.routing`, these functions flush and never commit: the caller commits, or rolls back on a
refusal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive.models import Application, OfficialCertificate, PreparedSignature, Transition, User, utcnow
from archive.store import ObjectStore
from archive.store.base import IntegrityError, ObjectNotFound
from signing.certificates import Revocation, signing_context
from signing.errors import SigningRefused
from signing.pades import DIGEST
from signing.pades_deferred import PreparedPdf, finish_pdf_signature, prepare_pdf_signature, verify_signature_value
from workflow.routing import (
    active_trust_roots,
    check_official_certificate,
    field_name_for,
    record_signature,
    signing_target,
)

__all__ = [
    "DeskSigningOptions",
    "discard_expired_preparations",
    "finish_step_signature",
    "prepare_step_signature",
]


@dataclass(frozen=True)
class DeskSigningOptions:
    """How signatures from the desk are made (from the settings: the same level as server-side signing)."""

    revocation: Revocation
    timestamp_url: str | None
    embed_validation_info: bool
    ca_chain: tuple[x509.Certificate, ...] = ()
    """Issuing CAs of the tokens (``SIJILL_SIGNING_CA_CHAIN``): embedded in the CMS, used to build the path."""
    ttl: timedelta = timedelta(minutes=15)


def prepare_step_signature(
    session: Session,
    store: ObjectStore,
    application: Application,
    actor: User,
    certificate: x509.Certificate,
    options: DeskSigningOptions,
    *,
    base_url: str | None = None,
    now: datetime | None = None,
    sealing_key: Ed25519PrivateKey | None = None,
) -> PreparedSignature:
    """Prepare ``application``'s active signer step for ``actor``'s token holding ``certificate`` (the permit itself
    first if none is prepared yet, its QR sealed with ``sealing_key``)."""
    now = _aware(now or utcnow())
    target = signing_target(session, store, application, actor, base_url=base_url, now=now, sealing_key=sealing_key)
    chain = [c for c in options.ca_chain if c.dump() != certificate.dump()]
    registered = check_official_certificate(session, actor, certificate, now=now, revocation=options.revocation,
                                            intermediates=chain)
    roots = active_trust_roots(session)
    context = (
        signing_context(roots, revocation=options.revocation, intermediates=chain)
        if options.embed_validation_info else None
    )
    current = store.get_bytes(target.permit.current_pdf_sha256)
    prepared = prepare_pdf_signature(
        current,
        certificate,
        [*chain, *roots],
        field_name=field_name_for(target.step),
        stamp=target.stamp,
        reason=target.reason,
        location=target.location,
        certify=target.certify,
        lock_document=target.lock_document,
        timestamp_url=options.timestamp_url,
        embed_validation_info=options.embed_validation_info,
        validation_context=context,
        signed_at=now,
    )
    key = store.put(prepared.pdf)  # before the row that points at it
    # A step has at most one preparation: the newest replaces the older one, whose PDF the sweeper removes.
    session.execute(delete(PreparedSignature).where(PreparedSignature.step_id == target.step.id))
    row = PreparedSignature(
        step_id=target.step.id,
        permit_id=target.permit.id,
        user_id=actor.id,
        certificate_id=registered.id,
        base_pdf_sha256=target.permit.current_pdf_sha256,
        prepared_pdf_sha256=key,
        document_digest=prepared.document_digest,
        reserved_start=prepared.reserved_start,
        reserved_end=prepared.reserved_end,
        signed_attributes=prepared.signed_attributes,
        digest_algorithm=DIGEST,
        created_at=now,
        expires_at=now + options.ttl,
    )
    session.add(row)
    session.flush()
    return row


def finish_step_signature(
    session: Session,
    store: ObjectStore,
    prepared_id: int,
    actor: User,
    signature_value: bytes,
    options: DeskSigningOptions,
    *,
    now: datetime | None = None,
) -> Transition:
    """Embed ``actor``'s signature value into preparation ``prepared_id`` and complete the step (see module doc)."""
    now = _aware(now or utcnow())
    row = session.get(PreparedSignature, prepared_id)
    if row is None or row.user_id != actor.id:
        raise SigningRefused("preparation_not_found", str(prepared_id))
    application = row.step.application
    target = signing_target(session, store, application, actor, now=now)
    if target.step.id != row.step_id or target.permit.id != row.permit_id:
        raise SigningRefused("preparation_not_found", f"{prepared_id}: the step is no longer the active one")
    if now >= _aware(row.expires_at):
        raise SigningRefused("preparation_expired", f"{prepared_id} expired at {row.expires_at.isoformat()}")
    if target.permit.current_pdf_sha256 != row.base_pdf_sha256:
        raise SigningRefused("document_changed", f"{prepared_id}: the permit has a newer revision")
    pdf = _prepared_pdf(store, row.prepared_pdf_sha256)

    registered: OfficialCertificate = row.certificate
    certificate = x509.Certificate.load(bytes(registered.certificate_der))
    verify_signature_value(certificate, bytes(row.signed_attributes), signature_value)
    chain = [c for c in options.ca_chain if c.dump() != certificate.dump()]
    check_official_certificate(session, actor, certificate, now=now, revocation=options.revocation,
                               intermediates=chain)

    prepared = PreparedPdf(
        pdf=pdf,
        document_digest=bytes(row.document_digest),
        reserved_start=row.reserved_start,
        reserved_end=row.reserved_end,
        signed_attributes=bytes(row.signed_attributes),
    )
    signed = finish_pdf_signature(prepared, certificate, [*chain, *active_trust_roots(session)], signature_value,
                                  timestamp_url=options.timestamp_url)
    key = store.put(signed)  # the signed revision before the rows that point at it
    session.delete(row)
    return record_signature(session, target, actor, certificate, key, now=now)


def discard_expired_preparations(session: Session, *, now: datetime | None = None) -> int:
    """Delete preparations past their expiry (their prepared PDFs become orphans for the sweeper); returns how many."""
    now = _aware(now or utcnow())
    ids: Sequence[int] = session.scalars(
        select(PreparedSignature.id).where(PreparedSignature.expires_at < now)
    ).all()
    if ids:
        session.execute(delete(PreparedSignature).where(PreparedSignature.id.in_(ids)))
        session.flush()
    return len(ids)


def _prepared_pdf(store: ObjectStore, key: str) -> bytes:
    """The prepared document, refused unless it still hashes to its content address."""
    try:
        data = store.get_bytes(key)
    except (IntegrityError, ObjectNotFound) as exc:
        raise SigningRefused("prepared_document_altered", f"{key}: {type(exc).__name__}") from None
    if hashlib.sha256(data).hexdigest() != key:
        raise SigningRefused("prepared_document_altered", key)
    return data


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
