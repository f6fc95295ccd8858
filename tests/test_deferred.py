"""The server's two halves of desk signing (workflow.deferred) on SQLite and PostgreSQL, with the clock as a parameter.

The signature values come from the SoftHSM2 token, as the desk agent would make them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import Application, Centre, PreparedSignature, User
from archive.roles import Role
from archive.store import ObjectStore, open_store
from archive.sweeper import referenced_keys
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from intake.service import Upload, register_application
from ocr.limits import Limits
from signing.errors import SigningRefused
from signing.signers import open_signer, sign_raw
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken
from workflow.deferred import (
    DeskSigningOptions,
    discard_expired_preparations,
    finish_step_signature,
    prepare_step_signature,
)
from workflow.routing import add_trust_root, decide, ensure_workflow, register_certificate

NOW = datetime.now(UTC).replace(microsecond=0)
"""The moment each test runs at; reset per test, because OCSP answers and certificates are made in real time."""


@pytest.fixture(autouse=True)
def _now() -> None:
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Setup:
    database: Database
    store: ObjectStore
    options: DeskSigningOptions
    application_id: int


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 160), 255).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def setup(database: Database, tmp_path: Path, pki: TestPki) -> Iterator[Setup]:
    store = open_store((tmp_path / "objects").as_uri())
    with database.session() as s:
        s.add(Centre(code="SOH-01", name_ar="مركز سوهاج", name_en="Sohag", governorate_code="26"))
        s.flush()
        sync_catalogue(s, load_catalogue())
        users = {}
        for name, role, department in (("clerk", Role.CLERK, None), ("reviewer", Role.REVIEWER, "engineering"),
                                       ("head.eng", Role.SIGNER, "engineering"), ("council", Role.SIGNER, "council")):
            users[name] = create_user(s, name, "long enough pw", {role}, f"الموظف {name}", "SOH-01")
            users[name].department = department
        add_trust_root(s, "TEST root", pki.cert("root").dump())
        register_certificate(s, users["head.eng"], pki.cert("engineering").dump(), by=None)
        register_certificate(s, users["council"], pki.cert("council").dump(), by=None)
        application = register_application(
            s, store, centre_code="SOH-01", service_code="BUILD-PERMIT", applicant_name="سامية محمود حسن",
            national_id="29001012601235", applicant_phone="01012345678",
            details={"plot_number": "4", "district": "الكوثر", "area_m2": "200"},
            uploads=[Upload(code, f"{code.lower()}.png", io.BytesIO(_png()))
                     for code in ("ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT")],
            created_by=users["clerk"], channel="window", incomplete_reason=None, limits=Limits(), now=NOW,
        ).application
        ensure_workflow(s, application, now=NOW)
        decide(s, application, users["reviewer"], "recommend", reason="مطابق", now=NOW)
        application_id = application.id
    options = DeskSigningOptions(revocation="require", timestamp_url=pki.tsa_url, embed_validation_info=True,
                                 ca_chain=tuple(pki.chain("engineering")), ttl=timedelta(minutes=10))
    yield Setup(database, store, options, application_id)


def _user(s: Session, name: str) -> User:
    user = s.scalar(select(User).where(User.username == name))
    assert user is not None
    return user


def _prepare(setup: Setup, pki: TestPki, name: str = "head.eng", key: str = "engineering",
             at: datetime | None = None) -> tuple[int, bytes, str]:
    with setup.database.session() as s:
        application = s.get(Application, setup.application_id)
        assert application is not None
        row = prepare_step_signature(s, setup.store, application, _user(s, name), pki.cert(key), setup.options,
                                     base_url="https://sijill.example.eg", now=at)
        return row.id, bytes(row.signed_attributes), row.prepared_pdf_sha256


def _finish(setup: Setup, prepared_id: int, value: bytes, name: str = "head.eng", at: datetime | None = None) -> None:
    with setup.database.session() as s:
        finish_step_signature(s, setup.store, prepared_id, _user(s, name), value, setup.options, now=at)


def test_prepare_again_replaces_and_expiry_follows_the_clock(setup: Setup, pki: TestPki,
                                                             softhsm: SoftHsmToken) -> None:
    first_id, first_attrs, first_key = _prepare(setup, pki)
    second_id, attrs, second_key = _prepare(setup, pki, at=NOW + timedelta(minutes=1))
    assert second_key != first_key
    with setup.database.session() as s:
        assert [r.id for r in s.scalars(select(PreparedSignature))] == [second_id]
        keys = referenced_keys(s)
    assert first_key not in keys and second_key in keys  # the replaced preparation's PDF is the sweeper's

    with open_signer(softhsm.credential("engineering")) as token:
        old_value, value = sign_raw(token, first_attrs), sign_raw(token, attrs)
    with pytest.raises(SigningRefused) as replaced:
        _finish(setup, first_id, old_value)
    assert replaced.value.code == "preparation_not_found"
    with pytest.raises(SigningRefused) as expired:
        _finish(setup, second_id, value, at=NOW + timedelta(minutes=11, seconds=1))
    assert expired.value.code == "preparation_expired"
    with pytest.raises(SigningRefused) as stranger:
        _finish(setup, second_id, value, name="council")
    assert stranger.value.code == "preparation_not_found"

    _finish(setup, second_id, value, at=NOW + timedelta(minutes=10))  # still inside its lifetime
    with setup.database.session() as s:
        application = s.get(Application, setup.application_id)
        assert application is not None
        assert [st.status for st in sorted(application.steps, key=lambda st: st.position)] == [
            "done", "done", "active"]
        assert s.scalars(select(PreparedSignature)).all() == []


def test_unregistered_certificate_is_refused_before_anything_is_written(setup: Setup, pki: TestPki) -> None:
    with pytest.raises(SigningRefused) as refused:
        _prepare(setup, pki, key="council")  # the council head's certificate, for the head of engineering
    assert refused.value.code == "certificate_unregistered"
    with setup.database.session() as s:
        assert s.scalars(select(PreparedSignature)).all() == []


def test_expired_preparations_are_discarded(setup: Setup, pki: TestPki) -> None:
    _prepare(setup, pki)
    with setup.database.session() as s:
        assert discard_expired_preparations(s, now=NOW + timedelta(minutes=9)) == 0
        assert discard_expired_preparations(s, now=NOW + timedelta(minutes=11)) == 1
    with setup.database.session() as s:
        assert s.scalars(select(PreparedSignature)).all() == []
