"""Validate the signatures of a PDF and say what the result means, in the shape of an EU DSS "simple report".

``validate_pdf(pdf, trust_roots=...)`` runs pyHanko on every signature of the file and returns a
:class:`ValidationReport`: one overall indication (``TOTAL_PASSED``, ``INDETERMINATE``, ``TOTAL_FAILED``, as in
ETSI EN 319 102-1), one :class:`SignatureReport` per signature with its sub-indication and plain reasons in Arabic and
English for the public verification page, the SHA-256 of the bytes (for the caller's comparison with the archived
copy), and whether anything was appended after the last signature. It never raises on bad input: a non-PDF, a
truncated or damaged file, or a PDF without signatures gives ``TOTAL_FAILED`` / ``FORMAT_FAILURE`` with a reason.

Validation model
----------------
* Trust: only the ``trust_roots`` given (never the operating system's list). Revocation data comes from the PDF's
  Document Security Store when there is one (PAdES B-LT/B-LTA validate offline), and from the network only with
  ``allow_fetching=True``. Revocation checking is "soft-fail": a certificate that names no revocation service, or whose
  service cannot be reached, is not held against the signature; revocation data that *is* found is always applied.
* Time: "now", or ``at``. A certificate that has expired or was revoked by then does not invalidate a signature that a
  trusted timestamp (the signature's own, or a later document timestamp) proves to be older: the signature is then
  checked again at the timestamp's time (a simplified form of the AdES past-signature validation). Without such a
  timestamp the result is ``INDETERMINATE`` (``OUT_OF_BOUNDS_NO_POE``, ``REVOKED_NO_POE``); a revocation before the
  proven time is ``TOTAL_FAILED`` / ``REVOKED``.
* Changes after signing: pyHanko's difference analysis (strict default policy) judges every revision appended after a
  signature. Later signatures filling existing fields, the DSS and document timestamps are fine. Anything else (page
  content, new visible fields after a certification, annotations a certification forbids) is, as in DSS's "format
  checking" building block with undefined changes set to fail, ``TOTAL_FAILED`` / ``FORMAT_FAILURE``. Changes after
  the *last* signature that the permissions would allow (a field filled in, an annotation) still leave nobody
  answerable for them: that last signature becomes ``INDETERMINATE`` / ``SIG_CONSTRAINTS_FAILURE``.

Sub-indications
---------------
========================================  ==============  =====================================================
situation                                 indication      sub-indication
========================================  ==============  =====================================================
not a PDF, damaged/truncated, no sig      TOTAL_FAILED    FORMAT_FAILURE
signature dictionary/CMS unreadable       TOTAL_FAILED    FORMAT_FAILURE
signed bytes changed (or CMS from         TOTAL_FAILED    HASH_FAILURE
another document)
CMS signature value wrong                 TOTAL_FAILED    SIG_CRYPTO_FAILURE
byte range not covering its revision      TOTAL_FAILED    FORMAT_FAILURE
disallowed change after the signature     TOTAL_FAILED    FORMAT_FAILURE
allowed change after the last signature   INDETERMINATE   SIG_CONSTRAINTS_FAILURE
no chain to a trust root                  INDETERMINATE   NO_CERTIFICATE_CHAIN_FOUND
certificate revoked, no older timestamp   INDETERMINATE   REVOKED_NO_POE (REVOKED_CA_NO_POE for a CA)
revoked before the timestamped time       TOTAL_FAILED    REVOKED
expired / not yet valid, no timestamp     INDETERMINATE   OUT_OF_BOUNDS_NO_POE
key usage / chain rules broken            INDETERMINATE   CHAIN_CONSTRAINTS_FAILURE
weak algorithm                            INDETERMINATE   CRYPTO_CONSTRAINTS_FAILURE(_NO_POE)
revocation data stale / unreachable       INDETERMINATE   TRY_LATER
signature timestamp invalid or untrusted  INDETERMINATE   the timestamp's own, else GENERIC
anything else pyHanko reports             INDETERMINATE   pyHanko's AdES sub-indication
========================================  ==============  =====================================================

The overall indication is the worst of the signatures' (and of any document timestamp that is broken).

Levels: ``B-B`` a signature; ``B-T`` with a signature timestamp or a later document timestamp; ``B-LT`` also the
signer's certificate in the DSS; ``B-LTA`` also a document timestamp after the signature. These are what the file
contains, not an AdES long-term validation verdict.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, Literal, TypeAlias
from zoneinfo import ZoneInfo

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    PdfSignatureStatus,
    read_certification_data,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import extract_contents
from pyhanko.sign.validation.status import DocumentTimestampStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

__all__ = [
    "Indication",
    "SignatureReport",
    "TimestampReport",
    "ValidationReport",
    "same_bytes",
    "validate_pdf",
]

logger = logging.getLogger(__name__)

Indication = Literal["TOTAL_PASSED", "INDETERMINATE", "TOTAL_FAILED"]
PASSED: Indication = "TOTAL_PASSED"
INDETERMINATE: Indication = "INDETERMINATE"
FAILED: Indication = "TOTAL_FAILED"
_RANK = {PASSED: 0, INDETERMINATE: 1, FAILED: 2}

try:
    CAIRO: Any = ZoneInfo("Africa/Cairo")
except Exception:  # pragma: no cover - no tz database
    CAIRO = UTC

MONTHS_AR = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()
MONTHS_EN = "January February March April May June July August September October November December".split()

TrustRoot: TypeAlias = asn1_x509.Certificate | crypto_x509.Certificate | bytes


@dataclass(frozen=True)
class SignatureReport:
    """The verdict on one signature (``/Sig``) of the document."""

    field_name: str
    signer_name: str
    """The common name of the signer's certificate ("" if unreadable)."""
    signer_certificate_sha256: str
    signing_time: datetime | None
    """The time the signer claims (signed attribute or ``/M``); not proven."""
    timestamp_time: datetime | None
    """The time of the signature timestamp, else of the first later document timestamp: proven by a TSA."""
    level: str
    """``B-B``, ``B-T``, ``B-LT`` or ``B-LTA`` (what the file contains)."""
    indication: Indication
    sub_indication: str | None
    reasons_ar: list[str]
    reasons_en: list[str]
    intact: bool
    """The signed bytes are unchanged."""
    valid: bool
    """The signature value checks out with the certificate's key."""
    trusted: bool
    """The certificate chains to a trust root and was good at the validation (or proven signing) time."""
    coverage: str
    """``ENTIRE_FILE``, ``ENTIRE_REVISION``, ``CONTIGUOUS_BLOCK_FROM_START`` or ``UNCLEAR`` ("" if unknown)."""
    modification_level: str | None
    """What was appended after the signature: ``NONE``, ``LTA_UPDATES``, ``FORM_FILLING``, ``ANNOTATIONS``,
    ``OTHER``."""
    certified: bool
    """This is the document's certification (DocMDP) signature."""
    docmdp_ok: bool | None
    revoked_at: datetime | None = None
    signed_revision: int | None = None

    @property
    def passed(self) -> bool:
        return self.indication == PASSED


