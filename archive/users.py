"""Staff accounts: creation, changes, password checks (argon2) and API tokens.

The rules live here once, for the ``sijill users`` command and the web administration alike: what a username and a
password must be, that a user keeps at least one role, and that the system never loses its last active
administrator (nor may an administrator switch themselves off). Every change is an audit event in the caller's
transaction, with the acting administrator as its actor.

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
from archive.labels import DEPARTMENTS
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
    """A request about accounts cannot be carried out; the message says why in one sentence.

    ``str(error)`` is the English sentence (the command line); ``message_ar`` is the same in Arabic for the web;
    ``field`` names the input at fault (``username``, ``password``, ``roles``, ``centre``, ``department``,
    ``email``) so a form can put the message beside it and link to it from its error summary, or is None when the
    refusal is about the account as a whole (deactivating oneself).
    """

    def __init__(self, message_en: str, message_ar: str = "", *, field: str | None = None) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_ar = message_ar or message_en
        self.field = field


GENERATED_PASSWORD_BYTES = 12  # 16 URL-safe characters, ~96 bits


def generate_password() -> str:
    """A one-time password for a reset, shown once to the administrator and never stored in clear."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def check_password(password: str) -> None:
    """The one strength rule for every password an administrator or the command line sets."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Passwords must be at least {MIN_PASSWORD_LENGTH} characters long.",
            f"يجب ألا تقل كلمة المرور عن {MIN_PASSWORD_LENGTH} أحرف.",
            field="password",
        )


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise AccountError(
            "Usernames are 3-64 characters: lower-case Latin letters, digits, '.', '_' or '-', starting with a letter.",
            "اسم المستخدم من 3 إلى 64 حرفًا: حروف لاتينية صغيرة وأرقام و'.' و'_' و'-'، ويبدأ بحرف.",
            field="username",
        )
    return name


def _centre(session: Session, centre_code: str | None) -> Centre | None:
    if not centre_code:
        return None
    centre = session.scalar(select(Centre).where(Centre.code == centre_code))
    if centre is None:
        raise AccountError(f"There is no centre with the code {centre_code!r}.", "المركز المختار غير موجود.",
                           field="centre")
    return centre


def _department(department: str | None) -> str | None:
    if not department:
        return None
    if department not in DEPARTMENTS:
        raise AccountError(f"There is no department {department!r}.", "الإدارة المختارة غير موجودة.",
                           field="department")
    return department


def _roles(roles: Iterable[Role]) -> set[Role]:
    role_set = set(roles)
    if not role_set:
        raise AccountError("A user needs at least one role.", "يجب أن يكون للمستخدم دور واحد على الأقل.",
                           field="roles")
    return role_set


def _other_active_admins(session: Session, user: User) -> int:
    return len(session.scalars(
        select(User.id).join(UserRole).where(User.active.is_(True), UserRole.role == Role.ADMIN.value,
                                            User.id != user.id)
    ).all())


def _keep_an_admin(session: Session, user: User) -> None:
    if user.active and Role.ADMIN in user.roles and _other_active_admins(session, user) == 0:
        raise AccountError(
            "This is the last active administrator; make another administrator first.",
            "هذا آخر مسؤول نظام نشط؛ عيّن مسؤولًا آخر أولًا.",
            field="roles",
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[Role],
    full_name: str,
    centre_code: str | None = None,
    *,
    department: str | None = None,
    email: str | None = None,
    actor: str | None = None,
) -> User:
    """Create an active user; raises :class:`AccountError` for a bad username, weak password or unknown centre.

    ``email`` is checked by the caller (``intake.fields.normalise_email``); ``actor`` is the administrator acting.
    """
    username = check_username(username)
    check_password(password)
    role_set = _roles(roles)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(f"A user named {username!r} already exists.", "يوجد مستخدم بهذا الاسم بالفعل.",
                           field="username")
    centre = _centre(session, centre_code)
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        password_hash=hash_password(password),
        centre=centre,
        department=_department(department),
        email=email,
        role_rows=[UserRole(role=r.value) for r in sorted(role_set)],
    )
    session.add(user)
    session.flush()
    record_event(session, actor=actor, action="admin.user.create", subject=f"user:{username}",
                 details={"roles": sorted(r.value for r in role_set), "centre": centre_code,
                          "department": user.department})
    return user


def update_user(
    session: Session,
    user: User,
    *,
    roles: Iterable[Role],
    full_name: str,
    centre_code: str | None,
    department: str | None,
    email: str | None,
    actor: str | None,
) -> dict[str, object]:
    """Change a user's roles, name, centre, department and e-mail; returns what changed (also the audit details).

    Taking the administrator role from the last active administrator is refused.
    """
    role_set = _roles(roles)
    if Role.ADMIN in user.roles and Role.ADMIN not in role_set:
        _keep_an_admin(session, user)
    centre = _centre(session, centre_code)
    wanted: dict[str, object] = {
        "roles": sorted(r.value for r in role_set),
        "full_name": full_name.strip() or user.username,
        "centre": centre.code if centre else None,
        "department": _department(department),
        "email": email,
    }
    before: dict[str, object] = {
        "roles": sorted(r.value for r in user.roles), "full_name": user.full_name,
        "centre": user.centre.code if user.centre else None, "department": user.department, "email": user.email,
    }
    changes = {key: value for key, value in wanted.items() if before[key] != value}
    if not changes:
        return changes
    if "roles" in changes:
        current = {row.role: row for row in user.role_rows}
        user.role_rows = [current.get(r.value) or UserRole(role=r.value) for r in sorted(role_set)]
    user.full_name = str(wanted["full_name"])
    user.centre = centre
    user.department = _department(department)
    user.email = email
    session.flush()
    record_event(session, actor=actor, action="admin.user.update", subject=f"user:{user.username}",
                 details=changes)
    return changes


def reset_password(session: Session, user: User, password: str | None = None, *, actor: str | None) -> str:
    """Set a new password (generated when none is given, to be shown once) and return it; the audit event records
    that it happened and how, never the password."""
    if password is None:
        password = generate_password()
        generated = True
    else:
        check_password(password)
        generated = False
    user.password_hash = hash_password(password)
    record_event(session, actor=actor, action="admin.user.password_reset", subject=f"user:{user.username}",
                 details={"generated": generated})
    return password


def set_active(session: Session, user: User, active: bool, *, actor: str | None) -> None:
    """Deactivate (no more sign-in, API tokens stop working) or reactivate a user; the account and its history
    stay. An administrator cannot deactivate themselves, and the last active administrator stays."""
    if user.active == active:
        return
    if not active:
        if actor is not None and actor == user.username:
            raise AccountError("You cannot deactivate your own account.", "لا يمكنك إيقاف حسابك أنت.")
        _keep_an_admin(session, user)
    user.active = active
    record_event(session, actor=actor, action="admin.user.activate" if active else "admin.user.deactivate",
                 subject=f"user:{user.username}")


def set_email(session: Session, username: str, email: str | None) -> User:
    """Set (or clear, with None) where a member of staff's reminders go; the address is checked by the caller."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise AccountError(f"There is no user named {username!r}.", "لا يوجد مستخدم بهذا الاسم.")
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
