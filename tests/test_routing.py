"""Routing through the signing chain and the permit it ends in (workflow.routing), on SQLite and PostgreSQL.

The chain comes from the catalogue; inboxes are scoped by role, department and centre; the one-stop rule keeps the
clerk who took a file in away from every decision; every change leaves a transition; the permit is signed in turn
by the officials with their DEMO PKCS#12 certificates and issued after the last signature.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto.x509 import Certificate
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.db import Database
from archive.models import (
    AppendOnlyViolation,
    Application,
    Centre,
    OfficialCertificate,
    Permit,
    Service,
    Transition,
    TrustRoot,
    User,
    WorkflowStep,
)
from archive.roles import Role
from archive.store import ObjectStore, open_store
from archive.sweeper import referenced_keys
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from intake.national_id import EGYPT
from intake.service import Upload, register_application, required_documents
from ocr.limits import Limits
from signing.certificates import check_signing_certificate
from signing.dev_pki import DemoPki, create_demo_pki
from signing.errors import SigningRefused
from signing.signers import Pkcs12Credential, open_signer
from tests import clock
from workflow.errors import RoutingRefused
from workflow.routing import (
    active_trust_roots,
    decide,
    ensure_workflow,
    find_permit_by_token,
    inbox,
    open_pending_workflows,
    prepare_permit,
    reassign,
    register_certificate,
    resubmit,
    revoke_permit,
    sign_step,
)
from workflow.routing import add_trust_root as add_root

"""The real clock: the DEMO certificates are valid from the moment they are made."""
BASE_URL = "https://sijill.example.eg"
PKI_PASSWORD = b"demo-pki-password"
TOKEN = "known-token-for-the-tests-0123456789abcdef"
PROPERTY = {"plot_number": "12/ب", "street": "شارع الجمهورية", "district": "الكوثر", "area_m2": "250"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 160), 255).save(out, format="PNG")
    return out.getvalue()


# --- fixtures -----------------------------------------------------------------------------------------------------


@dataclass
class World:
    database: Database
    store: ObjectStore
    ids: dict[str, int]

    def user(self, session: Session, name: str) -> User:
        user = session.get(User, self.ids[name])
        assert user is not None
        return user

    def register(
        self, session: Session, clerk: str = "clerk", *, centre: str = "SOH-01", service: str = "BUILD-PERMIT",
        at: datetime | None = None, complete: bool = True,
    ) -> Application:
        """A registered application with its workflow open: every required document handed in (``complete``), or
        only the ID card with a reason for the rest."""
        at = at or clock.NOW
        row = session.scalar(select(Service).where(Service.code == service))
        codes = [d.code for d in required_documents(row)] if complete and row is not None else ["ID_COPY"]
        result = register_application(
            session,
            self.store,
            centre_code=centre,
            service_code=service,
            applicant_name="محمد أحمد علي",
            national_id="29001012601234",
            applicant_phone="01012345678",
            details=PROPERTY,
            uploads=[Upload(code, "id.png" if code == "ID_COPY" else f"{code.lower()}.png", io.BytesIO(png()))
                     for code in codes],
            created_by=self.user(session, clerk),
            channel="window",
            incomplete_reason=None if complete else "باقي المستندات لاحقًا",
            limits=Limits(),
            now=at,
        )
        ensure_workflow(session, result.application, now=at)
        return result.application


# name: roles, department, centre
STAFF: dict[str, tuple[set[Role], str | None, str | None]] = {
    "clerk": ({Role.CLERK}, None, "SOH-01"),
    "clerk.qen": ({Role.CLERK}, None, "QEN-01"),
    "clerk.reviewer": ({Role.CLERK, Role.REVIEWER}, "engineering", "SOH-01"),
    "clerk.signer": ({Role.CLERK, Role.SIGNER}, "engineering", "SOH-01"),
    "reviewer": ({Role.REVIEWER}, "engineering", "SOH-01"),
    "reviewer.two": ({Role.REVIEWER}, "engineering", "SOH-01"),
    "reviewer.qen": ({Role.REVIEWER}, "engineering", "QEN-01"),
    "reviewer.all": ({Role.REVIEWER}, "engineering", None),
    "reviewer.nodept": ({Role.REVIEWER}, None, "SOH-01"),
    "inspector": ({Role.REVIEWER}, "licensing", "SOH-01"),
    "head.eng": ({Role.SIGNER}, "engineering", "SOH-01"),
    "head.eng.qen": ({Role.SIGNER}, "engineering", "QEN-01"),
    "council.head": ({Role.SIGNER}, "council", "SOH-01"),
    "auditor": ({Role.AUDITOR}, None, None),
    "admin": ({Role.ADMIN}, None, None),
}


@pytest.fixture
def world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(database, tmp_path, monkeypatch)


def build_world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """Two centres, the catalogue and :data:`STAFF` (unhashed passwords: no test here logs in)."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setattr("archive.users.hash_password", lambda password: "not-a-hash")
    ids: dict[str, int] = {}
    with database.session() as s:
        s.add_all(
            [
                Centre(code="SOH-01", name_ar="مركز خدمات المواطنين بسوهاج", name_en="Sohag", governorate_code="26"),
                Centre(code="QEN-01", name_ar="مركز خدمات المواطنين بقنا", name_en="Qena", governorate_code="27"),
            ]
        )
        s.flush()
        sync_catalogue(s, load_catalogue())
        for name, (roles, department, centre) in STAFF.items():
            user = create_user(s, name, "long enough pw", roles, f"الموظف {name}", centre)
            user.department = department
            ids[name] = user.id
    return World(database=database, store=open_store((tmp_path / "objects").as_uri()), ids=ids)


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    signers = [("head.eng", "رئيس الإدارة الهندسية - تجريبي"), ("council.head", "رئيس مجلس المدينة - تجريبي"),
               ("stranger", "شخص غير مسجل - تجريبي")]
    # Made once for the module; tests sign at clock.NOW or earlier moments, so the certificates start a day early.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("signing.dev_pki.CLOCK_SKEW", timedelta(days=1))
        return create_demo_pki(tmp_path_factory.mktemp("pki") / "demo", signers, PKI_PASSWORD)