@dataclass(frozen=True)
class TimestampReport:
    """A document timestamp (``/DocTimeStamp``, PAdES B-LTA)."""

    field_name: str
    timestamp_time: datetime | None
    indication: Indication
    sub_indication: str | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    signed_revision: int | None = None


@dataclass(frozen=True)
class ValidationReport:
    """The overall verdict, DSS "simple report" style."""

    indication: Indication
    sub_indication: str | None
    signatures: list[SignatureReport]
    document_sha256: str
    whole_document_covered: bool
    """The last signature or document timestamp covers every byte of the file."""
    modified_after_last_signature: bool
    """Something other than validation data (DSS) or document timestamps was appended after the last signature."""
    reasons_ar: list[str] = field(default_factory=list)
    """Reasons about the document as a whole (not a PDF, no signature, changed after the last signature, ...)."""
    reasons_en: list[str] = field(default_factory=list)
    timestamps: list[TimestampReport] = field(default_factory=list)
    unsigned_fields: list[str] = field(default_factory=list)
    """Signature fields still empty (a permit whose signing chain is not complete)."""
    validation_time: datetime | None = None

    @property
    def passed(self) -> bool:
        return self.indication == PASSED


def same_bytes(a: bytes, b: bytes) -> bool:
    """Whether two files are byte for byte the same (constant time in the length)."""
    return hmac.compare_digest(bytes(a), bytes(b))


