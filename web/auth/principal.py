"""The logged-in staff member as Flask-Login sees them, detached from the database session."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin

from archive.models import User
from archive.roles import Permission, Role


@dataclass(frozen=True)
class StaffPrincipal(UserMixin):
    id: int
    username: str
    full_name: str
    roles: frozenset[Role]
    permissions: frozenset[Permission]
    centre_code: str | None
    centre_name_ar: str | None
    centre_name_en: str | None
    locale: str | None

    @classmethod
    def from_user(cls, user: User) -> StaffPrincipal:
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            roles=user.roles,
            permissions=user.permissions,
            centre_code=user.centre.code if user.centre else None,
            centre_name_ar=user.centre.name_ar if user.centre else None,
            centre_name_en=user.centre.name_en if user.centre else None,
            locale=user.locale,
        )

    def get_id(self) -> str:
        return str(self.id)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
