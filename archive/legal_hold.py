"""Legal holds: a whole case file frozen while it is under investigation, whatever retention says.

An auditor or an administrator places a hold on an application with a reason (web, API, ``sijill hold``). From then
on every object of the case is held by the store: the originals, every version, the OCR outputs (page PDFs,
previews, word boxes, searchable PDFs), every permit revision, prepared signatures, and every manifest of the
application (named records). On S3 that is an object-lock *legal hold*, which no retention date ends and which the
server enforces on every delete; the ``file://`` store keeps a marker that makes its delete refuse
(:class:`archive.store.LocalStore`). While a hold is active:

* the orphan sweeper cannot delete any of its objects (the store refuses, and :func:`held_object_keys` counts as
  referenced);
* :func:`archive.retention.release` refuses to end a retention period early on any of them;
* objects and manifests written after the hold was placed (a new version, the manifest of the hold itself) are held
  by the beat task ``archive.legal_holds`` (:func:`reapply_holds`), which also repairs a hold a store lost.

Releasing needs a reason too. An object shared with another held case (content addressing makes identical scans
one object) stays held. Both acts are rows of ``legal_holds`` (so they are in the application's manifest) and audit
events (``legal_hold.place``, ``legal_hold.release``); the search document says "تحفظ قانوني / legal hold".

What is an object of the case is read from the application's rows as the manifest sees them (every ``*sha256`` column
of every table the application owns), so a table added later is covered without touching this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import record_event
from archive.manifest import APPLICATION_PREFIX, build_application_manifest
from archive.models import Application, LegalHold, User, utcnow
from archive.roles import Role
from archive.store import ObjectNotFound, ObjectStore, RetentionUnsupported

log = logging.getLogger(__name__)

HOLD_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
REASON_MAX = 2000
SEARCH_WORDS = "تحفظ قانوني legal hold"
"""What the search document of a held application says (with the reason), so auditors find held files."""


class HoldRefused(ValueError):
    """A hold that may not be placed or released: ``code`` for the API, the sentence in Arabic and English."""

    STATUS: ClassVar[dict[str, int]] = {"not_permitted": 403, "reason_required": 400, "reason_too_long": 400,
                                        "already_held": 409, "not_held": 409, "store_cannot_hold": 503}

    def __init__(self, code: str, message_ar: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code, self.message_ar, self.message_en = code, message_ar, message_en

    @property
    def status(self) -> int:
        return self.STATUS.get(self.code, 400)


@dataclass
class HoldRun:
    hold: LegalHold | None = None
    held: int = 0
    """Objects and records whose store hold was set (or, on release, lifted)."""
    kept: int = 0
    """On release: objects left held because another held case shares them."""
    missing: list[str] = field(default_factory=list)
    """Keys the rows name that the store does not hold (reported; fixity restores them)."""


def active_hold(session: Session, application_id: int) -> LegalHold | None:
    return session.scalar(select(LegalHold).where(LegalHold.application_id == application_id,
                                                  LegalHold.released_at.is_(None)).order_by(LegalHold.id.desc())
                          .limit(1))


def holds_of(session: Session, application_id: int) -> list[LegalHold]:
    """Every hold of the application, newest first (the page shows them all)."""
    return list(session.scalars(select(LegalHold).where(LegalHold.application_id == application_id)
                                .order_by(LegalHold.id.desc())))


def case_object_keys(session: Session, application: Application) -> set[str]:
    """Every object key the application's rows name."""
    return set(build_application_manifest(session, application)["objects"])


def case_record_names(store: ObjectStore, application: Application) -> list[str]:
    """Every manifest the archive holds for the application."""
    return list(store.list_named(f"{APPLICATION_PREFIX}{application.tracking_number}/"))


def held_applications(session: Session) -> list[Application]:
    held = select(LegalHold.application_id).where(LegalHold.released_at.is_(None))
    query = select(Application).where(Application.id.in_(held)).order_by(Application.id)
    return list(session.scalars(query))


def held_object_keys(session: Session) -> set[str]:
    """Every object key of every case under an active hold (retention and the sweeper leave these alone)."""
    keys: set[str] = set()
    for application in held_applications(session):
        keys |= case_object_keys(session, application)
    return keys


