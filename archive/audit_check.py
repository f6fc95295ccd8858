"""``sijill audit verify``: the database's audit chain checked against what lies outside the database.

Three witnesses, from weakest to strongest:

1. **The database chain** (:func:`archive.audit.verify_chain`): catches a careless edit, insertion or deletion, but
   someone who can write the database can recompute every later hash and ``audit_head`` and pass it.
2. **The archived segments** (``audit/<first>-<last>-<sha256>.jsonl``, written every minute by ``archive.manifests``):
   the events as they were when archived. The database's events are aligned with them by content (a diff, so an
   insertion or deletion does not make every later event look edited) and each difference is named with its
   positions: *edited* (same place, other content; the fields are named), *inserted*, *deleted*, *truncated*
   (deleted through the end of the trail), *renumbered* and *re-chained* (same content, hashes recomputed).
3. **The sealed checkpoints** (:mod:`archive.checkpoints`): signed with a key the database does not hold, under
   object lock. A checkpoint of (N, H) whose event N now hashes differently proves a rewrite at or before N (and the
   newest checkpoint that still matches bounds it from below); one past the database's last event proves events cut
   from the end with ``audit_head`` moved back. A checkpoint that does not verify with the sealing key is named too.

Events after the newest checkpoint and the last segment rest on the database alone: the report says how many.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import canonical_time, verify_chain
from archive.checkpoints import Checkpoint, checkpoint_names, read_checkpoints
from archive.manifest import AUDIT_PREFIX
from archive.models import AuditEvent, AuditHead
from archive.sealing import VerifyingKey
from archive.store import ObjectStore, StoreError

SEGMENT_RE = re.compile(r"audit/(\d{12})-(\d{12})-[0-9a-f]{64}\.jsonl$")
LOOKAHEAD = 10_000
"""Database events read past the last archived one, so events pushed back by insertions still align."""
CONTENT_FIELDS = ("at", "actor", "action", "subject", "details")


@dataclass(frozen=True)
class Finding:
    """One thing wrong, with the sequence numbers it concerns (``first`` to ``last``) and a sentence."""

    kind: str
    first: int
    last: int
    detail: str

    @property
    def where(self) -> str:
        return f"event {self.first}" if self.first == self.last else f"events {self.first}–{self.last}"


@dataclass
class AuditVerdict:
    events: int = 0
    head_seq: int = 0
    archived_through: int = 0
    segments: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def newest_trusted(self) -> Checkpoint | None:
        trusted = [c for c in self.checkpoints if c.trusted]
        return max(trusted, key=lambda c: (c.seq, c.sealed_at)) if trusted else None


@dataclass(frozen=True)
class _Row:
    seq: int
    key: str
    """Digest of the event's content (not its position or hashes): what aligns the two sides."""
    hash: str
    content: dict[str, Any]


def _row(seq: int, at: Any, actor: Any, action: Any, subject: Any, details: Any, hash_: str) -> _Row:
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    content = {"at": canonical_time(at), "actor": actor, "action": action, "subject": subject,
               "details": details or {}}
    key = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return _Row(int(seq), key, str(hash_), content)


def verify_audit(session: Session, store: ObjectStore | None, verifying: VerifyingKey | None, *,
                 max_findings: int = 50) -> AuditVerdict:
    """Every check this module describes; ``store`` None checks the database chain alone."""
    verdict = AuditVerdict()
    chain = verify_chain(session, max_breaks=20)
    verdict.events, verdict.head_seq = chain.events, chain.head_seq
    verdict.findings += [Finding("chain", b.seq, b.seq, b.reason) for b in chain.breaks]
    if store is None:
        verdict.warnings.append("checked the database alone: nothing outside it was compared")
        return verdict
    archived = _archived_events(store, verdict)
    if archived:
        verdict.archived_through = archived[-1].seq
        database = _database_events(session, verdict.archived_through + LOOKAHEAD)
        verdict.findings += _compare(archived, database)
    else:
        verdict.warnings.append("no audit segment in the archive yet (the workers write them every minute)")
    if verifying is None:
        sealed = len(checkpoint_names(store))
        if sealed:
            verdict.findings.append(Finding("checkpoint", 0, 0, f"{sealed} checkpoints are in the archive but there "
                                                                "is no sealing key to check them with: pass the "
                                                                "auditors' copy with --public-key"))
        else:
            verdict.warnings.append("no sealing key and no checkpoint: nothing outside the database vouches for "
                                    "the chain's head")
    else:
        verdict.checkpoints = read_checkpoints(store, verifying)
        verdict.findings += _check_checkpoints(session, verdict)
    del verdict.findings[max_findings:]
    return verdict


