"""Shared pytest configuration: each area's real-server fixtures live in tests/fixtures/ as plugins."""

import datetime as dt
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.settings",
    "tests.fixtures.s3",
    "tests.fixtures.redis",
    "tests.fixtures.postgres",
    "tests.fixtures.db",
    "tests.fixtures.app",
    "tests.fixtures.pki",
    "tests.fixtures.softhsm",
]


@pytest.fixture(scope="session", autouse=True)
def _demo_certificates_valid_from_yesterday() -> Iterator[None]:
    """Test modules take their NOW at import, which in a long suite is minutes before a DEMO PKI is made; the DEMO
    certificates must already be valid then (in production the DEMO PKI keeps its five minutes of clock skew)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("signing.dev_pki.CLOCK_SKEW", dt.timedelta(days=1))
        yield
