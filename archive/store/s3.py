"""The ``s3://`` backend: objects in an S3-compatible bucket (MinIO, SeaweedFS, AWS) via the ``minio`` client.

URL forms (credentials may be percent-encoded; the path after the bucket is an optional key prefix)::

    s3://ACCESS:SECRET@host:9000/bucket[/prefix]         plain HTTP (``s3+http://`` is the same)
    s3+https://ACCESS:SECRET@host/bucket[/prefix]        TLS, certificate checked (SSL_CERT_FILE or certifi)

Query options: ``region=NAME`` (skip bucket-location discovery) and ``create_bucket=true`` (create the bucket
on first use instead of reporting it missing).

Objects are named ``<prefix>sha256/ab/cd/<hex>``. The name is the hash, and the hash is only known after
the last byte, so ``put`` first spools the stream to a temporary file (in memory while small) while
hashing, then uploads it with its exact length. The digest is also stored as ``x-amz-meta-sha256`` for
tools that look at metadata.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)

from archive.store.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    Source,
    StoreConfigError,
    StoreUnavailable,
    copy_hashing,
    fanout,
    fanout_prefix,
    is_key,
)

S3_SCHEMES = ("s3", "s3+http", "s3+https")
CONNECT_TIMEOUT_S = 3.0
"""An unreachable server must fail fast (health checks, web requests), not after minutes of back-off."""
READ_TIMEOUT_S = 60.0
RETRIES = 2
SPOOL_IN_MEMORY = CHUNK_SIZE
"""Uploads up to this size are spooled in memory; larger ones go to a temporary file."""

_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_ACCESS_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://`` URL. ``prefix`` is empty or ends with ``/``."""

    endpoint: str
    secure: bool
    bucket: str
    prefix: str = ""
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    create_bucket: bool = False

    @property
    def server_url(self) -> str:
        """``http(s)://host:port``: how messages name the server (never with credentials)."""
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @property
    def display_url(self) -> str:
        """The store URL without credentials."""
        scheme = "s3+https" if self.secure else "s3"
        prefix = f"/{self.prefix.rstrip('/')}" if self.prefix else ""
        return f"{scheme}://{self.endpoint}/{self.bucket}{prefix}"


def parse_s3_url(url: str) -> S3Location:
    """Parse an ``s3://`` store URL; errors are :class:`StoreConfigError`, never echoing secrets."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in S3_SCHEMES:
        raise StoreConfigError("An S3 object store URL must start with s3://, s3+http:// or s3+https://.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise StoreConfigError("The S3 object store URL has an invalid port number.") from None
    if not host:
        raise StoreConfigError("The S3 object store URL must name a host: s3://KEY:SECRET@host:9000/bucket.")
    endpoint = f"[{host}]" if ":" in host else host
    if port is not None:
        endpoint += f":{port}"

    path = unquote(parts.path)
    bucket, _, rest = path.strip("/").partition("/")
    if not bucket:
        raise StoreConfigError(
            f"The S3 object store URL for {endpoint} must name a bucket: s3://…@host/bucket."
        )
    if not _valid_bucket(bucket):
        raise StoreConfigError(
            f"{bucket!r} is not a valid bucket name: use 3-63 lowercase letters, digits, dots and hyphens."
        )
    segments = [s for s in rest.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise StoreConfigError("The key prefix in the S3 object store URL must not contain '.' or '..'.")
    prefix = "".join(s + "/" for s in segments)

    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if (user is None) != (password is None) or user == "":
        raise StoreConfigError(
            "The S3 object store URL must give both the access key and the secret (s3://KEY:SECRET@host/b) "
            "or neither."
        )

    region: str | None = None
    create_bucket = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "region" and value:
            region = value
        elif name == "create_bucket" and value.lower() in _TRUE + _FALSE:
            create_bucket = value.lower() in _TRUE
        else:
            raise StoreConfigError(
                f"Unknown or malformed S3 store URL option {name!r}: use region=NAME or create_bucket=true."
            )
    return S3Location(
        endpoint=endpoint,
        secure=scheme == "s3+https",
        bucket=bucket,
        prefix=prefix,
        access_key=user,
        secret_key=password,
        region=region,
        create_bucket=create_bucket,
    )


def _valid_bucket(name: str) -> bool:
    return (
        3 <= len(name) <= 63
        and set(name) <= _BUCKET_CHARS
        and name[0].isalnum()
        and name[-1].isalnum()
        and ".." not in name
    )


def make_http_client() -> urllib3.PoolManager:
    """Connection pool with short connect timeouts and few quick retries, so outages surface in seconds."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
        maxsize=10,
        retries=urllib3.Retry(
            total=RETRIES, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504), raise_on_status=True
        ),
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
    )


