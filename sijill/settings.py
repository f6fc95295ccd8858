"""The one settings object, read from the environment.

Every backend is chosen by URL so that a single machine and a production cluster differ only in configuration:

=========================  ==========================================  =========================================
variable                   default (single machine)                    production example
=========================  ==========================================  =========================================
SIJILL_DATA_DIR            ``./var``                                   ``/var/lib/sijill``
SIJILL_DATABASE_URL        ``sqlite:///<data>/sijill.sqlite3``         ``postgresql://sijill:…@db/sijill``
SIJILL_STORAGE_URL         ``file://<data>/archive``                   ``s3://KEY:SECRET@minio:9000/sijill``
SIJILL_SEARCH_URL          ``embedded://<data>/search.sqlite3``        ``http://elasticsearch:9200``
SIJILL_BROKER_URL          ``sqla+sqlite:///<data>/broker.sqlite3``    ``redis://redis:6379/0``
SIJILL_RESULT_BACKEND      ``db+sqlite:///<data>/results.sqlite3``     ``redis://redis:6379/1``
SIJILL_SECRET_KEY          generated once into ``<data>/secret_key``   a long random string (required)
SIJILL_BASE_URL            ``http://127.0.0.1:5000``                   ``https://sijill.example.gov.eg``
SIJILL_ENV                 ``development``                             ``production``
SIJILL_MAX_UPLOAD_MB       ``200``                                     ``200``
SIJILL_DEFAULT_LOCALE      ``ar``                                      ``ar``
=========================  ==========================================  =========================================

Malformed values raise :class:`SettingsError` with one sentence a person can act on; the command line prints it
instead of a traceback.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "SIJILL_"

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
STORAGE_SCHEMES = ("file", "s3", "s3+http", "s3+https")
SEARCH_SCHEMES = ("embedded", "http", "https")
BROKER_SCHEMES = ("sqla+sqlite", "sqla+postgresql", "redis", "rediss", "amqp", "memory", "filesystem")
LOCALES = ("ar", "en")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one sentence meant for the operator."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved to concrete values (no ``None`` meaning "use the default")."""

    data_dir: Path
    database_url: str
    storage_url: str
    search_url: str
    broker_url: str
    result_backend: str
    secret_key: str
    base_url: str = "http://127.0.0.1:5000"
    env: str = "development"
    max_upload_mb: int = 200
    default_locale: str = "ar"
    replica_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests and the CLI use it); values are validated again."""
        updated = replace(self, **changes)
        _validate(updated)
        return updated

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``SIJILL_*`` variables, fill in the single-machine defaults and validate."""
        env = dict(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value.strip() if value is not None and value.strip() else None

        data_dir = Path(get("DATA_DIR") or "var").expanduser().absolute()
        mode = get("ENV") or "development"
        if mode not in ("development", "production", "test"):
            raise SettingsError(
                f"SIJILL_ENV must be development, production or test, not {mode!r}."
            )
        secret = get("SECRET_KEY")
        if secret is None:
            if mode == "production":
                raise SettingsError("SIJILL_SECRET_KEY must be set to a long random string in production.")
            secret = _local_secret(data_dir)

        max_upload = get("MAX_UPLOAD_MB") or "200"
        try:
            max_upload_mb = int(max_upload)
        except ValueError:
            raise SettingsError(
                f"SIJILL_MAX_UPLOAD_MB must be a whole number of megabytes, not {max_upload!r}."
            ) from None

        settings = cls(
            data_dir=data_dir,
            database_url=get("DATABASE_URL") or f"sqlite:///{data_dir / 'sijill.sqlite3'}",
            storage_url=get("STORAGE_URL") or f"file://{data_dir / 'archive'}",
            search_url=get("SEARCH_URL") or f"embedded://{data_dir / 'search.sqlite3'}",
            broker_url=get("BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}",
            result_backend=get("RESULT_BACKEND") or _default_result_backend(get("BROKER_URL"), data_dir),
            secret_key=secret,
            base_url=(get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            env=mode,
            max_upload_mb=max_upload_mb,
            default_locale=get("DEFAULT_LOCALE") or "ar",
            replica_url=get("REPLICA_URL"),
            extra={k[len(ENV_PREFIX):]: v for k, v in env.items() if k.startswith(ENV_PREFIX)},
        )
        _validate(settings)
        return settings


def _default_result_backend(broker_url: str | None, data_dir: Path) -> str:
    """Results go where the broker is when that is Redis; otherwise into a local SQLite file."""
    if broker_url and broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return f"db+sqlite:///{data_dir / 'results.sqlite3'}"


def _local_secret(data_dir: Path) -> str:
    """A development secret generated once and kept in the data directory, so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    os.replace(tmp, path)
    return value


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _validate(s: Settings) -> None:
    _check_url("SIJILL_DATABASE_URL", s.database_url, DATABASE_SCHEMES)
    if _scheme(s.database_url) == "sqlite" and not s.database_url.startswith("sqlite:///"):
        raise SettingsError("SIJILL_DATABASE_URL for SQLite must look like sqlite:////absolute/path.sqlite3.")
    if _scheme(s.database_url).startswith("postgresql") and not urlsplit(s.database_url).hostname:
        raise SettingsError("SIJILL_DATABASE_URL for PostgreSQL must name a host: postgresql://user@host/db.")
    _check_url("SIJILL_STORAGE_URL", s.storage_url, STORAGE_SCHEMES)
    if _scheme(s.storage_url).startswith("s3"):
        parts = urlsplit(s.storage_url)
        if not parts.hostname or not parts.path.strip("/"):
            raise SettingsError(
                "SIJILL_STORAGE_URL for S3 must name a host and a bucket: s3://KEY:SECRET@host:9000/bucket."
            )
    if s.replica_url:
        _check_url("SIJILL_REPLICA_URL", s.replica_url, STORAGE_SCHEMES)
    _check_url("SIJILL_SEARCH_URL", s.search_url, SEARCH_SCHEMES)
    _check_url("SIJILL_BROKER_URL", s.broker_url, BROKER_SCHEMES)
    if s.default_locale not in LOCALES:
        raise SettingsError(f"SIJILL_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}, not {s.default_locale!r}.")
    if s.max_upload_mb <= 0:
        raise SettingsError("SIJILL_MAX_UPLOAD_MB must be a positive number of megabytes.")
    if _scheme(s.base_url) not in ("http", "https"):
        raise SettingsError(f"SIJILL_BASE_URL must start with http:// or https://, not {s.base_url!r}.")
    if s.is_production and len(s.secret_key) < 32:
        raise SettingsError("SIJILL_SECRET_KEY must be at least 32 characters long in production.")


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    try:
        scheme = _scheme(url)
        urlsplit(url).port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise SettingsError(f"{name} is not a valid URL: {url!r}.") from None
    if scheme not in schemes:
        raise SettingsError(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {url!r}."
        )
