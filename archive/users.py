"""Staff accounts: creation, password checks (argon2) and API tokens.

Passwords are hashed with argon2id; an unknown username still costs one hash verification so response time does not
reveal which usernames exist. API tokens are random, shown once, and stored as SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import record_event
from archive.models import ApiToken, Centre, User, UserRole, utcnow
from archive.roles import Role

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "sjl_"  # noqa: S105 - a label, not a secret

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _unknown_user_hash() -> str:
    """A hash to verify against when the username is unknown; made on first use, not at import (~0.2 s that every
    CLI command and worker would pay)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-real-password-only-for-timing")
    return _dummy_hash


class AccountError(ValueError):
    """A request about accounts cannot be carried out; the message says why in one sentence."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[Role],
    full_name: str,
    centre_code: str | None = None,
) -> User:
    """Create an active user; raises :class:`AccountError` for a bad username, weak password or unknown centre."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            "Usernames are 3-64 characters: lower-case Latin letters, digits, '.', '_' or '-', starting with a letter."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters long.")
    role_set = set(roles)
    if not role_set:
        raise AccountError("A user needs at least one role.")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(f"A user named {username!r} already exists.")
    centre = None
    if centre_code:
        centre = session.scalar(select(Centre).where(Centre.code == centre_code))
        if centre is None:
            raise AccountError(f"There is no centre with the code {centre_code!r}.")
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        password_hash=hash_password(password),
        centre=centre,
        role_rows=[UserRole(role=r.value) for r in sorted(role_set)],
    )
    session.add(user)
    session.flush()
    record_event(session, actor=None, action="admin.user.create", subject=f"user:{username}",
                 details={"roles": sorted(r.value for r in role_set), "centre": centre_code})
    return user


def set_email(session: Session, username: str, email: str | None) -> User:
    """Set (or clear, with None) where a member of staff's reminders go; the address is checked by the caller."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise AccountError(f"There is no user named {username!r}.")
    user.email = email
    record_event(session, actor=None, action="admin.user.email", subject=f"user:{user.username}",
                 details={"email": email})
    return user


def authenticate(session: Session, username: str, password: str, *, channel: str = "web") -> User | None:
    """Return the active user whose password matches, upgrading the hash if argon2's parameters changed.

    Every attempt, good or bad, is written to the audit trail; the caller commits in both cases.
    """
    name = username.strip().lower()
    user = session.scalar(select(User).where(User.username == name))
    if user is None or not user.active:
        _verify(_unknown_user_hash(), password)
        _audit_login(session, name, ok=False, channel=channel)
        return None
    if not _verify(user.password_hash, password):
        _audit_login(session, name, ok=False, channel=channel)
        return None
    _audit_login(session, name, ok=True, channel=channel)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def _audit_login(session: Session, username: str, *, ok: bool, channel: str) -> None:
    shown = username[:64] or "-"
    record_event(session, actor=shown if ok else None, action="login.ok" if ok else "login.failed",
                 subject=f"user:{shown}", details={"channel": channel})


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, user: User, name: str, expires_at: datetime | None = None) -> str:
    """Create a token for ``user`` and return it; it cannot be recovered later, only revoked."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user=user,
            name=name[:100] or "api",
            token_hash=_token_digest(token),
            prefix=token[:12],
            expires_at=expires_at,
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a live token belongs to, or None; records when the token was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    if row.expires_at is not None and _aware(row.expires_at) <= now:
        return None
    row.last_used_at = now
    return row.user


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes even for timezone-aware columns; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