def _check(session: Session, user: User, reason: str) -> str:
    if not user.active or not (HOLD_ROLES & set(user.roles)):
        raise HoldRefused("not_permitted", "التحفظ القانوني على الملف من صلاحية المراجع الرقابي أو مسؤول النظام فقط.",
                          "Only an auditor or an administrator may place or release a legal hold.")
    reason = (reason or "").strip()
    if not reason:
        raise HoldRefused("reason_required", "اكتب سبب التحفظ القانوني أو رفعه.",
                          "Give the reason for placing or releasing the legal hold.")
    if len(reason) > REASON_MAX:
        raise HoldRefused("reason_too_long", f"السبب أطول من اللازم ({REASON_MAX} حرف على الأكثر).",
                          f"The reason is too long ({REASON_MAX} characters at most).")
    return reason


def _require_store(store: ObjectStore) -> None:
    if not store.supports_legal_hold:
        raise HoldRefused("store_cannot_hold", "مخزن الأرشيف لا يدعم التحفظ القانوني على الملفات؛ لم يُحفظ شيء.",
                          f"The object store {store.url} cannot place legal holds (an S3 bucket needs object lock); "
                          "nothing was saved.")


def _hold_all(session: Session, store: ObjectStore, application: Application, run: HoldRun) -> None:
    for key in sorted(case_object_keys(session, application)):
        try:
            store.set_legal_hold(key, True)
            run.held += 1
        except ObjectNotFound:
            run.missing.append(key)  # not every *sha256 value names an object (a token's hash, say)
    for name in case_record_names(store, application):
        store.set_named_legal_hold(name, True)
        run.held += 1


def place_hold(session: Session, store: ObjectStore, application: Application, user: User,
               reason: str) -> HoldRun:
    """Record the hold and its audit event, then hold every object of the case in the store; the caller commits.

    The store is held before the commit: a failure there leaves extra holds, never a recorded hold that is not in
    force (the beat task completes what a crash after the commit left undone)."""
    reason = _check(session, user, reason)
    _require_store(store)
    if active_hold(session, application.id) is not None:
        raise HoldRefused("already_held", "على هذا الملف تحفظ قانوني قائم بالفعل.",
                          "This case file is already under a legal hold.")
    hold = LegalHold(application_id=application.id, reason=reason, placed_by_id=user.id, placed_at=utcnow())
    session.add(hold)
    session.flush()
    record_event(session, actor=user.username, action="legal_hold.place",
                 subject=f"application:{application.tracking_number}", details={"hold": hold.id, "reason": reason})
    run = HoldRun(hold=hold)
    _hold_all(session, store, application, run)
    return run


def release_hold(session: Session, store: ObjectStore, application: Application, user: User,
                 reason: str) -> HoldRun:
    """End the active hold (recorded and audited), and lift the store holds no other held case needs."""
    reason = _check(session, user, reason)
    hold = active_hold(session, application.id)
    if hold is None:
        raise HoldRefused("not_held", "لا يوجد تحفظ قانوني قائم على هذا الملف.",
                          "This case file is not under a legal hold.")
    hold.released_at, hold.released_by_id, hold.release_reason = utcnow(), user.id, reason
    session.flush()
    record_event(session, actor=user.username, action="legal_hold.release",
                 subject=f"application:{application.tracking_number}",
                 details={"hold": hold.id, "reason": reason, "placed_reason": hold.reason})
    run = HoldRun(hold=hold)
    still_held = held_object_keys(session)  # this hold is already released in this transaction
    for key in sorted(case_object_keys(session, application)):
        if key in still_held:
            run.kept += 1
            continue
        try:
            store.set_legal_hold(key, False)
            run.held += 1
        except (ObjectNotFound, RetentionUnsupported):
            continue
    for name in case_record_names(store, application):
        try:
            store.set_named_legal_hold(name, False)
            run.held += 1
        except (ObjectNotFound, RetentionUnsupported):
            continue
    return run


def reapply_holds(session: Session, store: ObjectStore) -> HoldRun:
    """The beat task: hold every object and manifest of every held case (idempotent; new versions and manifests
    written after a hold was placed are held within minutes)."""
    run = HoldRun()
    applications = held_applications(session)
    if applications and not store.supports_legal_hold:
        log.error("ALERT legal hold: %d case files are under a legal hold but the store %s cannot hold objects",
                  len(applications), store.url)
        return run
    for application in applications:
        _hold_all(session, store, application, run)
    return run