# -- the archived segments ------------------------------------------------------------------------------------------


def _archived_events(store: ObjectStore, verdict: AuditVerdict) -> list[_Row]:
    rows: dict[int, _Row] = {}
    for name in store.list_named(AUDIT_PREFIX):
        if not SEGMENT_RE.match(name):
            continue
        verdict.segments += 1
        try:
            data = store.get_named(name)
        except StoreError as exc:
            first, last = (int(g) for g in SEGMENT_RE.match(name).groups())  # type: ignore[union-attr]
            verdict.findings.append(Finding("archive", first, last, f"the archived segment {name} cannot be read "
                                                                    f"or was altered: {exc}"))
            continue
        for line in data.splitlines():
            if line.strip():
                ev = json.loads(line)
                rows.setdefault(int(ev["seq"]), _row(ev["seq"], ev["at"], ev["actor"], ev["action"], ev["subject"],
                                                     ev["details"], ev["hash"]))
    return [rows[seq] for seq in sorted(rows)]


def _database_events(session: Session, through: int) -> list[_Row]:
    query = (select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.subject,
                    AuditEvent.details, AuditEvent.hash)
             .where(AuditEvent.seq <= through).order_by(AuditEvent.seq))
    return [_row(r.seq, r.at, r.actor, r.action, r.subject, r.details, r.hash) for r in session.execute(query)]


