"""Shared pytest configuration: each area's real-server fixtures live in tests/fixtures/ as plugins."""

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
