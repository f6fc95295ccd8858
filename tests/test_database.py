"""Schema, accounts and catalogue on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from archive.db import Database, DatabaseUnavailable
from archive.migrate import current_revision, head_revision, is_up_to_date, upgrade
from archive.models import Base, Service, User, utcnow
from archive.roles import Permission, Role
from archive.users import AccountError, authenticate, create_user, issue_api_token, user_for_token
from intake.catalogue import CatalogueError, load_catalogue, sync_catalogue


def test_migrations_create_exactly_the_models(database: Database) -> None:
    assert current_revision(database.url) == head_revision()
    assert is_up_to_date(database.url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(database: Database) -> None:
    upgrade(database.url)
    assert is_up_to_date(database.url)


def test_fresh_database_is_not_up_to_date(database_url: str) -> None:
    assert current_revision(database_url) is None
    assert not is_up_to_date(database_url)


def test_unreachable_database_is_one_sentence() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable) as info:
        db.check()
    assert "cannot be used" in str(info.value)
    assert "\n" not in str(info.value)


def test_accounts_and_passwords(database: Database) -> None:
    with database.session() as s:
        user = create_user(s, "Clerk.One", "long enough pw", {Role.CLERK}, "موظف")
        assert user.username == "clerk.one"
        assert user.password_hash.startswith("$argon2id$")
    with database.session() as s:
        assert authenticate(s, "clerk.one", "wrong password") is None
        assert authenticate(s, "nobody", "long enough pw") is None
        found = authenticate(s, "CLERK.ONE", "long enough pw")
        assert found is not None and found.last_login_at is not None
        assert found.can(Permission.APPLICATION_CREATE)
        assert not found.can(Permission.APPLICATION_SIGN)
        found.active = False
    with database.session() as s:
        assert authenticate(s, "clerk.one", "long enough pw") is None


@pytest.mark.parametrize(
    ("username", "password", "roles", "centre", "fragment"),
    [
        ("x", "long enough pw", {Role.CLERK}, None, "Usernames are"),
        ("valid.name", "short", {Role.CLERK}, None, "at least 10"),
        ("valid.name", "long enough pw", set(), None, "at least one role"),
        ("valid.name", "long enough pw", {Role.CLERK}, "NOPE-1", "no centre"),
    ],
)
def test_bad_accounts_are_refused(
    database: Database, username: str, password: str, roles: set[Role], centre: str | None, fragment: str
) -> None:
    with database.session() as s, pytest.raises(AccountError, match=fragment):
        create_user(s, username, password, roles, "", centre)


def test_duplicate_username_refused(database: Database) -> None:
    with database.session() as s:
        create_user(s, "dup.user", "long enough pw", {Role.AUDITOR}, "")
    with database.session() as s, pytest.raises(AccountError, match="already exists"):
        create_user(s, "dup.user", "long enough pw", {Role.AUDITOR}, "")


def test_api_tokens_are_hashed_and_revocable(database: Database) -> None:
    with database.session() as s:
        user = create_user(s, "api.user", "long enough pw", {Role.AUDITOR}, "")
        token = issue_api_token(s, user, "portal")
        expired = issue_api_token(s, user, "old", expires_at=utcnow() - timedelta(minutes=1))
    with database.session() as s:
        assert user_for_token(s, "sjl_not-a-token") is None
        assert user_for_token(s, "garbage") is None
        assert user_for_token(s, expired) is None
        owner = user_for_token(s, token)
        assert owner is not None and owner.username == "api.user"
        row = owner.id
        stored = s.scalar(select(User).where(User.id == row))
        assert stored is not None
        assert all(token not in t for t in [stored.password_hash])
        from archive.models import ApiToken

        api_row = s.scalar(select(ApiToken).where(ApiToken.name == "portal"))
        assert api_row is not None and api_row.token_hash != token and api_row.last_used_at is not None
        api_row.revoked_at = utcnow()
    with database.session() as s:
        assert user_for_token(s, token) is None


def test_catalogue_loads_and_syncs(database: Database) -> None:
    catalogue = load_catalogue()
    codes = {s.code for s in catalogue.services}
    assert {"BUILD-PERMIT", "PERMIT-AMEND", "VALIDITY", "SHOP-LICENCE"} <= codes
    assert len(codes) >= 6
    with database.session() as s:
        assert sync_catalogue(s, catalogue) == (len(codes), 0)
    with database.session() as s:
        assert sync_catalogue(s, catalogue) == (0, 0)
        permit = s.scalar(select(Service).where(Service.code == "BUILD-PERMIT"))
        assert permit is not None
        assert permit.name_ar == "طلب ترخيص أعمال بناء بأنواعه"
        assert [step["role"] for step in permit.definition["signing_chain"]] == ["reviewer", "signer", "signer"]
        assert permit.fee_piastres == 50000


def test_malformed_catalogue_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "c.yaml"
    bad.write_text("version: 1\nservices:\n  - code: X\n    name_ar: س\n    name_en: x\n    legal_days: -3\n")
    with pytest.raises(CatalogueError, match="legal_days"):
        load_catalogue(bad)
    bad.write_text("services: []\n")
    with pytest.raises(CatalogueError, match="version"):
        load_catalogue(bad)
