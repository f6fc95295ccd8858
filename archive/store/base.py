"""What every object store backend shares: the interface, errors, key rules and the hashing/verifying streams.

Objects are addressed by the SHA-256 of their content, so a key can never point at different bytes, duplicates
collapse for free and any copy can be checked against its own name. Backends only move bytes; everything about
hashing and verification lives here so that both backends check integrity in exactly the same way.
"""

from __future__ import annotations

import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_SIZE = 1024 * 1024
"""Bytes moved per read/write: large enough to be efficient, small enough that memory stays flat."""

KEY_LENGTH = 64
_KEY_RE = re.compile(r"[0-9a-f]{64}")
_PREFIX_RE = re.compile(r"[0-9a-f]{0,64}")


class StoreError(Exception):
    """Base class for everything the object store raises on purpose."""


class ObjectNotFound(StoreError):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"No object is stored under the key {key}.")


class IntegrityError(StoreError):
    """The bytes stored under a key do not hash to that key (bit rot, tampering or a torn write)."""

    def __init__(self, key: str, actual: str) -> None:
        self.key = key
        self.actual = actual
        super().__init__(
            f"The stored bytes of object {key} do not match its key: they hash to {actual} instead."
        )


class StoreUnavailable(StoreError):
    """The backend cannot be reached or is misconfigured; the message is one sentence for an operator."""


class StoreConfigError(StoreError, ValueError):
    """A store URL or option is malformed (a ``ValueError``, so settings validation can treat it as such)."""


