"""The ``file:///abs/path`` backend: objects as read-only files in a local (or mounted) directory.

Layout under the root::

    objects/ab/cd/<64 hex>   one file per object, named by its SHA-256
    tmp/                     writes in progress; whatever is left here after a crash is garbage

A write goes to a fresh file in ``tmp/`` (same filesystem, so the final rename is atomic), is hashed on
the way, fsynced, then renamed onto its content-addressed name and the directory is fsynced. Readers
therefore only ever see complete objects, and concurrent writers of the same content each rename
identical bytes onto the same name.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from archive.store.base import (
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    RawStream,
    Retention,
    Source,
    StoreConfigError,
    StoreUnavailable,
    copy_hashing,
    fanout,
    is_key,
)

OBJECT_MODE = 0o444
"""Objects never change, so they are read-only; who may read them is decided by the root's permissions."""

_HEX_PAIRS = frozenset(f"{i:02x}" for i in range(256))

_P = ParamSpec("_P")
_R = TypeVar("_R")


class LocalStore(ObjectStore):
    """Content-addressed objects in a directory tree; the module docstring has the layout and guarantees."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root)
        if not path.is_absolute():
            raise StoreConfigError(f"The object store directory must be an absolute path, not {str(root)!r}.")
        self.root = path
        self.url = path.as_uri()
        self._objects = path / "objects"
        self._tmp = path / "tmp"
        self._layout_ready = False

    @classmethod
    def from_url(cls, url: str) -> LocalStore:
        """Open ``file:///absolute/path`` (``file://localhost/...`` is accepted too)."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file":
            raise StoreConfigError(f"A local object store URL must start with file://, not {url!r}.")
        if parts.netloc not in ("", "localhost"):
            raise StoreConfigError(
                f"The object store URL {url!r} names a host; use file:///absolute/path (three slashes)."
            )
        if parts.query or parts.fragment:
            raise StoreConfigError(f"The object store URL {url!r} takes no query or fragment.")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise StoreConfigError(
                f"The object store URL {url!r} must hold an absolute path: file:///var/sijill."
            )
        return cls(path)

    def path_for(self, key: str) -> Path:
        """Where the object with ``key`` lives on disk (for operators and tests; it may not exist)."""
        return self._objects / fanout(key)

    # -- writing --

    def _put(self, data: Source) -> str:
        # Replace even when the object exists: the bytes are identical by construction, the rename is atomic, a
        # damaged copy gets healed and the fresh mtime tells the orphan sweeper it is in use.
        key, _size = self._write_atomically(
            "put-",
            lambda fh: copy_hashing(data, _GuardedSink(fh, self)),
            lambda written: self.path_for(written[0]),
            mode=OBJECT_MODE,
        )
        return key

    def _write_atomically(self, prefix: str, write: Callable[[BinaryIO], _R], final_path: Callable[[_R], Path],
                          mode: int | None = None) -> _R:
        """Write through ``write`` into a temp file, fsync it, rename it onto ``final_path(result)`` and fsync that
        directory: a crash at any point leaves the old file or the whole new one, never part of one."""
        self._ensure_layout()
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self._tmp)
        except OSError as exc:
            raise self._unavailable(exc) from exc
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                result = write(fh)
                self._guard(fh.flush)
                self._guard(os.fsync, fh.fileno())
            if mode is not None:
                self._guard(os.chmod, tmp, mode)
            final = final_path(result)
            self._make_parents(final)
            self._guard(os.replace, tmp, final)
            self._guard(_fsync_dir, final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return result

    def _delete(self, key: str) -> None:
        if self._hold_path(f"objects/{fanout(key)}").exists():
            raise ObjectLocked(key, f"Object {key} is under a legal hold and cannot be deleted.")
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._unavailable(exc) from exc
        self._guard(_fsync_dir, path.parent)

    # -- reading --

    def _open_raw(self, key: str) -> RawStream:
        try:
            handle: BinaryIO = open(self.path_for(key), "rb")  # closed by ObjectReader
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise self._unavailable(exc) from exc
        return handle

    def _stat(self, key: str) -> ObjectInfo:
        try:
            st = os.stat(self.path_for(key))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise self._unavailable(exc) from exc
        if not stat_mod.S_ISREG(st.st_mode):
            raise ObjectNotFound(key)
        return ObjectInfo(key=key, size=st.st_size, modified=datetime.fromtimestamp(st.st_mtime, UTC))

    def _list(self, prefix: str) -> Iterator[str]:
        for first in self._subdirs(self._objects, prefix[:2]):
            for second in self._subdirs(self._objects / first, prefix[2:4]):
                folder = self._objects / first / second
                try:
                    with os.scandir(folder) as entries:
                        names = sorted(
                            e.name for e in entries if is_key(e.name) and e.is_file(follow_symlinks=False)
                        )
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise self._unavailable(exc) from exc
                for name in names:
                    if name.startswith(prefix) and name[:2] == first and name[2:4] == second:
                        yield name

    def _subdirs(self, folder: Path, wanted: str) -> list[str]:
        """Sorted fan-out directory names in ``folder`` that can hold keys starting with ``wanted``."""
        try:
            with os.scandir(folder) as entries:
                return sorted(
                    e.name
                    for e in entries
                    if e.name in _HEX_PAIRS and e.name.startswith(wanted) and e.is_dir(follow_symlinks=False)
                )
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._unavailable(exc) from exc

    # -- named records --

    def _named_path(self, name: str) -> Path:
        return self.root / "named" / name

    def _put_named(self, name: str, data: bytes) -> None:
        self._write_atomically("named-", lambda fh: self._guard(fh.write, data), lambda _: self._named_path(name))

    def _get_named(self, name: str) -> bytes:
        try:
            return self._named_path(name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(name) from None
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def _list_named(self, prefix: str) -> Iterator[str]:
        base = self.root / "named"
        folder, _, _start = prefix.rpartition("/")
        top = base / folder if folder else base
        if not top.is_dir():
            return iter(())
        names = sorted(str(p.relative_to(base)) for p in top.rglob("*") if p.is_file())
        return iter([n for n in names if n.startswith(prefix)])

    # -- sealed records and legal holds: this store's equivalent of S3 object lock --
    #
    # A record written "locked" is a read-only file that put_named_locked never replaces; a legal hold is a marker
    # file under holds/ that makes delete() refuse. Both bind the application (the sweeper, retention, any code path
    # through the store), not someone with a shell on the disk: only S3 object lock binds that person too.

    supports_legal_hold = True

    def _hold_path(self, relative: str) -> Path:
        return self.root / "holds" / relative

    def _put_named_locked(self, name: str, data: bytes, until: datetime, mode: str) -> Retention | None:
        path = self._named_path(name)
        if path.exists():
            return None  # written once: a name carries its content's digest, and a locked record is never replaced
        self._write_atomically("named-", lambda fh: self._guard(fh.write, data), lambda _: path, mode=OBJECT_MODE)
        return None

    def _set_legal_hold(self, key: str, on: bool) -> None:
        self._stat(key)
        self._set_marker(f"objects/{fanout(key)}", on)

    def _legal_hold(self, key: str) -> bool:
        return self._hold_path(f"objects/{fanout(key)}").exists()

    def _set_named_legal_hold(self, name: str, on: bool) -> None:
        if not self._named_path(name).is_file():
            raise ObjectNotFound(name)
        self._set_marker(f"named/{name}", on)

    def _named_legal_hold(self, name: str) -> bool:
        return self._hold_path(f"named/{name}").exists()

    def _set_marker(self, relative: str, on: bool) -> None:
        marker = self._hold_path(relative)
        if on:
            self._write_atomically("hold-", lambda fh: self._guard(fh.write, b"legal hold\n"), lambda _: marker)
        else:
            try:
                marker.unlink()
            except FileNotFoundError:
                return
            except OSError as exc:
                raise self._unavailable(exc) from exc
            self._guard(_fsync_dir, marker.parent)

    # -- operations --

    def health(self) -> None:
        """Check that the directories exist (creating them) and that a file can be written and synced."""
        self._layout_ready = False
        self._ensure_layout()
        try:
            with os.scandir(self._objects):
                pass
            fd, probe = tempfile.mkstemp(prefix="health-", suffix=".tmp", dir=self._tmp)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise self._unavailable(exc) from exc

    # -- helpers --

    def _ensure_layout(self) -> None:
        """Create ``objects/`` and ``tmp/`` on first use, so a fresh data directory needs no set-up step."""
        if self._layout_ready:
            return
        try:
            for folder in (self.root, self._objects, self._tmp):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unavailable(exc) from exc
        self._layout_ready = True

    def _make_parents(self, final: Path) -> None:
        """Create the missing directories between the store's root and ``final`` (the two fan-out levels of an
        object, any depth for a named record), fsyncing each new directory's parent so its entry is durable."""
        missing = [folder for folder in reversed(final.parents)
                   if folder.is_relative_to(self.root) and folder != self.root and not folder.is_dir()]
        for folder in missing:
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise self._unavailable(exc) from exc
            self._guard(_fsync_dir, folder.parent)

    def _guard(self, func: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run a filesystem call, turning OS errors into :class:`StoreUnavailable` with a clear sentence."""
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: OSError) -> StoreUnavailable:
        reason = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".")
        where = f" ({exc.filename})" if exc.filename else ""
        return StoreUnavailable(f"The object store at {self.url} cannot be used: {reason.lower()}{where}.")


class _GuardedSink:
    """Wraps the temp file so a full or failing disk surfaces as :class:`StoreUnavailable`, not OSError.

    Errors from *reading* the caller's source pass through untouched: those are the caller's problem.
    """

    def __init__(self, fh: BinaryIO, store: LocalStore) -> None:
        self._fh = fh
        self._store = store

    def write(self, data: bytes, /) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            raise self._store._unavailable(exc) from exc


def _fsync_dir(folder: Path) -> None:
    """Make a rename/creation inside ``folder`` durable (skipped where directories cannot be fsynced)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)