# --------------------------------------------------------------------------------------------------------------------
# reasons a citizen can read


def _date_ar(value: datetime) -> str:
    local = value.astimezone(CAIRO)
    return f"{local.day} {MONTHS_AR[local.month - 1]} {local.year}"


def _date_en(value: datetime) -> str:
    local = value.astimezone(CAIRO)
    return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}"


class _Reasons:
    def __init__(self) -> None:
        self.ar: list[str] = []
        self.en: list[str] = []

    def add(self, ar: str, en: str) -> None:
        self.ar.append(ar)
        self.en.append(en)


_NOT_PDF = ("هذا الملف ليس مستند PDF.", "This file is not a PDF document.")
_DAMAGED = (
    "ملف PDF تالف أو ناقص ولا يمكن قراءته.",
    "The PDF file is damaged or incomplete and cannot be read.",
)
_NO_SIGNATURE = ("المستند لا يحمل أي توقيع إلكتروني.", "The document carries no electronic signature.")
_SIG_UNREADABLE = ("هذا التوقيع تالف ولا يمكن قراءته.", "This signature is damaged and cannot be read.")
_HASH = (
    "تم تعديل المستند بعد هذا التوقيع: محتواه لم يعد مطابقًا لما وُقِّع عليه.",
    "The document was changed after this signature: its content no longer matches what was signed.",
)
_CRYPTO = (
    "التوقيع نفسه غير صحيح: لم يُنشأ بمفتاح صاحب الشهادة.",
    "The signature itself is broken: it was not made with the key of the signer's certificate.",
)
_COVERAGE = (
    "هذا التوقيع لا يغطي كامل نسخة المستند التي ينتمي إليها.",
    "This signature does not cover the whole version of the document it belongs to.",
)
_MODIFIED = (
    "تم تعديل المستند بعد هذا التوقيع تعديلًا غير مسموح به (في المحتوى وليس مجرد توقيعات لاحقة).",
    "The document was changed after this signature in a way that is not allowed (its content, not just later"
    " signatures).",
)
_MODIFIED_AFTER_LAST = (
    "أُضيفت تعديلات إلى المستند بعد آخر توقيع (حقول أو ملاحظات) لم يوقّع عليها أحد.",
    "The document was changed after the last signature (form fields or notes were added or filled in) and nobody"
    " signed those changes.",
)
_UNTRUSTED = (
    "شهادة الموقّع ليست صادرة عن جهة تصديق معتمدة.",
    "The signer's certificate is not from a trusted certification authority.",
)
_NO_CERT = ("التوقيع لا يتضمن شهادة الموقّع.", "The signature does not contain the signer's certificate.")
_CHAIN_RULES = (
    "شهادة الموقّع غير مخصصة لتوقيع المستندات أو لا تستوفي شروط جهة التصديق.",
    "The signer's certificate may not be used to sign documents, or breaks its authority's rules.",
)
_CHAIN_GENERAL = ("تعذّر التحقق من شهادة الموقّع.", "The signer's certificate could not be verified.")
_WEAK = (
    "التوقيع يستخدم خوارزمية لم تعد آمنة.",
    "The signature uses an algorithm that is no longer considered secure.",
)
_TRY_LATER = (
    "تعذّر التحقق من عدم إلغاء شهادة الموقّع الآن؛ أعد المحاولة لاحقًا.",
    "Whether the signer's certificate was revoked could not be checked now; try again later.",
)
_TIMESTAMP_BAD = (
    "تعذّر التحقق من الطابع الزمني لهذا التوقيع.",
    "The time stamp of this signature could not be verified.",
)
_GENERIC = ("تعذّر التحقق من هذا التوقيع.", "This signature could not be verified.")
_NOT_YET_VALID = (
    "لم تكن شهادة الموقّع قد بدأ سريانها وقت التوقيع.",
    "The signer's certificate was not yet valid when the document was signed.",
)
_DOC_TS_BROKEN = (
    "الطابع الزمني للمستند غير صحيح: تم تعديل المستند بعده.",
    "The document time stamp is broken: the document was changed after it.",
)


