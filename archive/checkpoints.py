"""Audit checkpoints: the chain's head, sealed outside the database, so a database writer cannot quietly rewrite it.

Every few minutes (beat task ``audit.checkpoint``) the head of the audit chain (its last sequence number and hash)
is written to the object store as a small JSON record::

    audit-checkpoints/<seq, 12 digits>-<sealed at>-<sha256 of the record>.json

signed with the system's sealing key (:mod:`archive.sealing`, never in the database), time-stamped by the RFC 3161
service of ``SIJILL_TSA_URL`` when one is set (the token covers the signature, so it proves the seal existed at that
time), linked to the previous checkpoint by its digest, and written under S3 object lock for
``SIJILL_AUDIT_LOCK_YEARS`` (the retention is set in the same PUT). Because each event's hash covers the one before,
a checkpoint of (N, H) vouches for the whole chain up to N: an edit, insertion or deletion anywhere before N, even
with every later hash and ``audit_head`` recomputed, changes event N's hash; cutting events from the end leaves a
checkpoint past the database's last event.

Before sealing, the writer checks that the chain still runs from the previous checkpoint to the head (each hash
recomputed, each link held) and refuses to seal a chain that diverged: a tampered chain is never blessed.
:mod:`archive.audit_check` compares the database with the checkpoints and the archived segments.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import GENESIS, canonical_time, event_hash
from archive.models import AuditEvent, AuditHead, utcnow
from archive.sealing import SealingKey, VerifyingKey
from archive.store import ObjectStore, Retention, StoreError

log = logging.getLogger(__name__)

SCHEMA = "sijill.audit-checkpoint/1"
PREFIX = "audit-checkpoints/"
DAYS_PER_YEAR = 365.25
TSA_TIMEOUT_S = 20
_NAME_RE = re.compile(r"audit-checkpoints/(\d{12})-(\d{8}T\d{12}Z)-([0-9a-f]{64})\.json$")


class CheckpointRefused(RuntimeError):
    """The chain no longer matches the last checkpoint: sealing it would bless a rewrite. An operator must look."""


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint as read back from the archive, with what checking it found."""

    name: str
    seq: int
    hash: str
    sealed_at: datetime
    key_id: str
    previous: str | None
    """The SHA-256 of the previous checkpoint record (None for the first)."""
    digest: str
    """The SHA-256 of this record, as its name promises."""
    signature_ok: bool
    timestamp: TimestampCheck | None
    retention: Retention | None
    problems: tuple[str, ...] = ()

    @property
    def trusted(self) -> bool:
        """Signed by the expected key and structurally sound: its (seq, hash) can be relied on."""
        return self.signature_ok and not self.problems


@dataclass(frozen=True)
class TimestampCheck:
    """An RFC 3161 token over the checkpoint's signature: when the TSA says it saw it, and whether the token holds."""

    time: datetime | None
    intact: bool
    authority: str


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _stamp(moment: datetime) -> str:
    return canonical_time(moment).replace("-", "").replace(":", "").replace(".", "")


# -- writing --------------------------------------------------------------------------------------------------------


@dataclass
class CheckpointRun:
    name: str | None = None
    """The record written, or None when the head had not moved since the last checkpoint."""
    seq: int = 0
    timestamped: bool = False
    locked: bool = False
    notes: list[str] = field(default_factory=list)


def write_checkpoint(session: Session, store: ObjectStore, key: SealingKey, *, tsa_url: str = "",
                     lock_years: int = 10, lock_mode: str = "governance",
                     now: datetime | None = None) -> CheckpointRun:
    """Seal the current head if it moved since the last checkpoint; raise :class:`CheckpointRefused` if the chain
    no longer runs from the last checkpoint to the head."""
    run = CheckpointRun()
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is None or int(head.seq) == 0:
        run.notes.append("the audit trail is empty")
        return run
    seq, head_hash = int(head.seq), str(head.hash)
    last = newest_checkpoint(store, key.verifying)
    if last is not None and last.seq == seq and last.hash == head_hash:
        run.seq = seq
        run.notes.append("the head has not moved since the last checkpoint")
        return run
    _check_continuity(session, last, seq, head_hash)
    now = now or utcnow()
    body = {"seq": seq, "hash": head_hash, "sealed_at": canonical_time(now), "key_id": key.key_id,
            "previous": last.digest if last is not None else None}
    signature = key.sign(_canonical(body))
    token = None
    if tsa_url:
        try:
            token = _timestamp(tsa_url, signature)
        except Exception as exc:  # any TSA failure: seal without a token now, the next run tries again
            run.notes.append(f"no timestamp: {exc}")
            log.warning("audit checkpoint %s sealed without a timestamp: the TSA at %s failed: %s", seq, tsa_url, exc)
    record = {"schema": SCHEMA, "checkpoint": body, "signature": base64.b64encode(signature).decode(),
              "timestamp": base64.b64encode(token).decode() if token else None,
              "public_key": key.verifying.public_pem}
    data = _canonical(record)
    name = f"{PREFIX}{seq:012d}-{_stamp(now)}-{hashlib.sha256(data).hexdigest()}.json"
    retention = store.put_named_locked(name, data, now + timedelta(days=round(lock_years * DAYS_PER_YEAR)),
                                       lock_mode)
    run.name, run.seq, run.timestamped, run.locked = name, seq, token is not None, retention is not None
    return run