def credential(pki: DemoPki, key: str) -> Pkcs12Credential:
    return Pkcs12Credential(pki.signer(key).pkcs12_path, PKI_PASSWORD)


def register_demo_certificates(world: World, pki: DemoPki) -> None:
    with world.database.session() as s:
        add_root(s, "DEMO root", pki.root_cert_path.read_bytes())
        for key in ("head.eng", "council.head"):
            bundle = pki.load_signer(key, PKI_PASSWORD)
            assert bundle.cert is not None
            from cryptography.hazmat.primitives.serialization import Encoding

            register_certificate(s, world.user(s, key), bundle.cert.certificate.public_bytes(Encoding.PEM),
                                 by=world.user(s, "admin"), label="DEMO")


def refused(code: str, call: Any, *args: Any, **kwargs: Any) -> RoutingRefused:
    with pytest.raises(RoutingRefused) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    assert info.value.message_ar and info.value.message_en
    return info.value


def transitions(session: Session, application_id: int) -> list[Transition]:
    return list(
        session.scalars(
            select(Transition).where(Transition.application_id == application_id).order_by(Transition.id)
        )
    )


def get_app(session: Session, application_id: int) -> Application:
    app = session.get(Application, application_id)
    assert app is not None
    return app


def permit_of(session: Session, application_id: int) -> Permit:
    permit = session.scalar(select(Permit).where(Permit.application_id == application_id))
    assert permit is not None
    return permit


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def inbox_ids(world: World, name: str, now: datetime | None = None) -> list[int]:
    with world.database.session() as s:
        return [item.application.id for item in inbox(s, world.user(s, name), now=now or clock.NOW)]


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the chain ----------------------------------------------------------------------------------------------------