# --------------------------------------------------------------------------------------------------------------------
# entry point


def validate_pdf(
    pdf: bytes,
    *,
    trust_roots: Sequence[TrustRoot],
    allow_fetching: bool = False,
    at: datetime | None = None,
) -> ValidationReport:
    """Validate every signature of ``pdf`` against ``trust_roots`` (never the system's list).

    ``allow_fetching`` lets the validator fetch missing certificates and OCSP/CRL data over the network; it is ignored
    when ``at`` (a timezone-aware validation time other than now) is given, because fetched data describe the present.
    Synchronous (pyHanko runs its own event loop): from async code, call it in a thread.
    """
    if at is not None and at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # pyHanko's synchronous API starts its own event loop; inside another one it would fail mid-way
        raise RuntimeError("validate_pdf cannot run inside an event loop; call it from a thread (asyncio.to_thread)")
    roots = [_as_asn1(root) for root in trust_roots]
    try:
        data = bytes(pdf)
    except TypeError:
        data = b""
    digest = hashlib.sha256(data).hexdigest()
    validation_time = at or datetime.now(UTC)

    def format_failure(reason: tuple[str, str], unsigned: list[str] | None = None) -> ValidationReport:
        return ValidationReport(
            indication=FAILED,
            sub_indication=AdESFailure.FORMAT_FAILURE.name,
            signatures=[],
            document_sha256=digest,
            whole_document_covered=False,
            modified_after_last_signature=False,
            reasons_ar=[reason[0]],
            reasons_en=[reason[1]],
            unsigned_fields=unsigned or [],
            validation_time=validation_time,
        )

    if b"%PDF-" not in data[:1024]:
        return format_failure(_NOT_PDF)
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        embedded = list(reader.embedded_signatures)
        unsigned = [name for name, _, _ in enumerate_sig_fields(reader, filled_status=False)]
        reader.root  # noqa: B018 - the catalog must be readable
    except Exception as exc:  # anything pyHanko raises on a damaged file
        logger.info("Unreadable PDF: %r", exc)
        return format_failure(_DAMAGED)

    signatures = [s for s in embedded if _object_type(s) == "/Sig"]
    doc_timestamps = [s for s in embedded if _object_type(s) == "/DocTimeStamp"]
    if not signatures:
        return format_failure(_NO_SIGNATURE, unsigned)

    context = _Context(reader, roots, allow_fetching=allow_fetching and at is None, at=at)

    ts_reports = [_validate_doc_timestamp(ts, context) for ts in doc_timestamps]
    reports: list[SignatureReport] = []
    for index, sig in enumerate(signatures):
        last = index == len(signatures) - 1
        reports.append(_validate_signature(sig, context, ts_reports, is_last=last))

    last_report = reports[-1]
    modified_after = last_report.modification_level not in ("NONE", "LTA_UPDATES")
    last_item = max(
        [(r.signed_revision or -1, r.coverage) for r in reports]
        + [(t.signed_revision or -1, t.coverage) for t in ts_reports]
    )
    whole = last_item[1] == SignatureCoverageLevel.ENTIRE_FILE.name

    verdicts: list[SignatureReport | TimestampReport] = [*reports, *ts_reports]
    worst_rank = max(_RANK[v.indication] for v in verdicts)
    worst = next(v for v in verdicts if _RANK[v.indication] == worst_rank)
    doc_reasons = _Reasons()
    if modified_after:
        if last_report.modification_level == ModificationLevel.OTHER.name:
            doc_reasons.add(*_MODIFIED)
        else:
            doc_reasons.add(*_MODIFIED_AFTER_LAST)
    for ts in ts_reports:
        if ts.indication == FAILED:
            doc_reasons.add(*_DOC_TS_BROKEN)
            break
    return ValidationReport(
        indication=worst.indication,
        sub_indication=worst.sub_indication,
        signatures=reports,
        document_sha256=digest,
        whole_document_covered=whole,
        modified_after_last_signature=modified_after,
        reasons_ar=doc_reasons.ar,
        reasons_en=doc_reasons.en,
        timestamps=ts_reports,
        unsigned_fields=unsigned,
        validation_time=validation_time,
    )


