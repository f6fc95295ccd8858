"""Settings: defaults for one machine, URLs for production, one clear sentence for every mistake."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sijill.settings import Settings, SettingsError


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    base = {"SIJILL_DATA_DIR": str(tmp_path)}
    base.update({f"SIJILL_{k.upper()}": v for k, v in values.items()})
    return base


def test_single_machine_defaults_need_no_server(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path))
    assert s.database_url == f"sqlite:///{tmp_path}/sijill.sqlite3"
    assert s.storage_url == f"file://{tmp_path}/archive"
    assert s.search_url == f"tantivy://{tmp_path}/search-index"
    assert s.broker_url.startswith("sqla+sqlite:///")
    assert s.result_backend.startswith("db+sqlite:///")
    assert s.default_locale == "ar"
    assert not s.is_production


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = Settings.from_env(env(tmp_path)).secret_key
    second = Settings.from_env(env(tmp_path)).secret_key
    assert first == second and len(first) >= 48
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_production_urls(tmp_path: Path) -> None:
    s = Settings.from_env(
        env(
            tmp_path,
            env="production",
            secret_key="x" * 40,
            database_url="postgresql://sijill:pw@db:5432/sijill",
            storage_url="s3://key:secret@minio:9000/sijill",
            search_url="http://elasticsearch:9200",
            broker_url="redis://redis:6379/0",
        )
    )
    assert s.is_production
    assert s.result_backend == "redis://redis:6379/0"


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"database_url": "mysql://x@y/z"}, "SIJILL_DATABASE_URL must start with"),
        ({"database_url": "postgresql:///nohost"}, "must name a host"),
        ({"database_url": "sqlite://relative.db"}, "sqlite:////absolute"),
        ({"database_url": "postgresql://u@h:notaport/db"}, "not a valid URL"),
        ({"storage_url": "ftp://x/y"}, "SIJILL_STORAGE_URL must start with"),
        ({"storage_url": "s3://k:s@minio:9000"}, "must name a host and a bucket"),
        ({"search_url": "solr://x"}, "SIJILL_SEARCH_URL"),
        ({"broker_url": "kafka://x"}, "SIJILL_BROKER_URL"),
        ({"max_upload_mb": "lots"}, "whole number"),
        ({"default_locale": "fr"}, "SIJILL_DEFAULT_LOCALE"),
        ({"env": "staging"}, "SIJILL_ENV"),
        ({"env": "production"}, "SIJILL_SECRET_KEY must be set"),
        ({"env": "production", "secret_key": "short"}, "at least 32 characters"),
        ({"base_url": "ftp://x"}, "SIJILL_BASE_URL"),
        ({"tsa_url": "tsa.example.eg/tsr"}, "SIJILL_TSA_URL must start with"),
        ({"signing_revocation": "sometimes"}, "SIJILL_SIGNING_REVOCATION must be one of require, soft-fail, off"),
        ({"pkcs11_module": "libsofthsm2.so"}, "SIJILL_PKCS11_MODULE must be an absolute path"),
        ({"signing_ca_chain": "chain.pem"}, "SIJILL_SIGNING_CA_CHAIN must be an absolute path"),
        ({"ratelimit_storage_url": "postgresql://db/limits"}, "SIJILL_RATELIMIT_STORAGE_URL must start with"),
    ],
)
def test_bad_settings_fail_with_one_sentence(tmp_path: Path, values: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env(tmp_path, **values))
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message and message.endswith(".")


def test_signing_and_rate_limit_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings.from_env(env(tmp_path))
    assert s.tsa_url == ""  # no timestamp: PAdES B-B
    assert s.signing_revocation == "soft-fail"  # the DEMO PKI publishes no revocation data
    assert s.signing_ca_chain == ""
    assert s.ratelimit_storage_url == "memory://"
    # the token module defaults to SoftHSM2's where it is installed, and to nothing elsewhere
    monkeypatch.setattr("sijill.settings.SOFTHSM_MODULES", (str(tmp_path / "missing.so"),))
    assert Settings.from_env(env(tmp_path)).pkcs11_module == ""
    module = tmp_path / "libsofthsm2.so"
    module.write_bytes(b"")
    monkeypatch.setattr("sijill.settings.SOFTHSM_MODULES", (str(tmp_path / "missing.so"), str(module)))
    assert Settings.from_env(env(tmp_path)).pkcs11_module == str(module)
    # set to an empty value: no token signing even where SoftHSM2 is installed
    assert Settings.from_env(env(tmp_path, pkcs11_module="")).pkcs11_module == ""


def test_signing_and_rate_limit_in_production(tmp_path: Path) -> None:
    s = Settings.from_env(
        env(
            tmp_path,
            tsa_url="https://tsa.example-ca.eg/tsr",
            pkcs11_module="/usr/lib/vendor/libeToken.so",
            signing_revocation="REQUIRE",
            signing_ca_chain="/etc/sijill/issuing-cas.pem",
            ratelimit_storage_url="redis://redis:6379/2",
        )
    )
    assert s.tsa_url == "https://tsa.example-ca.eg/tsr"
    assert s.pkcs11_module == "/usr/lib/vendor/libeToken.so"
    assert s.signing_revocation == "require"
    assert s.signing_ca_chain == "/etc/sijill/issuing-cas.pem"
    assert s.ratelimit_storage_url == "redis://redis:6379/2"
    assert Settings.from_env(env(tmp_path, signing_revocation="off")).signing_revocation == "off"
