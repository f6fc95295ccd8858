"""The ``s3://`` backend: objects in an S3-compatible bucket (MinIO, SeaweedFS, AWS) via the ``minio`` client.

URL forms (credentials may be percent-encoded; the path after the bucket is an optional key prefix)::

    s3://ACCESS:SECRET@host:9000/bucket[/prefix]         plain HTTP (``s3+http://`` is the same)
    s3+https://ACCESS:SECRET@host/bucket[/prefix]        TLS, certificate checked (SSL_CERT_FILE or certifi)

Query options: ``region=NAME`` (skip bucket-location discovery) and ``create_bucket=true`` (create the bucket
on first use instead of reporting it missing; a bucket Sijill creates has S3 object lock enabled, so records can be
held against deletion: see :meth:`S3Store.retain`).

Object lock and versions: a bucket with object lock is always versioned (S3 turns versioning on with it and it cannot
be turned off). A plain DELETE there only adds a "delete marker" and keeps the bytes, so :meth:`S3Store.delete`
removes every version of the object instead, which the server refuses while a retention period is in force.

Objects are named ``<prefix>sha256/ab/cd/<hex>``. The name is the hash, and the hash is only known after
the last byte, so ``put`` first spools the stream to a temporary file (in memory while small) while
hashing, then uploads it with its exact length. The digest is also stored as ``x-amz-meta-sha256`` for
tools that look at metadata.
"""

from __future__ import annotations

