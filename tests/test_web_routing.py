"""Routing, signing and public verification through the web, on SQLite and PostgreSQL, with real signatures.

Officials decide and sign through the real forms (CSRF tokens taken from the pages), with DEMO PKCS#12 files uploaded
in the request and, for one step, a key on a SoftHSM2 token; the permit's QR code is read off a rendering of the
issued PDF (pdftoppm + zbarimg) and the URL it holds is opened anonymously, as a citizen's phone would.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archive.models import (
    Application,
    OfficialCertificate,
    Permit,
    Service,
    Transition,
    TrustRoot,
    User,
    WorkflowStep,
)
from archive.roles import Role
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from intake.service import Upload, register_application, required_documents
from ocr.limits import Limits
from signing.dev_pki import DemoPki, create_demo_pki
from signing.sealed_payload import keys_from_jwk_set
from signing.sealed_payload import verify as verify_sealed
from signing.validate import validate_pdf
from tests import clock
from tests.fixtures.app import PASSWORD, ROLE_USERS, csrf_token_from
from tests.intake_files import png_bytes
from web.runtime import Runtime
from workflow.routing import add_trust_root, ensure_workflow, prepare_permit, register_certificate

PKI_PASSWORD = b"demo-pki-password-for-web-tests"
NAME = "محمد أحمد علي"
NATIONAL_ID = "29001012601234"
PHONE = "01012345678"
PROPERTY = {"plot_number": "12/ب", "street": "شارع الجمهورية", "district": "الكوثر", "area_m2": "250"}

CLERK, REVIEWER, HEAD = ROLE_USERS[Role.CLERK], ROLE_USERS[Role.REVIEWER], ROLE_USERS[Role.SIGNER]
COUNCIL, CLERK_REVIEWER, REVIEWER_TWO = "council.head", "clerk.reviewer", "reviewer.two"
ADMIN = ROLE_USERS[Role.ADMIN]


# --- fixtures and helpers -----------------------------------------------------------------------------------------


@dataclass
class World:
    app: Flask
    rt: Runtime

    def session(self) -> Any:
        return self.rt.db.session()

    def client(self, username: str | None = None) -> FlaskClient:
        """A fresh browser: logged in as ``username``, or anonymous."""
        client = self.app.test_client()
        if username is not None:
            token = csrf_token_from(client.get("/login").get_data(as_text=True))
            response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            assert response.status_code == 302, response.get_data(as_text=True)
        return client

    def user_id(self, username: str) -> int:
        with self.session() as s:
            user_id = s.scalar(select(User.id).where(User.username == username))
        assert user_id is not None
        return int(user_id)

    def register(self, clerk: str = CLERK, *, service: str = "BUILD-PERMIT", at: datetime | None = None,
                 open_workflow: bool = True, complete: bool = True) -> str:
        """An application registered by the intake service (the web path is tested on its own), with every required
        document (``complete``) or only the ID card and a reason for the rest."""
        at = at or clock.NOW
        with self.session() as s:
            row = s.scalar(select(Service).where(Service.code == service))
            codes = [d.code for d in required_documents(row)] if complete and row is not None else ["ID_COPY"]
            result = register_application(
                s, self.rt.store, centre_code="SOH-01", service_code=service, applicant_name=NAME,
                national_id=NATIONAL_ID, applicant_phone=PHONE, details=PROPERTY,
                uploads=[Upload(c, "id.png" if c == "ID_COPY" else f"{c.lower()}.png", io.BytesIO(png_bytes()))
                         for c in codes],
                created_by=s.scalar(select(User).where(User.username == clerk)), channel="window",
                incomplete_reason=None if complete else "باقي المستندات لاحقًا", limits=Limits(), now=at,
            )  # fmt: skip
            if open_workflow:
                ensure_workflow(s, result.application, now=at)
            return result.tracking_number

    def application(self, tracking: str) -> Application:
        with self.session() as s:
            application = s.scalar(select(Application).where(Application.tracking_number == tracking))
            assert application is not None
            s.expunge(application)
            return application

    def steps(self, tracking: str) -> list[tuple[str, str | None]]:
        with self.session() as s:
            rows = s.execute(
                select(WorkflowStep.status, WorkflowStep.decision)
                .join(Application, Application.id == WorkflowStep.application_id)
                .where(Application.tracking_number == tracking)
                .order_by(WorkflowStep.position)
            ).all()
        return [(status, decision) for status, decision in rows]

    def transitions(self, tracking: str) -> list[str]:
        with self.session() as s:
            return list(s.scalars(
                select(Transition.action).join(Application, Application.id == Transition.application_id)
                .where(Application.tracking_number == tracking).order_by(Transition.id)
            ))  # fmt: skip

    def permit(self, tracking: str) -> Permit | None:
        with self.session() as s:
            permit = s.scalar(select(Permit).join(Application).where(Application.tracking_number == tracking))
            if permit is not None:
                s.expunge(permit)
            return permit


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


def make_world(app: Flask) -> World:
    """The app fixture's users with departments, plus a head of the city council and two more engineers."""
    rt: Runtime = app.extensions["sijill"]
    with rt.db.session() as s:
        sync_catalogue(s, load_catalogue())
        for username, department in ((REVIEWER, "engineering"), (HEAD, "engineering")):
            user = s.scalar(select(User).where(User.username == username))
            assert user is not None
            user.department = department
        for username, roles, department in (
            (COUNCIL, {Role.SIGNER}, "council"),
            (CLERK_REVIEWER, {Role.CLERK, Role.REVIEWER}, "engineering"),
            (REVIEWER_TWO, {Role.REVIEWER}, "engineering"),
        ):
            create_user(s, username, PASSWORD, roles, f"الموظف {username}", "SOH-01").department = department
    return World(app=app, rt=rt)


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    signers = [(HEAD, "رئيس الإدارة الهندسية - تجريبي"), (COUNCIL, "رئيس مجلس المدينة - تجريبي"),
               ("stranger", "شخص غير مسجل - تجريبي")]
    with pytest.MonkeyPatch.context() as patch:  # valid from a day before the tests' moments
        patch.setattr("signing.dev_pki.CLOCK_SKEW", timedelta(days=1))
        return create_demo_pki(tmp_path_factory.mktemp("web-pki") / "demo", signers, PKI_PASSWORD)


