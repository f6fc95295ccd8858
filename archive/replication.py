"""A second copy of every object, and reads that heal the primary from it.

:class:`ArchiveStore` is the object store the application uses: the primary store, plus (when
``SIJILL_REPLICA_URL`` is set) a replica. Writes go to the primary and are noted in the ledger
(:class:`archive.models.StoredObject`); workers copy noted objects to the replica (:func:`replicate_pending`) and a
periodic listing of the primary (:func:`reconcile_ledger`) notes anything a failed ledger write missed. A read whose
bytes fail their hash check, or find nothing, is served from the replica and the primary is rewritten from it.
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import FixityCheck, StoredObject, utcnow
from archive.store import (
    CHUNK_SIZE,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    ObjectReader,
    ObjectStore,
    StoreError,
    open_store,
)
from archive.store.base import RawStream, Retention, Source, check_key

log = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 8 * 1024 * 1024
"""Objects up to this size are verified in memory before a read returns; larger ones in a temporary file."""


class ArchiveStore(ObjectStore):
    """The primary store with its ledger and optional replica; every public method keeps the store's contract."""

    def __init__(self, primary: ObjectStore, replica: ObjectStore | None = None,
                 database: Database | None = None) -> None:
        self.primary = primary
        self.replica = replica
        self.database = database
        self.url = primary.url
        self._ledger = _LedgerWriter(database) if database is not None else None

    # -- writing: primary first, then the ledger (in the background: reconcile_ledger catches what is lost) --

    def _put(self, data: Source) -> str:
        key = self.primary.put(data)
        self._note(key)
        return key

    def _rewrite(self, data: Source) -> str:
        key = self.primary.rewrite(data)
        self._note(key)
        return key

    def _note(self, key: str) -> None:
        """Hand the key to the ledger writer. Not in the caller's thread: the caller may hold the database's write
        lock (SQLite) in a transaction that has not committed yet, and a second writer would wait for it."""
        if self._ledger is not None:
            self._ledger.submit(lambda session: self._note_with_size(session, key))

    def _note_with_size(self, session: Session, key: str) -> None:
        """In the ledger thread: the size costs a round trip to the store, which the writer need not wait for."""
        try:
            size = self.primary.stat(key).size
        except StoreError as exc:
            log.warning("object %s stored but not noted in the ledger (the next listing will): %s", key, exc)
            return
        note_object(session, key, size)

    def flush_ledger(self, timeout: float = 60.0) -> None:
        """Wait until every ledger note and check record handed over so far is written (tests, commands)."""
        if self._ledger is not None:
            self._ledger.flush(timeout)

    def _delete(self, key: str) -> None:
        """Only the orphan sweeper deletes: both copies go, and the ledger row, so fixity does not miss them."""
        self.primary.delete(key)
        if self.replica is not None:
            self.replica.delete(key)
        if self.database is not None:
            with self.database.session() as session:
                session.execute(delete(StoredObject).where(StoredObject.key == key))

    # -- reading: verified in full before the first byte is handed over, healed from the replica --

    def open(self, key: str) -> ObjectReader:
        key = check_key(key)
        if self.replica is None:
            return self.primary.open(key)
        spool: RawStream
        try:
            spool = _verified_copy(self.primary, key)
        except (IntegrityError, ObjectNotFound) as primary_fault:
            spool = self._heal(key, primary_fault)
        return ObjectReader(key, spool)

    def _heal(self, key: str, fault: StoreError) -> RawStream:
        assert self.replica is not None
        try:
            spool = _verified_copy(self.replica, key)
        except (IntegrityError, ObjectNotFound):
            self._record_check(key, "read", "unrepairable", f"primary: {fault}; the replica has no good copy either")
            log.error("object %s is damaged in the primary and has no good copy in the replica", key)
            raise fault from None
        self.primary.rewrite(_Reread(spool))
        spool.seek(0)
        self._record_check(key, "read", "repaired", f"primary: {fault}; served from the replica and rewritten")
        log.warning("object %s failed its check in the primary; served from the replica and repaired", key)
        return spool

    def _record_check(self, key: str, source: str, result: str, detail: str) -> None:
        if self._ledger is not None:
            self._ledger.submit(lambda session: record_check(session, key, source=source, result=result,
                                                             detail=detail))

    def _open_raw(self, key: str) -> RawStream:  # pragma: no cover - open() is overridden
        raise NotImplementedError

    def _put_named(self, name: str, data: bytes) -> None:
        """Records are small: written to the replica at once too (a failure there is caught up by replication)."""
        self.primary.put_named(name, data)
        if self.replica is not None:
            try:
                self.replica.put_named(name, data)
            except StoreError as exc:
                log.warning("record %s not yet copied to the replica: %s", name, exc)

    def _get_named(self, name: str) -> bytes:
        try:
            return self.primary.get_named(name)
        except (IntegrityError, ObjectNotFound):
            if self.replica is None:
                raise
            data = self.replica.get_named(name)
            self.primary.put_named(name, data)
            return data

    def _list_named(self, prefix: str) -> Iterator[str]:
        return self.primary.list_named(prefix)

    # -- retention: the primary holds the records; the replica bucket should use a default retention rule --

    @property
    def supports_retention(self) -> bool:  # type: ignore[override]
        return self.primary.supports_retention

    def _retain(self, key: str, until: datetime, mode: str) -> Retention:
        return self.primary.retain(key, until, mode)

    def _retention(self, key: str) -> Retention | None:
        return self.primary.retention(key)

    def _release_retention(self, key: str, until: datetime) -> Retention:
        return self.primary.release_retention(key, until)

    def _put_named_locked(self, name: str, data: bytes, until: datetime, mode: str) -> Retention | None:
        retention = self.primary.put_named_locked(name, data, until, mode)
        if self.replica is not None:
            try:
                self.replica.put_named_locked(name, data, until, mode)
            except StoreError as exc:
                log.warning("locked record %s not copied to the replica: %s", name, exc)
        return retention

    def _named_retention(self, name: str) -> Retention | None:
        return self.primary.named_retention(name)

    @property
    def supports_legal_hold(self) -> bool:  # type: ignore[override]
        return self.primary.supports_legal_hold

    def _set_legal_hold(self, key: str, on: bool) -> None:
        self.primary.set_legal_hold(key, on)
        if self.replica is not None and self.replica.supports_legal_hold:
            try:
                self.replica.set_legal_hold(key, on)
            except StoreError as exc:
                log.warning("legal hold on %s not mirrored in the replica: %s", key, exc)

    def _legal_hold(self, key: str) -> bool:
        return self.primary.legal_hold(key)

    def _set_named_legal_hold(self, name: str, on: bool) -> None:
        self.primary.set_named_legal_hold(name, on)

    def _named_legal_hold(self, name: str) -> bool:
        return self.primary.named_legal_hold(name)

    def _stat(self, key: str) -> ObjectInfo:
        return self.primary.stat(key)

    def _list(self, prefix: str) -> Iterator[str]:
        return self.primary.list(prefix)

    def health(self) -> None:
        self.primary.health()

    def __repr__(self) -> str:
        return f"ArchiveStore({self.primary!r}, replica={self.replica!r})"


