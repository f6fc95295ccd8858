"""One contract for every object store backend, run against real backends: a temp directory and SeaweedFS S3.

Backend-specific tests (atomic local writes, S3 metadata, unreachable servers) follow the shared contract.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import (
    CHUNK_SIZE,
    IntegrityError,
    InvalidKey,
    LocalStore,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    S3Store,
    StoreConfigError,
    StoreError,
    StoreUnavailable,
    open_store,
)
from tests.fixtures.s3 import S3Server

MiB = 1024 * 1024
Corrupt = Callable[[ObjectStore, str, bytes], None]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


class PatternReader:
    """A binary stream of ``size`` pseudo-random bytes made on demand, so no test holds a large object.

    Each period is an 8-byte counter followed by the same random MiB, so the content never repeats; reads of a
    whole MiB return that block itself, so the reader adds (almost) nothing to traced memory.
    """

    def __init__(self, size: int, seed: int = 1) -> None:
        self._left = size
        self._pos = 0
        self._base = random.Random(seed).randbytes(MiB)

    def read(self, size: int = -1, /) -> bytes:
        size = min(self._left if size < 0 else size, self._left)
        if size <= 0:
            return b""
        offset = self._pos % (MiB + 8)
        if offset < 8:
            data = (self._pos // (MiB + 8)).to_bytes(8, "big")[offset : offset + size]
        else:
            start = offset - 8
            end = min(MiB, start + size)
            data = self._base if (start, end) == (0, MiB) else self._base[start:end]
        self._pos += len(data)
        self._left -= len(data)
        return data


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["local", "s3", "s3-locked"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The same tests run on every backend (and on a versioned, object-lock bucket); each test gets an empty store."""
    if request.param == "local":
        return open_store((tmp_path / "store").as_uri())
    url: str = request.getfixturevalue("s3_locked_store_url" if request.param == "s3-locked" else "s3_store_url")
    return open_store(url)


@pytest.fixture
def corrupt(request: pytest.FixtureRequest) -> Corrupt:
    """Overwrite an object's stored bytes behind the store's back, as bit rot or tampering would."""

    def overwrite(store: ObjectStore, key: str, data: bytes) -> None:
        if isinstance(store, LocalStore):
            path = store.path_for(key)
            path.chmod(0o644)
            path.write_bytes(data)
        elif isinstance(store, S3Store):
            server: S3Server = request.getfixturevalue("s3_server")
            server.client().put_object(store.bucket, store.object_name(key), io.BytesIO(data), len(data))
        else:  # pragma: no cover - a new backend must teach this fixture how to damage it
            raise NotImplementedError(type(store).__name__)

    return overwrite


# -- the contract --


def test_round_trip(store: ObjectStore) -> None:
    data = b"%PDF-1.7 \xd8\xb3\xd8\xac\xd9\x84 " * 1000
    key = store.put(data)
    assert key == sha256(data)
    assert store.get_bytes(key) == data
    assert b"".join(store.get(key)) == data
    with store.open(key) as stream:
        assert stream.read(10) == data[:10]
        assert stream.read() == data[10:]
        assert stream.read() == b""


def test_empty_object(store: ObjectStore) -> None:
    key = store.put(b"")
    assert key == sha256(b"")
    assert store.get_bytes(key) == b""
    assert store.stat(key).size == 0


def test_put_is_idempotent(store: ObjectStore) -> None:
    data = payload(70_000)
    first = store.put(data)
    second = store.put(io.BytesIO(data))
    assert first == second == sha256(data)
    assert list(store.list()) == [first]
    assert store.get_bytes(first) == data


