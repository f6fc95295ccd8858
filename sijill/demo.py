"""DEMO data for a single-machine trial: centres, the catalogue, one user per role and a DEMO signing PKI.

Everything here is marked DEMO (تجريبي). Passwords are random, printed once and kept in
``<data_dir>/demo-credentials.txt`` (mode 0600) so a trial operator can find them again.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Centre, User
from archive.roles import Role
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue

DEMO_CENTRES = [
    ("SOH-01", "مركز خدمات المواطنين بمدينة سوهاج (تجريبي)", "Sohag City citizen service centre (DEMO)", "26"),
    ("SOH-02", "مركز خدمات المواطنين بمدينة أخميم (تجريبي)", "Akhmim citizen service centre (DEMO)", "26"),
    ("SOH-03", "مركز خدمات المواطنين بمدينة جرجا (تجريبي)", "Girga citizen service centre (DEMO)", "26"),
    ("QEN-01", "مركز خدمات المواطنين بمدينة قنا (تجريبي)", "Qena City citizen service centre (DEMO)", "27"),
]

# username, roles, Arabic full name, centre
DEMO_USERS: list[tuple[str, tuple[Role, ...], str, str | None]] = [
    ("demo.clerk", (Role.CLERK,), "موظف الشباك (تجريبي)", "SOH-01"),
    ("demo.reviewer", (Role.REVIEWER,), "المهندس المراجع (تجريبي)", "SOH-01"),
    ("demo.signer", (Role.SIGNER,), "رئيس الإدارة الهندسية (تجريبي)", "SOH-01"),
    ("demo.council", (Role.SIGNER,), "رئيس مجلس المدينة (تجريبي)", "SOH-01"),
    ("demo.auditor", (Role.AUDITOR,), "المراجع الرقابي (تجريبي)", None),
    ("demo.monitor", (Role.MONITOR,), "مركز الحوكمة (تجريبي)", None),
    ("demo.admin", (Role.ADMIN,), "مسؤول النظام (تجريبي)", None),
]


@dataclass
class DemoResult:
    centres_created: int = 0
    services_created: int = 0
    services_updated: int = 0
    new_passwords: dict[str, str] = field(default_factory=dict)
    credentials_file: Path | None = None
    pki_dir: Path | None = None


def load_demo(session: Session, data_dir: Path) -> DemoResult:
    """Idempotently add the DEMO records; only users created now get (and print) a password."""
    result = DemoResult()
    existing = set(session.scalars(select(Centre.code)))
    for code, name_ar, name_en, gov in DEMO_CENTRES:
        if code not in existing:
            session.add(Centre(code=code, name_ar=name_ar, name_en=name_en, governorate_code=gov))
            result.centres_created += 1
    session.flush()
    result.services_created, result.services_updated = sync_catalogue(session, load_catalogue())
    usernames = set(session.scalars(select(User.username)))
    for username, roles, full_name, centre in DEMO_USERS:
        if username in usernames:
            continue
        password = "demo-" + secrets.token_urlsafe(9)
        create_user(session, username, password, roles, full_name, centre)
        result.new_passwords[username] = password
    if result.new_passwords:
        result.credentials_file = _append_credentials(data_dir, result.new_passwords)
    return result


def _append_credentials(data_dir: Path, passwords: dict[str, str]) -> Path:
    path = data_dir / "demo-credentials.txt"
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        if fh.tell() == 0:
            fh.write("# DEMO accounts (تجريبي) — for trials only; never use in production.\n")
        for username, password in passwords.items():
            fh.write(f"{username}\t{password}\n")
    return path