def trust_demo_pki(world: World, pki: DemoPki) -> None:
    """What an administrator configures: the DEMO root trusted, each official's certificate registered."""
    with world.session() as s:
        add_trust_root(s, "DEMO root", pki.root_cert_path.read_bytes())
        admin = s.scalar(select(User).where(User.username == ADMIN))
        for username in (HEAD, COUNCIL):
            bundle = pki.load_signer(username, PKI_PASSWORD)
            assert bundle.cert is not None
            user = s.scalar(select(User).where(User.username == username))
            assert user is not None
            register_certificate(s, user, bundle.cert.certificate.public_bytes(Encoding.PEM), by=admin, label="DEMO")


def token_of(client: FlaskClient, path: str = "/inbox") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def page(client: FlaskClient, tracking: str) -> str:
    response = client.get(f"/applications/{tracking}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any], *, multipart: bool = False,
         form_page: str = "/inbox") -> Any:
    """POST like the browser: with the CSRF token of the session (taken from ``form_page``)."""
    kwargs: dict[str, Any] = {"content_type": "multipart/form-data"} if multipart else {}
    return client.post(path, data={"csrf_token": token_of(client, form_page), **data}, **kwargs)


def check_copy(client: FlaskClient, path: str, pdf: bytes, name: str = "copy.pdf") -> Any:
    """A citizen (no login) uploads a copy on the verification page ``path`` (the form has no CSRF token: the
    anonymous check changes nothing)."""
    return client.post(path + "/check", data={"pdf": (io.BytesIO(pdf), name)}, content_type="multipart/form-data")


def decide(client: FlaskClient, tracking: str, action: str, reason: str = "") -> Any:
    return post(client, f"/applications/{tracking}/decision", {"action": action, "reason": reason})


def seen_hash(html: str) -> str:
    match = re.search(r'name="seen_pdf_sha256" value="([0-9a-f]{64})"', html)
    assert match, "no signing form on the page"
    return match.group(1)


def sign_with_pkcs12(client: FlaskClient, tracking: str, p12: bytes, passphrase: bytes | str,
                     seen: str | None = None) -> Any:
    html = page(client, tracking)
    return post(client, f"/applications/{tracking}/sign", {
        "method": "pkcs12",
        "pkcs12": (io.BytesIO(p12), "signer.p12"),
        "passphrase": passphrase.decode() if isinstance(passphrase, bytes) else passphrase,
        "seen_pdf_sha256": seen if seen is not None else seen_hash(html),
    }, multipart=True)


def text_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


def count(world: World, model: Any) -> int:
    with world.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def qr_url(pdf: bytes, tmp_path: Path) -> str:
    """The text of the QR code on the permit's first page, read off a 150 dpi rendering as a phone camera would."""
    for tool in ("pdftoppm", "zbarimg"):
        assert shutil.which(tool), f"{tool} is needed (poppler-utils, zbar-tools)"
    (tmp_path / "permit.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", str(tmp_path / "permit.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page.png")], capture_output=True, text=True,
                             timeout=60, check=True)
    return decoded.stdout.strip()


def inbox_of(client: FlaskClient) -> list[str]:
    """The tracking numbers in the official's inbox, in order."""
    response = client.get("/inbox")
    assert response.status_code == 200
    return re.findall(r'<tr class="(?:overdue|)" data-tracking="([^"]+)"', text_of(response))


def check_result(html: str) -> tuple[str, str]:
    """(the verdict on an uploaded copy, the overall indication of its signatures or "") of a copy's check."""
    kind = re.search(r'id="verdict" data-state="[a-z_]+" data-copy="([a-z_]+)"', html)
    details = re.search(r'id="check-details" data-identical="(?:true|false)" data-genuine="(?:true|false)"'
                        r' data-indication="([A-Z_]*)"', html)
    assert kind and details, "no check result on the page"
    return kind.group(1), details.group(1)


def verdict(html: str) -> str:
    match = re.search(r'id="verdict" data-state="([a-z_]+)"', html)
    assert match, "no verdict banner"
    return match.group(1)


# --- the whole path: reviewer, two signers, the permit, its QR code and the public page ------------------------