class _LedgerWriter:
    """A daemon thread that writes ledger notes and check records in their own transactions, in order.

    Started lazily per process (a forked worker child starts its own). Each write is retried a few times; what is
    still lost (the process dies, the database is down) is found again by :func:`reconcile_ledger`.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: queue.Queue[Callable[[Session], object]] = queue.Queue()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def submit(self, write: Callable[[Session], object]) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue()
                self._pid = os.getpid()
                threading.Thread(target=self._run, args=(self._queue,), name="sijill-ledger", daemon=True).start()
            self._queue.put(write)

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self, jobs: queue.Queue[Callable[[Session], object]]) -> None:
        while True:
            write = jobs.get()
            try:
                for attempt in range(5):
                    try:
                        with self.database.session() as session:
                            write(session)
                        break
                    except SQLAlchemyError as exc:
                        if attempt == 4:
                            log.warning("ledger write given up (the next store listing repairs it): %s", exc)
                        time.sleep(0.2 * 2**attempt)
            finally:
                jobs.task_done()


class _Reread:
    """Reads a spooled copy from its start without closing it (the caller reads it again afterwards)."""

    def __init__(self, spool: tempfile.SpooledTemporaryFile[bytes]) -> None:
        spool.seek(0)
        self._spool = spool

    def read(self, size: int = -1, /) -> bytes:
        return self._spool.read(size)


def _verified_copy(store: ObjectStore, key: str) -> tempfile.SpooledTemporaryFile[bytes]:
    """The object's bytes, read to the end (so the hash is checked) into a rewound spool."""
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    try:
        with store.open(key) as reader:
            while chunk := reader.read(CHUNK_SIZE):
                spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def open_archive_store(storage_url: str, replica_url: str | None, database: Database | None) -> ArchiveStore:
    """The store the application uses, from the settings' URLs (nothing is contacted here)."""
    return ArchiveStore(open_store(storage_url), open_store(replica_url) if replica_url else None, database)


