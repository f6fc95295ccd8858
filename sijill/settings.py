"""The one settings object, read from the environment.

Every backend is chosen by URL so that a single machine and a production cluster differ only in configuration:

============================  ==========================================  =========================================
variable                      default (single machine)                    production example
============================  ==========================================  =========================================
SIJILL_DATA_DIR               ``./var``                                   ``/var/lib/sijill``
SIJILL_DATABASE_URL           ``sqlite:///<data>/sijill.sqlite3``         ``postgresql://sijill:…@db/sijill``
SIJILL_STORAGE_URL            ``file://<data>/archive``                   ``s3://KEY:SECRET@minio:9000/sijill``
SIJILL_SEARCH_URL             ``tantivy://<data>/search-index``           ``http://elasticsearch:9200``
SIJILL_BROKER_URL             ``sqla+sqlite:///<data>/broker.sqlite3``    ``redis://redis:6379/0``
SIJILL_RESULT_BACKEND         ``db+sqlite:///<data>/results.sqlite3``     ``redis://redis:6379/1``
SIJILL_SECRET_KEY             generated once into ``<data>/secret_key``   a long random string (required)
SIJILL_BASE_URL               ``http://127.0.0.1:5000``                   ``https://sijill.example.gov.eg``
SIJILL_ENV                    ``development``                             ``production``
SIJILL_MAX_UPLOAD_MB          ``200``                                     ``200``
SIJILL_DEFAULT_LOCALE         ``ar``                                      ``ar``
SIJILL_TSA_URL                empty: no timestamp, signatures are B-B     ``https://tsa.example-ca.eg/tsr``
SIJILL_PKCS11_MODULE          SoftHSM2's module if installed, else empty  the token vendor's PKCS#11 module
SIJILL_SIGNING_REVOCATION     ``soft-fail``                               ``require``
SIJILL_SIGNING_CA_CHAIN       empty                                       ``/etc/sijill/issuing-cas.pem``
SIJILL_SIGNING_PREPARED_TTL   ``900`` (seconds)                           ``900``
SIJILL_TIMESTAMP_RENEWAL_DAYS ``90``                                      ``90``
SIJILL_RATELIMIT_STORAGE_URL  ``memory://``                               ``redis://redis:6379/2``
SIJILL_REPLICA_URL            empty: no second copy                       ``s3://KEY:SECRET@minio-dr:9000/sijill``
SIJILL_FIXITY_BATCH           ``200`` objects re-hashed every 10 minutes  ``2000``
SIJILL_REPLICATION_LAG_ALERT_MINUTES  ``30``                              ``30``
SIJILL_NOTIFY_EMAIL_URL       ``log://``                                  ``smtp://user:pw@mail:587?starttls=1&from=…``
SIJILL_SMS_URL                ``log://``                                  ``https://TOKEN@sms-gateway.example/send``
SIJILL_RETENTION_YEARS        ``0``: records are not held by the store   ``30``
SIJILL_RETENTION_MODE         ``governance``                              ``governance`` (or ``compliance``)
SIJILL_SEALING_KEY_FILE       made once as ``<data>/sealing_key.pem``     ``/run/secrets/sijill_sealing_key``
SIJILL_AUDIT_LOCK_YEARS       ``10``                                      ``30``
SIJILL_REMINDER_DAYS          ``3,1`` (days before a step's due date)     ``5,2,1`` (``0``: no early reminder)
============================  ==========================================  =========================================

Retention: with ``SIJILL_RETENTION_YEARS`` above 0, originals and signed permits are held by S3 object lock for that
many years from when the hourly job first holds them; the store must then be an S3 bucket created with object lock
(a ``file://`` store is refused here, a bucket without object lock makes the job fail loudly). ``governance`` lets an
administrator end a period early (``sijill retention release``, audited); ``compliance`` lets no one. See
:mod:`archive.retention`.

Audit checkpoints: ``SIJILL_SEALING_KEY_FILE`` is the system's sealing key, an Ed25519 private key in a PEM file that
lives outside the database, readable by the Sijill user only (made on first use if absent; in production mount it
from a secret store, apart from the database's and the object store's hosts). Every few minutes the head of the
audit chain is signed with it, time-stamped by ``SIJILL_TSA_URL`` when set, and written to the object store under
object lock for ``SIJILL_AUDIT_LOCK_YEARS`` (in ``SIJILL_RETENTION_MODE``). See :mod:`archive.checkpoints`.

Notifications: ``SIJILL_NOTIFY_EMAIL_URL`` is where citizens' e-mails go (``log://`` writes them to the log;
``smtp://[user:pass@]host:port`` with ``?from=address`` and ``?starttls=1``, or ``smtps://`` for TLS from the start)
and ``SIJILL_SMS_URL`` where SMS go (``log://``, or an HTTP(S) gateway that takes a JSON POST, the bearer token as the
URL's user part). See :mod:`notify.senders`.

Signing: ``SIJILL_TSA_URL`` is an RFC 3161 time-stamping service; with it every signature gets a trusted timestamp
(PAdES B-T), and unless ``SIJILL_SIGNING_REVOCATION`` is ``off`` the certificates and OCSP/CRL answers are embedded
too (B-LT). ``SIJILL_SIGNING_REVOCATION`` says how hard to insist on revocation data when checking an official's
certificate before signing: ``require`` (every certificate must have a fresh OCSP or CRL answer: production with a
licensed CA), ``soft-fail`` (checked where the certificate names a service; unreachable or absent is not held against
it: the default, because the DEMO PKI publishes no revocation data) or ``off`` (no check; offline trials only).
``SIJILL_PKCS11_MODULE`` is the PKCS#11 library of the signing tokens on the machine that runs Sijill.
``SIJILL_SIGNING_CA_CHAIN`` is a PEM file of issuing (intermediate) CA certificates embedded with token signatures,
since tokens usually hold only the official's own certificate. ``SIJILL_SIGNING_PREPARED_TTL`` is how long a
document prepared for the desk agent (``sijill-sign``) waits for its signature value. ``SIJILL_TIMESTAMP_RENEWAL_DAYS``
is how long before the newest timestamp's TSA certificate expires an issued permit gets a new document timestamp
(PAdES B-LTA renewal). ``SIJILL_RATELIMIT_STORAGE_URL`` is where the public
verification pages count requests per client (``memory://`` per process; Redis shares the count between processes).

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
SEARCH_SCHEMES = ("tantivy", "embedded", "http", "https")
BROKER_SCHEMES = ("sqla+sqlite", "sqla+postgresql", "redis", "rediss", "amqp", "memory", "filesystem")
LOCALES = ("ar", "en")
REVOCATION_MODES = ("require", "soft-fail", "off")
RETENTION_MODES = ("governance", "compliance")
NOTIFY_EMAIL_SCHEMES = ("log", "smtp", "smtps")
SMS_SCHEMES = ("log", "http", "https")
RATELIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster", "memcached")
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
"""Where Debian and Ubuntu put SoftHSM2's PKCS#11 module: the default token module when one is installed."""


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
    tsa_url: str = ""
    """RFC 3161 time-stamping service for signatures; empty means no timestamp (PAdES B-B)."""
    pkcs11_module: str = ""
    """PKCS#11 module of the signing tokens on this machine; empty means signing with a token is not offered."""
    signing_revocation: str = "soft-fail"
    """``require``, ``soft-fail`` or ``off``: revocation checking of an official's certificate before signing."""
    signing_ca_chain: str = ""
    """PEM file of issuing CA certificates to embed with token signatures; empty means none."""
    signing_prepared_ttl_s: int = 900
    """Seconds a document prepared for a signature on an official's token waits for the signature value."""
    timestamp_renewal_days: int = 90
    """Days before the newest timestamp's TSA certificate expires that a permit gets a new document timestamp."""
    ratelimit_storage_url: str = "memory://"
    """Where the public endpoints' rate limits are counted (``memory://`` or ``redis://…``)."""
    fixity_batch: int = 200
    """Objects re-hashed per fixity run (every 10 minutes): the rate at which the whole archive is re-checked."""
    replication_lag_alert_minutes: int = 30
    """``/healthz`` fails when an object has waited longer than this for its replica copy."""
    notify_email_url: str = "log://"
    """Where citizens' e-mails are sent: ``log://``, ``smtp://…`` or ``smtps://…``."""
    sms_url: str = "log://"
    """Where citizens' SMS are sent: ``log://`` or an HTTP(S) gateway."""
    retention_years: int = 0
    """Years originals and signed permits are held by S3 object lock; 0 means not held by the store."""
    retention_mode: str = "governance"
    """``governance`` (an administrator may end a period early, audited) or ``compliance`` (no one may)."""
    sealing_key_file: Path | None = None
    """The Ed25519 key that signs audit checkpoints (never in the database); None means ``<data>/sealing_key.pem``."""
    audit_lock_years: int = 10
    """Years each audit checkpoint is held by object lock in the store."""
    reminder_days: tuple[int, ...] = (3, 1)
    """Days before a step's legal due date that its officials are reminded (``SIJILL_REMINDER_DAYS=3,1``; empty or
    ``0``: no early reminder). The heads of the department hear once the date has passed, whatever this says."""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def sealing_key_path(self) -> Path:
        """Where the sealing key is (the configured file, else ``<data>/sealing_key.pem``)."""
        return self.sealing_key_file or self.data_dir / "sealing_key.pem"

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

        def _int(name: str, default: int) -> int:
            raw = get(name)
            try:
                value = int(raw) if raw is not None else default
            except ValueError:
                raise SettingsError(f"SIJILL_{name} must be a whole number, not {raw!r}.") from None
            if value <= 0:
                raise SettingsError(f"SIJILL_{name} must be positive, not {value}.")
            return value

        settings = cls(
            signing_prepared_ttl_s=_whole(get("SIGNING_PREPARED_TTL") or "900", "SIJILL_SIGNING_PREPARED_TTL",
                                          "seconds"),
            timestamp_renewal_days=_whole(get("TIMESTAMP_RENEWAL_DAYS") or "90", "SIJILL_TIMESTAMP_RENEWAL_DAYS",
                                          "days"),
            data_dir=data_dir,
            database_url=get("DATABASE_URL") or f"sqlite:///{data_dir / 'sijill.sqlite3'}",
            storage_url=get("STORAGE_URL") or f"file://{data_dir / 'archive'}",
            search_url=get("SEARCH_URL") or f"tantivy://{data_dir / 'search-index'}",
            broker_url=get("BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}",
            result_backend=get("RESULT_BACKEND") or _default_result_backend(get("BROKER_URL"), data_dir),
            secret_key=secret,
            base_url=(get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            env=mode,
            max_upload_mb=max_upload_mb,
            default_locale=get("DEFAULT_LOCALE") or "ar",
            replica_url=get("REPLICA_URL"),
            tsa_url=get("TSA_URL") or "",
            pkcs11_module=_pkcs11_module(get("PKCS11_MODULE"), explicitly_empty=ENV_PREFIX + "PKCS11_MODULE" in env),
            signing_revocation=(get("SIGNING_REVOCATION") or "soft-fail").lower(),
            signing_ca_chain=get("SIGNING_CA_CHAIN") or "",
            ratelimit_storage_url=get("RATELIMIT_STORAGE_URL") or "memory://",
            fixity_batch=_int("FIXITY_BATCH", 200),
            replication_lag_alert_minutes=_int("REPLICATION_LAG_ALERT_MINUTES", 30),
            notify_email_url=get("NOTIFY_EMAIL_URL") or "log://",
            sms_url=get("SMS_URL") or "log://",
            retention_years=_years(get("RETENTION_YEARS")),
            retention_mode=(get("RETENTION_MODE") or "governance").lower(),
            sealing_key_file=_sealing_key_file(get("SEALING_KEY_FILE")),
            audit_lock_years=_audit_lock_years(get("AUDIT_LOCK_YEARS")),
            reminder_days=_reminder_days(env.get(ENV_PREFIX + "REMINDER_DAYS")),
            extra={k[len(ENV_PREFIX):]: v for k, v in env.items() if k.startswith(ENV_PREFIX)},
        )
        _validate(settings)
        return settings


def _reminder_days(value: str | None) -> tuple[int, ...]:
    """``3,1`` → (3, 1): distinct whole days from 1 to 365, at most five; unset means (3, 1), empty or 0 none."""
    if value is None:
        return (3, 1)
    parts = [p.strip() for p in value.replace("،", ",").split(",") if p.strip()]
    if parts == ["0"] or not parts:
        return ()
    try:
        days = sorted({int(p) for p in parts}, reverse=True)
    except ValueError:
        days = []
    if not days or len(days) > 5 or not all(1 <= d <= 365 for d in days):
        raise SettingsError(
            f"SIJILL_REMINDER_DAYS must list up to five whole numbers of days from 1 to 365 (e.g. 3,1), not {value!r}."
        )
    return tuple(days)


def _years(value: str | None) -> int:
    try:
        number = int(value) if value is not None else 0
    except ValueError:
        number = -1
    if not 0 <= number <= 100:
        raise SettingsError(f"SIJILL_RETENTION_YEARS must be a whole number of years from 0 to 100, not {value!r}.")
    return number


def _sealing_key_file(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise SettingsError(f"SIJILL_SEALING_KEY_FILE must be an absolute path, not {value!r}.")
    return path


def _audit_lock_years(value: str | None) -> int:
    try:
        number = int(value) if value is not None else 10
    except ValueError:
        number = -1
    if not 1 <= number <= 100:
        raise SettingsError(f"SIJILL_AUDIT_LOCK_YEARS must be a whole number of years from 1 to 100, not {value!r}.")
    return number


def _whole(value: str, name: str, unit: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number <= 0:
        raise SettingsError(f"{name} must be a positive whole number of {unit}, not {value!r}.")
    return number


def _pkcs11_module(value: str | None, *, explicitly_empty: bool) -> str:
    """The configured module; unset means SoftHSM2's if installed; set to an empty value means none."""
    if value is not None:
        return value
    if explicitly_empty:
        return ""
    return next((path for path in SOFTHSM_MODULES if Path(path).is_file()), "")


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
    if s.tsa_url:
        _check_url("SIJILL_TSA_URL", s.tsa_url, ("http", "https"))
    if s.signing_revocation not in REVOCATION_MODES:
        raise SettingsError(
            f"SIJILL_SIGNING_REVOCATION must be one of {', '.join(REVOCATION_MODES)}, not {s.signing_revocation!r}."
        )
    if s.pkcs11_module and not Path(s.pkcs11_module).is_absolute():
        raise SettingsError(f"SIJILL_PKCS11_MODULE must be an absolute path to a .so file, not {s.pkcs11_module!r}.")
    if s.signing_ca_chain and not Path(s.signing_ca_chain).is_absolute():
        raise SettingsError(
            f"SIJILL_SIGNING_CA_CHAIN must be an absolute path to a PEM file, not {s.signing_ca_chain!r}."
        )
    _check_url("SIJILL_RATELIMIT_STORAGE_URL", s.ratelimit_storage_url, RATELIMIT_SCHEMES)
    _check_url("SIJILL_NOTIFY_EMAIL_URL", s.notify_email_url, NOTIFY_EMAIL_SCHEMES)
    if _scheme(s.notify_email_url).startswith("smtp") and not urlsplit(s.notify_email_url).hostname:
        raise SettingsError("SIJILL_NOTIFY_EMAIL_URL for SMTP must name a host: smtp://mail.example.gov.eg:587.")
    _check_url("SIJILL_SMS_URL", s.sms_url, SMS_SCHEMES)
    if s.retention_mode not in RETENTION_MODES:
        raise SettingsError(
            f"SIJILL_RETENTION_MODE must be one of {', '.join(RETENTION_MODES)}, not {s.retention_mode!r}."
        )
    if s.retention_years and _scheme(s.storage_url) == "file":
        raise SettingsError(
            "SIJILL_RETENTION_YEARS needs an S3 object store with object lock: a file:// store cannot hold records "
            "against deletion. Set SIJILL_RETENTION_YEARS=0 or use an s3:// SIJILL_STORAGE_URL."
        )
    if _scheme(s.sms_url).startswith("http") and not urlsplit(s.sms_url).hostname:
        raise SettingsError("SIJILL_SMS_URL for a gateway must name a host: https://TOKEN@sms.example/send.")
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
