"""Roles of the brief and the permissions each one grants.

Views and API endpoints ask for a *permission*, never a role, so that what a role may do is decided here in one
table. The one-stop rule (a clerk who took an application in never decides it) is enforced per application by the
routing service, not by this table.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CLERK = "clerk"
    REVIEWER = "reviewer"
    SIGNER = "signer"
    AUDITOR = "auditor"
    MONITOR = "monitor"
    ADMIN = "admin"


class Permission(StrEnum):
    APPLICATION_CREATE = "application.create"
    APPLICATION_VIEW = "application.view"
    APPLICATION_REVIEW = "application.review"
    APPLICATION_SIGN = "application.sign"
    ARCHIVE_SEARCH = "archive.search"
    AUDIT_READ = "audit.read"
    REPORTS_VIEW = "reports.view"
    ADMIN_USERS = "admin.users"
    ADMIN_CATALOGUE = "admin.catalogue"
    ADMIN_TRUST = "admin.trust"
    CATALOGUE_READ = "catalogue.read"
    ACCOUNT_SELF = "account.self"


_EVERYONE = frozenset({Permission.ACCOUNT_SELF, Permission.CATALOGUE_READ})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: _EVERYONE | {Permission.APPLICATION_CREATE, Permission.APPLICATION_VIEW},
    Role.REVIEWER: _EVERYONE | {Permission.APPLICATION_VIEW, Permission.APPLICATION_REVIEW},
    Role.SIGNER: _EVERYONE | {Permission.APPLICATION_VIEW, Permission.APPLICATION_SIGN},
    Role.AUDITOR: _EVERYONE
    | {Permission.APPLICATION_VIEW, Permission.ARCHIVE_SEARCH, Permission.AUDIT_READ},
    Role.MONITOR: _EVERYONE | {Permission.REPORTS_VIEW},
    Role.ADMIN: _EVERYONE
    | {Permission.ADMIN_USERS, Permission.ADMIN_CATALOGUE, Permission.ADMIN_TRUST, Permission.AUDIT_READ},
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.CLERK: ("موظف الشباك", "Intake clerk"),
    Role.REVIEWER: ("مهندس / مراجع", "Reviewer"),
    Role.SIGNER: ("صاحب التوقيع", "Signing official"),
    Role.AUDITOR: ("جهة رقابية", "Auditor"),
    Role.MONITOR: ("مركز الحوكمة", "Governance monitor"),
    Role.ADMIN: ("مسؤول النظام", "Administrator"),
}


def permissions_for(roles: frozenset[Role] | set[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


def parse_role(value: str) -> Role:
    """Turn user input into a Role, with an error listing the valid ones."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValueError(f"Unknown role {value!r}; valid roles are {valid}.") from None
