"""The certification authorities Sijill trusts, for signing and for verification.

Trust roots are a signing concern, not a workflow one: the B-LTA renewal (:mod:`signing.renewal`) and the public
verification of a permit read them as well as the signing step. Administrators add them (``/admin/trust-roots``,
``sijill demo``); deactivating a root is a row update, never a delete, so old verdicts can be explained.
"""

from __future__ import annotations

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import TrustRoot, utcnow
from signing.certificates import fingerprint
from signing.errors import SigningRefused

__all__ = ["active_trust_roots", "add_trust_root", "load_certificate"]


def load_certificate(data: bytes | str) -> asn1_x509.Certificate:
    """An X.509 certificate from PEM or DER, parsed fully now; ``ValueError`` when it is not one."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    try:
        if pem.detect(raw):
            _kind, _headers, raw = pem.unarmor(raw)
        cert = asn1_x509.Certificate.load(raw)
        cert.native  # noqa: B018 - parse fully now, not later
    except (ValueError, TypeError, OSError) as exc:
        raise ValueError(str(exc)[:200]) from None
    return cert


def add_trust_root(session: Session, name: str, certificate: bytes | str) -> TrustRoot:
    """Add (or reactivate) a root certification authority; idempotent on the certificate's fingerprint.

    Refused with ``SigningRefused("bad_certificate")`` when ``certificate`` is not one; nothing is written then.
    """
    try:
        cert = load_certificate(certificate)
    except ValueError as exc:
        raise SigningRefused("bad_certificate", str(exc)) from None
    fp = fingerprint(cert)
    row = session.scalar(select(TrustRoot).where(TrustRoot.fingerprint == fp))
    if row is None:
        row = TrustRoot(
            name=(name.strip() or cert.subject.human_friendly)[:200],
            certificate_der=cert.dump(),
            fingerprint=fp,
            active=True,
            added_at=utcnow(),
        )
        session.add(row)
    else:
        row.active = True
    session.flush()
    return row


def active_trust_roots(session: Session) -> list[asn1_x509.Certificate]:
    """The certificates of the active trust roots."""
    ders = session.scalars(select(TrustRoot.certificate_der).where(TrustRoot.active.is_(True))).all()
    return [asn1_x509.Certificate.load(bytes(der)) for der in ders]
