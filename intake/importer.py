"""Bulk and scanner intake: a folder of scanner output becomes applications, exactly once each.

Layout of an import directory (the scanner station writes one sub-folder per application)::

    inbox/
      2026-11-23-0001/
        application.yaml      # who and what: centre, service, applicant, national ID, mobile, details …
        ID_COPY.pdf           # files named after the requirement code they are (ID_COPY, OWNERSHIP-2.tif …)
        OWNERSHIP-1.tif
        scan0042.jpg          # anything else is filed as OTHER, unless application.yaml maps it:
                              #   documents: {scan0042.jpg: SURVEY}

``application.yaml`` holds ``centre``, ``service``, ``applicant_name``, ``national_id``, ``applicant_phone``,
optionally ``details`` (plot_number, street, …), ``incomplete_reason`` and ``documents``.

Exactly once: a batch's *fingerprint* is the SHA-256 of its manifest and its files' digests. It is recorded in
``intake_imports`` in the same transaction as the application, so a crash after the commit but before the folder is
marked done cannot import it twice: the next run finds the fingerprint and only marks the folder. Imported folders
get an ``IMPORTED.txt`` with the tracking number; refused ones an ``ERRORS.txt`` (Arabic and English) and are tried
again only once their content changes.

A *hot folder* (``sijill import DIR --watch``) polls the directory; a batch is taken only when its files have not
changed for one polling interval, so a scanner still writing is never read half-way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import Channel, ImportRecord, User
from archive.store import ObjectStore
from intake.errors import IntakeInvalid
from intake.service import OTHER, register_application
from intake.uploads import Upload
from ocr.limits import Limits

MANIFEST_NAMES = ("application.yaml", "application.yml", "application.json")
IMPORTED_MARKER = "IMPORTED.txt"
ERRORS_MARKER = "ERRORS.txt"
SCAN_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff"}
_REQUIREMENT_RE = re.compile(r"^([A-Z][A-Z0-9_]*?)(?:[-_ ]\d+)?$")


@dataclass(frozen=True)
class Batch:
    folder: Path
    manifest: Path


@dataclass
class ImportOutcome:
    folder: Path
    status: str
    """``imported``, ``already_imported``, ``refused`` or ``unchanged_refusal`` (refused before, not changed)."""
    tracking_number: str | None = None
    page_ids: list[int] = field(default_factory=list)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)


def find_batches(root: Path) -> list[Batch]:
    """Sub-folders of ``root`` with a manifest and no ``IMPORTED.txt``, in name order."""
    batches = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (folder / IMPORTED_MARKER).exists():
            continue
        manifest = next((folder / n for n in MANIFEST_NAMES if (folder / n).is_file()), None)
        if manifest is not None:
            batches.append(Batch(folder, manifest))
    return batches


def scan_files(batch: Batch) -> list[Path]:
    return sorted(
        p for p in batch.folder.iterdir() if p.is_file() and p.suffix.lower() in SCAN_SUFFIXES
    )


def snapshot(batch: Batch) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times: equal on two polls means the scanner has finished writing."""
    paths = [batch.manifest, *scan_files(batch)]
    return tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in paths)