def _compare(archived: list[_Row], database: list[_Row]) -> list[Finding]:
    """Align the two by content and name every difference by position."""
    start = 0
    for a, b in zip(archived, database, strict=False):
        if (a.seq, a.key, a.hash) != (b.seq, b.key, b.hash):
            break
        start += 1
    else:
        if len(archived) <= len(database):
            return []  # the database holds everything archived, unchanged (later events are not archived yet)
    a_rows, b_rows = archived[start:], database[start:]
    matcher = difflib.SequenceMatcher(None, [r.key for r in a_rows], [r.key for r in b_rows], autojunk=False)
    marks: list[tuple[str, int, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for a, b in zip(a_rows[i1:i2], b_rows[j1:j2], strict=True):
                if a.seq != b.seq:
                    shift = b.seq - a.seq
                    marks.append(("renumbered", b.seq, f"content unchanged, moved {abs(shift)} place"
                                  f"{'s' if abs(shift) > 1 else ''} {'later' if shift > 0 else 'earlier'} "
                                  f"(events {'inserted' if shift > 0 else 'deleted'} before them)"))
                elif a.hash != b.hash:
                    marks.append(("re-chained", b.seq, "content unchanged, hash recomputed"))
        elif op == "replace":
            for a, b in zip(a_rows[i1:i2], b_rows[j1:j2], strict=False):
                marks.append(("edited", b.seq, _changes(a, b)))
            paired = min(i2 - i1, j2 - j1)
            marks += _gone(a_rows[i1 + paired:i2], at_end=j2 == len(b_rows))
            marks += [("inserted", b.seq, "not in the archived chain") for b in b_rows[j1 + paired:j2]]
        elif op == "delete":
            marks += _gone(a_rows[i1:i2], at_end=j1 == len(b_rows))
        elif op == "insert" and i1 < len(a_rows):  # an insert after the last archived event is just a new event
            marks += [("inserted", b.seq, "not in the archived chain") for b in b_rows[j1:j2]]
    return _ranges(marks)


def _gone(rows: list[_Row], *, at_end: bool) -> list[tuple[str, int, str]]:
    if at_end:
        return [("truncated", r.seq, "in the archive, cut from the end of the database's trail") for r in rows]
    return [("deleted", r.seq, "in the archive, missing from the database") for r in rows]


def _changes(a: _Row, b: _Row) -> str:
    changed = [f"{name} {_short(a.content[name])} → {_short(b.content[name])}"
               for name in CONTENT_FIELDS if a.content[name] != b.content[name]]
    return "; ".join(changed[:5]) or "content differs"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _ranges(marks: Iterable[tuple[str, int, str]]) -> list[Finding]:
    """Consecutive positions with the same kind and sentence become one finding."""
    findings: list[Finding] = []
    for kind, seq, detail in marks:
        last = findings[-1] if findings else None
        if last is not None and (last.kind, last.detail) == (kind, detail) and last.last + 1 == seq:
            findings[-1] = Finding(kind, last.first, seq, detail)
        else:
            findings.append(Finding(kind, seq, seq, detail))
    return findings


# -- the checkpoints ------------------------------------------------------------------------------------------------


def _check_checkpoints(session: Session, verdict: AuditVerdict) -> list[Finding]:
    findings: list[Finding] = []
    checkpoints = verdict.checkpoints
    if not checkpoints:
        verdict.warnings.append("no sealed checkpoint yet: nothing outside the database vouches for the chain's head "
                                "(the workers seal one every 5 minutes; `sijill audit checkpoint` does it now)")
        return findings
    digests = {c.digest for c in checkpoints}
    for c in checkpoints:
        if not c.signature_ok:
            findings.append(Finding("checkpoint", c.seq, c.seq, f"the checkpoint {c.name} does not verify with the "
                                                                "sealing key: forged, or sealed with another key"))
        for problem in c.problems:
            findings.append(Finding("checkpoint", c.seq, c.seq, f"the checkpoint {c.name}: {problem}"))
        if c.trusted and c.previous is not None and c.previous not in digests:
            findings.append(Finding("checkpoint", c.seq, c.seq, f"the checkpoint before {c.name} is missing from the "
                                                                "archive (deleted)"))
    if any(c.retention is None for c in checkpoints):
        verdict.warnings.append("some checkpoints are not under object lock (a file:// store, or a bucket without "
                                "object lock): someone with access to the storage could remove them")
    trusted = sorted((c for c in checkpoints if c.trusted), key=lambda c: (c.seq, c.sealed_at))
    if not trusted:
        return findings
    hashes = _hashes_at(session, {c.seq for c in trusted})
    last_seq = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    head = session.get(AuditHead, 1)
    good: Checkpoint | None = None
    rewritten: Checkpoint | None = None
    for c in trusted:
        if c.seq > last_seq:
            continue
        stored = hashes.get(c.seq)
        if stored == c.hash:
            if rewritten is None:
                good = c
        elif rewritten is None:
            rewritten = c
    if rewritten is not None:
        since = good.seq + 1 if good is not None else 1
        stored = hashes.get(rewritten.seq)
        findings.append(Finding("rewritten", since, rewritten.seq, (
            f"the checkpoint sealed {_when(rewritten)} says event {rewritten.seq} has hash {rewritten.hash[:16]}…, "
            f"the database has {stored[:16] + '…' if stored else 'no such event'}: the chain was rewritten at or "
            f"before event {rewritten.seq}" + (f" and after event {good.seq} (still as sealed {_when(good)})"
                                                if good is not None else ""))))
    beyond = max((c for c in trusted if c.seq > last_seq), key=lambda c: c.seq, default=None)
    if beyond is not None:
        findings.append(Finding("truncated", last_seq + 1, beyond.seq, (
            f"the checkpoint sealed {_when(beyond)} says the trail reached event {beyond.seq}; the database ends at "
            f"event {last_seq} (its head says {head.seq if head else 0}): events cut from the end"
            + (" and audit_head moved back" if head is not None and head.seq <= last_seq else ""))))
    return findings


def _hashes_at(session: Session, seqs: set[int], batch: int = 500) -> dict[int, str]:
    ordered = sorted(seqs)
    found: dict[int, str] = {}
    for i in range(0, len(ordered), batch):
        part = ordered[i:i + batch]
        found.update({int(s): str(h) for s, h in session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(part)))})
    return found


def _when(c: Checkpoint) -> str:
    moment = c.timestamp.time if c.timestamp is not None and c.timestamp.time is not None else c.sealed_at
    source = " (RFC 3161 time)" if c.timestamp is not None and c.timestamp.time is not None else ""
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC{source}"
