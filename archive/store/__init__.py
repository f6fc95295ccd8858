"""The archive's blob layer: a content-addressed object store chosen by URL.

>>> store = open_store("file:///var/lib/sijill/objects")      # or s3://KEY:SECRET@minio:9000/sijill
>>> key = store.put(b"%PDF-1.7 ...")                         # the lowercase hex SHA-256 of the bytes
>>> with store.open(key) as stream:                          # verified while read; IntegrityError at EOF
...     data = stream.read()

Keys are content hashes, so writes are idempotent and every read is checked against its key.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from archive.store.base import (
    CHUNK_SIZE,
    IntegrityError,
    InvalidKey,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectReader,
    ObjectStore,
    Retention,
    RetentionUnsupported,
    StoreConfigError,
    StoreError,
    StoreUnavailable,
)
from archive.store.local import LocalStore
from archive.store.s3 import S3_SCHEMES, S3Store

__all__ = [
    "CHUNK_SIZE",
    "IntegrityError",
    "InvalidKey",
    "LocalStore",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectReader",
    "ObjectStore",
    "Retention",
    "RetentionUnsupported",
    "S3Store",
    "StoreConfigError",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(url: str) -> ObjectStore:
    """The store behind ``url``: ``file:///abs/path``, ``s3://KEY:SECRET@host:port/bucket[/prefix]`` or ``s3+https://…``.

    Nothing is contacted here; call :meth:`ObjectStore.health` to find out whether the store is usable.
    Malformed URLs raise :class:`StoreConfigError` (a ``ValueError``) whose message never repeats credentials.
    """
    try:
        scheme = urlsplit(url).scheme.lower()
    except (ValueError, AttributeError, TypeError):
        raise StoreConfigError("The object store URL is not a valid URL.") from None
    if scheme == "file":
        return LocalStore.from_url(url)
    if scheme in S3_SCHEMES:
        return S3Store.from_url(url)
    raise StoreConfigError(
        f"Unsupported object store URL scheme {scheme + '://' if scheme else '(none)'}: "
        "use file:///absolute/path or s3://KEY:SECRET@host:port/bucket."
    )