class S3Store(ObjectStore):
    """Content-addressed objects in one bucket (optionally under a key prefix) of an S3-compatible server."""

    def __init__(
        self,
        location: S3Location,
        *,
        http_client: urllib3.PoolManager | None = None,
        spool_dir: str | None = None,
    ) -> None:
        self.location = location
        self.bucket = location.bucket
        self.url = location.display_url
        self._spool_dir = spool_dir
        self._bucket_ready = False
        self._client = Minio(
            location.endpoint,
            access_key=location.access_key,
            secret_key=location.secret_key,
            secure=location.secure,
            region=location.region,
            http_client=http_client or make_http_client(),
        )

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        return cls(parse_s3_url(url))

    def object_name(self, key: str) -> str:
        """The S3 object name holding ``key`` (for operators and tests)."""
        return f"{self.location.prefix}sha256/{fanout(key)}"

    # -- writing --

    def _put(self, data: Source) -> str:
        self._ensure_bucket()
        spool_file = tempfile.SpooledTemporaryFile(
            max_size=SPOOL_IN_MEMORY, prefix="sijill-put-", dir=self._spool_dir
        )
        with spool_file as spool:
            key, size = copy_hashing(data, spool)
            name = self.object_name(key)
            if self._stored_size(key) == size:
                return key  # same name and size means same content: skip the upload
            spool.seek(0)
            with self._errors(key):
                # One part at a time keeps memory at one part (5 MiB), whatever the object size.
                self._client.put_object(
                    self.bucket,
                    name,
                    cast(BinaryIO, spool),
                    length=size,
                    metadata={"sha256": key},
                    num_parallel_uploads=1,
                )
        return key

    def _delete(self, key: str) -> None:
        with self._errors(key):
            self._client.remove_object(self.bucket, self.object_name(key))

    # -- reading --

    def _open_raw(self, key: str) -> _Body:
        with self._errors(key):
            response = self._client.get_object(self.bucket, self.object_name(key))
        return _Body(response, self)

    def _stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            obj = self._client.stat_object(self.bucket, self.object_name(key))
        modified = obj.last_modified or datetime.fromtimestamp(0, UTC)
        return ObjectInfo(key=key, size=obj.size or 0, modified=modified.astimezone(UTC))

    def _stored_size(self, key: str) -> int | None:
        try:
            return self._stat(key).size
        except ObjectNotFound:
            return None

    def _list(self, prefix: str) -> Iterator[str]:
        root = f"{self.location.prefix}sha256/"
        with self._errors():
            start = root + fanout_prefix(prefix)
            listing = self._client.list_objects(self.bucket, prefix=start, recursive=True)
            for obj in listing:
                name = obj.object_name or ""
                key = name.rpartition("/")[2]
                if is_key(key) and key.startswith(prefix) and name == root + fanout(key):
                    yield key

    # -- operations --

    def health(self) -> None:
        """Check the server answers, the bucket exists (or is created) and the credentials may list it."""
        self._bucket_ready = False
        self._ensure_bucket()
        with self._errors():
            for _ in self._client.list_objects(self.bucket, prefix=f"{self.location.prefix}sha256/"):
                break

    # -- helpers --

    def _ensure_bucket(self) -> None:
        """Check the bucket once per store (creating it if the URL asked for that) before the first write."""
        if self._bucket_ready:
            return
        with self._errors():
            if not self._client.bucket_exists(self.bucket):
                if not self.location.create_bucket:
                    raise StoreUnavailable(
                        f"The object store at {self.location.server_url} has no bucket {self.bucket!r}; "
                        "create it or add ?create_bucket=true to the store URL."
                    )
                try:
                    self._client.make_bucket(self.bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
        self._bucket_ready = True

    @contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Turn minio/urllib3 failures into :class:`ObjectNotFound` or a one-sentence StoreUnavailable."""
        server = self.location.server_url
        try:
            yield
        except S3Error as exc:
            if key is not None and exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(key) from None
            if exc.code == "NoSuchBucket":
                raise StoreUnavailable(
                    f"The object store at {server} has no bucket named {self.bucket!r}."
                ) from exc
            if exc.code in _ACCESS_CODES:
                raise StoreUnavailable(
                    f"The object store at {server} refused access to bucket {self.bucket!r} ({exc.code}); "
                    "check the access key and secret."
                ) from exc
            raise StoreUnavailable(
                f"The object store at {server} rejected a request with error {exc.code}: {exc.message}."
            ) from exc
        except ServerError as exc:
            raise StoreUnavailable(
                f"The object store at {server} is failing: it answered with HTTP status {exc.status_code}."
            ) from exc
        except InvalidResponseError as exc:
            raise StoreUnavailable(
                f"The server at {server} did not answer like an S3 object store; check the store URL."
            ) from exc
        except HTTPError as exc:
            reason = _reason(exc)
            raise StoreUnavailable(f"The object store at {server} cannot be reached: {reason}.") from exc


class _Body:
    """The HTTP response of a GET, read in chunks; network failures mid-stream become StoreUnavailable."""

    def __init__(self, response: urllib3.BaseHTTPResponse, store: S3Store) -> None:
        self._response = response
        self._store = store

    def read(self, size: int, /) -> bytes:
        with self._store._errors():
            return self._response.read(size)

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


def _reason(exc: BaseException) -> str:
    """A short human phrase for why a request failed, from the most telling error in the exception chain."""
    chain = _chain(exc)

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(err, types) for err in chain)

    # Order matters: urllib3 derives NewConnectionError (refused, unreachable, DNS) from ConnectTimeoutError.
    if has(ConnectionRefusedError):
        return "connection refused"
    if has(NameResolutionError, socket.gaierror):
        return "its host name cannot be resolved"
    if has(SSLError, ssl.SSLError):
        return "the TLS connection failed (is it really https, with a trusted certificate?)"
    if has(ConnectionResetError):
        return "the connection was reset"
    if has(ReadTimeoutError):
        return f"it did not answer within {READ_TIMEOUT_S:g} seconds"
    if any(type(err) is ConnectTimeoutError for err in chain) or has(TimeoutError):
        return f"the connection timed out after {CONNECT_TIMEOUT_S:g} seconds"
    if has(ResponseError):
        return "it kept answering with server errors"
    if has(ProtocolError):
        return "the connection broke off"
    os_errors = [err for err in chain if isinstance(err, OSError) and err.strerror]
    if os_errors:
        return str(os_errors[-1].strerror).lower().rstrip(".")
    return (str(chain[-1]) or type(chain[-1]).__name__).rstrip(".")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps (retry reasons, causes, contexts, arguments), outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or any(err is s for s in seen):
            continue
        seen.append(err)
        if isinstance(err, MaxRetryError):
            todo.append(err.reason)
        todo.extend([err.__cause__, err.__context__])
        todo.extend(a for a in err.args if isinstance(a, BaseException))
    return seen