def _check_continuity(session: Session, last: Checkpoint | None, seq: int, head_hash: str) -> None:
    """The chain from the last checkpoint to the head: each event's hash recomputed and each link held."""
    start, prev = (0, GENESIS) if last is None else (last.seq, last.hash)
    if seq < start:
        raise CheckpointRefused(f"The audit head is at event {seq}, but a checkpoint sealed event {start}: events "
                                "were deleted from the end.")
    if last is not None:
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == start))
        if stored != prev:
            raise CheckpointRefused(f"Event {start} no longer has the hash its checkpoint sealed: the chain up to it "
                                    "was rewritten.")
    expected = start + 1
    for ev in _events_after(session, start):
        if ev.seq != expected or ev.prev_hash != prev:
            raise CheckpointRefused(f"The audit chain breaks at event {ev.seq} after the last checkpoint.")
        if event_hash(seq=ev.seq, at=ev.at, actor=ev.actor, action=ev.action, subject=ev.subject,
                      details=ev.details or {}, prev_hash=ev.prev_hash) != ev.hash:
            raise CheckpointRefused(f"Audit event {ev.seq} does not match its hash (edited).")
        prev, expected = ev.hash, ev.seq + 1
    if expected - 1 != seq or prev != head_hash:
        raise CheckpointRefused(f"The audit head (event {seq}) does not match the last event ({expected - 1}).")


def _events_after(session: Session, after: int, batch: int = 2000) -> Iterator[Any]:
    while True:
        chunk = session.execute(
            select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.subject,
                   AuditEvent.details, AuditEvent.prev_hash, AuditEvent.hash)
            .where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)).all()
        if not chunk:
            return
        yield from chunk
        after = chunk[-1].seq


def _timestamp(tsa_url: str, signature: bytes) -> bytes:
    """An RFC 3161 token over SHA-256 of the signature (pyHanko's client, as permits use)."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    stamper = HTTPTimeStamper(tsa_url, timeout=TSA_TIMEOUT_S)
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256"))
    return bytes(token.dump())


# -- reading --------------------------------------------------------------------------------------------------------


def checkpoint_names(store: ObjectStore) -> list[str]:
    """Every checkpoint record, oldest first (by sequence number, then sealing time)."""
    return [name for name in store.list_named(PREFIX) if _NAME_RE.match(name)]


def read_checkpoint(store: ObjectStore, name: str, verifying: VerifyingKey) -> Checkpoint:
    """One checkpoint, its signature checked with ``verifying`` and its timestamp token with its own certificate.

    A record that cannot be parsed comes back with ``signature_ok`` False and the reason in ``problems``."""
    match = _NAME_RE.match(name)
    problems: list[str] = []
    try:
        data = store.get_named(name)  # checks the digest in the name
        record = json.loads(data)
        body = record["checkpoint"]
        signature = base64.b64decode(record["signature"])
        seq, head_hash = int(body["seq"]), str(body["hash"])
        sealed_at = datetime.fromisoformat(str(body["sealed_at"]).replace("Z", "+00:00"))
    except (StoreError, ValueError, KeyError, TypeError) as exc:
        return Checkpoint(name=name, seq=int(match.group(1)) if match else 0, hash="", sealed_at=utcnow(),
                          key_id="", previous=None, digest=match.group(3) if match else "", signature_ok=False,
                          timestamp=None, retention=None, problems=(f"unreadable: {exc}",))
    if record.get("schema") != SCHEMA:
        problems.append(f"unknown schema {record.get('schema')!r}")
    if match is None or int(match.group(1)) != seq:
        problems.append("its name does not carry its sequence number")
    signature_ok = verifying.verify(signature, _canonical(body))
    if body.get("key_id") != verifying.key_id:
        problems.append(f"signed by key {str(body.get('key_id'))[:16]}…, not the sealing key {verifying.key_id[:16]}…")
    timestamp = _check_timestamp(record.get("timestamp"), signature)
    if timestamp is not None and not timestamp.intact:
        problems.append("its timestamp token does not match it")
    try:
        retention = store.named_retention(name)
    except StoreError:
        retention = None
    return Checkpoint(name=name, seq=seq, hash=head_hash, sealed_at=sealed_at, key_id=str(body.get("key_id")),
                      previous=body.get("previous"), digest=hashlib.sha256(data).hexdigest(),
                      signature_ok=signature_ok, timestamp=timestamp, retention=retention, problems=tuple(problems))


def read_checkpoints(store: ObjectStore, verifying: VerifyingKey) -> list[Checkpoint]:
    return [read_checkpoint(store, name, verifying) for name in checkpoint_names(store)]


def newest_checkpoint(store: ObjectStore, verifying: VerifyingKey) -> Checkpoint | None:
    """The newest checkpoint this key signed (older or foreign ones are skipped: the continuity check starts there)."""
    for name in reversed(checkpoint_names(store)):
        checkpoint = read_checkpoint(store, name, verifying)
        if checkpoint.trusted:
            return checkpoint
    return None


def _check_timestamp(encoded: Any, signature: bytes) -> TimestampCheck | None:
    if not encoded:
        return None
    try:
        from asn1crypto import cms
        from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
        from pyhanko_certvalidator import ValidationContext

        info = cms.ContentInfo.load(base64.b64decode(encoded))
        signed = info["content"]
        certs = signed["certificates"]
        authority = certs[0].chosen.subject.human_friendly if certs else "unknown"
        status = asyncio.run(validate_tst_signed_data(
            signed, ValidationContext(trust_roots=[], allow_fetching=False),
            lambda algorithm: hashlib.new(algorithm, signature).digest()))
        return TimestampCheck(time=status.get("timestamp"), intact=bool(status.get("intact")), authority=authority)
    except Exception as exc:  # a token that cannot be parsed or checked is a failed one
        return TimestampCheck(time=None, intact=False, authority=f"unreadable token ({type(exc).__name__})")
