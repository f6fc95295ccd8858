"""The permit as each official signed it: its signed revisions, and what changed after each one.

A permit grows only by incremental updates (each official's signature, then the validation data and a document
timestamp at each B-LTA renewal, :mod:`signing.renewal`), so every state it was in is still inside the archived file.
:func:`revision_history` lists the *signed* states, oldest first: one :class:`Revision` per signature and per document
timestamp (the validation data a renewal adds just before its timestamp belongs to that renewal), plus, when something
was appended after the last of them, one ``unsigned`` entry for the file as it is now.

For each entry, what changed after it comes from pyHanko's difference analysis, in two grains:

* pyHanko's own verdict on the signature (``compute_integrity_info``: the ``coverage``, the ``modification_level`` of
  everything appended after it under the strict default policy, and ``docmdp_ok`` against the certification's
  permissions), exactly what :func:`signing.validate.validate_pdf` judges by;
* the list of changes, one per later revision, from the same policy applied to each pair of consecutive revisions:
  a signature or a document timestamp added (which field), validation data (DSS), a form field filled, an annotation,
  or anything else, with whether it touched a page (its dictionary, content streams or resources), the case a citizen
  must hear about ("after this signature the page content was changed").

:func:`story` turns an entry into plain sentences in Arabic and English ("nothing changed after …", "after this
signature only a timestamp was added", …). Nothing here validates trust (that is :mod:`signing.validate`'s job and
the page shows its verdict beside), reads the database or renders images (:mod:`signing.revision_album`).

Cost: pyHanko's difference analysis is linear in the revisions after each signature, so the whole history is
quadratic in the revisions; call this on archived permits (a handful of revisions) or inside
:mod:`signing.bounded`'s pool with its limits, never on an unbounded upload in a request thread.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.validation import EmbeddedPdfSignature, read_certification_data

__all__ = [
    "Change",
    "ChangeKind",
    "Revision",
    "RevisionHistory",
    "Story",
    "revision_history",
    "story",
]

log = logging.getLogger(__name__)

ChangeKind = Literal["signature", "timestamp", "validation_data", "form", "annotation", "page_content", "other"]
EntryKind = Literal["signature", "timestamp", "unsigned"]

MAX_REVISIONS = 64
"""No permit has more revisions than this (:data:`signing.copycheck.LIMITS`); beyond it nothing is analysed."""


@dataclass(frozen=True)
class Change:
    """What one revision added, judged against the revision before it."""

    revision: int
    kind: ChangeKind
    field_name: str = ""
    """The signature or form field it filled, if any."""
    level: str = ""
    """pyHanko's modification level of this revision alone (``NONE`` … ``OTHER``)."""
    detail: str = ""
    """pyHanko's explanation of a change its policy does not allow (technical, English)."""


@dataclass(frozen=True)
class Revision:
    """One signed state of the document (or, ``unsigned``, the file as it is now after its last signed state)."""

    kind: EntryKind
    revision: int
    """pyHanko's revision number (0 is the original file)."""
    end: int
    """The byte offset this state ends at: ``pdf[:end]`` is the document as it was then."""
    sha256: str
    """SHA-256 of ``pdf[:end]``."""
    field_name: str = ""
    signer_name: str = ""
    """The common name of the signer's (or the TSA's) certificate."""
    signing_time: datetime | None = None
    """The time the signer claims (not proven)."""
    timestamp_time: datetime | None = None
    """The time a TSA proves: the signature's own timestamp, or the document timestamp's."""
    coverage: str = ""
    modification_level: str | None = None
    """pyHanko's verdict on everything appended after this signature (``NONE``, ``LTA_UPDATES``, ``FORM_FILLING``,
    ``ANNOTATIONS``, ``OTHER``)."""
    docmdp_ok: bool | None = None
    suspicious: str = ""
    """Why pyHanko's policy refuses what came after, if it does."""
    changes_after: list[Change] = field(default_factory=list)
    """Every later revision, in order."""

    @property
    def page_changed_after(self) -> bool:
        return any(c.kind == "page_content" for c in self.changes_after)

    @property
    def disallowed_after(self) -> bool:
        """pyHanko refuses what was appended after this state (or a later revision alone is not allowed)."""
        return (self.modification_level == ModificationLevel.OTHER.name or self.docmdp_ok is False
                or any(c.kind in ("page_content", "other") for c in self.changes_after))


