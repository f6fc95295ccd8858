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


@pytest.fixture(autouse=True)
def _fresh_now() -> None:
    """``tests.clock.NOW`` is the moment this test starts."""
    from tests import clock

    clock.reset()


@pytest.fixture(scope="session", autouse=True)
def _demo_certificates_valid_from_yesterday() -> Iterator[None]:
    """Module-scoped DEMO PKIs are made after some of their tests' moments (``clock.NOW`` of the module's first test,
    signatures dated a little back); the DEMO certificates must already be valid then (in production the DEMO PKI
    keeps its five minutes of clock skew)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("signing.dev_pki.CLOCK_SKEW", dt.timedelta(days=1))
        yield


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id with the smallest cost: the production parameters take ~0.2 s a hash, and every web test makes seven
    users and logs one in. The algorithm and code paths stay the same; processes the tests start (``sijill run``)
    keep the production cost."""
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("archive.users._hasher", cheap)
        patch.setattr("archive.users._dummy_hash", None)
        yield