def test_reviewer_and_two_signers_issue_a_permit_whose_qr_opens_a_green_page(
    world: World, demo_pki: DemoPki, tmp_path: Path
) -> None:
    trust_demo_pki(world, demo_pki)
    tracking = world.register()
    reviewer, head, council = world.client(REVIEWER), world.client(HEAD), world.client(COUNCIL)

    # step 1 of 3: the reviewing engineer recommends
    html = page(reviewer, tracking)
    assert 'id="decision-form"' in html and 'id="action-recommend"' in html and 'id="sign-form"' not in html
    assert "الخطوة 1 من 3" in html
    response = decide(reviewer, tracking, "recommend", "المستندات مكتملة والرسومات مطابقة")
    assert response.status_code == 303 and response.headers["Location"] == "/inbox"
    assert world.application(tracking).status == "awaiting_signature"

    # step 2 of 3: the head of engineering reads the permit (which renders it) and signs with a PKCS#12 file
    html = page(head, tracking)
    assert 'id="sign-form"' in html and "الخطوة 2 من 3" in html and "في انتظار التوقيع" in html
    assert "لا يُحفظ على القرص ولا في الأرشيف" in html  # the page says what happens to the uploaded file
    permit = world.permit(tracking)
    assert permit is not None and permit.status == "draft"
    draft = head.get(f"/applications/{tracking}/permit.pdf")
    assert draft.status_code == 200 and draft.mimetype == "application/pdf" and draft.data.startswith(b"%PDF-")
    assert "inline" in draft.headers["Content-Disposition"]
    assert seen_hash(html) == permit.current_pdf_sha256 == draft.headers["X-Permit-Revision"]
    # the reading copy of a draft says so across every page; the archived revision, the one signed, does not
    archived_draft = world.rt.store.get_bytes(permit.current_pdf_sha256)
    assert draft.data != archived_draft
    read = subprocess.run(["pdftotext", "-", "-"], input=draft.data, capture_output=True, check=True).stdout.decode()
    assert "مسودة — غير صالح" in read and "DRAFT — not valid" in read
    plain = subprocess.run(["pdftotext", "-", "-"], input=archived_draft, capture_output=True, check=True).stdout
    assert "DRAFT" not in plain.decode()

    own_p12 = demo_pki.signer(HEAD).pkcs12_path.read_bytes()
    before = (world.transitions(tracking), world.permit(tracking).current_pdf_sha256, sorted(world.rt.store.list()))  # type: ignore[union-attr]
    refusals = [
        (sign_with_pkcs12(head, tracking, own_p12, "not the passphrase"), 400, "كلمة مرور ملف الشهادة غير صحيحة."),
        (sign_with_pkcs12(head, tracking, demo_pki.signer("stranger").pkcs12_path.read_bytes(), PKI_PASSWORD), 400,
         "شهادة التوقيع غير مسجلة لهذا الموظف في النظام."),
        (sign_with_pkcs12(head, tracking, demo_pki.signer(COUNCIL).pkcs12_path.read_bytes(), PKI_PASSWORD), 400,
         "شهادة التوقيع غير مسجلة لهذا الموظف في النظام."),  # registered, but for somebody else
        (sign_with_pkcs12(head, tracking, b"not a pkcs12 file", PKI_PASSWORD), 400,
         "تعذرت قراءة بيانات التوقيع (الملف أو الشريحة)."),
        (sign_with_pkcs12(head, tracking, own_p12, PKI_PASSWORD, seen="0" * 64), 409,
         "تغير مستند الترخيص منذ أن اطلعت عليه؛ افتحه من جديد قبل التوقيع."),
        (sign_with_pkcs12(council, tracking, demo_pki.signer(COUNCIL).pkcs12_path.read_bytes(), PKI_PASSWORD,
                          seen=permit.current_pdf_sha256), 403, "هذه الخطوة ليست من اختصاصك."),
    ]
    for response, status, message in refusals:
        assert response.status_code == status, text_of(response)
        assert 'id="workflow-error"' in text_of(response) and message in text_of(response)
        assert 'id="error-summary" role="alert"' in text_of(response)
    assert '<a href="#method-pkcs12">' in text_of(refusals[0][0])  # the summary links to the form's first field
    after = (world.transitions(tracking), world.permit(tracking).current_pdf_sha256, sorted(world.rt.store.list()))  # type: ignore[union-attr]
    assert after == before  # nothing signed, nothing stored, nothing recorded

    response = sign_with_pkcs12(head, tracking, own_p12, PKI_PASSWORD)
    assert response.status_code == 303, text_of(response)
    assert world.steps(tracking) == [("done", "recommend"), ("done", "sign"), ("active", None)]
    assert "الخطوة 3 من 3" in page(council, tracking)

    # step 3 of 3: the head of the city council signs last and the permit is issued
    response = sign_with_pkcs12(council, tracking, demo_pki.signer(COUNCIL).pkcs12_path.read_bytes(), PKI_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == f"/applications/{tracking}"
    assert world.application(tracking).status == "issued"
    assert world.transitions(tracking) == ["open", "recommend", "sign", "sign", "issue"]
    html = page(council, tracking)
    assert "صدر الترخيص" in html and 'id="revoke-form"' in html and 'id="sign-form"' not in html
    assert html.count('data-action="sign"') == 2  # the history: who, when, why

    # the QR code on the printed permit opens the public page, green, with both signatures valid
    issued = head.get(f"/applications/{tracking}/permit.pdf").data
    url, _, payload = qr_url(issued, tmp_path).partition("#")  # a phone's browser never sends the fragment
    assert url.startswith(world.rt.settings.base_url + "/v/")
    path = url[len(world.rt.settings.base_url):]
    citizen = world.client()
    # ... which holds the facts sealed with the centre's key, checkable offline with the published key set
    sealed = verify_sealed(payload, keys_from_jwk_set(citizen.get("/.well-known/sijill-keys.json").data))
    assert sealed.permit_number == world.permit(tracking).permit_number and sealed.holder == "محمد أ."  # type: ignore[union-attr]
    response = citizen.get(path)
    html = text_of(response)
    assert response.status_code == 200 and verdict(html) == "valid" and "verdict-good" in html
    assert "ترخيص صحيح وسارٍ" in html and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert re.findall(r'data-field="(sig[^"]+)" data-indication="([A-Z_]+)"', html) == [
        ("sig1-approve_department", "TOTAL_PASSED"), ("sig2-approve_council", "TOTAL_PASSED"),
    ]
    assert "رئيس الإدارة الهندسية" in html and "رئيس مجلس المدينة" in html and "الموظف council.head" in html
    assert "**********1234" in html and "محمد أ." in html and world.permit(tracking).permit_number in html  # type: ignore[union-attr]
    for private in (NATIONAL_ID, PHONE, NAME, "أحمد علي", "شارع الجمهورية", tracking):
        assert private not in html, private

    # the same as JSON, public and documented
    api = citizen.get("/api/v1/verify/" + path[len("/v/"):])
    body = api.get_json()
    assert api.status_code == 200 and body["status"] == "valid" and body["genuine"] is True
    assert body["national_id_masked"] == "**********1234" and body["applicant"] == "محمد أ."
    assert [(s["field_name"], s["indication"], s["level"]) for s in body["signatures"]] == [
        ("sig1-approve_department", "TOTAL_PASSED", "B-B"), ("sig2-approve_council", "TOTAL_PASSED", "B-B"),
    ]
    assert NATIONAL_ID not in json.dumps(body, ensure_ascii=False) and PHONE not in api.get_data(as_text=True)

    # a citizen uploads the copy they were sent: identical, every signature passes
    check = check_copy(citizen, path, issued, "ترخيص.pdf")
    html = text_of(check)
    assert check.status_code == 200 and check_result(html) == ("identical", "TOTAL_PASSED")
    assert "نسخة أصلية من الترخيص، وهو سارٍ" in html and "verdict-good" in html
    assert "ترخيص صحيح وسارٍ" not in html  # the upload's verdict replaces the page's banner

    # an altered copy: one byte flipped inside the signed range turns it red with the reason
    altered = bytearray(issued)
    spot = issued.index(b"/Type /Page") if b"/Type /Page" in issued else len(issued) // 3
    altered[spot + 1] ^= 0x01
    check = check_copy(citizen, path, bytes(altered))
    html = text_of(check)
    assert check_result(html) == ("other", "TOTAL_FAILED") and "verdict-bad" in html
    assert "ليست نسخة من هذا الترخيص" in html and "HASH_FAILURE" in html  # the code only in the folded details
    assert "تم تعديل المستند بعد هذا التوقيع" in html  # the reason, in Arabic
    assert "ترخيص صحيح وسارٍ" not in html

    # an incremental update appended after the last signature is flagged
    check = check_copy(citizen, path, appended_update(issued))
    html = text_of(check)
    assert check_result(html) == ("extended", "TOTAL_FAILED")
    assert "أُضيف شيء إلى الترخيص" in html
    assert "FORMAT_FAILURE" in html and "تم تعديل المستند بعد هذا التوقيع تعديلًا غير مسموح به" in html

    # the draft revision the head of engineering signed is recognised as an earlier revision, not the permit
    check = check_copy(citizen, path, archived_draft, "draft.pdf")
    assert "نسخة سابقة من هذا الترخيص" in text_of(check)
    assert check_result(text_of(check))[0] == "before_signatures" and "verdict-warn" in text_of(check)

    # revocation by the head of the city council, with a reason, shows at once
    response = post(council, f"/applications/{tracking}/revoke", {"reason": ""})
    assert response.status_code == 400 and "اكتب سبب هذا الإجراء." in text_of(response)
    response = post(council, f"/applications/{tracking}/revoke", {"reason": "مخالفة شروط الترخيص بالبناء"})
    assert response.status_code == 303
    html = text_of(citizen.get(path))
    assert verdict(html) == "revoked" and "verdict-bad" in html and "مخالفة شروط الترخيص بالبناء" in html
    assert citizen.get("/api/v1/verify/" + path[len("/v/"):]).get_json()["status"] == "revoked"
    assert world.transitions(tracking)[-1] == "revoke"

    # English is one click away
    citizen.get("/lang/en")
    assert "Revoked permit" in text_of(citizen.get(path))


def appended_update(pdf: bytes) -> bytes:
    """The permit with an incremental update after its last signature (a new annotation on page 1)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page_obj = page_ref.get_object()
    note = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Text"),
        generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (10, 10, 30, 30)]),
        generic.NameObject("/Contents"): generic.TextStringObject("ملاحظة مضافة بعد التوقيع"),
    }))
    annots = page_obj.get("/Annots")
    page_obj[generic.NameObject("/Annots")] = generic.ArrayObject([*(annots or []), note])
    writer.update_container(page_obj)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- opening workflows, inboxes ---------------------------------------------------------------------------------


def test_registration_opens_the_workflow_and_the_inbox_lists_the_oldest_first_with_overdue_marked(
    world: World,
) -> None:
    clerk = world.client(CLERK)
    token = token_of(clerk, "/applications/new?service=BUILD-PERMIT")
    response = clerk.post("/applications/new", content_type="multipart/form-data", data={
        "csrf_token": token, "service_code": "BUILD-PERMIT", "applicant_name": NAME, "national_id": NATIONAL_ID,
        "applicant_phone": PHONE, "details.plot_number": "7", "details.district": "الكوثر", "details.area_m2": "120",
        "doc.ID_COPY": [(io.BytesIO(png_bytes()), "id.png")], "incomplete_reason": "باقي المستندات لاحقًا",
    })
    assert response.status_code == 302, text_of(response)
    fresh = response.headers["Location"].rsplit("/", 1)[-1]
    # opened right after registration, before anybody looks at an inbox
    assert world.steps(fresh) == [("active", None), ("waiting", None), ("waiting", None)]
    assert world.transitions(fresh) == ["open"]

    # registered 40 days ago by another channel, without a workflow: the inbox opens it (as the beat task would)
    late = world.register(at=clock.NOW - timedelta(days=40), open_workflow=False)
    middle = world.register(at=clock.NOW - timedelta(days=3))
    assert world.steps(late) == []

    html = text_of(world.client(REVIEWER).get("/inbox"))
    order = re.findall(r'<tr class="(overdue|)" data-tracking="([^"]+)"', html)
    assert [t for _cls, t in order] == [late, middle, fresh]  # oldest first
    assert [cls for cls, _t in order] == ["overdue", "", ""]
    assert "متأخر 10 أيام عن المدة القانونية" in html and "overdue-badge" in html
    assert html.count("الخطوة 1 من 3") == 3 and "المهندس المراجع" in html
    assert "المتبقي: 27 يومًا" in html or "المتبقي: 26 يومًا" in html  # due in 27 days (Cairo calendar days)
    assert world.steps(late)[0] == ("active", None)

    # the head of engineering sees nothing until the reviewer has recommended; the clerk sees no steps
    assert 'id="inbox-empty"' in text_of(world.client(HEAD).get("/inbox"))
    response = decide(world.client(REVIEWER), late, "recommend")
    assert response.status_code == 303
    head = world.client(HEAD)
    assert inbox_of(head) == [late]
    html = text_of(head.get("/inbox"))
    assert "الخطوة 2 من 3" in html and "رئيس الإدارة الهندسية" in html
    assert 'id="inbox-empty"' in text_of(world.client(CLERK).get("/inbox"))

    # English: the same inbox
    reviewer = world.client(REVIEWER)
    reviewer.get("/lang/en")
    html = text_of(reviewer.get("/inbox"))
    assert "Step 1 of 3" in html and "Inbox" in html


def test_the_beat_task_and_the_import_open_pending_workflows(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from sijill.cli import _open_workflow
    from worker.celery_app import BEAT_SCHEDULE
    from worker.tasks import open_pending, reconcile_after_crash

    # on the beat, the recovery opens them (with the grace the registering request needs); here the task alone
    assert BEAT_SCHEDULE["recover-after-crash"]["task"] == reconcile_after_crash.name == "recovery.reconcile"
    assert open_pending.name == "routing.open_pending"
    first, second = (world.register(open_workflow=False) for _ in range(2))
    monkeypatch.setattr("worker.tasks.worker_runtime", lambda: SimpleNamespace(database=world.rt.db))
    assert open_pending.run() == {"opened": 2}
    assert open_pending.run() == {"opened": 0}
    assert world.transitions(first) == world.transitions(second) == ["open"]

    imported = world.register(open_workflow=False)
    _open_workflow(world.rt.db, imported)
    _open_workflow(world.rt.db, imported)  # idempotent
    assert world.steps(imported) == [("active", None), ("waiting", None), ("waiting", None)]


# --- decisions: the one-stop rule, reasons, return and resubmit, reassignment -------------------------------------


def test_the_clerk_who_took_it_in_cannot_decide_it_even_as_a_reviewer(world: World) -> None:
    own = world.register(CLERK_REVIEWER)
    other = world.register()
    client = world.client(CLERK_REVIEWER)
    assert inbox_of(client) == [other]
    assert inbox_of(world.client(REVIEWER)) == [own, other]

    html = page(client, own)
    assert 'id="one-stop-note"' in html and 'id="decision-form"' not in html
    for action in ("recommend", "reject"):
        response = decide(client, own, action, "رأيي")
        assert response.status_code == 403
        assert "لا يجوز لموظف الشباك الذي استلم الطلب أن يبت فيه أو يوقعه (نظام الشباك الواحد)." in text_of(response)
    assert world.transitions(own) == ["open"] and world.application(own).status == "received"
    # the same official decides other clerks' files
    assert decide(client, other, "recommend").status_code == 303


def test_reject_and_return_need_a_reason_and_a_returned_file_goes_back_to_the_window(world: World) -> None:
    tracking = world.register()
    reviewer, clerk = world.client(REVIEWER), world.client(CLERK)
    for action in ("reject", "return"):
        response = decide(reviewer, tracking, action, "   ")
        assert response.status_code == 400 and "اكتب سبب هذا الإجراء." in text_of(response)
    assert world.transitions(tracking) == ["open"]
    english = world.client(REVIEWER)
    english.get("/lang/en")
    assert "Give the reason for this action." in text_of(decide(english, tracking, "reject"))

    response = decide(reviewer, tracking, "return", "الرفع المساحي غير موقع من المهندس")
    assert response.status_code == 303
    assert world.application(tracking).status == "returned"
    assert tracking not in inbox_of(reviewer)
    inbox_html = text_of(clerk.get("/inbox"))
    assert 'id="returned"' in inbox_html and tracking in inbox_html
    html = page(clerk, tracking)
    assert 'id="resubmit-form"' in html and "الرفع المساحي غير موقع من المهندس" in html and "أعادها للاستكمال" in html

    assert post(reviewer, f"/applications/{tracking}/resubmit", {"note": "x"}).status_code == 403  # not a clerk
    response = post(clerk, f"/applications/{tracking}/resubmit", {"note": "أحضر المواطن الرفع المساحي موقعًا"})
    assert response.status_code == 303
    assert world.application(tracking).status == "in_review"
    assert world.steps(tracking) == [("active", None), ("waiting", None), ("waiting", None)]
    assert tracking in inbox_of(reviewer)
    html = page(clerk, tracking)
    assert "إعادة التقديم بعد الاستكمال" in html and "أحضر المواطن الرفع المساحي موقعًا" in html

    response = decide(reviewer, tracking, "reject", "المستندات لا تخص العقار")
    assert response.status_code == 303 and world.application(tracking).status == "rejected"
    assert world.steps(tracking) == [("done", "reject"), ("cancelled", None), ("cancelled", None)]
    assert world.transitions(tracking) == ["open", "return", "resubmit", "reject"]
    assert decide(reviewer, tracking, "recommend").status_code == 409  # a rejected file is closed


def test_a_head_reassigns_a_step_to_a_named_official(world: World) -> None:
    tracking = world.register()
    head = world.client(HEAD)
    html = page(head, tracking)
    assert 'id="reassign-0"' in html and 'id="reassign-1"' in html and 'id="reassign-2"' not in html  # not council
    two = world.user_id(REVIEWER_TWO)
    assert f'<option value="{two}">' in html
    assert f'<option value="{world.user_id(CLERK)}">' not in html  # the clerk who took it in is never offered

    response = post(head, f"/applications/{tracking}/reassign", {"position": "0", "to_user": str(two), "reason": ""})
    assert response.status_code == 400 and "اكتب سبب هذا الإجراء." in text_of(response)
    response = post(world.client(REVIEWER), f"/applications/{tracking}/reassign",
                    {"position": "0", "to_user": str(two), "reason": "إجازة"})
    assert response.status_code == 403 and "غير مصرح لك بهذا الإجراء." in text_of(response)
    response = post(head, f"/applications/{tracking}/reassign",
                    {"position": "0", "to_user": str(two), "reason": "المهندس المختص في إجازة"})
    assert response.status_code == 303

    assert inbox_of(world.client(REVIEWER)) == []
    assert inbox_of(world.client(REVIEWER_TWO)) == [tracking]
    assert decide(world.client(REVIEWER), tracking, "recommend").status_code == 403
    html = page(head, tracking)
    assert "مُسندة إلى:" in html and "الموظف reviewer.two" in html and "المهندس المختص في إجازة" in html
    assert world.transitions(tracking) == ["open", "reassign"]


# --- public verification: nothing to learn from a wrong link, rate limits -------------------------------------------


def test_a_forged_or_borrowed_token_finds_nothing_and_a_draft_is_not_valid(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = iter(["first-permit-token-0123456789abcdefABCDEF", "second-permit-token-0123456789abcdefABCDE"])
    monkeypatch.setattr("workflow.routing.new_verification_token", lambda: next(tokens))
    numbers = []
    for _ in range(2):
        tracking = world.register()
        with world.session() as s:
            application = s.scalar(select(Application).where(Application.tracking_number == tracking))
            numbers.append(prepare_permit(s, world.rt.store, application, base_url="https://x.example").permit_number)
    first, second = numbers
    citizen = world.client()

    html = text_of(citizen.get(f"/v/{first}/first-permit-token-0123456789abcdefABCDEF"))
    assert verdict(html) == "draft" and "verdict-muted" in html and "لم يصدر بعد" in html
    assert 'data-indication=""' in html  # both signature fields still empty

    wrong = [
        f"/v/{first}/second-permit-token-0123456789abcdefABCDE",  # another permit's token
        f"/v/{second}/first-permit-token-0123456789abcdefABCDEF",
        f"/v/{first}/forged-token-forged-token-forged-token-xx",
        f"/v/{first}/" + "a" * 300,
        "/v/SOH01-BP-2026-999999/first-permit-token-0123456789abcdefABCDEF",
        "/v/not-a-number/x",
    ]
    for path in wrong:
        response = citizen.get(path)
        html = text_of(response)
        assert response.status_code == 404, path
        assert verdict(html) == "not_found" and "تعذر التحقق من هذا الترخيص" in html
        for secret in (first, second, "SOH01-BP", NAME.split()[0], "1234", "الكوثر"):
            if secret not in path:
                assert secret not in html, (path, secret)
        api = citizen.get("/api/v1/verify/" + path[len("/v/"):])
        assert api.status_code == 404 and api.get_json()["code"] == "permit_not_found"
        assert set(api.get_json()) == {"status", "error", "error_ar", "code"}
    spec = citizen.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/verify/{permit_number}/{token}"]["get"]
    assert operation["security"] == [] and {"200", "404", "429"} <= set(operation["responses"])

    token = token_of(citizen, "/login")
    response = citizen.post(wrong[0] + "/check", content_type="multipart/form-data",
                            data={"csrf_token": token, "pdf": (io.BytesIO(b"%PDF-1.7"), "x.pdf")})
    assert response.status_code == 404 and first not in text_of(response)


def test_public_verification_is_rate_limited_per_address(world: World) -> None:
    from web.ratelimit import READ_LIMIT_KEY, UPLOAD_LIMIT_KEY

    world.app.config.update({READ_LIMIT_KEY: "3 per minute", UPLOAD_LIMIT_KEY: "2 per minute"})
    citizen = world.client()
    path = "/v/SOH01-BP-2026-000001/guessing-tokens-guessing-tokens-01"
    assert [citizen.get(path).status_code for _ in range(3)] == [404, 404, 404]  # failures count too
    refused = citizen.get(path)
    assert refused.status_code == 429 and "طلبات كثيرة جدا، حاول لاحقا." in text_of(refused)
    assert int(refused.headers["Retry-After"]) > 0
    assert world.client().get(path, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404  # another address

    api_path = "/api/v1/verify/SOH01-BP-2026-000001/guessing-tokens-guessing-tokens-01"
    refused = citizen.get(api_path)  # the JSON shares the page's budget: no second allowance
    assert refused.status_code == 429 and refused.get_json()["error_ar"] == "طلبات كثيرة جدا، حاول لاحقا."
    other = world.client()
    other_address = {"REMOTE_ADDR": "192.0.2.8"}
    assert [other.get(p, environ_base=other_address).status_code for p in (api_path, path, api_path)] == [404] * 3
    assert other.get(path, environ_base=other_address).status_code == 429

    token = token_of(citizen, "/login")
    statuses = [
        citizen.post(path + "/check", content_type="multipart/form-data",
                     data={"csrf_token": token, "pdf": (io.BytesIO(b"%PDF-1.7"), "x.pdf")}).status_code
        for _ in range(3)
    ]
    assert statuses == [404, 404, 429]
    api_check = citizen.post(api_path + "/check", data=b"%PDF-1.7", content_type="application/pdf")
    assert api_check.status_code == 429  # one upload budget for the page's check and the JSON's
    # staff pages are not limited
    reviewer = world.client(REVIEWER)
    assert all(reviewer.get("/inbox").status_code == 200 for _ in range(5))


def test_an_uploaded_copy_larger_than_the_cap_is_refused_before_it_is_read(world: World) -> None:
    from web.verify.views import CHECK_MAX_BYTES

    citizen = world.client()
    too_big = io.BytesIO(b"0" * (CHECK_MAX_BYTES + 100_000))
    # an unknown link is answered 404 like any other (the same page as a forged token) without reading the body
    response = citizen.post("/v/SOH01-BP-2026-000001/abcdefghijklmnopqrstuvwxyz/check",
                            content_type="multipart/form-data", data={"pdf": (too_big, "x.pdf")})
    assert response.status_code == 404 and "الملف المرفوع أكبر" not in text_of(response)


def test_verification_helpers() -> None:
    from types import SimpleNamespace

    from web.verify.model import ReportCache, mask_name, state_of

    assert mask_name("محمد أحمد علي") == "محمد أ."
    assert mask_name("عبد الله محمود حسن") == "عبد الله م."
    assert mask_name("منى عبد الرحمن حسن") == "منى ع."
    assert mask_name("سارة") == "سارة" and mask_name("  ") == ""

    today = datetime(2027, 1, 10, tzinfo=UTC).date()
    passed = SimpleNamespace(passed=True)
    failed = SimpleNamespace(passed=False)

    def permit(status: str, expires: int = 30) -> Any:
        return SimpleNamespace(status=status, expires_on=today + timedelta(days=expires))

    assert state_of(permit("issued"), passed, today) == "valid"  # type: ignore[arg-type]
    assert state_of(permit("issued"), failed, today) == "unknown"  # type: ignore[arg-type]
    assert state_of(permit("issued"), None, today) == "unknown"
    assert state_of(permit("issued", -1), passed, today) == "expired"  # type: ignore[arg-type]
    assert state_of(permit("expired"), passed, today) == "expired"  # type: ignore[arg-type]
    assert state_of(permit("revoked", -1), passed, today) == "revoked"  # type: ignore[arg-type]
    assert state_of(permit("draft"), failed, today) == "draft"  # type: ignore[arg-type]

    cache = ReportCache(ttl_s=60, max_entries=2)
    calls: list[str] = []

    def compute(name: str) -> Any:
        return lambda: calls.append(name) or name

    assert [cache.get((k,), compute(k)) for k in ("a", "a", "b", "c", "a")] == ["a", "a", "b", "c", "a"]
    assert calls == ["a", "b", "c", "a"] and cache.hits == 1  # "a" was pushed out by "b" and "c"


# --- administration: trust roots and officials' certificates ------------------------------------------------------


def test_admin_registers_certificates_and_trust_roots(world: World, demo_pki: DemoPki) -> None:
    admin = world.client(ADMIN)
    assert admin.get("/admin/certificates").status_code == 200
    assert world.client(HEAD).get("/admin/certificates").status_code == 403
    assert world.client(HEAD).get("/admin/trust-roots").status_code == 403

    def upload(path: str, data: bytes, **fields: str) -> Any:
        return post(admin, path, {"certificate": (io.BytesIO(data), "cert.pem"), **fields}, multipart=True,
                    form_page=path)

    root_pem = demo_pki.root_cert_path.read_bytes()
    response = upload("/admin/trust-roots", b"not a certificate", name="x")
    assert response.status_code == 400 and "ملف الشهادة غير صالح." in text_of(response)
    # the error summary at the top links to the file input, which is described by its message
    assert '<li><a href="#certificate">ملف الشهادة غير صالح.</a></li>' in text_of(response)
    assert 'aria-describedby="certificate-error"' in text_of(response)
    response = upload("/admin/trust-roots", root_pem, name="جهة التصديق التجريبية")
    assert response.status_code == 303
    html = text_of(admin.get("/admin/trust-roots"))
    assert "جهة التصديق التجريبية" in html and "معتمدة" in html

    bundle = demo_pki.load_signer(HEAD, PKI_PASSWORD)
    assert bundle.cert is not None
    der = bundle.cert.certificate.public_bytes(Encoding.DER)
    head_id = world.user_id(HEAD)
    html = text_of(admin.get("/admin/certificates"))
    assert f'<option value="{head_id}">' in html and f'<option value="{world.user_id(REVIEWER)}">' not in html
    response = upload("/admin/certificates", der, user_id=str(head_id), label="شريحة رئيس الهندسة")
    assert response.status_code == 303
    listed = text_of(admin.get("/admin/certificates"))  # the subject in Arabic field names, the country by name
    assert "الاسم الشائع:" in listed and "المؤسسة:" in listed and "الدولة:" in listed and "مصر" in listed
    assert "Common Name" not in listed and "Country" not in listed
    response = upload("/admin/certificates", der, user_id=str(world.user_id(COUNCIL)), label="مرة أخرى")
    assert response.status_code == 400 and "هذه الشهادة مسجلة من قبل." in text_of(response)
    response = upload("/admin/certificates", der, user_id="nobody")
    assert response.status_code == 400 and "اختر الموظف صاحب الشهادة." in text_of(response)
    assert '<li><a href="#user_id">اختر الموظف صاحب الشهادة.</a></li>' in text_of(response)
    with world.session() as s:
        row = s.scalar(select(OfficialCertificate))
        assert row is not None and row.user_id == head_id and row.label == "شريحة رئيس الهندسة" and row.active
        cert_id, root_id = row.id, s.scalar(select(TrustRoot.id))

    response = post(admin, f"/admin/certificates/{cert_id}/deactivate", {}, form_page="/admin/certificates")
    assert response.status_code == 303
    response = post(admin, f"/admin/trust-roots/{root_id}/deactivate", {}, form_page="/admin/trust-roots")
    assert response.status_code == 303
    with world.session() as s:
        assert s.scalar(select(OfficialCertificate.active)) is False
        assert s.scalar(select(TrustRoot.active)) is False
    assert "موقوفة" in text_of(admin.get("/admin/certificates"))
    # a POST without the CSRF token is refused
    assert admin.post(f"/admin/trust-roots/{root_id}/deactivate").status_code == 400


# --- a PKCS#11 token through the web (SoftHSM2), with a timestamp and revocation data (B-LT) ------------------------


def test_an_official_signs_with_the_token_on_this_machine(world: World, softhsm: Any, tmp_path: Path) -> None:
    """The head of engineering signs step 2 with the EC key on the SoftHSM2 token; the test PKI's TSA and OCSP
    responder make it PAdES B-LT. A wrong PIN or token label is refused first, with nothing signed."""
    from asn1crypto import pem

    pki = softhsm.pki
    chain = tmp_path / "issuing-cas.pem"
    chain.write_bytes(pem.armor("CERTIFICATE", pki.cert("interm").dump()))
    world.rt.settings = world.rt.settings.with_overrides(
        pkcs11_module=softhsm.module_path, signing_ca_chain=str(chain), tsa_url=pki.tsa_url,
        signing_revocation="soft-fail",
    )
    with world.session() as s:
        add_trust_root(s, "TEST root", pki.cert("root").dump())
        head = s.scalar(select(User).where(User.username == HEAD))
        assert head is not None
        register_certificate(s, head, pki.cert("engineering").dump(), by=None, label="SoftHSM2")

    tracking = world.register()
    assert decide(world.client(REVIEWER), tracking, "recommend").status_code == 303
    client = world.client(HEAD)
    html = page(client, tracking)
    assert 'id="method-pkcs11"' in html and 'name="pin"' in html

    def sign(**fields: str) -> Any:
        form = {"method": "pkcs11", "token_label": softhsm.token_label, "key_label": "engineering",
                "pin": softhsm.pin, "seen_pdf_sha256": seen_hash(page(client, tracking)), **fields}
        return post(client, f"/applications/{tracking}/sign", form, multipart=True)

    before = world.permit(tracking).current_pdf_sha256  # type: ignore[union-attr]
    for fields, message in (
        ({"pin": "0000"}, "الرقم السري للشريحة غير صحيح."),
        ({"token_label": "no-such-token"}, "لم يتم العثور على شريحة التوقيع؛ تأكد من توصيلها."),
        ({"key_label": "council"}, "شهادة التوقيع غير مسجلة لهذا الموظف في النظام."),  # a key on the token, not theirs
        ({"pin": ""}, "اكتب اسم الشريحة واسم المفتاح والرقم السري."),
    ):
        response = sign(**fields)
        assert response.status_code == 400 and message in text_of(response), fields
        assert 'value="0000"' not in text_of(response)  # a PIN is never echoed back
    assert world.permit(tracking).current_pdf_sha256 == before  # type: ignore[union-attr]

    response = sign()
    assert response.status_code == 303, text_of(response)
    assert world.steps(tracking) == [("done", "recommend"), ("done", "sign"), ("active", None)]
    signed = world.rt.store.get_bytes(world.permit(tracking).current_pdf_sha256)  # type: ignore[union-attr]
    report = validate_pdf(signed, trust_roots=[pki.cert("root")])
    (signature,) = report.signatures
    assert signature.indication == "TOTAL_PASSED", signature.reasons_en
    assert signature.level == "B-LT" and signature.timestamp_time is not None
    assert report.unsigned_fields == ["sig2-approve_council"]