# --------------------------------------------------------------------------------------------------------------------
# internals


class _Context:
    """Builds validation contexts (trust roots + the document's DSS) for a validation time."""

    def __init__(self, reader: PdfFileReader, roots: list[asn1_x509.Certificate], *, allow_fetching: bool,
                 at: datetime | None) -> None:
        self.reader = reader
        self.roots = roots
        self.allow_fetching = allow_fetching
        self.at = at
        self.dss: DocumentSecurityStore | None = None
        self.dss_cert_hashes: set[bytes] = set()
        self.dss_certs: list[asn1_x509.Certificate] = []
        try:
            self.dss = DocumentSecurityStore.read_dss(reader)
            self.dss_certs = list(self.dss.load_certs())
            self.dss_cert_hashes = {c.sha256 for c in self.dss_certs}
        except Exception as exc:  # NoDSSFoundError, or a damaged DSS: validate without it
            if type(exc).__name__ != "NoDSSFoundError":
                logger.info("Ignoring an unreadable DSS: %r", exc)
            self.dss = None
            self.dss_cert_hashes = set()
            self.dss_certs = []

    def make(self, moment: datetime | None = None, *, retroactive_revinfo: bool = False) -> ValidationContext:
        """A fresh context at ``moment`` (default: ``at`` or now).

        ``retroactive_revinfo`` lets revocation data issued after ``moment`` speak for ``moment``: used only to check a
        signature at a time a timestamp proves, with revocation data collected later (as in a B-LT file).
        """
        moment = moment or self.at
        kwargs: dict[str, Any] = {
            "trust_roots": list(self.roots),
            "allow_fetching": self.allow_fetching and moment is None,
            "revocation_mode": "soft-fail",
            "retroactive_revinfo": retroactive_revinfo,
        }
        if moment is not None:
            kwargs["moment"] = moment
            kwargs["best_signature_time"] = moment
        if self.dss is not None:
            try:
                return self.dss.as_validation_context(kwargs)
            except Exception as exc:
                logger.info("Ignoring unreadable DSS content: %r", exc)
        return ValidationContext(**kwargs)


def _object_type(sig: EmbeddedPdfSignature) -> str:
    try:
        return str(sig.sig_object_type)
    except Exception:
        return ""


def _validate_doc_timestamp(ts: EmbeddedPdfSignature, context: _Context) -> TimestampReport:
    try:
        status: DocumentTimestampStatus = validate_pdf_timestamp(ts, context.make())
    except Exception as exc:
        logger.info("Document timestamp %s unreadable: %r", ts.field_name, exc)
        return TimestampReport(
            field_name=str(ts.field_name), timestamp_time=None, indication=FAILED,
            sub_indication=AdESFailure.FORMAT_FAILURE.name, intact=False, valid=False, trusted=False, coverage="",
            signed_revision=ts.signed_revision,
        )
    if not status.intact:
        indication, sub = FAILED, AdESFailure.HASH_FAILURE.name
    elif not status.valid:
        indication, sub = FAILED, AdESFailure.SIG_CRYPTO_FAILURE.name
    elif not status.trusted:
        indication = INDETERMINATE
        sub = _name(status.trust_problem_indic) or AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND.name
    else:
        indication, sub = PASSED, None
    return TimestampReport(
        field_name=str(ts.field_name),
        timestamp_time=status.timestamp,
        indication=indication,
        sub_indication=sub,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        coverage=status.coverage.name if status.coverage is not None else "",
        signed_revision=ts.signed_revision,
    )