# -- the ledger ---------------------------------------------------------------------------------------------------


def note_object(session: Session, key: str, size: int, *, now: datetime | None = None) -> bool:
    """Add ``key`` to the ledger if it is not there; True if it was new."""
    if session.get(StoredObject, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.execute(insert(StoredObject).values(key=key, size=size, first_seen=now or utcnow()))
    except DbIntegrityError:
        return False  # another writer noted it first
    return True


def reconcile_ledger(session: Session, store: ObjectStore, *, progress: Callable[[int], None] | None = None) -> int:
    """List the primary and note every object the ledger lacks; returns how many were added."""
    known = set(session.scalars(select(StoredObject.key)))
    added = 0
    for n, key in enumerate(store.list(), 1):
        if key not in known:
            note_object(session, key, store.stat(key).size)
            added += 1
        if progress is not None and n % 500 == 0:
            progress(n)
    return added


def record_check(session: Session, key: str, *, source: str, result: str, detail: str = "",
                 now: datetime | None = None) -> None:
    """Write a fixity check and update the ledger's last-check columns."""
    when = now or utcnow()
    session.add(FixityCheck(key=key, at=when, source=source, result=result, detail=detail))
    session.execute(update(StoredObject).where(StoredObject.key == key).values(checked_at=when, check_result=result))


# -- replication --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicationRun:
    copied: int
    failed: int


def replicate_pending(session: Session, primary: ObjectStore, replica: ObjectStore, *, limit: int = 500,
                      now: datetime | None = None) -> ReplicationRun:
    """Copy up to ``limit`` not-yet-replicated objects, oldest first; each copy is verified on the way."""
    keys = list(session.scalars(select(StoredObject.key).where(StoredObject.replicated_at.is_(None))
                                .order_by(StoredObject.first_seen, StoredObject.key).limit(limit)))
    copied = failed = 0
    for key in keys:
        try:
            with primary.open(key) as reader:
                replica.put(reader)  # hashed while copied: a bad primary copy fails here, not in the replica
        except (IntegrityError, ObjectNotFound) as exc:
            failed += 1
            log.error("cannot replicate %s: %s (the fixity job will try to repair it)", key, exc)
            continue
        session.execute(update(StoredObject).where(StoredObject.key == key)
                        .values(replicated_at=now or utcnow()))
        session.commit()
        copied += 1
    return ReplicationRun(copied, failed)


def replicate_named(primary: ObjectStore, replica: ObjectStore, prefix: str = "") -> int:
    """Copy the named records (manifests, audit segments) the replica lacks; returns how many were copied."""
    have = set(replica.list_named(prefix))
    copied = 0
    for name in primary.list_named(prefix):
        if name not in have:
            replica.put_named(name, primary.get_named(name))
            copied += 1
    return copied


@dataclass(frozen=True)
class ReplicationLag:
    pending: int
    oldest: datetime | None

    def age(self, now: datetime) -> timedelta:
        if self.oldest is None:
            return timedelta(0)
        oldest = self.oldest if self.oldest.tzinfo else self.oldest.replace(tzinfo=now.tzinfo)
        return max(timedelta(0), now - oldest)


def replication_lag(session: Session) -> ReplicationLag:
    row = session.execute(select(func.count(), func.min(StoredObject.first_seen))
                          .where(StoredObject.replicated_at.is_(None))).one()
    return ReplicationLag(pending=int(row[0] or 0), oldest=row[1])
