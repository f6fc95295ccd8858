"""Idempotency-Key on the API's POSTs, on SQLite and PostgreSQL: a retry after a lost answer changes nothing.

The lost answer is real: the request commits and then the response is destroyed (an ``after_request`` hook raises,
so the client gets a 500 after the commit, exactly the moment clients retry). Concurrent duplicates run in two
threads against the same database while the first one is held inside its transaction.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from sqlalchemy import func, select

from archive.models import Application, IdempotencyKey, Notification, PreparedSignature, Transition
from signing.dev_pki import DemoPki, create_demo_pki
from tests.intake_files import pdf_bytes, png_bytes
from tests.test_api_decisions import token
from tests.test_web_routing import CLERK, COUNCIL, HEAD, PKI_PASSWORD, REVIEWER, World, make_world, trust_demo_pki

KEY = "4f1c9a6e-6f0b-4b7e-9d5e-2c1f0b9e7a11"


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


def count(world: World, model: Any) -> int:
    with world.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


FILES: dict[str, bytes] = {}


def form(**overrides: Any) -> dict[str, Any]:
    """The same request each time (the scans are made once: a PDF made again would differ in its dates)."""
    import io

    if not FILES:
        FILES.update(id=png_bytes(), deed=pdf_bytes("عقد بيع مسجل"), plan=pdf_bytes("كروكي"))
    data = {
        "service_code": "VALIDITY", "applicant_name": "سعاد محمود إبراهيم", "national_id": "٢٩٥٠٣١٥٢٦٠١٢٤٥",
        "applicant_phone": "01123456789", "details.plot_number": "٧/أ", "details.street": "شارع النيل",
        "details.district": "الشهداء", "details.area_m2": "180",
        "doc.ID_COPY": [(io.BytesIO(FILES["id"]), "بطاقة.png")],
        "doc.OWNERSHIP": [(io.BytesIO(FILES["deed"]), "عقد.pdf")],
        "doc.SITE_PLAN": [(io.BytesIO(FILES["plan"]), "كروكي.pdf")],
    }
    data.update(overrides)
    return data


def lose_the_next_answer(app: Flask, path_end: str) -> list[int]:
    """Make the next response to a path ending in ``path_end`` fail after its commit (the client sees a 500)."""
    lost: list[int] = []

    def cut(response: Any) -> Any:
        from flask import request

        if request.path.endswith(path_end) and not lost:
            lost.append(response.status_code)
            raise ConnectionResetError("the answer was lost on the way back")
        return response

    app.after_request_funcs.setdefault(None, []).append(cut)
    return lost


def post_and_lose(client: Any, path: str, **kwargs: Any) -> None:
    """POST; the answer never arrives (the test app propagates the exception instead of a 500 page)."""
    with pytest.raises(ConnectionResetError):
        client.post(path, **kwargs)


def test_a_registration_retried_after_a_lost_answer_registers_once(world: World) -> None:
    client = world.app.test_client()
    headers = {**token(client, CLERK), "Idempotency-Key": KEY}
    lost = lose_the_next_answer(world.app, "/api/v1/applications")

    post_and_lose(client, "/api/v1/applications", data=form(), headers=headers, content_type="multipart/form-data")
    assert lost == [201]  # committed, then the answer was lost
    assert count(world, Application) == 1

    retry = client.post("/api/v1/applications", data=form(), headers=headers, content_type="multipart/form-data")
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert retry.headers["Idempotent-Replayed"] == "true"
    body = retry.get_json()
    again = client.post("/api/v1/applications", data=form(), headers=headers, content_type="multipart/form-data")
    assert again.status_code == 201 and again.get_data() == retry.get_data()
    assert again.headers["Location"] == body["status_url"]
    assert count(world, Application) == 1 and count(world, IdempotencyKey) == 1
    with world.session() as s:
        application = s.scalar(select(Application))
        assert application is not None and application.tracking_number == body["tracking_number"]
        assert s.scalar(select(func.count()).select_from(Notification)) == 1  # one SMS "received", not two

    # the same key with another request is refused; another key registers another application
    other = client.post("/api/v1/applications", data=form(applicant_name="سعاد محمود إبراهيم علي"), headers=headers,
                        content_type="multipart/form-data")
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    assert other.get_json()["error_ar"]
    new = client.post("/api/v1/applications", data=form(), content_type="multipart/form-data",
                      headers={**headers, "Idempotency-Key": KEY + "-2"})
    assert new.status_code == 201 and new.get_json()["tracking_number"] != body["tracking_number"]
    assert count(world, Application) == 2

    # a malformed key is refused before anything runs
    for bad in ("", " ", "x" * 256, "مفتاح"):
        response = client.post("/api/v1/applications", data=form(), content_type="multipart/form-data",
                               headers={**headers, "Idempotency-Key": bad})
        assert response.status_code == 400 and response.get_json()["code"] == "bad_idempotency_key", bad
    assert count(world, Application) == 2


def test_a_refused_registration_stores_no_key_and_can_be_corrected(world: World) -> None:
    client = world.app.test_client()
    headers = {**token(client, CLERK), "Idempotency-Key": KEY}
    bad = client.post("/api/v1/applications", data=form(national_id="123"), headers=headers,
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and count(world, IdempotencyKey) == 0
    # the corrected request is a different body: a new key is the contract, but the refused one left nothing behind
    good = client.post("/api/v1/applications", data=form(), headers=headers, content_type="multipart/form-data")
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers


def test_a_decision_retried_after_a_lost_answer_is_taken_once(world: World) -> None:
    tracking = world.register()
    client = world.app.test_client()
    headers = {**token(client, REVIEWER), "Idempotency-Key": KEY}
    path = f"/api/v1/applications/{tracking}/decisions"
    lost = lose_the_next_answer(world.app, "/decisions")
    body = {"action": "return", "reason": "ينقص الرفع المساحي وشهادة الإشراف"}
    post_and_lose(client, path, json=body, headers=headers)
    assert lost == [200]
    transitions, notifications = count(world, Transition), count(world, Notification)

    retry = client.post(path, json=body, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["status"] == "returned" and retry.get_json()["transition"]["action"] == "return"
    assert (count(world, Transition), count(world, Notification)) == (transitions, notifications)
    # the same key, other words: refused; without a key the (now wrong) decision is judged afresh and refused
    reused = client.post(path, json={"action": "reject", "reason": "x"}, headers=headers)
    assert reused.status_code == 422 and reused.get_json()["code"] == "idempotency_key_reused"
    fresh = client.post(path, json=body, headers={"Authorization": headers["Authorization"]})
    assert fresh.status_code == 409 and fresh.get_json()["code"] == "wrong_state"


def test_concurrent_duplicates_do_not_both_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    tracking = world.register()
    headers = {**token(world.app.test_client(), REVIEWER), "Idempotency-Key": KEY}
    path = f"/api/v1/applications/{tracking}/decisions"
    import web.api.decisions as decisions

    inside = threading.Event()
    real_decide = decisions.decide
    calls: list[int] = []

    def slow_decide(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        result = real_decide(*args, **kwargs)
        inside.set()
        time.sleep(1.0)  # hold the transaction open while the duplicate arrives
        return result

    monkeypatch.setattr(decisions, "decide", slow_decide)
    answers: list[Any] = []

    def send() -> None:
        response = world.app.test_client().post(path, json={"action": "recommend", "reason": "مكتمل"},
                                                headers=headers)
        answers.append((response.status_code, response.get_data(), response.headers.get("Idempotent-Replayed")))

    first = threading.Thread(target=send)
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=send)
    second.start()
    first.join(60)
    second.join(60)
    assert len(answers) == 2 and len(calls) == 1, answers
    assert answers[0][0] == answers[1][0] == 200 and answers[0][1] == answers[1][1]
    assert sorted(str(a[2]) for a in answers) == ["None", "true"]
    assert count(world, Transition) == 2  # open, recommend


def test_keys_are_kept_thirty_days_then_pruned(world: World) -> None:
    from datetime import timedelta

    from archive.idempotency import KEEP, prune_idempotency_keys

    tracking = world.register()
    client = world.app.test_client()
    headers = {**token(client, REVIEWER), "Idempotency-Key": KEY}
    path = f"/api/v1/applications/{tracking}/decisions"
    first = client.post(path, json={"action": "recommend"}, headers=headers)
    assert first.status_code == 200
    with world.session() as s:
        row = s.scalar(select(IdempotencyKey))
        assert row is not None and row.status_code == 200
        created = row.created_at
        assert prune_idempotency_keys(s, now=created + KEEP - timedelta(minutes=1)) == 0
    assert client.post(path, json={"action": "recommend"}, headers=headers).headers["Idempotent-Replayed"] == "true"
    with world.session() as s:
        assert prune_idempotency_keys(s, now=created + KEEP + timedelta(minutes=1)) == 1
    # judged afresh once pruned: the step has moved on
    assert client.post(path, json={"action": "recommend"}, headers=headers).status_code in (403, 409)


# --- the desk agent's prepare and complete -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def desk_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    signers = [(HEAD, "رئيس الإدارة الهندسية - تجريبي"), (COUNCIL, "رئيس مجلس المدينة - تجريبي")]
    return create_demo_pki(tmp_path_factory.mktemp("desk-pki") / "demo", signers, PKI_PASSWORD)


def test_desk_prepare_and_complete_retried_after_a_lost_answer_act_once(world: World, desk_pki: DemoPki) -> None:
    """The agent lost both answers: the retries get the first preparation (the same bytes to sign) and the first
    signature, and the database holds one preparation, one signature and one transition for it."""
    trust_demo_pki(world, desk_pki)
    tracking = world.register()
    client = world.app.test_client()
    assert client.post(f"/api/v1/applications/{tracking}/decisions", json={"action": "recommend", "reason": "مطابق"},
                       headers=token(client, REVIEWER)).status_code == 200
    bundle = desk_pki.load_signer(HEAD, PKI_PASSWORD)
    assert bundle.cert is not None and bundle.key is not None
    certificate = base64.b64encode(bundle.cert.certificate.public_bytes(Encoding.DER)).decode("ascii")
    headers = {**token(client, HEAD), "Idempotency-Key": KEY}
    batch = {"certificate": certificate, "tracking_numbers": [tracking, "SOH01-2026-999999-X"]}

    lost = lose_the_next_answer(world.app, "/signing/prepare")
    post_and_lose(client, "/api/v1/signing/prepare", json=batch, headers=headers)
    assert lost == [200] and count(world, PreparedSignature) == 1
    retry = client.post("/api/v1/signing/prepare", json=batch, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    (prepared,) = retry.get_json()["prepared"]
    assert [r["tracking_number"] for r in retry.get_json()["refused"]] == ["SOH01-2026-999999-X"]
    with world.session() as s:
        (row,) = s.scalars(select(PreparedSignature))
        assert prepared["prepared_id"] == row.id and base64.b64decode(prepared["to_sign"]) == row.signed_attributes
    assert count(world, PreparedSignature) == 1  # the retry prepared nothing new

    private_key = bundle.key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey) and prepared["digest_algorithm"] == "sha256"
    value = private_key.sign(base64.b64decode(prepared["to_sign"]), ec.ECDSA(hashes.SHA256()))
    signatures = {"signatures": [{"prepared_id": prepared["prepared_id"],
                                  "signature": base64.b64encode(value).decode("ascii")}]}
    complete_headers = {**headers, "Idempotency-Key": KEY + "-complete"}
    lost = lose_the_next_answer(world.app, "/signing/complete")
    post_and_lose(client, "/api/v1/signing/complete", json=signatures, headers=complete_headers)
    assert lost == [200]
    transitions = count(world, Transition)
    with world.session() as s:
        application = s.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None
        signed_steps = [st for st in application.steps if st.signed_pdf_sha256]
        assert len(signed_steps) == 1 and signed_steps[0].status == "done"
        first_revision = signed_steps[0].signed_pdf_sha256

    again = client.post("/api/v1/signing/complete", json=signatures, headers=complete_headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true", again.get_data(as_text=True)
    (signed,) = again.get_json()["signed"]
    assert signed["tracking_number"] == tracking and again.get_json()["refused"] == []
    assert count(world, Transition) == transitions
    with world.session() as s:
        application = s.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None
        assert [st.signed_pdf_sha256 for st in application.steps if st.signed_pdf_sha256] == [first_revision]
    # without the key the same values are judged afresh: the preparation was used, nothing is signed twice
    bare = {"Authorization": headers["Authorization"]}
    fresh = client.post("/api/v1/signing/complete", json=signatures, headers=bare)
    assert fresh.status_code == 200 and fresh.get_json()["signed"] == []
    assert count(world, Transition) == transitions
    # the same key with another batch is refused
    reused = client.post("/api/v1/signing/prepare", json={**batch, "tracking_numbers": [tracking]}, headers=headers)
    assert reused.status_code == 422 and reused.get_json()["code"] == "idempotency_key_reused"


def test_the_openapi_document_declares_the_desk_keys(world: World) -> None:
    paths = world.app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for name in ("prepare", "complete"):
        operation = paths[f"/api/v1/signing/{name}"]["post"]
        assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"]), name
        assert {"200", "400", "422", "503"} <= set(operation["responses"]), name


def test_the_desk_agent_resends_a_lost_request_with_the_same_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent's side: a prepare whose connection dies before the answer is sent again with the same
    Idempotency-Key (the server above replays the first answer); each new request gets a new key; a GET is never
    resent and a refusal is never retried."""
    import http.server
    import json

    from signing import agent
    from signing.agent import AgentError, DeskClient

    monkeypatch.setattr(agent.time, "sleep", lambda _s: None)
    seen: list[tuple[str, str | None]] = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers.get("Idempotency-Key")))
            if len(seen) in (1, 3):  # the first try of each call: the connection dies, no answer
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if self.path.endswith("/complete"):
                self.send_response(409)
                body = json.dumps({"code": "x", "error": "refused", "error_ar": "مرفوض"}).encode()
            else:
                self.send_response(200)
                body = json.dumps({"prepared": [], "refused": []}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Idempotency-Key")))
            self.close_connection = True
            self.connection.shutdown(2)

        def log_message(self, *_args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = DeskClient(f"http://127.0.0.1:{server.server_address[1]}", "token")
        assert client.prepare(b"cert", ["SOH01-2026-000001-X"]) == {"prepared": [], "refused": []}
        with pytest.raises(AgentError, match="refused"):
            client.complete([(1, b"value")])
        with pytest.raises(AgentError):
            client.queue()
    finally:
        server.shutdown()
        server.server_close()
    (p1, k1), (p2, k2), (c1, k3), (c2, k4), (q, k5) = seen
    assert p1 == p2 == "/api/v1/signing/prepare" and k1 is not None and k1 == k2  # resent with the same key
    assert c1 == c2 == "/api/v1/signing/complete" and k3 == k4 and k3 not in (None, k1)  # a new call, a new key
    assert q == "/api/v1/signing/queue" and k5 is None  # a GET: one try, no key
