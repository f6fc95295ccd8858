"""The verdict on an uploaded copy of a permit: one sentence a citizen understands, the DSS-style details below it.

:func:`check_copy` decides in this order, cheapest first, so that whatever a stranger uploads is answered within two
seconds and never costs the staff's threads more than a hash:

1. the hash against every archived state of the permit (:func:`signing.copycheck.archived_states`, cached per
   archived revision): the current one, an earlier archival state (only later timestamps or validation data missing:
   genuine), or a state before all its signatures (a draft);
2. the cost bounds of :func:`signing.copycheck.precheck` (size, revisions, objects): beyond them, "not a copy of a
   Sijill permit, or too complex to check", without parsing the file;
3. validation in the worker pool with a deadline (:func:`signing.bounded.check_untrusted`), which also gives, time
   permitting, the copy's own revision history: each signature of the uploaded file and what changed after it, shown
   by the revision viewer under the verdict (no pictures: those are rendered only for the archived permit).

The verdict's headline and sentences come in Arabic and English (:data:`SENTENCES`), chosen by the page's language;
the indication and sub-indication codes stay in the folded details.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from archive.models import Permit
from archive.store import StoreError
from signing.bounded import Checked, Refused, check_untrusted
from signing.copycheck import LIMITS, CheckLimits, CopyKind, State, archived_states, match_archived, precheck
from signing.quiet_logs import capture_pyhanko, quiet_pyhanko
from signing.revisions import RevisionHistory
from signing.validate import ValidationReport
from web.runtime import runtime
from web.verify.model import PermitView, ReportCache, SignatureView, archived_report, signature_views
from workflow.routing import active_trust_roots

log = logging.getLogger(__name__)

STATES_KEY = "sijill_verify_states"

Sentence = tuple[str, str]

#: (kind or kind:permit-state) -> (tone, headline, sentences). Tones: good, warn, bad, muted.
SENTENCES: dict[str, tuple[str, Sentence, list[Sentence]]] = {
    "identical:valid": ("good", ("نسخة أصلية من الترخيص، وهو سارٍ", "A genuine copy of the permit, and it is valid"), [
        ("هذا الملف هو الترخيص نفسه المحفوظ في الأرشيف، دون أي تغيير.",
         "This file is the very permit kept in the archive, unchanged."),
    ]),
    "earlier_state:valid": ("good", ("نسخة أصلية من الترخيص، وهو سارٍ",
                                     "A genuine copy of the permit, and it is valid"), [
        ("هذا الملف هو الترخيص كما صدر، في حالة أرشيفية سابقة له.",
         "This file is the permit as issued, in an earlier archival state."),
        ("أضاف الأرشيف إليه بعد ذلك أختاما زمنية وبيانات تحقق تحفظ صلاحية توقيعاته لسنوات طويلة؛ لم يتغير شيء من"
         " محتواه ولا توقيعاته.",
         "The archive has since added time stamps and validation data that keep its signatures verifiable for"
         " decades; nothing in its content or signatures changed."),
    ]),
    "genuine:revoked": ("bad", ("نسخة أصلية، لكن الترخيص ملغى", "A genuine copy, but the permit is revoked"), [
        ("هذا الملف نسخة أصلية من الترخيص، لكن الترخيص أُلغي ولم يعد له أثر.",
         "This file is a genuine copy of the permit, but the permit has been revoked and no longer has effect."),
    ]),
    "genuine:expired": ("warn", ("نسخة أصلية، لكن الترخيص منتهي الصلاحية",
                                 "A genuine copy, but the permit has expired"), [
        ("هذا الملف نسخة أصلية من الترخيص، لكن مدة سريانه انتهت.",
         "This file is a genuine copy of the permit, but its term has ended."),
    ]),
    "genuine:draft": ("muted", ("نسخة من ترخيص لم يصدر بعد", "A copy of a permit that is not issued yet"), [
        ("هذا الملف من الأرشيف، لكن الترخيص لم يكتمل توقيعه ولم يصدر؛ لا يُعتد به.",
         "This file comes from the archive, but the permit is not fully signed or issued; it has no effect."),
    ]),
    "genuine:unknown": ("muted", ("نسخة من الأرشيف، وتعذر تأكيد توقيعاتها الآن",
                                  "A copy from the archive whose signatures cannot be confirmed now"), [
        ("هذا الملف مطابق لنسخة في الأرشيف، لكن تعذر تأكيد صحة توقيعاته الآن. لا تعتمد عليه حتى يتم التحقق.",
         "This file matches a copy in the archive, but its signatures cannot be confirmed now. Do not rely on it"
         " until they are."),
    ]),
    "before_signatures": ("warn", ("ليست الترخيص الصادر: نسخة سابقة قبل اكتمال التوقيعات",
                                   "Not the issued permit: an earlier draft, before all its signatures"), [
        ("هذا الملف نسخة سابقة من هذا الترخيص، من قبل أن يكتمل توقيع كل المسؤولين عليه، فلا يُعتد بها.",
         "This file is an earlier version of this permit, from before all the officials had signed it; it has no"
         " effect."),
    ]),
    "extended": ("bad", ("ليست نسخة أصلية: أُضيف شيء إلى الترخيص", "Not a genuine copy: something was added to the"
                         " permit"), [
        ("يبدأ هذا الملف بالترخيص الأصلي، لكن أُضيف إليه شيء بعد توقيعه لا يوجد في النسخة المحفوظة في الأرشيف.",
         "This file starts with the genuine permit, but something was added to it after it was signed that is not"
         " in the copy kept in the archive."),
    ]),
    "other": ("bad", ("ليست نسخة من هذا الترخيص", "Not a copy of this permit"), [
        ("هذا الملف يختلف عن كل نسخ هذا الترخيص المحفوظة في الأرشيف، ولو في بايت واحد؛ لا تعتمد عليه.",
         "This file differs from every version of this permit kept in the archive, even if only by one byte; do"
         " not rely on it."),
    ]),
    "too_complex": ("bad", ("ليست نسخة من ترخيص سجل، أو أعقد من أن تُفحص",
                            "Not a copy of a Sijill permit, or too complex to check"), [
        ("لا تشبه نسخ تراخيص سجل هذا الملف، ولم يُفحص أكثر من ذلك؛ لا تعتمد عليه.",
         "No copy of a Sijill permit looks like this file, and it was not checked further; do not rely on it."),
    ]),
    "busy": ("muted", ("الفحص مشغول الآن", "The check is busy right now"), [
        ("يفحص النظام ملفات كثيرة في هذه اللحظة؛ أعد رفع الملف بعد دقيقة.",
         "Many files are being checked at this moment; upload the file again in a minute."),
    ]),
}

WHY_TOO_COMPLEX: dict[str, Sentence] = {
    "size": ("حجم الملف أكبر بكثير من حجم أي ترخيص.", "The file is far larger than any permit."),
    "revisions": ("الملف عُدِّل مرات كثيرة جدا (نسخ متتالية) لا يبلغها أي ترخيص.",
                  "The file was updated far more times (successive revisions) than any permit ever is."),
    "objects": ("الملف يحتوي على عدد من العناصر أكبر بكثير مما في أي ترخيص.",
                "The file holds far more objects than any permit."),
    "timeout": ("استغرق فحص الملف أكثر من الوقت المسموح به فتوقف الفحص.",
                "Checking the file took longer than allowed, so the check was stopped."),
}

GENUINE_KINDS: frozenset[CopyKind] = frozenset({"identical", "earlier_state"})


@dataclass(frozen=True)
class CopyVerdict:
    """What the check of an uploaded copy found, ready to show."""

    kind: CopyKind
    tone: str
    headline_ar: str
    headline_en: str
    sentences_ar: list[str]
    sentences_en: list[str]
    filename: str
    size: int
    sha256: str
    report: ValidationReport | None
    """The validation of the uploaded bytes (or of the archived state they are); None if not validated."""
    signatures: list[SignatureView] = field(default_factory=list)
    signatures_in_copy: int | None = None
    """For an archived state: how many signatures it holds."""
    why_ar: list[str] = field(default_factory=list)
    """For a copy that is not genuine: what the validation found, the document's reasons then each failing
    signature's, without repeats."""
    why_en: list[str] = field(default_factory=list)
    history: RevisionHistory | None = None
    """The uploaded file's own signed revisions and what changed after each (None: not computed, or no time left)."""

    @property
    def identical(self) -> bool:
        return self.kind == "identical"

    @property
    def genuine(self) -> bool:
        """Byte for byte a state of this permit that holds every signature (the current one or an earlier one)."""
        return self.kind in GENUINE_KINDS