class ObjectLocked(StoreError):
    """The object is under a retention period (S3 object lock): it cannot be deleted or its period shortened."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


class RetentionUnsupported(StoreError):
    """The backend cannot hold objects against deletion (a file:// store, or an S3 bucket without object lock)."""


RETENTION_MODES = ("governance", "compliance")
"""S3 object-lock modes: ``governance`` may be ended early by an admin (bypass); ``compliance`` by nobody."""


@dataclass(frozen=True)
class Retention:
    """An object's retention: its mode and the moment until which it cannot be deleted (timezone-aware UTC)."""

    mode: str
    until: datetime


class InvalidKey(StoreError, ValueError):
    """A key or key prefix is not lowercase hexadecimal SHA-256; rejecting it early also keeps paths safe."""


@dataclass(frozen=True)
class ObjectInfo:
    """What is known about a stored object without reading it."""

    key: str
    size: int
    modified: datetime
    """When the object was last written, timezone-aware UTC."""


class Readable(Protocol):
    """Anything with a binary ``read(size)``: open files, ``io.BytesIO``, HTTP responses, other readers."""

    def read(self, size: int = ..., /) -> bytes: ...


class RawStream(Protocol):
    """The stored bytes as a backend hands them over, before verification."""

    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


Source = bytes | bytearray | memoryview | Readable
"""What ``put`` accepts: the bytes themselves, or a binary file-like object read in chunks."""


def is_key(name: str) -> bool:
    """Whether ``name`` looks like an object key (used to skip foreign files when listing)."""
    return _KEY_RE.fullmatch(name) is not None


def check_key(key: str) -> str:
    """Return ``key`` if it is a full lowercase hex SHA-256 digest, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"{key!r} is not an object key: keys are 64 lowercase hexadecimal characters.")
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it could start a key (lowercase hex, at most 64 characters), else raise."""
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidKey(f"{prefix!r} is not a key prefix: use up to 64 lowercase hexadecimal characters.")
    return prefix


_NAME_RE = re.compile(r"[a-z0-9_][A-Za-z0-9_.=+-]*(/[A-Za-z0-9_][A-Za-z0-9_.=+-]*)*")
_NAMED_DIGEST_RE = re.compile(r"-([0-9a-f]{64})\.[a-z]+$")


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe record name (slash-separated, no dot segments, at most 300 characters)."""
    if (not isinstance(name, str) or len(name) > 300 or not _NAME_RE.fullmatch(name)
            or any(part in (".", "..") for part in name.split("/"))):
        raise InvalidKey(f"{name!r} is not a record name: use letters, digits, '_.=+-' and '/' between parts.")
    return name


def named_digest(name: str) -> str | None:
    """The SHA-256 a record name promises (``…-<64 hex>.json``), if it has one."""
    match = _NAMED_DIGEST_RE.search(name)
    return match.group(1) if match else None


def fanout(key: str) -> str:
    """Relative location ``ab/cd/<key>`` of an object: two directory levels keep listings small."""
    return f"{key[:2]}/{key[2:4]}/{key}"


def fanout_prefix(prefix: str) -> str:
    """The longest location prefix shared by all objects whose keys start with ``prefix``."""
    if len(prefix) <= 2:
        return prefix
    if len(prefix) <= 4:
        return f"{prefix[:2]}/{prefix[2:]}"
    return f"{prefix[:2]}/{prefix[2:4]}/{prefix}"


def copy_hashing(source: Source, sink: Writable, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """Copy ``source`` into ``sink`` chunk by chunk; return the hex SHA-256 and the size of what was copied.

    Hashing while copying means the content is read exactly once, however large it is.
    """
    digest = hashlib.sha256()
    if isinstance(source, bytes | bytearray | memoryview):
        data = source if isinstance(source, bytes) else bytes(source)
        digest.update(data)
        sink.write(data)
        return digest.hexdigest(), len(data)
    read = getattr(source, "read", None)
    if not callable(read):
        raise TypeError(f"put() needs bytes or a binary file-like object, not {type(source).__name__}.")
    size = 0
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError("put() needs a binary file-like object; this one returns text (open it 'rb').")
        digest.update(chunk)
        sink.write(chunk if isinstance(chunk, bytes) else bytes(chunk))
        size += len(chunk)
    return digest.hexdigest(), size


class ObjectReader(io.RawIOBase):
    """A read-only binary stream over one stored object that checks the SHA-256 as the bytes go by.

    The content is only known to be intact once all of it has been read, so the check happens at the end
    of the stream: the ``read`` call that reaches EOF raises :class:`IntegrityError` instead of returning
    ``b""`` if the bytes do not hash to the key. Consumers must therefore read to the end before trusting
    (or committing) what they received. Use it as a context manager so the underlying file or connection
    is released.
    """

    def __init__(self, key: str, raw: RawStream) -> None:
        super().__init__()
        self.key = key
        self._raw = raw
        self._digest = hashlib.sha256()
        self._size = 0
        self._eof = False
        self._error: IntegrityError | None = None

    def readable(self) -> bool:
        return True

    @property
    def bytes_read(self) -> int:
        return self._size

    def read(self, size: int | None = -1, /) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on a closed object stream.")
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if not self._eof:
            chunk = self._raw.read(size)
            if chunk:
                self._digest.update(chunk)
                self._size += len(chunk)
                return bytes(chunk)
            self._eof = True
            actual = self._digest.hexdigest()
            if actual != self.key:
                self._error = IntegrityError(self.key, actual)
        if self._error is not None:
            raise self._error
        return b""

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK_SIZE):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        chunk = self.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


def _drain(reader: ObjectReader, chunk_size: int) -> Iterator[bytes]:
    with reader:
        while chunk := reader.read(chunk_size):
            yield chunk


class ObjectStore(ABC):
    """A content-addressed blob store. Public methods validate keys and delegate to the backend's primitives.

    Every key is the lowercase hex SHA-256 of the object's bytes. Writes are idempotent and objects never
    change, so callers may retry any operation freely. Reads always verify the content against the key.
    """

    url: str
    """Where the store lives, for messages: never contains credentials."""

    # -- writing --

    def put(self, data: Source) -> str:
        """Store ``data`` (bytes or a binary file-like object, read in chunks) and return its key.

        Storing content that is already present is a cheap no-op returning the same key.
        """
        if isinstance(data, str):
            raise TypeError("put() stores bytes; encode text first (for example data.encode('utf-8')).")
        return self._put(data)

    def rewrite(self, data: Source) -> str:
        """Store ``data`` even if an object of the same key is present: how a damaged copy is repaired.

        ``put`` may skip an upload when the key is already there (S3 compares sizes), which would leave a
        same-size corrupt copy in place; ``rewrite`` always replaces it.
        """
        if isinstance(data, str):
            raise TypeError("rewrite() stores bytes; encode text first.")
        return self._rewrite(data)

    def _rewrite(self, data: Source) -> str:
        return self._put(data)

    def delete(self, key: str) -> None:
        """Remove an object; deleting a missing object is a no-op.

        Reserved for the orphan sweeper, which alone knows that nothing references the object any more;
        normal code paths never delete, because content-addressed objects may be shared by many records.
        """
        self._delete(check_key(key))

    # -- retention (records held against deletion: S3 object lock) --

    supports_retention: bool = False
    """Whether :meth:`retain` can work here; backends that can answer it only by asking the server override it."""

    def retain(self, key: str, until: datetime, mode: str) -> Retention:
        """Hold ``key`` against deletion until ``until``; returns the retention now in force.

        Never shortens a period already in force (S3 refuses that anyway): a longer one already set is kept.
        """
        if mode not in RETENTION_MODES:
            raise ValueError(f"Retention mode must be one of {', '.join(RETENTION_MODES)}, not {mode!r}.")
        if until.tzinfo is None:
            raise ValueError("The retention date must be timezone-aware.")
        return self._retain(check_key(key), until, mode)

    def retention(self, key: str) -> Retention | None:
        """The retention in force on ``key``, or None; :class:`ObjectNotFound` if absent."""
        return self._retention(check_key(key))

    def release_retention(self, key: str, until: datetime) -> Retention:
        """End a governance-mode retention early (at ``until``, which must be in the future for S3).

        Only an admin command calls this, and it writes the audit trail; compliance mode raises
        :class:`ObjectLocked`, because no one can shorten it.
        """
        if until.tzinfo is None:
            raise ValueError("The retention date must be timezone-aware.")
        return self._release_retention(check_key(key), until)

    def _retain(self, key: str, until: datetime, mode: str) -> Retention:
        raise RetentionUnsupported(f"The object store {self.url} cannot hold objects against deletion.")

    def _retention(self, key: str) -> Retention | None:
        self._stat(key)
        return None

    def _release_retention(self, key: str, until: datetime) -> Retention:
        raise RetentionUnsupported(f"The object store {self.url} holds no retention periods.")

    # -- reading --

    def open(self, key: str) -> ObjectReader:
        """A verifying binary stream over the object (:class:`ObjectReader`): ``with store.open(k) as f:``.

        Raises :class:`ObjectNotFound` at once if nothing is stored under ``key``; :class:`IntegrityError` is
        raised by the ``read`` that reaches the end of the stream.
        """
        key = check_key(key)
        return ObjectReader(key, self._open_raw(key))

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the object's bytes in chunks; the last ``next()`` raises :class:`IntegrityError` on mismatch.

        The object is opened before this returns, so a missing key raises :class:`ObjectNotFound` here and
        not at the first ``next()``.
        """
        return _drain(self.open(key), chunk_size)

    get = iter_chunks
    """``get(key)`` is the issue's name for :meth:`iter_chunks`."""

    def get_bytes(self, key: str) -> bytes:
        """The whole (verified) object in memory: only for objects known to be small."""
        with self.open(key) as reader:
            return reader.read()

    def verify(self, key: str) -> bool:
        """Re-hash the stored bytes without keeping them; False if they no longer match the key.

        A missing object is not "corrupt": it raises :class:`ObjectNotFound`.
        """
        try:
            for _ in self.iter_chunks(key):
                pass
        except IntegrityError:
            return False
        return True

    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time of the object, without reading it; :class:`ObjectNotFound` if absent."""
        return self._stat(check_key(key))

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key`` (its content is not checked)."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield, in ascending order, the keys of stored objects whose hex digest starts with ``prefix``."""
        return self._list(check_prefix(prefix))

    # -- named records (manifests, audit segments): small, written once, listed by prefix --

    def put_named(self, name: str, data: bytes) -> None:
        """Store a small record under a path-like ``name`` (``manifests/SOH01-…/2026….json``).

        Names are never reused for other content: callers put a version and the content's SHA-256 in the name,
        and :meth:`get_named` checks a trailing ``-<sha256>.<ext>`` against the bytes.
        """
        self._put_named(check_name(name), bytes(data))

    def get_named(self, name: str) -> bytes:
        """The record's bytes; :class:`ObjectNotFound` if absent, :class:`IntegrityError` if its named hash fails."""
        data = self._get_named(check_name(name))
        expected = named_digest(name)
        if expected is not None:
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise IntegrityError(expected, actual)
        return data

    def list_named(self, prefix: str = "") -> Iterator[str]:
        """Names starting with ``prefix``, in ascending order."""
        if prefix:
            check_name(prefix.rstrip("/") or "x")
        return self._list_named(prefix)

    def put_named_locked(self, name: str, data: bytes, until: datetime, mode: str) -> Retention | None:
        """Store a record that no one may overwrite or delete before ``until`` (audit checkpoints).

        On S3 with object lock the retention is set in the same request as the write, so the record is never
        unprotected; returns the retention in force, or None where the store has no object lock (a ``file://``
        store writes it read-only, which stops mistakes, not someone with the disk: the caller reports it).
        """
        if mode not in RETENTION_MODES:
            raise ValueError(f"Retention mode must be one of {', '.join(RETENTION_MODES)}, not {mode!r}.")
        if until.tzinfo is None:
            raise ValueError("The retention date must be timezone-aware.")
        return self._put_named_locked(check_name(name), bytes(data), until, mode)

    def named_retention(self, name: str) -> Retention | None:
        """The retention in force on a named record, or None; :class:`ObjectNotFound` if absent."""
        return self._named_retention(check_name(name))

    def _put_named_locked(self, name: str, data: bytes, until: datetime, mode: str) -> Retention | None:
        self._put_named(name, data)
        return None

    def _named_retention(self, name: str) -> Retention | None:
        self._get_named(name)
        return None

    # -- legal holds (a case file under investigation: nothing of it may be deleted while held) --

    supports_legal_hold: bool = False
    """Whether :meth:`set_legal_hold` can work here."""

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place (``on``) or release a legal hold on an object; while held, no delete succeeds, whatever retention
        says. :class:`ObjectNotFound` if absent, :class:`RetentionUnsupported` if the store cannot hold."""
        self._set_legal_hold(check_key(key), on)

    def legal_hold(self, key: str) -> bool:
        """Whether a legal hold is on the object (False where the store has none)."""
        return self._legal_hold(check_key(key))

    def set_named_legal_hold(self, name: str, on: bool) -> None:
        """The same for a named record (an application's manifests)."""
        self._set_named_legal_hold(check_name(name), on)

    def named_legal_hold(self, name: str) -> bool:
        return self._named_legal_hold(check_name(name))

    def _set_legal_hold(self, key: str, on: bool) -> None:
        raise RetentionUnsupported(f"The object store {self.url} cannot place legal holds.")

    def _legal_hold(self, key: str) -> bool:
        return False

    def _set_named_legal_hold(self, name: str, on: bool) -> None:
        raise RetentionUnsupported(f"The object store {self.url} cannot place legal holds.")

    def _named_legal_hold(self, name: str) -> bool:
        return False

    def _put_named(self, name: str, data: bytes) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not store named records")

    def _get_named(self, name: str) -> bytes:
        raise NotImplementedError(f"{type(self).__name__} does not store named records")

    def _list_named(self, prefix: str) -> Iterator[str]:
        raise NotImplementedError(f"{type(self).__name__} does not store named records")

    # -- operations --

    @abstractmethod
    def health(self) -> None:
        """Return if the store is readable and writable; else raise :class:`StoreUnavailable`."""

    # -- backend primitives (keys already validated) --

    @abstractmethod
    def _put(self, data: Source) -> str: ...

    @abstractmethod
    def _open_raw(self, key: str) -> RawStream:
        """The stored bytes, unverified; raise :class:`ObjectNotFound` if absent."""

    @abstractmethod
    def _stat(self, key: str) -> ObjectInfo: ...

    @abstractmethod
    def _list(self, prefix: str) -> Iterator[str]: ...

    @abstractmethod
    def _delete(self, key: str) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