def test_put_from_file_objects(store: ObjectStore, tmp_path: Path) -> None:
    data = payload(2 * CHUNK_SIZE + 12_345, seed=2)
    source = tmp_path / "scan.pdf"
    source.write_bytes(data)
    with source.open("rb") as fh:
        key = store.put(fh)
    assert key == sha256(data)
    assert store.put(io.BytesIO(data)) == key
    assert store.put(bytearray(data)) == key
    assert store.put(memoryview(data)) == key
    chunks = list(store.iter_chunks(key, chunk_size=100_000))
    assert all(0 < len(c) <= 100_000 for c in chunks)
    assert b"".join(chunks) == data
    with store.open(key) as stream, (tmp_path / "copy").open("wb") as out:
        shutil.copyfileobj(stream, out)
    assert (tmp_path / "copy").read_bytes() == data


def test_put_rejects_text(store: ObjectStore) -> None:
    with pytest.raises(TypeError, match="bytes"):
        store.put("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text"):
        store.put(io.StringIO("text"))  # type: ignore[arg-type]
    assert list(store.list()) == []


def test_large_object_streams_in_bounded_memory(store: ObjectStore) -> None:
    size = 48 * MiB
    expected = hashlib.sha256()
    reference = PatternReader(size)
    while chunk := reference.read(CHUNK_SIZE):
        expected.update(chunk)

    source = PatternReader(size)
    tracemalloc.start()
    try:
        key = store.put(source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest, total, chunks = hashlib.sha256(), 0, 0
        for chunk in store.iter_chunks(key):
            digest.update(chunk)
            total += len(chunk)
            chunks += 1
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert key == expected.hexdigest() == digest.hexdigest()
    assert total == size == store.stat(key).size
    assert chunks >= size // CHUNK_SIZE
    # The whole object would be 48 MiB. Streaming holds a few 1 MiB chunks; on S3 the minio client also holds
    # up to two 5 MiB multipart parts while uploading. Neither bound grows with the object size.
    put_limit = 16 * MiB if isinstance(store, S3Store) else 4 * MiB
    assert put_peak < put_limit, f"put peaked at {put_peak / MiB:.1f} MiB"
    assert get_peak < 4 * MiB, f"get peaked at {get_peak / MiB:.1f} MiB"


def test_stat_exists_and_list(store: ObjectStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    blobs = [payload(100 + i, seed=i) for i in range(12)]
    keys = [store.put(b) for b in blobs]

    info = store.stat(keys[0])
    assert info == ObjectInfo(key=keys[0], size=100, modified=info.modified)
    assert info.modified.tzinfo is not None and info.modified.utcoffset() == timedelta(0)
    assert before <= info.modified <= datetime.now(UTC) + timedelta(seconds=5)
    assert store.exists(keys[3])
    assert not store.exists(sha256(b"never stored"))

    assert list(store.list()) == sorted(keys)
    for key in keys[:4]:
        for length in (1, 2, 3, 4, 5, 64):
            prefix = key[:length]
            assert list(store.list(prefix)) == sorted(k for k in keys if k.startswith(prefix))
    unused = next(p for p in (f"{i:03x}" for i in range(4096)) if not any(k.startswith(p) for k in keys))
    assert list(store.list(unused)) == []


def test_invalid_keys_and_prefixes_are_rejected(store: ObjectStore) -> None:
    for bad in ("abc", "A" * 64, "../../etc/passwd", "g" * 64, ""):
        with pytest.raises(InvalidKey):
            store.stat(bad)
    with pytest.raises(ValueError, match="prefix"):
        list(store.list("ABC"))
    with pytest.raises(ValueError, match="prefix"):
        list(store.list("a/b"))


def test_missing_key(store: ObjectStore) -> None:
    key = sha256(b"absent")
    for call in (store.get_bytes, store.open, store.iter_chunks, store.get, store.stat, store.verify):
        with pytest.raises(ObjectNotFound) as info:
            call(key)
        assert key in str(info.value)
        assert isinstance(info.value, StoreError)
    assert not store.exists(key)
    store.delete(key)  # deleting what is not there is a no-op


def test_delete(store: ObjectStore) -> None:
    keep, drop = store.put(b"keep"), store.put(b"drop")
    store.delete(drop)
    assert not store.exists(drop)
    assert list(store.list()) == [keep]
    assert store.put(b"drop") == drop
    assert store.get_bytes(drop) == b"drop"


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_corruption_is_detected(store: ObjectStore, corrupt: Corrupt, damage: str) -> None:
    data = payload(CHUNK_SIZE + CHUNK_SIZE // 2, seed=7)
    key = store.put(data)
    assert store.verify(key)
    bad = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:] if damage == "flipped" else data[:-1]
    corrupt(store, key, bad)

    assert store.verify(key) is False
    with pytest.raises(IntegrityError) as info:
        store.get_bytes(key)
    assert key in str(info.value) and "do not match" in str(info.value)
    assert info.value.key == key and info.value.actual == sha256(bad)

    # Streaming delivers the bytes and raises only at the end, where the digest is known.
    received = []
    with pytest.raises(IntegrityError):
        for chunk in store.iter_chunks(key, chunk_size=256 * 1024):
            received.append(chunk)
    assert b"".join(received) == bad
    with store.open(key) as stream:
        assert stream.read(100) == bad[:100]
        with pytest.raises(IntegrityError):
            stream.read()
        with pytest.raises(IntegrityError):  # reading again at EOF keeps failing instead of returning b""
            stream.read(1)


def test_health(store: ObjectStore) -> None:
    assert store.health() is None
    assert "@" not in repr(store)  # credentials never show up in reprs or logs


# -- configuration errors --


@pytest.mark.parametrize(
    "url",
    [
        "",
        "nonsense",
        "ftp://host/objects",
        "file://otherhost/var/objects",
        "file:relative/path",
        "file:///var/objects?x=1",
        "s3://KEY:SECRETXYZ@host:99999/bucket",
        "s3://KEY:SECRETXYZ@host:9000",
        "s3://KEY:SECRETXYZ@:9000/bucket",
        "s3://KEY:SECRETXYZ@host:9000/Bad_Bucket",
        "s3://KEY:SECRETXYZ@host:9000/bucket/../up",
        "s3://KEY@host:9000/bucket",
        "s3://KEY:SECRETXYZ@host:9000/bucket?colour=blue",
        "s3://KEY:SECRETXYZ@host:9000/bucket?create_bucket=maybe",
    ],
)
def test_bad_urls_raise_clear_value_errors(url: str) -> None:
    with pytest.raises(StoreConfigError) as info:
        open_store(url)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert message.endswith(".") and "SECRETXYZ" not in message


def test_url_options() -> None:
    store = open_store(
        "s3+https://K%2Fx:S%40y@minio.example:9443/archive/tenant/one/?region=eu-1&create_bucket=yes"
    )
    assert isinstance(store, S3Store)
    location = store.location
    assert (location.endpoint, location.secure, location.bucket) == ("minio.example:9443", True, "archive")
    assert (location.access_key, location.secret_key, location.region) == ("K/x", "S@y", "eu-1")
    assert location.prefix == "tenant/one/" and location.create_bucket
    assert store.object_name("ab" * 32) == "tenant/one/sha256/ab/ab/" + "ab" * 32
    assert store.url == "s3+https://minio.example:9443/archive/tenant/one"
    assert isinstance(open_store("s3+http://k:s@h/bkt"), S3Store)
    assert open_store("file:///srv/sijill%20data/objects").root == Path("/srv/sijill data/objects")  # type: ignore[attr-defined]


# -- unreachable or misconfigured backends --


def test_unreachable_s3_fails_fast_with_a_sentence() -> None:
    port = closed_port()
    store = open_store(f"s3://k:s@127.0.0.1:{port}/bucket")
    expected = f"The object store at http://127.0.0.1:{port} cannot be reached: connection refused."
    calls: list[Callable[[], object]] = [
        store.health,
        lambda: store.put(b"data"),
        lambda: store.get_bytes(sha256(b"data")),
        lambda: store.stat(sha256(b"data")),
        lambda: list(store.list()),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert time.monotonic() - started < 5
        assert str(info.value) == expected


def test_s3_wrong_credentials_and_missing_bucket(s3_server: S3Server) -> None:
    wrong = open_store(f"s3://{s3_server.access_key}:not-the-secret@{s3_server.endpoint}/{s3_server.bucket}")
    with pytest.raises(StoreUnavailable, match=r"refused access .* check the access key and secret\.$"):
        wrong.health()
    missing = open_store(s3_server.url(bucket="no-such-bucket-here"))
    with pytest.raises(StoreUnavailable, match=r"has no bucket 'no-such-bucket-here'; create it or add"):
        missing.health()
    with pytest.raises(StoreUnavailable):
        missing.put(b"x")


def test_s3_creates_bucket_when_asked(s3_server: S3Server) -> None:
    # One extra bucket for the session: SeaweedFS pre-allocates volumes per bucket, so keep these rare.
    store = open_store(s3_server.url(bucket="sijill-created") + "?create_bucket=true")
    store.health()
    key = store.put(b"in a new bucket")
    assert store.get_bytes(key) == b"in a new bucket"
    assert s3_server.client().bucket_exists("sijill-created")


def test_s3_stores_digest_as_metadata(s3_server: S3Server, s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    assert isinstance(store, S3Store)
    key = store.put(b"metadata")
    obj = s3_server.client().stat_object(store.bucket, store.object_name(key))
    assert obj.metadata is not None
    assert obj.metadata.get("x-amz-meta-sha256") == key


def test_local_unusable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store directory should be")
    store = open_store(blocker.as_uri())
    with pytest.raises(StoreUnavailable, match=r"^The object store at file://.* cannot be used: .*\.$"):
        store.health()
    with pytest.raises(StoreUnavailable):
        store.put(b"x")


# -- local backend specifics --


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_local_layout_and_no_leftover_temp_files(local: LocalStore) -> None:
    key = local.put(b"one")
    local.put(PatternReader(3 * CHUNK_SIZE + 5))
    assert local.path_for(key) == local.root / "objects" / key[:2] / key[2:4] / key
    assert local.path_for(key).read_bytes() == b"one"
    assert local.path_for(key).stat().st_mode & 0o777 == 0o444
    assert os.listdir(local.root / "tmp") == []


def test_local_failed_put_leaves_nothing(local: LocalStore) -> None:
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1, /) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("the upload was interrupted")
            return b"x" * size

    with pytest.raises(OSError, match="interrupted"):
        local.put(Broken())
    assert os.listdir(local.root / "tmp") == []
    assert list(local.list()) == []


def test_local_list_ignores_temp_and_foreign_files(local: LocalStore) -> None:
    key = local.put(b"real")
    stray = sha256(b"stray")
    (local.root / "tmp" / stray).write_bytes(b"stray")  # left over by a crash
    (local.root / "objects" / "README").write_text("not an object")
    (local.root / "objects" / key[:2] / key[2:4] / "notes.txt").write_text("not an object")
    (local.root / "objects" / "zz").mkdir()
    assert list(local.list()) == [key]


def test_local_concurrent_puts_of_the_same_content(local: LocalStore) -> None:
    data = payload(3 * CHUNK_SIZE, seed=3)
    workers = 8
    barrier = threading.Barrier(workers)
    keys: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            barrier.wait()
            keys.append(local.put(io.BytesIO(data)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert keys == [sha256(data)] * workers
    assert list(local.list()) == [keys[0]]
    assert local.verify(keys[0])
    assert os.listdir(local.root / "tmp") == []


def test_local_put_heals_a_damaged_copy(local: LocalStore, corrupt: Corrupt) -> None:
    key = local.put(b"original")
    corrupt(local, key, b"damaged!")
    assert not local.verify(key)
    assert local.put(b"original") == key
    assert local.verify(key)