def states_cache() -> ReportCache[list[State]]:
    from flask import current_app

    cache = current_app.extensions.get(STATES_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(STATES_KEY, ReportCache(max_entries=256))
    assert isinstance(cache, ReportCache)
    return cache


def permit_states(permit: Permit) -> list[State] | None:
    """The archived states of the permit's current revision (cached; the revision never changes), or None."""

    def compute() -> list[State]:
        with quiet_pyhanko(f"copy check: archived permit {permit.permit_number} "
                           f"({permit.current_pdf_sha256[:12]})", log):
            return archived_states(runtime().store.get_bytes(permit.current_pdf_sha256))

    try:
        return states_cache().get(("states", permit.current_pdf_sha256), compute)
    except StoreError as exc:
        log.error("copy check: archived permit %s unreadable: %s", permit.permit_number, exc)
        return None


def check_copy(session: Session, permit: Permit, view: PermitView, data: bytes, filename: str,
               limits: CheckLimits | None = None) -> CopyVerdict:
    """The verdict on ``data``, uploaded on ``permit``'s verification page (whose state ``view`` already holds).

    A copy that is not the permit gets one log line naming the permit and the upload (with what pyHanko said reading
    it here, never a traceback: :mod:`signing.quiet_logs`); the validation pool's own process logs none either."""
    digest = hashlib.sha256(data).hexdigest()
    with capture_pyhanko() as capture:
        result = _check(session, permit, view, data, filename, digest, limits or LIMITS)
    if result.kind not in GENUINE_KINDS or capture.count:
        said = f"; pyHanko reported {capture.count} problem(s): {capture.summary()}" if capture.count else ""
        log.warning("copy check of permit %s: upload %r (%s, %d bytes) is %s%s", permit.permit_number,
                    " ".join(filename.split())[:80], digest[:12], len(data), result.kind, said)
    return result


def _check(session: Session, permit: Permit, view: PermitView, data: bytes, filename: str, digest: str,
           limits: CheckLimits) -> CopyVerdict:
    states = permit_states(permit) or []
    match = match_archived(data, states, digest) if len(data) <= limits.max_bytes else None
    roots = active_trust_roots(session)

    def verdict(kind: CopyKind, report: ValidationReport | None, extra: list[Sentence] | None = None,
                history: RevisionHistory | None = None) -> CopyVerdict:
        key: str = kind
        if kind in GENUINE_KINDS:
            key = f"{kind}:valid" if view.state == "valid" else f"genuine:{view.state}"
        tone, headline, sentences = SENTENCES[key]
        if kind == "earlier_state" and view.state != "valid":
            sentences = [*sentences, SENTENCES["earlier_state:valid"][2][1]]
        sentences = [*sentences, *(extra or [])]
        return CopyVerdict(
            kind=kind, tone=tone, headline_ar=headline[0], headline_en=headline[1],
            sentences_ar=[s[0] for s in sentences], sentences_en=[s[1] for s in sentences],
            filename=filename[:200], size=len(data), sha256=digest, report=report,
            signatures=signature_views(permit, report) if report is not None else [],
            signatures_in_copy=match.state.signatures if match is not None and match.state is not None else None,
            why_ar=_why(report, "ar") if kind not in GENUINE_KINDS else [],
            why_en=_why(report, "en") if kind not in GENUINE_KINDS else [],
            history=history,
        )  # fmt: skip

    if match is not None and match.kind == "identical":
        return verdict("identical", archived_report(session, permit))
    if match is not None and match.kind in ("earlier_state", "before_signatures"):
        # an archived state: trusted bytes, but validated in the pool like the rest (one budget for all checks)
        checked = check_untrusted(data, roots, time_limit_s=limits.time_limit_s)
        if isinstance(checked, Checked):
            return verdict(match.kind, checked.report, history=checked.history)
        return verdict(match.kind, None)
    too_costly = precheck(data, limits)
    if too_costly is not None:
        return verdict("too_complex", None, [WHY_TOO_COMPLEX[too_costly]])
    result = check_untrusted(data, roots, time_limit_s=limits.time_limit_s)
    if isinstance(result, Refused):
        if result.reason == "busy":
            return verdict("busy", None)
        return verdict("too_complex", None, [WHY_TOO_COMPLEX["timeout"]])
    return verdict(match.kind if match is not None else "other", result.report, history=result.history)


def _why(report: ValidationReport | None, lang: str) -> list[str]:
    if report is None:
        return []
    found = list(report.reasons_ar if lang == "ar" else report.reasons_en)
    for sig in report.signatures:
        if not sig.passed:
            found.extend(sig.reasons_ar if lang == "ar" else sig.reasons_en)
    return list(dict.fromkeys(found))