def test_chain_is_a_snapshot_of_the_catalogue(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
    with world.database.session() as s:
        app = get_app(s, app_id)
        steps = ensure_workflow(s, app)  # idempotent
        assert [(st.position, st.step, st.role, st.department, st.signs, st.status) for st in steps] == [
            (0, "recommend", "reviewer", "engineering", False, "active"),
            (1, "approve_department", "signer", "engineering", True, "waiting"),
            (2, "approve_council", "signer", "council", True, "waiting"),
        ]
        assert steps[2].title_ar == "رئيس مجلس المدينة" and steps[2].title_en == "Head of the city council"
        assert aware(steps[0].activated_at) == clock.NOW  # type: ignore[arg-type]
        assert app.status == "received"
        (opened,) = transitions(s, app_id)
        assert (opened.action, opened.actor_id, opened.from_status, opened.to_status) == (
            "open", None, "received", "received"
        )
        # a later catalogue edition does not reroute files under way
        service = s.scalar(select(Service).where(Service.code == "BUILD-PERMIT"))
        assert service is not None
        service.definition = {**service.definition, "signing_chain": service.definition["signing_chain"][:1]}
    with world.database.session() as s:
        later = world.register(s)
        assert [st.step for st in later.steps] == ["recommend"]
        assert s.scalar(select(func.count()).where(WorkflowStep.application_id == app_id)) == 3


def test_pending_workflows_are_opened_once(world: World) -> None:
    with world.database.session() as s:
        clerk = world.user(s, "clerk")
        for _ in range(2):
            register_application(
                s, world.store, centre_code="SOH-01", service_code="VALIDITY", applicant_name="منى علي",
                national_id="29001012601234", applicant_phone="01012345678", details=PROPERTY,
                uploads=[Upload("ID_COPY", "id.png", io.BytesIO(png()))], created_by=clerk, channel="window",
                incomplete_reason="لاحقًا", limits=Limits(), now=clock.NOW,
            )
    with world.database.session() as s:
        assert open_pending_workflows(s, now=clock.NOW) == 2
    with world.database.session() as s:
        assert open_pending_workflows(s, now=clock.NOW) == 0
        assert count(s, WorkflowStep) == 4


# --- inboxes ------------------------------------------------------------------------------------------------------


def test_inbox_is_scoped_by_role_department_and_centre_oldest_first(world: World) -> None:
    with world.database.session() as s:
        newer = world.register(s, at=clock.NOW - timedelta(days=1)).id
        older = world.register(s, at=clock.NOW - timedelta(days=5)).id
        qena = world.register(s, "clerk.qen", centre="QEN-01", at=clock.NOW - timedelta(days=3)).id
        shop = world.register(s, service="SHOP-LICENCE", at=clock.NOW - timedelta(days=2)).id

    assert inbox_ids(world, "reviewer") == [older, newer]
    assert inbox_ids(world, "reviewer.qen") == [qena]
    assert inbox_ids(world, "reviewer.all") == [older, qena, newer]
    assert inbox_ids(world, "inspector") == [shop]
    for nobody in ("reviewer.nodept", "head.eng", "council.head", "clerk", "auditor", "admin"):
        assert inbox_ids(world, nobody) == [], nobody

    with world.database.session() as s:
        (item, _) = inbox(s, world.user(s, "reviewer"), now=clock.NOW)
        assert (item.position, item.of, item.step.step) == (1, 3, "recommend")
        assert item.overdue is False
        due = aware(item.application.due_at)
        assert due == clock.NOW - timedelta(days=5) + timedelta(days=30)
        assert item.days_left == (due.astimezone(EGYPT).date() - clock.NOW.astimezone(EGYPT).date()).days
        late = inbox(s, world.user(s, "reviewer"), now=clock.NOW + timedelta(days=26))
        assert [(i.application.id, i.overdue) for i in late] == [(older, True), (newer, False)]
        assert late[0].days_left < 0 < late[1].days_left

        # after the recommendation the file moves to the head of engineering, step 2 of 3
        decide(s, get_app(s, older), world.user(s, "reviewer"), "recommend", now=clock.NOW)
    assert inbox_ids(world, "reviewer") == [newer]
    assert inbox_ids(world, "head.eng") == [older]
    assert inbox_ids(world, "head.eng.qen") == []
    with world.database.session() as s:
        (item,) = inbox(s, world.user(s, "head.eng"), now=clock.NOW)
        assert (item.position, item.of, item.application.status) == (2, 3, "awaiting_signature")
        inactive = world.user(s, "reviewer")
        inactive.active = False
    assert inbox_ids(world, "reviewer") == []


# --- the one-stop rule --------------------------------------------------------------------------------------------


def test_the_clerk_who_took_it_in_never_decides(world: World) -> None:
    with world.database.session() as s:
        own = world.register(s, "clerk.reviewer").id
        other = world.register(s, "clerk").id
    assert inbox_ids(world, "clerk.reviewer") == [other]
    assert inbox_ids(world, "reviewer") == [own, other]
    with world.database.session() as s:
        app = get_app(s, own)
        me = world.user(s, "clerk.reviewer")
        for action in ("recommend", "approve"):
            refused("one_stop", decide, s, app, me, action, now=clock.NOW)
        refused("one_stop", decide, s, app, me, "reject", reason="لا", now=clock.NOW)
        refused("one_stop", reassign, s, app, 0, me, world.user(s, "head.eng"), reason="إجازة", now=clock.NOW)
        assert app.status == "received" and len(transitions(s, own)) == 1
        # anyone else in the department may act on it, and the clerk-reviewer on files of others
        decide(s, get_app(s, other), me, "recommend", now=clock.NOW)


def test_a_clerk_who_is_also_a_signer_cannot_sign_what_they_took_in(world: World, demo_pki: DemoPki) -> None:
    with world.database.session() as s:
        app = world.register(s, "clerk.signer")
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        app_id = app.id
    assert inbox_ids(world, "clerk.signer") == []
    assert inbox_ids(world, "head.eng") == [app_id]
    with world.database.session() as s, open_signer(credential(demo_pki, "head.eng")) as signer:
        app = get_app(s, app_id)
        refused("one_stop", sign_step, s, world.store, app, world.user(s, "clerk.signer"), signer, now=clock.NOW,
                revocation="off", base_url=BASE_URL)
    with world.database.session() as s:
        assert count(s, Permit) == 0


def test_only_the_steps_officials_act(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        refused("not_permitted", decide, s, app, world.user(s, "auditor"), "recommend", now=clock.NOW)
        refused("not_permitted", decide, s, app, world.user(s, "head.eng"), "recommend", now=clock.NOW)
        refused("not_your_step", decide, s, app, world.user(s, "reviewer.qen"), "recommend", now=clock.NOW)
        refused("not_your_step", decide, s, app, world.user(s, "inspector"), "recommend", now=clock.NOW)
        refused("not_your_step", decide, s, app, world.user(s, "reviewer.nodept"), "recommend", now=clock.NOW)
        decide(s, app, world.user(s, "reviewer.all"), "recommend", now=clock.NOW)
        # the signer step is approved by signing, not by a decision
        refused("wrong_state", decide, s, app, world.user(s, "head.eng"), "approve", now=clock.NOW)
        refused("not_your_step", decide, s, app, world.user(s, "head.eng.qen"), "reject", reason="x", now=clock.NOW)
        assert app.status == "awaiting_signature"


# --- reject, return, resubmit -------------------------------------------------------------------------------------


def test_reject_needs_a_reason_and_ends_the_file(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        reviewer = world.user(s, "reviewer")
        for blank in (None, "", "   "):
            refused("reason_required", decide, s, app, reviewer, "reject", reason=blank, now=clock.NOW)
        assert app.status == "received"
        later = clock.NOW + timedelta(hours=2)
        t = decide(s, app, reviewer, "reject", reason="  المستندات لا تخص العقار  ", now=later)
        assert (t.action, t.actor_id, t.from_status, t.to_status, t.reason, t.step_position) == (
            "reject", reviewer.id, "received", "rejected", "المستندات لا تخص العقار", 0
        )
        assert aware(t.at) == later
        assert [st.status for st in app.steps] == ["done", "cancelled", "cancelled"]
        assert (app.steps[0].decision, app.steps[0].decided_by_id) == ("reject", reviewer.id)
        refused("wrong_state", decide, s, app, reviewer, "recommend", now=clock.NOW)
        app_id = app.id
    assert inbox_ids(world, "reviewer") == []
    with world.database.session() as s:
        assert [t.action for t in transitions(s, app_id)] == ["open", "reject"]


def test_return_for_completion_then_resubmit_goes_back_to_the_step_that_returned_it(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
        reviewer, head, clerk = world.user(s, "reviewer"), world.user(s, "head.eng"), world.user(s, "clerk")
        decide(s, app, reviewer, "recommend", now=clock.NOW + timedelta(hours=1))
        refused("reason_required", decide, s, app, head, "return", now=clock.NOW)
        refused("wrong_state", resubmit, s, app, clerk, note=None, now=clock.NOW)
        decide(s, app, head, "return", reason="الرفع المساحي غير موقع", now=clock.NOW + timedelta(hours=2))
        assert app.status == "returned"
        assert [(st.status, st.decision, st.reason) for st in app.steps] == [
            ("done", "recommend", None),
            ("returned", "return", "الرفع المساحي غير موقع"),
            ("waiting", None, None),
        ]
    for name in ("reviewer", "head.eng", "council.head"):
        assert inbox_ids(world, name) == [], name
    with world.database.session() as s:
        app = get_app(s, app_id)
        refused("not_permitted", resubmit, s, app, world.user(s, "reviewer"), note=None, now=clock.NOW)
        refused("not_permitted", resubmit, s, app, world.user(s, "clerk.qen"), note=None, now=clock.NOW)
        t = resubmit(s, app, world.user(s, "clerk"), note="أحضر المواطن الرفع المساحي موقعًا",
                     now=clock.NOW + timedelta(days=1))
        assert (t.from_status, t.to_status, t.step_position) == ("returned", "awaiting_signature", 1)
        assert [st.status for st in app.steps] == ["done", "active", "waiting"]
        assert app.steps[1].decision is None
    assert inbox_ids(world, "reviewer") == []
    assert inbox_ids(world, "head.eng") == [app_id]
    with world.database.session() as s:
        trail = transitions(s, app_id)
        ids = world.ids
        assert [(t.action, t.actor_id, t.from_status, t.to_status, t.reason) for t in trail] == [
            ("open", None, "received", "received", None),
            ("recommend", ids["reviewer"], "received", "awaiting_signature", None),
            ("return", ids["head.eng"], "awaiting_signature", "returned", "الرفع المساحي غير موقع"),
            ("resubmit", ids["clerk"], "returned", "awaiting_signature", "أحضر المواطن الرفع المساحي موقعًا"),
        ]
        assert [aware(t.at) - clock.NOW for t in trail] == [
            timedelta(0), timedelta(hours=1), timedelta(hours=2), timedelta(days=1)
        ]


def test_transitions_are_append_only(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
    with pytest.raises(AppendOnlyViolation), world.database.session() as s:
        (row,) = transitions(s, app_id)
        row.reason = "rewritten"
        s.flush()
    with pytest.raises(AppendOnlyViolation), world.database.session() as s:
        (row,) = transitions(s, app_id)
        s.delete(row)
        s.flush()


# --- reassignment -------------------------------------------------------------------------------------------------


def test_a_head_reassigns_a_step_to_a_named_official(world: World) -> None:
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
        two = world.user(s, "reviewer.two")
        refused("not_permitted", reassign, s, app, 0, two, world.user(s, "reviewer"), reason="x", now=clock.NOW)
        refused("not_permitted", reassign, s, app, 0, two, world.user(s, "council.head"), reason="x", now=clock.NOW)
        refused("not_permitted", reassign, s, app, 0, two, world.user(s, "head.eng.qen"), reason="x", now=clock.NOW)
        head = world.user(s, "head.eng")
        refused("reason_required", reassign, s, app, 0, two, head, reason=" ", now=clock.NOW)
        refused("not_permitted", reassign, s, app, 0, world.user(s, "auditor"), head, reason="x", now=clock.NOW)
        refused("not_permitted", reassign, s, app, 0, world.user(s, "reviewer.qen"), head, reason="x", now=clock.NOW)
        refused("one_stop", reassign, s, app, 0, world.user(s, "clerk"), head, reason="x", now=clock.NOW)
        refused("wrong_state", reassign, s, app, 7, two, head, reason="x", now=clock.NOW)
        t = reassign(s, app, 0, two, head, reason="المهندس المختص في إجازة", now=clock.NOW)
        assert (t.action, t.actor_id, t.step_position) == ("reassign", head.id, 0)
        assert t.reason is not None and "reviewer.two" in t.reason and "إجازة" in t.reason
    assert inbox_ids(world, "reviewer") == []
    assert inbox_ids(world, "reviewer.all") == []
    assert inbox_ids(world, "reviewer.two") == [app_id]
    with world.database.session() as s:
        app = get_app(s, app_id)
        refused("not_your_step", decide, s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        # an administrator may reassign too, even to a reviewer of another department
        reassign(s, app, 0, world.user(s, "inspector"), world.user(s, "admin"), reason="خبرة في التراخيص",
                 now=clock.NOW)
    assert inbox_ids(world, "reviewer.two") == []
    assert inbox_ids(world, "inspector") == [app_id]
    with world.database.session() as s:
        app = get_app(s, app_id)
        decide(s, app, world.user(s, "inspector"), "recommend", now=clock.NOW)
        assert [t.action for t in transitions(s, app_id)] == ["open", "reassign", "reassign", "recommend"]


# --- signing and the permit ---------------------------------------------------------------------------------------


def test_full_path_to_an_issued_permit_and_its_revocation(
    world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("workflow.routing.new_verification_token", lambda: TOKEN)
    register_demo_certificates(world, demo_pki)
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        permit = prepare_permit(s, world.store, app, base_url=BASE_URL, now=clock.NOW)
        assert prepare_permit(s, world.store, app, base_url=BASE_URL, now=clock.NOW) is permit  # idempotent
        assert permit.status == "draft" and permit.current_pdf_sha256 == permit.draft_pdf_sha256
        assert permit.permit_number.startswith("SOH01-BP-")
        assert permit.token_sha256 != TOKEN and len(permit.token_sha256) == 64
        assert permit.facts["national_id_masked"] == "**********1234"
        assert "29001012601234" not in str(permit.facts)
        draft = world.store.get_bytes(permit.draft_pdf_sha256)
        assert draft.startswith(b"%PDF-")
        assert permit.draft_pdf_sha256 in referenced_keys(s)
        number = permit.permit_number

    # step 2 of 3: the head of engineering certifies
    with world.database.session() as s, open_signer(credential(demo_pki, "head.eng")) as signer:
        app = get_app(s, app_id)
        refused("not_permitted", sign_step, s, world.store, app, world.user(s, "reviewer"), signer, now=clock.NOW,
                revocation="off")
        refused("document_changed", sign_step, s, world.store, app, world.user(s, "head.eng"), signer, now=clock.NOW,
                revocation="off", seen_pdf_sha256="0" * 64)
        seen = s.scalar(select(Permit.current_pdf_sha256))
        t = sign_step(s, world.store, app, world.user(s, "head.eng"), signer, now=clock.NOW, revocation="off",
                      seen_pdf_sha256=seen)
        assert (t.action, t.from_status, t.to_status, t.step_position) == ("sign", "awaiting_signature",
                                                                           "awaiting_signature", 1)
        assert [st.status for st in app.steps] == ["done", "done", "active"]
    assert inbox_ids(world, "head.eng") == []
    assert inbox_ids(world, "council.head") == [app_id]

    # step 3 of 3: the head of the city council signs last and the permit is issued
    with world.database.session() as s, open_signer(credential(demo_pki, "council.head")) as signer:
        app = get_app(s, app_id)
        later = clock.NOW + timedelta(minutes=5)
        sign_step(s, world.store, app, world.user(s, "council.head"), signer, now=later, revocation="off")
        assert app.status == "issued"

    with world.database.session() as s:
        permit = permit_of(s, app_id)
        assert permit.status == "issued" and aware(permit.issued_at) == later  # type: ignore[arg-type]
        issued_on = clock.NOW.astimezone(EGYPT).date()
        assert permit.expires_on == date(issued_on.year + 1, issued_on.month, issued_on.day)
        assert permit.facts["expires_on"] == permit.expires_on.isoformat()
        steps = s.scalars(select(WorkflowStep).where(WorkflowStep.application_id == app_id)
                          .order_by(WorkflowStep.position)).all()
        assert [st.status for st in steps] == ["done", "done", "done"]
        assert [st.decision for st in steps] == ["recommend", "sign", "sign"]
        assert steps[2].signed_pdf_sha256 == permit.current_pdf_sha256 != permit.draft_pdf_sha256
        assert steps[1].certificate_fingerprint and steps[1].certificate_fingerprint != steps[2].certificate_fingerprint
        keys = referenced_keys(s)
        assert {permit.draft_pdf_sha256, steps[1].signed_pdf_sha256, permit.current_pdf_sha256} <= keys
        ids = world.ids
        assert [(t.action, t.actor_id, t.to_status) for t in transitions(s, app_id)] == [
            ("open", None, "received"),
            ("recommend", ids["reviewer"], "awaiting_signature"),
            ("sign", ids["head.eng"], "awaiting_signature"),
            ("sign", ids["council.head"], "approved"),
            ("issue", None, "issued"),
        ]
        # the PDF carries both signatures, in order; the first one certifies
        reader = PdfFileReader(io.BytesIO(world.store.get_bytes(permit.current_pdf_sha256)))
        signatures = reader.embedded_signatures
        assert [sig.field_name for sig in signatures] == ["sig1-approve_department", "sig2-approve_council"]
        assert signatures[0].docmdp_level is not None
        # ... and poppler agrees, independently of pyHanko (its exit status is 0 even on a mismatch: read it)
        issued = tmp_path / "issued-permit.pdf"
        issued.write_bytes(world.store.get_bytes(permit.current_pdf_sha256))
        poppler = subprocess.run(["pdfsig", "-nocert", "-no-ocsp", str(issued)], capture_output=True, text=True,
                                 timeout=60, check=False).stdout
        assert poppler.count("Signature is Valid.") == 2, poppler
        assert "Total document signed" in poppler and "Digest Mismatch" not in poppler

        # the QR token finds the permit; anything else does not
        assert find_permit_by_token(s, number, TOKEN) is permit
        assert find_permit_by_token(s, number.lower(), TOKEN) is permit
        assert find_permit_by_token(s, number, TOKEN[:-1] + "X") is None
        assert find_permit_by_token(s, "SOH01-BP-2026-999999", TOKEN) is None
        assert find_permit_by_token(s, number, permit.token_sha256) is None

        # revocation: a head of a signing department at the centre, or an administrator, with a reason
        refused("not_permitted", revoke_permit, s, permit, world.user(s, "reviewer"), reason="x", now=later)
        refused("not_permitted", revoke_permit, s, permit, world.user(s, "head.eng.qen"), reason="x", now=later)
        refused("one_stop", revoke_permit, s, permit, world.user(s, "clerk"), reason="x", now=later)
        refused("reason_required", revoke_permit, s, permit, world.user(s, "council.head"), reason="", now=later)
        t = revoke_permit(s, permit, world.user(s, "council.head"), reason="مخالفة لشروط الترخيص", now=later)
        assert (t.action, t.actor_id, t.reason) == ("revoke", ids["council.head"], "مخالفة لشروط الترخيص")
        assert (permit.status, permit.revoked_by_id, permit.revocation_reason) == (
            "revoked", ids["council.head"], "مخالفة لشروط الترخيص"
        )
        refused("wrong_state", revoke_permit, s, permit, world.user(s, "admin"), reason="مرة أخرى", now=later)


def test_an_unregistered_or_untrusted_certificate_is_refused_and_nothing_changes(
    world: World, demo_pki: DemoPki
) -> None:
    register_demo_certificates(world, demo_pki)
    with world.database.session() as s:
        app = world.register(s)
        app_id = app.id
        decide(s, app, world.user(s, "reviewer"), "recommend", now=clock.NOW)
        refused("no_permit", _sign, world, s, app, "head.eng", demo_pki, "head.eng")
        prepare_permit(s, world.store, app, base_url=BASE_URL, now=clock.NOW)

    def snapshot() -> tuple[Any, ...]:
        with world.database.session() as s:
            permit = s.scalar(select(Permit))
            assert permit is not None
            steps = s.scalars(select(WorkflowStep).order_by(WorkflowStep.position)).all()
            app = get_app(s, app_id)
            return (
                app.status, permit.current_pdf_sha256, [st.status for st in steps], len(transitions(s, app_id)),
                sorted(world.store.list()),
            )

    before = snapshot()
    cases: list[tuple[str, str, Any]] = [
        ("stranger", "certificate_unregistered", None),  # a DEMO certificate nobody registered
        ("council.head", "certificate_unregistered", None),  # registered, but for someone else
        ("head.eng", "certificate_untrusted", []),  # no trust root
        ("head.eng", "certificate_expired", clock.NOW + timedelta(days=800)),
    ]
    for key, code, variant in cases:
        with world.database.session() as s:
            app = get_app(s, app_id)
            with pytest.raises(SigningRefused) as info:
                if isinstance(variant, datetime):
                    _sign(world, s, app, "head.eng", demo_pki, key, now=variant)
                else:
                    _sign(world, s, app, "head.eng", demo_pki, key, trust_roots=variant)
            assert info.value.code == code, (key, info.value)
        assert snapshot() == before, key

    # a deactivated trust root is no longer trusted; a deactivated certificate no longer signs
    with world.database.session() as s:
        for root in s.scalars(select(TrustRoot)):
            root.active = False
    with world.database.session() as s, pytest.raises(SigningRefused, match="trusted"):
        _sign(world, s, get_app(s, app_id), "head.eng", demo_pki, "head.eng")
    with world.database.session() as s:
        add_root(s, "again", demo_pki.root_cert_path.read_bytes())
        assert count(s, TrustRoot) == 1
        for cert in s.scalars(select(OfficialCertificate)):
            cert.active = False
    with world.database.session() as s, pytest.raises(SigningRefused) as info:
        _sign(world, s, get_app(s, app_id), "head.eng", demo_pki, "head.eng")
    assert info.value.code == "certificate_unregistered"
    assert snapshot() == before


def _sign(world: World, s: Session, app: Application, actor: str, pki: DemoPki, key: str, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"now": clock.NOW, "revocation": "off"}
    options.update(kwargs)
    with open_signer(credential(pki, key)) as signer:
        return sign_step(s, world.store, app, world.user(s, actor), signer, **options)


def test_certificates_and_trust_roots_are_checked_when_registered(world: World, demo_pki: DemoPki) -> None:
    pem = demo_pki.root_cert_path.read_bytes()
    with world.database.session() as s:
        refused("bad_certificate", register_certificate, s, world.user(s, "head.eng"), b"not a certificate", by=None)
        refused("not_permitted", register_certificate, s, world.user(s, "head.eng"), pem,
                by=world.user(s, "head.eng"))
        row = register_certificate(s, world.user(s, "head.eng"), pem.decode(), by=world.user(s, "admin"), label="x")
        assert len(row.fingerprint) == 64 and row.registered_by_id == world.ids["admin"] and row.active
        refused("duplicate_certificate", register_certificate, s, world.user(s, "council.head"), pem, by=None)
        assert add_root(s, "DEMO", pem).id == add_root(s, "DEMO again", pem).id


# --- DEMO data ----------------------------------------------------------------------------------------------------


def test_demo_officials_get_departments_certificates_and_the_demo_root(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sijill.demo import DEMO_USERS, load_demo, open_demo_pki, register_demo_pki

    monkeypatch.setattr("archive.users.hash_password", lambda password: "not-a-hash")
    # a DEMO folder from before: certificates named "… (تجريبي)", which validation cannot handle, are reissued
    create_demo_pki(tmp_path / "demo-pki", [(u, n) for u, r, n, _c in DEMO_USERS if Role.SIGNER in r], PKI_PASSWORD)
    pki = open_demo_pki(tmp_path / "demo-pki", PKI_PASSWORD)
    assert [s.name for s in pki.signers] == ["رئيس الإدارة الهندسية - تجريبي", "رئيس مجلس المدينة - تجريبي"]
    with database.session() as s:
        load_demo(s, tmp_path)
        assert register_demo_pki(s, pki, PKI_PASSWORD) == 2
    with database.session() as s:
        load_demo(s, tmp_path)
        assert register_demo_pki(s, pki, PKI_PASSWORD) == 0
        departments = {name: dept for name, dept in s.execute(select(User.username, User.department))}
        assert departments["demo.reviewer"] == departments["demo.signer"] == "engineering"
        assert departments["demo.council"] == "council" and departments["demo.clerk"] is None
        owners = sorted(c.user.username for c in s.scalars(select(OfficialCertificate)))
        assert owners == ["demo.council", "demo.signer"]
        assert count(s, TrustRoot) == 1
        # the DEMO certificates pass the checks made before every signature (the DEMO PKI publishes no revocation)
        roots = active_trust_roots(s)
        for row in s.scalars(select(OfficialCertificate)):
            check_signing_certificate(Certificate.load(row.certificate_der), trust_roots=roots,
                                      registered_fingerprints=[row.fingerprint], revocation="off")