def _validate_signature(
    sig: EmbeddedPdfSignature, context: _Context, ts_reports: list[TimestampReport], *, is_last: bool
) -> SignatureReport:
    reasons = _Reasons()
    field_name = str(sig.field_name)
    signer_name, cert_sha256 = _signer(sig)
    certified = _is_certification(sig, context.reader)
    try:
        status = validate_pdf_signature(sig, context.make())
    except SignatureValidationError as exc:
        failed = exc.ades_subindication is None or isinstance(exc.ades_subindication, AdESFailure)
        reasons.add(*(_SIG_UNREADABLE if failed else _NO_CERT))
        return _unreadable(sig, field_name, signer_name, cert_sha256, certified, reasons,
                           FAILED if failed else INDETERMINATE,
                           _name(exc.ades_subindication) or AdESFailure.FORMAT_FAILURE.name)
    except Exception as exc:
        logger.info("Signature %s unreadable: %r", field_name, exc)
        reasons.add(*_SIG_UNREADABLE)
        return _unreadable(sig, field_name, signer_name, cert_sha256, certified, reasons, FAILED,
                           AdESFailure.FORMAT_FAILURE.name)

    later_ts = [
        t for t in ts_reports
        if t.signed_revision is not None and t.signed_revision > sig.signed_revision and t.indication == PASSED
    ]
    tst = status.timestamp_validity
    tst_ok = tst is not None and tst.intact and tst.valid and tst.trusted
    poe: datetime | None = tst.timestamp if tst is not None and tst_ok else None
    if poe is None and later_ts:
        poe = min(t.timestamp_time for t in later_ts if t.timestamp_time is not None)
    timestamp_time = tst.timestamp if tst is not None else (later_ts[0].timestamp_time if later_ts else None)

    mod_level = status.modification_level
    coverage = status.coverage
    trusted = status.trusted
    revoked_at = status.revocation_details.revocation_date if status.revocation_details else None
    indication: Indication
    sub: str | None
    if not status.intact:
        indication, sub = FAILED, AdESFailure.HASH_FAILURE.name
        reasons.add(*_HASH)
    elif not status.valid:
        indication, sub = FAILED, AdESFailure.SIG_CRYPTO_FAILURE.name
        reasons.add(*_CRYPTO)
    elif coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        indication, sub = FAILED, AdESFailure.FORMAT_FAILURE.name
        reasons.add(*_COVERAGE)
    elif mod_level == ModificationLevel.OTHER or status.docmdp_ok is False:
        indication, sub = FAILED, AdESFailure.FORMAT_FAILURE.name
        reasons.add(*_MODIFIED)
    else:
        indication, sub = PASSED, None
        problem = status.trust_problem_indic
        if problem is not None or not trusted:
            indication, sub, trusted = _trust_verdict(sig, status, problem, poe, context, reasons)
        if indication == PASSED and tst is not None and not tst_ok:
            indication = INDETERMINATE
            sub = _name(tst.trust_problem_indic) or AdESIndeterminate.GENERIC.name
            reasons.add(*_TIMESTAMP_BAD)
        if indication == PASSED and is_last and mod_level is not None and mod_level > ModificationLevel.LTA_UPDATES:
            indication, sub = INDETERMINATE, AdESIndeterminate.SIG_CONSTRAINTS_FAILURE.name
            reasons.add(*_MODIFIED_AFTER_LAST)

    return SignatureReport(
        field_name=field_name,
        signer_name=signer_name,
        signer_certificate_sha256=cert_sha256,
        signing_time=status.signer_reported_dt,
        timestamp_time=timestamp_time,
        level=_level(tst is not None, _has_later_doc_ts(sig, ts_reports), context, cert_sha256),
        indication=indication,
        sub_indication=sub,
        reasons_ar=reasons.ar,
        reasons_en=reasons.en,
        intact=status.intact,
        valid=status.valid,
        trusted=trusted,
        coverage=coverage.name if coverage is not None else "",
        modification_level=mod_level.name if mod_level is not None else None,
        certified=certified,
        docmdp_ok=status.docmdp_ok,
        revoked_at=revoked_at,
        signed_revision=sig.signed_revision,
    )