@dataclass(frozen=True)
class RevisionHistory:
    pdf_sha256: str
    revisions: int
    """How many revisions the file has (pyHanko's count)."""
    entries: list[Revision]
    refused: str = ""
    """Why there is no history (``unreadable``, ``too_many_revisions``); empty when there is one."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for entry in data["entries"]:
            for key in ("signing_time", "timestamp_time"):
                entry[key] = entry[key].isoformat() if entry[key] is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RevisionHistory:
        entries = []
        for raw in data["entries"]:
            item = dict(raw)
            for key in ("signing_time", "timestamp_time"):
                item[key] = datetime.fromisoformat(item[key]) if item.get(key) else None
            item["changes_after"] = [Change(**c) for c in item.get("changes_after", [])]
            entries.append(Revision(**item))
        return cls(pdf_sha256=str(data["pdf_sha256"]), revisions=int(data["revisions"]), entries=entries,
                   refused=str(data.get("refused", "")))


# --- the analysis ---------------------------------------------------------------------------------------------------


def revision_history(pdf: bytes, *, max_revisions: int = MAX_REVISIONS) -> RevisionHistory:
    """The signed states of ``pdf`` and what changed after each (see the module's docstring). Never raises on a bad
    file: it gets an empty history with ``refused`` set."""
    digest = hashlib.sha256(pdf).hexdigest()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        total = reader.xrefs.total_revisions
        if total > max_revisions:
            return RevisionHistory(digest, total, [], refused="too_many_revisions")
        signatures = sorted(reader.embedded_signatures, key=lambda s: s.signed_revision)
        changes = _changes(reader, signatures, total)
    except Exception as exc:  # a damaged file: no history, and no traceback in the logs
        log.info("revision history: unreadable PDF: %r", exc)
        return RevisionHistory(digest, 0, [], refused="unreadable")

    entries = [_entry(sig, pdf, changes) for sig in signatures]
    if entries and any(c.kind != "validation_data" for c in entries[-1].changes_after):
        # something other than validation data after the last signed state: show the file as it is now as well
        entries.append(Revision(kind="unsigned", revision=total - 1, end=len(pdf), sha256=digest))
    return RevisionHistory(pdf_sha256=digest, revisions=total, entries=entries)


def _entry(sig: EmbeddedPdfSignature, pdf: bytes, changes: list[Change]) -> Revision:
    timestamp = str(sig.sig_object_type) == "/DocTimeStamp"
    byte_range = sig.byte_range
    end = int(byte_range[-2]) + int(byte_range[-1])
    coverage, level, docmdp_ok, suspicious = "", None, None, ""
    try:
        sig.compute_integrity_info()
        summary = sig.summarise_integrity_info()
        coverage = summary["coverage"].name if summary["coverage"] is not None else ""
        docmdp_ok = summary["docmdp_ok"]
        result = summary["diff_result"]
        if isinstance(result, DiffResult):
            level = result.modification_level.name
        elif isinstance(result, SuspiciousModification):
            level, suspicious = ModificationLevel.OTHER.name, str(result)
    except Exception as exc:
        log.info("revision history: signature %s not analysed: %r", sig.field_name, exc)
        suspicious = "not analysed"
    signer, signing_time, timestamp_time = "", None, None
    try:
        cert = sig.signer_cert
        name = cert.subject.native.get("common_name", "")
        signer = str(name[0] if isinstance(name, list) and name else name)
    except Exception:  # no readable certificate: the name stays empty
        signer = ""
    try:
        if timestamp:
            timestamp_time = _gen_time(sig.signed_data)
        else:
            signing_time = sig.self_reported_timestamp
            timestamp_time = _signature_timestamp_time(sig)
    except Exception as exc:  # unreadable times stay unknown
        log.info("revision history: times of %s unreadable: %r", sig.field_name, exc)
    return Revision(
        kind="timestamp" if timestamp else "signature",
        revision=sig.signed_revision,
        end=end,
        sha256=hashlib.sha256(pdf[:end]).hexdigest(),
        field_name=str(sig.field_name),
        signer_name=signer,
        signing_time=signing_time,
        timestamp_time=timestamp_time,
        coverage=coverage,
        modification_level=level,
        docmdp_ok=docmdp_ok,
        suspicious=suspicious,
        changes_after=[c for c in changes if c.revision > sig.signed_revision],
    )


def _gen_time(signed_data: Any) -> datetime | None:
    """The time in an RFC 3161 token's TSTInfo (as the TSA states it; proven only once the token is validated)."""
    value = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    return value if isinstance(value, datetime) else None


def _signature_timestamp_time(sig: EmbeddedPdfSignature) -> datetime | None:
    unsigned = sig.signer_info["unsigned_attrs"]
    if not unsigned:
        return None
    for attr in unsigned:
        if attr["type"].native == "signature_time_stamp_token":
            for token in attr["values"]:
                return _gen_time(token["content"])
    return None


def _changes(reader: PdfFileReader, signatures: list[EmbeddedPdfSignature], total: int) -> list[Change]:
    """One :class:`Change` per revision after the first signed one.

    Each revision is judged as pyHanko judges it for the signatures: against the newest *signed* revision before it
    (comparing consecutive revisions instead gives false alarms, e.g. on the DSS a renewal rewrites)."""
    if not signatures:
        return []
    certification = read_certification_data(reader)
    doc_mdp = certification.permission if certification is not None else None
    signed_in = {s.signed_revision: s for s in signatures}
    found: list[Change] = []
    for revision in range(min(signed_in) + 1, total):
        base_revision = max(r for r in signed_in if r < revision)
        base = reader.get_historical_resolver(base_revision)
        new = reader.get_historical_resolver(revision)
        sig = signed_in.get(revision)
        name = str(sig.field_name) if sig is not None else ""
        try:
            result = DEFAULT_DIFF_POLICY.apply(base, new, field_mdp_spec=None, doc_mdp=doc_mdp)
        except SuspiciousModification as exc:
            page = _page_change(reader.get_historical_resolver(revision - 1), new)
            kind: ChangeKind = "page_content" if page == "contents" else ("annotation" if page == "annots" else "other")
            found.append(Change(revision, kind, name, ModificationLevel.OTHER.name, str(exc)[:500]))
            continue
        level = result.modification_level
        if sig is not None:
            kind = "timestamp" if str(sig.sig_object_type) == "/DocTimeStamp" else "signature"
        elif level <= ModificationLevel.LTA_UPDATES:
            kind = "validation_data"
        elif level == ModificationLevel.FORM_FILLING:
            kind = "form"
        else:
            kind = "annotation"
        fields = sorted(result.changed_form_fields - ({name} if name else set()))
        if sig is not None and level > ModificationLevel.FORM_FILLING:
            kind = "annotation"  # a signature revision that also added notes: say the part nobody signed for
        found.append(Change(revision, kind, name or ", ".join(fields), level.name))
    return found


def _pages(resolver: HistoricalResolver) -> list[generic.DictionaryObject]:
    """The page dictionaries of one revision, in order (at most 2,000 nodes walked)."""
    pages: list[generic.DictionaryObject] = []
    stack: list[Any] = [resolver.root.raw_get("/Pages")]
    walked = 0
    while stack and walked < 2000:
        walked += 1
        node = stack.pop()
        node = node.get_object() if isinstance(node, generic.IndirectObject) else node
        if not isinstance(node, generic.DictionaryObject):
            continue
        if "/Kids" in node:
            kids = node["/Kids"]
            stack.extend(reversed(list(kids)) if isinstance(kids, generic.ArrayObject) else [])
        else:
            pages.append(node)
    return pages


def _refs(value: Any) -> tuple[tuple[int, int], ...]:
    if isinstance(value, generic.IndirectObject):
        return ((value.idnum, value.generation),)
    if isinstance(value, generic.ArrayObject):
        return tuple((v.idnum, v.generation) for v in value if isinstance(v, generic.IndirectObject))
    return ()


def _page_change(old: HistoricalResolver, new: HistoricalResolver) -> str:
    """What revision ``new`` changed on the pages as they were in ``old``: ``contents`` (a content stream or the
    resources the page is drawn with), ``annots`` (annotations added or removed), or ``""``."""
    try:
        updated = {(ref.idnum, ref.generation) for ref in new.explicit_refs_in_revision()}
        before, after = _pages(old), _pages(new)
        if len(before) != len(after):
            return "contents"
        found = ""
        for old_page, new_page in zip(before, after, strict=True):
            for key in ("/Contents", "/Resources"):
                old_raw = old_page.raw_get(key) if key in old_page else None
                new_raw = new_page.raw_get(key) if key in new_page else None
                old_refs, new_refs = _refs(old_raw), _refs(new_raw)
                if old_refs != new_refs or set(old_refs) & updated:
                    return "contents"
                if not old_refs and old_raw != new_raw:  # a direct resources dictionary that was rewritten
                    return "contents"
            old_annots = _refs(old_page.get("/Annots")) if "/Annots" in old_page else ()
            new_annots = _refs(new_page.get("/Annots")) if "/Annots" in new_page else ()
            if old_annots != new_annots:
                found = "annots"
        return found
    except Exception as exc:
        log.info("revision history: page tree unreadable: %r", exc)
        return ""


# --- plain sentences ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """What a citizen reads about one entry: who, and what changed after, in Arabic and English."""

    title_ar: str
    title_en: str
    after_ar: str
    after_en: str
    tone: Literal["good", "warn", "bad"]


def story(entry: Revision, name: str = "", role_ar: str = "", role_en: str = "",
          names: Mapping[str, str] | None = None) -> Story:
    """The sentences for ``entry``; ``name`` is the official (from the workflow; else the certificate's name),
    ``names`` the officials of the other signature fields (field name -> name) for "then X's signature was added"."""
    who = name or entry.signer_name
    if entry.kind == "signature":
        title_ar = f"توقيع {who}" + (f" ({role_ar})" if role_ar else "")
        title_en = f"Signature of {who}" + (f" ({role_en})" if role_en else "")
        subject_ar, subject_en = f"توقيع {who}", f"{who} signed"
    elif entry.kind == "timestamp":
        title_ar, title_en = "طابع زمني لحفظ الترخيص في الأرشيف", "Archive timestamp"
        subject_ar, subject_en = "هذا الطابع الزمني", "this timestamp"
    else:
        return Story("الملف كما هو الآن", "The file as it is now",
                     "أُضيف إلى الملف بعد آخر توقيع ما لم يوقّع عليه أحد.",
                     "Something was added to the file after its last signature, and nobody signed it.", "bad")
    changes = entry.changes_after
    names = names or {}
    if entry.disallowed_after:
        if entry.page_changed_after:
            return Story(title_ar, title_en,
                         f"بعد {subject_ar} تغيّر محتوى صفحة الترخيص؛ ما يظهر الآن ليس ما وُقِّع عليه.",
                         f"After {subject_en}, the page content was changed: what shows now is not what was signed.",
                         "bad")
        if any(c.kind == "annotation" for c in changes):
            return Story(title_ar, title_en,
                         f"بعد {subject_ar} أُضيفت إلى صفحة الترخيص ملاحظة أو علامة غير مسموح بها لم يوقّع عليها أحد.",
                         f"After {subject_en}, a note or mark that is not allowed was added on the page, and nobody"
                         " signed it.", "bad")
        return Story(title_ar, title_en,
                     f"بعد {subject_ar} عُدِّل المستند تعديلًا غير مسموح به.",
                     f"After {subject_en}, the document was changed in a way that is not allowed.", "bad")
    if not changes:
        return Story(title_ar, title_en, f"لم يتغير شيء بعد {subject_ar}.", f"Nothing changed after {subject_en}.",
                     "good")
    kinds = [c.kind for c in changes]
    parts: list[tuple[str, str, bool]] = []  # (Arabic, English, English plural)
    later = [names.get(c.field_name, "") for c in changes if c.kind == "signature"]
    signed_later = len(later)
    if signed_later and all(later):
        parts.append((" ثم ".join(f"توقيع {n}" for n in later), " and ".join(f"{n}'s signature" for n in later),
                      signed_later > 1))
    elif signed_later:
        parts.append(("التوقيعات التالية", "the next officials' signatures", True) if signed_later > 1
                     else ("التوقيع التالي", "the next official's signature", False))
    if "timestamp" in kinds:
        parts.append(("طوابع زمنية وبيانات تحقق", "timestamps with validation data", True)
                     if kinds.count("timestamp") > 1 else ("طابع زمني وبيانات تحقق", "a timestamp with validation data",
                                                             False))
    elif "validation_data" in kinds:
        parts.append(("بيانات تحقق (حالة الشهادات)", "validation data (the certificates' status)", False))
    if "form" in kinds:
        parts.append(("بيانات في حقول النموذج", "entries in form fields", True))
    if "annotation" in kinds:
        parts.append(("ملاحظات على الصفحة", "notes on the page", True))
    unsigned_additions = "form" in kinds or "annotation" in kinds
    only = "فقط " if not signed_later and not unsigned_additions else ""
    were = "were" if len(parts) > 1 or parts[0][2] else "was"
    joined_ar = " ثم ".join(p[0] for p in parts)
    ar = f"بعد {subject_ar} لم يُضَف إلا {joined_ar}" if only else f"بعد {subject_ar} أُضيف {joined_ar}"
    en = f"After {subject_en}, {'only ' if only else ''}{', then '.join(p[1] for p in parts)} {were} added"
    if unsigned_additions:
        return Story(title_ar, title_en, ar + "، ولم يوقّع عليها أحد.", en + ", which nobody signed.", "warn")
    return Story(title_ar, title_en, ar + "؛ لم يتغير محتوى الترخيص.", en + "; the permit's content did not change.",
                 "good")