import io
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
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import md5sum_hash
from minio.retention import Retention as S3Retention
from minio.xml import marshal
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
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    Retention,
    RetentionUnsupported,
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
        self._locking: bool | None = None
        self._versioned: bool | None = None
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
        return self._upload(data, replace=False)

    def _rewrite(self, data: Source) -> str:
        return self._upload(data, replace=True)

    def _upload(self, data: Source, *, replace: bool) -> str:
        self._ensure_bucket()
        held: Retention | None = None
        spool_file = tempfile.SpooledTemporaryFile(
            max_size=SPOOL_IN_MEMORY, prefix="sijill-put-", dir=self._spool_dir
        )
        with spool_file as spool:
            key, size = copy_hashing(data, spool)
            name = self.object_name(key)
            if not replace and self._stored_size(key) == size:
                return key  # same name and size means same content: skip the upload
            spool.seek(0)
            if replace and self.supports_retention:
                try:  # a repair writes a new version: it must stay held as long as the damaged one
                    held = self._retention(key)
                except ObjectNotFound:
                    held = None
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
        if held is not None and held.until > datetime.now(UTC):
            self._retain(key, held.until, held.mode)
        return key

    def _delete(self, key: str) -> None:
        name = self.object_name(key)
        if not self._is_versioned():
            with self._errors(key):
                self._client.remove_object(self.bucket, name)
            return
        try:
            held = self._retention_or_none(key) if self.supports_retention else None
        except ObjectNotFound:
            return  # deleting a missing object is a no-op
        if held is not None and held.until > datetime.now(UTC):
            raise ObjectLocked(key, _locked_message(key, held))
        if self.supports_retention and self._legal_hold(key):
            raise ObjectLocked(key, f"Object {key} is under a legal hold and cannot be deleted.")
        with self._errors(key):
            versions = [obj.version_id for obj in self._client.list_objects(
                self.bucket, prefix=name, include_version=True) if obj.object_name == name]
        for version in versions:
            try:
                with self._errors(key):
                    self._client.remove_object(self.bucket, name, version_id=version)
            except StoreUnavailable as exc:
                if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "AccessDenied":
                    raise ObjectLocked(key, f"The object store refused to delete a version of object {key}: it is "
                                            "held (a retention period or legal hold), or the credentials may not "
                                            "delete versions (s3:DeleteObjectVersion).") from exc
                raise

    # -- retention --

    @property
    def supports_retention(self) -> bool:  # type: ignore[override]
        """Whether the bucket has object lock enabled (asked once per store)."""
        if self._locking is None:
            self._ensure_bucket()
            try:
                with self._errors():
                    self._client.get_object_lock_config(self.bucket)
                self._locking = True
            except StoreUnavailable as exc:
                if not _no_lock(exc.__cause__):
                    raise
                self._locking = False
        return self._locking

    def _is_versioned(self) -> bool:
        if self._versioned is None:
            with self._errors():
                status = self._client.get_bucket_versioning(self.bucket).status
            self._versioned = status in ("Enabled", "Suspended")
        return self._versioned

    def _require_lock(self) -> None:
        if not self.supports_retention:
            raise RetentionUnsupported(
                f"The bucket {self.bucket!r} at {self.location.server_url} has no S3 object lock, so it cannot hold "
                "records against deletion; object lock can only be chosen when a bucket is created: create a new "
                "bucket with object lock (Sijill does when the store URL has ?create_bucket=true) and copy the "
                "objects into it."
            )

    def _retain(self, key: str, until: datetime, mode: str) -> Retention:
        self._require_lock()
        current = self._retention(key)
        if current is not None and current.until >= until and (current.mode == mode or mode == "governance"):
            return current
        if current is not None:  # never shorten a period, nor weaken compliance (S3 refuses both)
            until = max(until, current.until)
            mode = "compliance" if current.mode == "compliance" else mode
        until = until.astimezone(UTC).replace(microsecond=0)
        with self._errors(key):
            self._client.set_object_retention(
                self.bucket, self.object_name(key),
                S3Retention(COMPLIANCE if mode == "compliance" else GOVERNANCE, until),
            )
        return Retention(mode, until)

    def _retention(self, key: str) -> Retention | None:
        if not self.supports_retention:
            self._stat(key)
            return None
        return self._retention_or_none(key)

    def _retention_or_none(self, key: str) -> Retention | None:
        try:
            with self._errors(key):
                config = self._client.get_object_retention(self.bucket, self.object_name(key))
        except StoreUnavailable as exc:
            if _no_lock(exc.__cause__):
                return None
            raise
        if config is None or config.retain_until_date is None or config.mode is None:
            return None
        return Retention(str(config.mode).lower(), config.retain_until_date.astimezone(UTC))

    def _release_retention(self, key: str, until: datetime) -> Retention:
        self._require_lock()
        current = self._retention(key)
        if current is None:
            raise RetentionUnsupported(f"Object {key} has no retention period to end.")
        if current.mode == "compliance":
            raise ObjectLocked(key, f"Object {key} is held in compliance mode until {current.until:%Y-%m-%d}: "
                                    "no one can shorten that period, not even an administrator.")
        until = until.astimezone(UTC).replace(microsecond=0)
        body = marshal(S3Retention(GOVERNANCE, until))
        try:
            with self._errors(key):
                # minio has no bypass option on set_object_retention; this is the same request with the S3 header
                # that lets a governance period be shortened by a user allowed to bypass it.
                self._client._execute(
                    "PUT", self.bucket, object_name=self.object_name(key), body=body,
                    headers={"Content-MD5": cast(str, md5sum_hash(body)),
                             "x-amz-bypass-governance-retention": "true"},
                    query_params={"retention": ""},
                )
        except StoreUnavailable as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "AccessDenied":
                raise ObjectLocked(key, f"The object store refused to shorten the retention of object {key}: the "
                                        "credentials in the store URL may not bypass governance retention "
                                        "(s3:BypassGovernanceRetention); use an administrator's.") from exc
            raise
        return Retention("governance", until)

    # -- sealed records and legal holds --

    @property
    def supports_legal_hold(self) -> bool:  # type: ignore[override]
        return self.supports_retention

    def _named_object(self, name: str) -> str:
        return f"{self.location.prefix}named/{name}"

    def _put_named_locked(self, name: str, data: bytes, until: datetime, mode: str) -> Retention | None:
        if not self.supports_retention:
            self._put_named(name, data)
            return None
        until = until.astimezone(UTC).replace(microsecond=0)
        with self._errors():
            # the retention travels with the PUT: there is no moment at which the record exists unprotected
            self._client.put_object(self.bucket, self._named_object(name), io.BytesIO(data), len(data),
                                    retention=S3Retention(COMPLIANCE if mode == "compliance" else GOVERNANCE, until))
        return Retention(mode, until)

    def _named_retention(self, name: str) -> Retention | None:
        if not self.supports_retention:
            self._get_named(name)
            return None
        try:
            with self._errors(name):
                config = self._client.get_object_retention(self.bucket, self._named_object(name))
        except StoreUnavailable as exc:
            if _no_lock(exc.__cause__):
                return None
            raise
        if config is None or config.retain_until_date is None or config.mode is None:
            return None
        return Retention(str(config.mode).lower(), config.retain_until_date.astimezone(UTC))

    def _set_legal_hold(self, key: str, on: bool) -> None:
        self._stat(key)  # a hold on a missing object is an error 500 on some servers (SeaweedFS): say not found
        self._set_hold(self.object_name(key), key, on)

    def _legal_hold(self, key: str) -> bool:
        return self._hold_of(self.object_name(key), key)

    def _set_named_legal_hold(self, name: str, on: bool) -> None:
        self._set_hold(self._named_object(name), name, on)

    def _named_legal_hold(self, name: str) -> bool:
        return self._hold_of(self._named_object(name), name)

    def _set_hold(self, object_name: str, label: str, on: bool) -> None:
        self._require_lock()
        with self._errors(label):
            if on:
                self._client.enable_object_legal_hold(self.bucket, object_name)
            else:
                self._client.disable_object_legal_hold(self.bucket, object_name)

    def _hold_of(self, object_name: str, label: str) -> bool:
        if not self.supports_retention:
            return False
        try:
            with self._errors(label):
                return bool(self._client.is_object_legal_hold_enabled(self.bucket, object_name))
        except StoreUnavailable as exc:
            if _no_lock(exc.__cause__) or (isinstance(exc.__cause__, S3Error)
                                           and exc.__cause__.code == "NoSuchObjectLegalHold"):
                return False
            raise

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

    # -- named records --

    def _put_named(self, name: str, data: bytes) -> None:
        self._ensure_bucket()
        with self._errors():
            self._client.put_object(self.bucket, f"{self.location.prefix}named/{name}", io.BytesIO(data), len(data))

    def _get_named(self, name: str) -> bytes:
        with self._errors(name):
            response = self._client.get_object(self.bucket, f"{self.location.prefix}named/{name}")
        try:
            with self._errors(name):
                return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def _list_named(self, prefix: str) -> Iterator[str]:
        root = f"{self.location.prefix}named/"
        with self._errors():
            names = [(obj.object_name or "")[len(root):]
                     for obj in self._client.list_objects(self.bucket, prefix=root + prefix, recursive=True)]
        return iter(sorted(names))

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
                    self._client.make_bucket(self.bucket, object_lock=True)
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


def _no_lock(exc: BaseException | None) -> bool:
    """Whether an S3 error says "no object lock / no retention here" (servers differ in the code they use)."""
    return isinstance(exc, S3Error) and exc.code in (
        "ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"
    )


def _locked_message(key: str, held: Retention) -> str:
    return (f"Object {key} is under a {held.mode} retention period until {held.until:%Y-%m-%d %H:%M} UTC and "
            "cannot be deleted.")


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