def _trust_verdict(
    sig: EmbeddedPdfSignature,
    status: PdfSignatureStatus,
    problem: AdESSubIndic | None,
    poe: datetime | None,
    context: _Context,
    reasons: _Reasons,
) -> tuple[Indication, str | None, bool]:
    """Indication, sub-indication and trusted flag for a signature that is intact and valid but not trusted now."""
    details = status.revocation_details
    cert = status.signing_cert
    if problem in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE) and details is not None:
        when = details.revocation_date
        who_ar = "شهادة جهة التصديق التي أصدرت شهادة الموقّع" if details.ca_revoked else "شهادة الموقّع"
        who_en = "The certificate of the authority that issued the signer's certificate" if details.ca_revoked \
            else "The signer's certificate"
        if poe is not None and poe >= when:
            reasons.add(f"أُلغيت {who_ar} بتاريخ {_date_ar(when)}، قبل وقت التوقيع الثابت بطابع زمني.",
                        f"{who_en} was revoked on {_date_en(when)}, before the time-stamped signing time.")
            return FAILED, AdESFailure.REVOKED.name, False
        if poe is not None and _trusted_at(sig, context, poe):
            reasons.add(f"أُلغيت {who_ar} بتاريخ {_date_ar(when)}، بعد التوقيع الثابت بطابع زمني موثوق؛ التوقيع سليم.",
                        f"{who_en} was revoked on {_date_en(when)}, after the signature, which a trusted time stamp"
                        " proves older; the signature stands.")
            return PASSED, None, True
        reasons.add(f"أُلغيت {who_ar} بتاريخ {_date_ar(when)}، ولا يوجد ما يثبت أن التوقيع تم قبل ذلك.",
                    f"{who_en} was revoked on {_date_en(when)}, and nothing proves the signature was made before"
                    " that.")
        return INDETERMINATE, _name(problem), False
    if problem == AdESIndeterminate.OUT_OF_BOUNDS_NO_POE:
        not_before = cert["tbs_certificate"]["validity"]["not_before"].native
        not_after = cert["tbs_certificate"]["validity"]["not_after"].native
        if poe is not None and not_before <= poe <= not_after and _trusted_at(sig, context, poe):
            reasons.add(
                f"انتهت صلاحية شهادة الموقّع بتاريخ {_date_ar(not_after)}، بعد التوقيع الثابت بطابع زمني موثوق؛"
                " التوقيع سليم.",
                f"The signer's certificate expired on {_date_en(not_after)}, after the signature, which a trusted"
                " time stamp proves older; the signature stands.",
            )
            return PASSED, None, True
        moment = context.at or datetime.now(UTC)
        if moment < not_before:
            reasons.add(*_NOT_YET_VALID)
        else:
            reasons.add(
                f"انتهت صلاحية شهادة الموقّع بتاريخ {_date_ar(not_after)}، ولا يوجد طابع زمني موثوق يثبت أن التوقيع"
                " تم أثناء سريانها.",
                f"The signer's certificate expired on {_date_en(not_after)}, and no trusted time stamp proves the"
                " signature was made while it was valid.",
            )
        return INDETERMINATE, _name(problem), False
    if problem != AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND and not _reaches_a_root(sig, context):
        # a self-signed look-alike, or a chain to some other authority: say so, not "breaks its authority's rules"
        reasons.add(*_UNTRUSTED)
        return INDETERMINATE, AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND.name, False
    simple: dict[Any, tuple[str, str]] = {
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: _UNTRUSTED,
        AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND: _NO_CERT,
        AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE: _CHAIN_RULES,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE: _WEAK,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: _WEAK,
        AdESIndeterminate.TRY_LATER: _TRY_LATER,
        AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE: _CHAIN_GENERAL,
    }
    reasons.add(*simple.get(problem, _GENERIC))
    return INDETERMINATE, _name(problem) or AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND.name, False


