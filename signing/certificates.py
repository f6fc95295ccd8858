"""May this certificate sign for this official, now? Checked before a signature is made, not only after.

A signature made with an expired, revoked or foreign certificate would be worthless to the citizen and would only be
discovered at verification time, so the signing service refuses it up front with a specific reason
(:class:`~signing.errors.SigningRefused`). The checks, cheapest first so that a plain mistake needs no network:

1. validity period at ``at`` (``certificate_not_yet_valid`` / ``certificate_expired``);
2. the certificate is registered for this official: its SHA-256 fingerprint is in the set the administrator
   recorded (``certificate_unregistered``); this binds a token to a person, which a CA chain alone cannot do;
3. the chain to one of the configured trust roots (``certificate_untrusted``), the key usage
   (``certificate_unusable``) and revocation through the OCSP responders and CRL distribution points named in the
   certificates (``certificate_revoked``, or ``revocation_unknown`` when ``revocation="require"`` and no answer
   could be had), all by pyhanko-certvalidator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Collection, Iterable
from typing import Literal

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from signing.errors import SigningRefused

__all__ = ["Revocation", "check_signing_certificate", "fingerprint", "normalise_fingerprint", "signing_context"]

Revocation = Literal["require", "hard-fail", "soft-fail", "off"]
"""How hard to insist on revocation data: ``require`` (every certificate in the path must have a fresh OCSP or CRL
answer: the setting for signing), ``hard-fail`` (checked where the certificate names a source, unreachable is an
error), ``soft-fail`` (unreachable sources are ignored) and ``off`` (no revocation check, offline tests only)."""

#: A signing certificate must allow one of these (qualified certificates carry nonRepudiation / contentCommitment).
SIGNING_KEY_USAGES = frozenset({"non_repudiation", "digital_signature"})


def fingerprint(cert: x509.Certificate | bytes) -> str:
    """SHA-256 of the DER encoding, lowercase hex without separators: how certificates are registered."""
    der = cert if isinstance(cert, bytes) else cert.dump()
    return hashlib.sha256(der).hexdigest()


def normalise_fingerprint(value: str) -> str:
    """Accept ``AB:CD:…`` or spaced forms as shown by browsers and ``openssl x509 -fingerprint``."""
    return "".join(ch for ch in value.lower() if ch in "0123456789abcdef")


def signing_context(
    trust_roots: Iterable[x509.Certificate],
    *,
    revocation: Revocation = "require",
    intermediates: Iterable[x509.Certificate] = (),
    at: dt.datetime | None = None,
) -> ValidationContext:
    """The validation context for checking a signer: only ``trust_roots`` are trusted (never the system store)."""
    if revocation == "off":
        return ValidationContext(trust_roots=list(trust_roots), other_certs=list(intermediates), moment=at,
                                 allow_fetching=False, revocation_mode="soft-fail")
    return ValidationContext(trust_roots=list(trust_roots), other_certs=list(intermediates), moment=at,
                             allow_fetching=True, revocation_mode=revocation)


def check_signing_certificate(
    cert: x509.Certificate,
    *,
    trust_roots: Collection[x509.Certificate],
    registered_fingerprints: Collection[str],
    at: dt.datetime | None = None,
    revocation: Revocation = "require",
    intermediates: Iterable[x509.Certificate] = (),
) -> None:
    """Raise :class:`SigningRefused` unless ``cert`` may sign now for the official who registered it.

    ``at`` defaults to now; a past or future moment is for tests and audits (revocation is still fetched now).
    ``intermediates`` are CA certificates known from the credential (PKCS#12 chain, configured CA bundle).
    """
    moment = at or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        raise ValueError("'at' must be timezone-aware")
    if moment < cert.not_valid_before:
        raise SigningRefused("certificate_not_yet_valid", f"valid from {cert.not_valid_before.isoformat()}")
    if moment > cert.not_valid_after:
        raise SigningRefused("certificate_expired", f"expired {cert.not_valid_after.isoformat()}")

    registered = {normalise_fingerprint(f) for f in registered_fingerprints}
    if fingerprint(cert) not in registered:
        raise SigningRefused("certificate_unregistered", f"sha256 {fingerprint(cert)}")

    if not trust_roots:
        raise SigningRefused("certificate_untrusted", "no trust roots configured")
    context = signing_context(trust_roots, revocation=revocation, intermediates=intermediates, at=at)
    asyncio.run(_validate(cert, context))

    usages = set(cert.key_usage_value.native) if cert.key_usage_value is not None else set(SIGNING_KEY_USAGES)
    if not usages & SIGNING_KEY_USAGES:
        raise SigningRefused("certificate_unusable", f"key usage {sorted(usages)}")


async def _validate(cert: x509.Certificate, context: ValidationContext) -> None:
    try:
        await CertificateValidator(cert, validation_context=context).async_validate_path()
    except RevokedError as exc:
        raise SigningRefused("certificate_revoked", exc.failure_msg) from None
    except ExpiredError as exc:  # the end-entity dates were checked: this is a CA or the moment moved
        raise SigningRefused("certificate_expired", exc.failure_msg) from None
    except NotYetValidError as exc:
        raise SigningRefused("certificate_not_yet_valid", exc.failure_msg) from None
    except InsufficientRevinfoError as exc:
        raise SigningRefused("revocation_unknown", exc.failure_msg) from None
    except (PathBuildingError, InvalidCertificateError) as exc:
        raise SigningRefused("certificate_untrusted", str(exc)) from None
    except (PathValidationError, ValidationError) as exc:  # bad CA signature, forbidden algorithm, ...
        raise SigningRefused("certificate_untrusted", str(exc)) from None
    except ValueError as exc:  # asn1crypto refuses some names (e.g. right-to-left text ending in a bracket)
        raise SigningRefused("certificate_unusable", str(exc)) from None
    finally:
        await context.aclose()
