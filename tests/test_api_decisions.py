"""Decisions through the JSON API, with the same rules and refusals as the application page, on SQLite and PostgreSQL.

Officials hold bearer tokens; the reviewer recommends or returns, the window resubmits, two signers sign the permit
with their DEMO PKCS#12 files uploaded in the request, a head reassigns and revokes. Every refusal is JSON with a
code and both sentences, and leaves the database as it was.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archive.models import Notification, Transition
from signing.dev_pki import DemoPki, create_demo_pki
from tests.fixtures.app import PASSWORD
from tests.test_web_routing import (
    CLERK,
    CLERK_REVIEWER,
    COUNCIL,
    HEAD,
    PKI_PASSWORD,
    REVIEWER,
    REVIEWER_TWO,
    World,
    make_world,
    trust_demo_pki,
)


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    signers = [(HEAD, "رئيس الإدارة الهندسية - تجريبي"), (COUNCIL, "رئيس مجلس المدينة - تجريبي")]
    return create_demo_pki(tmp_path_factory.mktemp("api-pki") / "demo", signers, PKI_PASSWORD)


def token(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def count(world: World, model: Any) -> int:
    with world.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and body["error"] and body["error_ar"], body
    assert any("\u0600" <= ch <= "\u06ff" for ch in body["error_ar"])


class Api:
    def __init__(self, world: World) -> None:
        self.client = world.app.test_client()
        self.headers = {name: token(self.client, name) for name in (CLERK, REVIEWER, HEAD, COUNCIL, CLERK_REVIEWER,
                                                                      REVIEWER_TWO)}

    def post(self, who: str, path: str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(path, json=body, headers={**self.headers[who], **headers})

    def get(self, who: str, path: str) -> Any:
        return self.client.get(path, headers=self.headers[who])

    def decide(self, who: str, tracking: str, action: str, reason: str = "") -> Any:
        return self.post(who, f"/api/v1/applications/{tracking}/decisions", {"action": action, "reason": reason})

    def sign(self, who: str, tracking: str, p12: bytes, passphrase: str, seen: str | None = None) -> Any:
        if seen is None:
            read = self.get(who, f"/api/v1/signing/queue/{tracking}/permit.pdf")
            assert read.status_code == 200
            seen = read.headers["X-Permit-Revision"]
        return self.client.post(f"/api/v1/applications/{tracking}/sign", headers=self.headers[who],
                                content_type="multipart/form-data",
                                data={"pkcs12": (io.BytesIO(p12), "me.p12"), "passphrase": passphrase,
                                      "seen_pdf_sha256": seen})


@pytest.fixture
def api(world: World) -> Api:
    return Api(world)


def test_a_file_goes_from_inbox_to_issued_permit_and_revocation_through_the_api(
    world: World, api: Api, demo_pki: DemoPki
) -> None:
    trust_demo_pki(world, demo_pki)
    tracking = world.register()

    inbox = api.get(REVIEWER, "/api/v1/inbox").get_json()
    [entry] = [e for e in inbox["items"] if e["tracking_number"] == tracking]
    assert entry["step"]["position"] == 1 and entry["step"]["of"] == 3 and entry["overdue"] is False
    assert api.get(CLERK, "/api/v1/inbox").get_json()["items"] == []  # one-stop: never in the clerk's inbox

    detail = api.get(REVIEWER, f"/api/v1/applications/{tracking}").get_json()
    assert detail["workflow"]["actions"] == ["recommend", "return", "reject"]
    assert [s["status"] for s in detail["workflow"]["steps"]] == ["active", "waiting", "waiting"]
    assert detail["workflow"]["permit"] is None

    # refusals: JSON with code and both sentences, nothing written
    before = (count(world, Transition), count(world, Notification))
    refused(api.decide(CLERK, tracking, "recommend"), 403, "one_stop")
    refused(api.decide(COUNCIL, tracking, "recommend"), 403, "not_permitted")  # a signer, not a reviewer
    refused(api.decide(REVIEWER, tracking, "return"), 400, "reason_required")
    assert (count(world, Transition), count(world, Notification)) == before

    # return for completion, resubmit at the window, recommend
    returned = api.decide(REVIEWER, tracking, "return", "الرفع المساحي غير مرفق")
    assert returned.status_code == 200, returned.get_data(as_text=True)
    body = returned.get_json()
    assert body["status"] == "returned" and body["transition"]["action"] == "return"
    assert body["transition"]["reason"] == "الرفع المساحي غير مرفق" and body["transition"]["actor"] == REVIEWER
    assert count(world, Notification) > before[1]  # the citizen is told what to bring
    assert [e["tracking_number"] for e in api.get(CLERK, "/api/v1/inbox").get_json()["returned"]] == [tracking]
    assert api.post(REVIEWER, f"/api/v1/applications/{tracking}/resubmit", {}).status_code == 403  # not window staff
    resubmitted = api.post(CLERK, f"/api/v1/applications/{tracking}/resubmit", {"note": "أحضر المواطن الرفع"})
    assert resubmitted.status_code == 200 and resubmitted.get_json()["status"] == "in_review"
    refused(api.post(CLERK, f"/api/v1/applications/{tracking}/resubmit", {}), 409, "wrong_state")
    assert api.decide(REVIEWER, tracking, "recommend", "مكتمل").get_json()["status"] == "awaiting_signature"

    # the head signs with a PKCS#12 file: refusals first
    own = demo_pki.signer(HEAD).pkcs12_path.read_bytes()
    assert api.get(HEAD, f"/api/v1/signing/queue/{tracking}/permit.pdf").status_code == 200  # reading renders it
    before = (count(world, Transition), sorted(world.rt.store.list()))
    refused(api.sign(HEAD, tracking, own, "not the passphrase"), 400, "bad_passphrase")
    refused(api.sign(HEAD, tracking, demo_pki.signer(COUNCIL).pkcs12_path.read_bytes(), PKI_PASSWORD.decode()),
            400, "certificate_unregistered")
    refused(api.sign(HEAD, tracking, own, PKI_PASSWORD.decode(), seen="0" * 64), 409, "document_changed")
    refused(api.sign(COUNCIL, tracking, own, PKI_PASSWORD.decode(), seen="0" * 64), 403, "not_your_step")
    no_file = api.client.post(f"/api/v1/applications/{tracking}/sign", headers=api.headers[HEAD],
                              content_type="multipart/form-data", data={"seen_pdf_sha256": "0" * 64})
    refused(no_file, 400, "pkcs12_required")
    assert (count(world, Transition), sorted(world.rt.store.list())) == before

    signed = api.sign(HEAD, tracking, own, PKI_PASSWORD.decode())
    assert signed.status_code == 200, signed.get_data(as_text=True)
    assert signed.get_json()["status"] == "awaiting_signature"
    assert signed.get_json()["workflow"]["permit"]["status"] == "draft"
    issued = api.sign(COUNCIL, tracking, demo_pki.signer(COUNCIL).pkcs12_path.read_bytes(), PKI_PASSWORD.decode())
    assert issued.status_code == 200, issued.get_data(as_text=True)
    body = issued.get_json()
    assert body["status"] == "issued" and body["workflow"]["permit"]["status"] == "issued"
    assert [t["action"] for t in body["workflow"]["transitions"]] == [
        "open", "return", "resubmit", "recommend", "sign", "sign", "issue"]

    # revocation: a reason, and only by a head of a signing department
    refused(api.post(HEAD, f"/api/v1/applications/{tracking}/revoke", {"reason": "  "}), 400, "reason_required")
    assert api.post(REVIEWER, f"/api/v1/applications/{tracking}/revoke", {"reason": "x"}).status_code == 403
    assert "revoke" in api.get(HEAD, f"/api/v1/applications/{tracking}").get_json()["workflow"]["actions"]
    revoked = api.post(HEAD, f"/api/v1/applications/{tracking}/revoke", {"reason": "بناء مخالف للرسومات"})
    assert revoked.status_code == 200 and revoked.get_json()["workflow"]["permit"]["status"] == "revoked"
    refused(api.post(HEAD, f"/api/v1/applications/{tracking}/revoke", {"reason": "مرة ثانية"}), 409, "wrong_state")


def test_reassign_reject_and_malformed_requests(world: World, api: Api) -> None:
    tracking = world.register(CLERK_REVIEWER)  # a clerk who is also a reviewer took it in
    path = f"/api/v1/applications/{tracking}"
    refused(api.post(REVIEWER, path + "/reassign", {"position": 0, "to_user": REVIEWER_TWO, "reason": "إجازة"}),
            403, "not_permitted")
    refused(api.post(HEAD, path + "/reassign", {"position": 0, "to_user": "nobody.here", "reason": "إجازة"}),
            400, "unknown_official")
    refused(api.post(HEAD, path + "/reassign", {"position": 0, "to_user": CLERK_REVIEWER, "reason": "إجازة"}),
            403, "one_stop")
    moved = api.post(HEAD, path + "/reassign", {"position": 0, "to_user": REVIEWER_TWO, "reason": "إجازة"})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert moved.get_json()["workflow"]["steps"][0]["assignee"] == REVIEWER_TWO
    refused(api.decide(REVIEWER, tracking, "recommend"), 403, "not_your_step")  # no longer theirs
    assert tracking in [e["tracking_number"] for e in api.get(REVIEWER_TWO, "/api/v1/inbox").get_json()["items"]]

    # malformed input never reaches the service and is never a 500
    before = count(world, Transition)
    for body in ({}, {"action": "sign"}, {"action": "reject", "reason": "x" * 2001}, {"action": 5}, []):
        response = api.client.post(path + "/decisions", json=body, headers=api.headers[REVIEWER_TWO])
        assert response.status_code == 422, (body, response.get_data(as_text=True))
    garbage = api.client.post(path + "/decisions", data=b"{not json", content_type="application/json",
                              headers=api.headers[REVIEWER_TWO])
    assert garbage.status_code in (400, 422)
    assert api.client.get(path + "/decisions", headers=api.headers[REVIEWER_TWO]).status_code == 405
    unknown = api.decide(REVIEWER_TWO, "SOH01-2026-999999-X", "recommend")
    assert unknown.status_code == 404
    assert api.client.post(path + "/decisions", json={"action": "recommend"}).status_code == 401
    assert count(world, Transition) == before

    rejected = api.decide(REVIEWER_TWO, tracking, "reject", "الأرض ليست ملك المتقدم")
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert [s["status"] for s in rejected.get_json()["workflow"]["steps"]] == ["done", "cancelled", "cancelled"]
    refused(api.decide(REVIEWER_TWO, tracking, "recommend"), 409, "wrong_state")


def test_the_openapi_document_declares_the_decisions(world: World) -> None:
    doc = world.app.test_client().get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for name in ("decisions", "reassign", "resubmit", "revoke", "sign"):
        operation = paths[f"/api/v1/applications/{{tracking}}/{name}"]["post"]
        assert {"200", "400", "401", "403", "404", "409", "422"} <= set(operation["responses"]), name
        assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"]), name
    assert "/api/v1/inbox" in paths
    detail = paths["/api/v1/applications/{tracking}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert detail["schema"]["$ref"].endswith("/ApplicationDetail")


def test_the_inbox_shows_the_reminders_sent_about_a_step(world: World, api: Api) -> None:
    from datetime import timedelta

    from workflow.reminders import send_due_reminders

    tracking = world.register(service="VALIDITY")
    due = world.application(tracking).due_at
    with world.session() as s:
        send_due_reminders(s, days_before=(3, 1), now=due - timedelta(days=1))
    [entry] = api.get(REVIEWER, "/api/v1/inbox").get_json()["items"]
    assert entry["flags"] == ["reminder_sent"]
    with world.session() as s:
        send_due_reminders(s, days_before=(3, 1), now=due + timedelta(minutes=5))
    [entry] = api.get(REVIEWER, "/api/v1/inbox").get_json()["items"]
    assert entry["flags"] == ["overdue_reported", "reminder_sent"]
    html = world.client(REVIEWER).get("/inbox").get_data(as_text=True)
    assert 'data-reminder="due_in_1d"' in html and 'data-reminder="overdue"' in html
    assert "أُبلغ رئيس الإدارة بالتأخير" in html


def test_the_completion_loop_through_the_api(world: World, api: Api) -> None:
    """Returned for two missing papers, completed at the window through the API, back to its step; not before."""
    import io

    from tests.intake_files import pdf_bytes

    tracking = world.register(complete=False)  # only the ID card; the rest "later"
    path = f"/api/v1/applications/{tracking}"
    refused(api.decide(REVIEWER, tracking, "recommend"), 409, "documents_missing")
    detail = api.get(REVIEWER, path).get_json()["workflow"]
    assert "OWNERSHIP" in detail["missing_documents"]
    refused(api.post(REVIEWER, path + "/decisions", {"action": "return", "reason": "ناقص",
                                                      "items": [{"code": "NOT_A_PAPER"}]}), 400, "unknown_item")
    returned = api.post(REVIEWER, path + "/decisions", {
        "action": "return", "reason": "أحضر الرفع المساحي وعقد الملكية",
        "items": [{"code": "SURVEY", "problem": "missing"}, {"code": "OWNERSHIP", "problem": "unreadable"}]})
    assert returned.status_code == 200, returned.get_data(as_text=True)
    items = returned.get_json()["workflow"]["completion_items"]
    assert sorted((i["code"], i["problem"]) for i in items) == [("OWNERSHIP", "unreadable"), ("SURVEY", "missing")]
    refused(api.post(CLERK, path + "/resubmit", {}), 400, "items_outstanding")

    # the window adds the survey through the API (idempotent) and answers for the deed
    key = {"Idempotency-Key": "add-survey-1"}
    files = {"doc.SURVEY": (io.BytesIO(pdf_bytes("الرفع المساحي")), "survey.pdf")}
    added = api.client.post(path + "/documents", headers={**api.headers[CLERK], **key},
                            content_type="multipart/form-data", data=files)
    assert added.status_code == 201, added.get_data(as_text=True)
    again = api.client.post(path + "/documents", headers={**api.headers[CLERK], **key},
                            content_type="multipart/form-data",
                            data={"doc.SURVEY": (io.BytesIO(pdf_bytes("الرفع المساحي")), "survey.pdf")})
    assert again.status_code in (201, 422)  # a PDF made again differs in its dates: same key, other body
    resubmitted = api.post(CLERK, path + "/resubmit", {"note": "استكمل", "answers": {
        "OWNERSHIP": "العقد الأصلي لدى الشهر العقاري؛ صورة واضحة في الزيارة القادمة"}})
    assert resubmitted.status_code == 200, resubmitted.get_data(as_text=True)
    assert resubmitted.get_json()["status"] == "in_review"
    # still missing papers: a head overrides with a reason, then the reviewer may recommend
    still = api.get(HEAD, path).get_json()["workflow"]
    if still["missing_documents"]:
        assert "override" in still["actions"]
        over = api.post(HEAD, path + "/override", {"reason": "الملف يكفي للمراجعة الفنية"})
        assert over.status_code == 200, over.get_data(as_text=True)
        assert over.get_json()["workflow"]["override"]["reason"] == "الملف يكفي للمراجعة الفنية"
    assert api.decide(REVIEWER, tracking, "recommend", "مكتمل").status_code == 200
