"""DEMO data for a single-machine trial: centres, the catalogue, one user per role and a DEMO signing PKI.

Everything here is marked DEMO (تجريبي). Passwords are random, printed once and kept in
``<data_dir>/demo-credentials.txt`` (mode 0600) so a trial operator can find them again. The DEMO officials work in
departments (the reviewer and the head of engineering in ``engineering``, the head of the city council in
``council``) so that the catalogue's signing chains reach them; :func:`register_demo_pki` registers their DEMO
PKCS#12 certificates and adds the DEMO root as a trust root. Both are idempotent.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Centre, OfficialCertificate, User
from archive.roles import Role
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from signing.certificates import fingerprint
from signing.dev_pki import PKCS12_SUFFIX, DemoPki, create_demo_pki
from workflow.routing import add_trust_root, register_certificate

DEMO_CENTRES = [
    ("SOH-01", "مركز خدمات المواطنين بمدينة سوهاج (تجريبي)", "Sohag City citizen service centre (DEMO)", "26"),
    ("SOH-02", "مركز خدمات المواطنين بمدينة أخميم (تجريبي)", "Akhmim citizen service centre (DEMO)", "26"),
    ("SOH-03", "مركز خدمات المواطنين بمدينة جرجا (تجريبي)", "Girga citizen service centre (DEMO)", "26"),
    ("QEN-01", "مركز خدمات المواطنين بمدينة قنا (تجريبي)", "Qena City citizen service centre (DEMO)", "27"),
    ("QEN-02", "مركز خدمات المواطنين بمدينة نجع حمادي (تجريبي)", "Nag Hammadi citizen service centre (DEMO)", "27"),
    ("AST-01", "مركز خدمات المواطنين بمدينة أسيوط (تجريبي)", "Assiut City citizen service centre (DEMO)", "25"),
    ("AST-02", "مركز خدمات المواطنين بمدينة ديروط (تجريبي)", "Dairut citizen service centre (DEMO)", "25"),
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

# username -> department (users not listed have none)
DEMO_DEPARTMENTS: dict[str, str] = {
    "demo.reviewer": "engineering",
    "demo.signer": "engineering",
    "demo.council": "council",
}


def demo_signers() -> list[tuple[str, str]]:
    """(username, certificate common name) of each DEMO signing official, for ``signing.dev_pki.create_demo_pki``.

    The common name is the full name with "تجريبي" (DEMO) after a dash instead of in parentheses: certificate
    validation (asn1crypto's RFC 4518 name preparation) rejects a right-to-left name that ends in ")".
    """
    return [
        (username, full_name.replace(" (تجريبي)", "").strip() + " - تجريبي")
        for username, roles, full_name, _centre in DEMO_USERS
        if Role.SIGNER in roles
    ]


def open_demo_pki(pki_dir: Path, password: bytes) -> DemoPki:
    """Create or load the DEMO PKI for :func:`demo_signers`, reissuing a DEMO signer's PKCS#12 file whose name changed.

    DEMO folders made before the names became validatable hold certificates named "… (تجريبي)"; those files are
    replaced (they are DEMO credentials generated here, never real ones) instead of failing ``sijill demo``.
    """
    signers = demo_signers()
    for key, name in signers:
        path = pki_dir / f"{key}{PKCS12_SUFFIX}"
        if path.exists() and _common_name(path, password) not in (None, name):
            path.unlink()
    return create_demo_pki(pki_dir, signers, password)


def _common_name(path: Path, password: bytes) -> str | None:
    try:
        bundle = pkcs12.load_pkcs12(path.read_bytes(), password)
    except (OSError, ValueError):
        return None  # create_demo_pki explains a wrong password or a damaged file
    if bundle.cert is None:
        return None
    names = bundle.cert.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


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
    for username, department in DEMO_DEPARTMENTS.items():  # also for DEMO users created before departments existed
        user = session.scalar(select(User).where(User.username == username))
        if user is not None and user.department is None:
            user.department = department
    session.flush()
    if result.new_passwords:
        result.credentials_file = _append_credentials(data_dir, result.new_passwords)
    return result


def register_demo_pki(session: Session, pki: DemoPki, password: bytes) -> int:
    """Add the DEMO root as a trust root and register each DEMO signer's certificate for the user of that name.

    Idempotent; returns how many certificates were registered now. Signers without a matching user are skipped.
    """
    add_trust_root(session, "Sijill DEMO root (تجريبي)", pki.root_cert_path.read_bytes())
    known = set(session.scalars(select(OfficialCertificate.fingerprint)))
    registered = 0
    for signer in pki.signers:
        user = session.scalar(select(User).where(User.username == signer.key))
        bundle = pki.load_signer(signer.key, password)
        if user is None or bundle.cert is None:
            continue
        der = bundle.cert.certificate.public_bytes(Encoding.DER)
        if fingerprint(der) in known:
            continue
        register_certificate(session, user, der, by=None, label="DEMO PKCS#12 (تجريبي)")
        registered += 1
    return registered


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