def fingerprint(batch: Batch) -> str:
    digest = hashlib.sha256()
    digest.update(batch.manifest.read_bytes())
    for path in scan_files(batch):
        digest.update(b"\0" + path.name.encode("utf-8") + b"\0" + _file_sha256(path).encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(batch: Batch) -> dict[str, Any]:
    try:
        text = batch.manifest.read_text(encoding="utf-8")
        data = json.loads(text) if batch.manifest.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise IntakeInvalid(
            {"manifest": ("ملف بيانات الطلب غير مقروء.", f"{batch.manifest.name} cannot be read: {exc}")},
            {"manifest": "unreadable"},
        ) from None
    if not isinstance(data, dict):
        raise IntakeInvalid(
            {"manifest": ("ملف بيانات الطلب لا يحتوي على بيانات.", f"{batch.manifest.name} holds no mapping.")},
            {"manifest": "empty"},
        )
    return data


def requirement_for(path: Path, mapping: dict[str, str]) -> str:
    """The requirement code a file stands for: from the manifest's mapping, else from its name, else OTHER."""
    if path.name in mapping:
        return str(mapping[path.name]).strip().upper()
    match = _REQUIREMENT_RE.match(path.stem.upper())
    return match.group(1) if match and path.stem.upper() == path.stem else OTHER


def import_batch(
    database: Database,
    store: ObjectStore,
    batch: Batch,
    *,
    limits: Limits,
    clerk: User | None = None,
    now: datetime | None = None,
) -> ImportOutcome:
    """Register one folder as an application, exactly once (see the module docstring)."""
    print_ = fingerprint(batch)
    errors_file = batch.folder / ERRORS_MARKER
    if errors_file.exists() and print_ in errors_file.read_text(encoding="utf-8"):
        return ImportOutcome(batch.folder, "unchanged_refusal")
    with database.session() as session:
        known = session.scalar(select(ImportRecord).where(ImportRecord.fingerprint == print_))
        if known is not None:
            tracking = known.application.tracking_number
            _write_marker(batch.folder / IMPORTED_MARKER, f"{tracking}\n{print_}\n")
            return ImportOutcome(batch.folder, "already_imported", tracking)
    try:
        manifest = read_manifest(batch)
        outcome = _register(database, store, batch, manifest, print_, limits, clerk, now)
    except IntakeInvalid as exc:
        lines = [f"{name}: {ar}\n{name}: {en}" for name, (ar, en) in exc.errors.items()]
        _write_marker(errors_file, "\n".join(lines) + f"\n\nfingerprint {print_}\n")
        return ImportOutcome(batch.folder, "refused", errors=exc.errors)
    errors_file.unlink(missing_ok=True)
    _write_marker(batch.folder / IMPORTED_MARKER, f"{outcome.tracking_number}\n{print_}\n")
    return outcome


def _register(
    database: Database, store: ObjectStore, batch: Batch, manifest: dict[str, Any], print_: str, limits: Limits,
    clerk: User | None, now: datetime | None,
) -> ImportOutcome:
    mapping = {str(k): str(v) for k, v in (manifest.get("documents") or {}).items()}
    files = scan_files(batch)
    handles = [path.open("rb") for path in files]
    try:
        uploads = [Upload(requirement_for(p, mapping), p.name, fh) for p, fh in zip(files, handles, strict=True)]
        with database.session() as session:
            user = session.get(User, clerk.id) if clerk is not None else None
            registered = register_application(
                session, store,
                centre_code=str(manifest.get("centre", "")),
                service_code=str(manifest.get("service", "")),
                applicant_name=str(manifest.get("applicant_name", "")),
                national_id=str(manifest.get("national_id", "")),
                applicant_phone=str(manifest.get("applicant_phone", "")),
                applicant_email=str(manifest["applicant_email"]) if manifest.get("applicant_email") else None,
                details=manifest.get("details") or {},
                uploads=uploads,
                created_by=user,
                channel=Channel.IMPORT.value,
                incomplete_reason=manifest.get("incomplete_reason"),
                limits=limits,
                now=now,
            )  # fmt: skip
            session.add(ImportRecord(fingerprint=print_, application=registered.application, source=batch.folder.name))
            session.flush()
            tracking = registered.tracking_number
            page_ids = registered.page_ids
            session.commit()
    finally:
        for fh in handles:
            fh.close()
    return ImportOutcome(batch.folder, "imported", tracking, page_ids)


def _write_marker(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def settled_batches(root: Path, previous: dict[Path, tuple[tuple[str, int, int], ...]]) -> Iterator[Batch]:
    """Batches whose snapshot equals the one seen on the previous poll (``previous`` is updated in place)."""
    current: dict[Path, tuple[tuple[str, int, int], ...]] = {}
    for batch in find_batches(root):
        try:
            current[batch.folder] = snapshot(batch)
        except FileNotFoundError:  # a file vanished mid-poll: the scanner is still busy
            continue
    ready = [b for b in find_batches(root) if b.folder in current and previous.get(b.folder) == current[b.folder]]
    previous.clear()
    previous.update(current)
    yield from ready


def session_user(session: Session, username: str | None) -> User | None:
    if not username:
        return None
    return session.scalar(select(User).where(User.username == username.lower()))