def _reaches_a_root(sig: EmbeddedPdfSignature, context: _Context) -> bool:
    """Whether the signer's certificate leads, issuer by issuer (by name, through the certificates in the signature
    and the DSS), to one of the trust roots. Only chooses the reason shown; the verdict is pyHanko's path validation."""
    root_names = {root.subject.dump() for root in context.roots}
    root_keys = {root.public_key.dump() for root in context.roots}
    try:
        cert = sig.signer_cert
        pool = {c.subject.dump(): c for c in [*sig.other_embedded_certs, *context.dss_certs]}
    except Exception:
        return False
    for _ in range(10):
        if cert.public_key.dump() in root_keys or cert.issuer.dump() in root_names:
            return True
        if cert.issuer.dump() == cert.subject.dump():
            return False  # self-signed, and not a trust root
        issuer = pool.get(cert.issuer.dump())
        if issuer is None:
            return False
        cert = issuer
    return False


def _trusted_at(sig: EmbeddedPdfSignature, context: _Context, moment: datetime) -> bool:
    """Whether the signer's certificate validates at ``moment`` (a proven signing time), from the embedded data."""
    try:
        status = validate_pdf_signature(sig, context.make(moment, retroactive_revinfo=True), skip_diff=True)
    except Exception as exc:
        logger.info("Re-validation of %s at %s failed: %r", sig.field_name, moment, exc)
        return False
    return bool(status.intact and status.valid and status.trusted)


def _unreadable(
    sig: EmbeddedPdfSignature, field_name: str, signer_name: str, cert_sha256: str, certified: bool,
    reasons: _Reasons, indication: Indication, sub: str | None,
) -> SignatureReport:
    return SignatureReport(
        field_name=field_name, signer_name=signer_name, signer_certificate_sha256=cert_sha256, signing_time=None,
        timestamp_time=None, level="B-B", indication=indication, sub_indication=sub, reasons_ar=reasons.ar,
        reasons_en=reasons.en, intact=False, valid=False, trusted=False, coverage="", modification_level=None,
        certified=certified, docmdp_ok=None, signed_revision=getattr(sig, "signed_revision", None),
    )


def _signer(sig: EmbeddedPdfSignature) -> tuple[str, str]:
    try:
        cert = sig.signer_cert
        name = cert.subject.native.get("common_name", "")
        if isinstance(name, list):
            name = name[0] if name else ""
        return str(name), cert.sha256.hex()
    except Exception:
        return "", ""


def _is_certification(sig: EmbeddedPdfSignature, reader: PdfFileReader) -> bool:
    try:
        info = read_certification_data(reader)
        if info is None:
            return False
        return bool(extract_contents(info.author_sig.get_object()) == sig.pkcs7_content)
    except Exception:
        return False


def _has_later_doc_ts(sig: EmbeddedPdfSignature, ts_reports: list[TimestampReport]) -> bool:
    return any(t.signed_revision is not None and t.signed_revision > sig.signed_revision for t in ts_reports)


def _level(has_sig_ts: bool, later_doc_ts: bool, context: _Context, cert_sha256: str) -> str:
    if not (has_sig_ts or later_doc_ts):
        return "B-B"
    in_dss = bool(cert_sha256) and bytes.fromhex(cert_sha256) in context.dss_cert_hashes
    if not in_dss:
        return "B-T"
    return "B-LTA" if later_doc_ts else "B-LT"


def _name(sub: AdESSubIndic | None) -> str | None:
    if sub is None:
        return None
    return str(getattr(sub, "name", sub))


def _as_asn1(root: TrustRoot) -> asn1_x509.Certificate:
    if isinstance(root, asn1_x509.Certificate):
        return root
    if isinstance(root, crypto_x509.Certificate):
        return asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))
    if isinstance(root, bytes | bytearray):
        data = bytes(root)
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        return asn1_x509.Certificate.load(data)
    raise TypeError(f"Unsupported trust root type {type(root).__name__}")
