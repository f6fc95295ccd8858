"""The citizen's status inquiry (issues 8 and 15): tracking number plus the access code printed on the receipt.

Real requests against the app on SQLite and PostgreSQL; the application is moved through the real routing service.
The point of most checks is what is *not* said: nothing private, no internal note, and no way to tell an unknown
tracking number from a known one with the wrong digits.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive.models import Application, User
from intake.inquiry import InquiryInvalid, inquire, record_access_code
from intake.tracking import format_tracking
from tests import clock
from tests.fixtures.app import csrf_token_from
from tests.test_web_routing import NAME, NATIONAL_ID, PHONE, REVIEWER, World, make_world
from workflow.routing import decide

WRONG = "ABCDE-FGHJK"  # the shape of a code; the right one is this with probability 2**-50
INTERNAL_NOTE = "باقي المستندات لاحقًا"  # the clerk's reason for accepting the file incomplete (World.register)
RETURN_REASON = "أرفق صورة عقد الملكية موثقة"


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


def code_of(world: World, tracking: str) -> str:
    """The access code, as the window's printing of the receipt records and prints it."""
    with world.session() as s:
        application = s.scalar(select(Application).where(Application.tracking_number == tracking))
        assert application is not None
        return record_access_code(application, world.rt.settings.secret_key)


def ask(client: FlaskClient, number: str, code: str) -> tuple[int, str]:
    token = csrf_token_from(client.get("/track").get_data(as_text=True))
    response = client.post("/track", data={"csrf_token": token, "number": number, "access_code": code})
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_data(as_text=True)


def returned_application(world: World) -> str:
    tracking = world.register(at=clock.NOW - timedelta(days=3), complete=False)
    with world.session() as s:
        application = s.scalar(select(Application).where(Application.tracking_number == tracking))
        reviewer = s.scalar(select(User).where(User.username == REVIEWER))
        assert application is not None and reviewer is not None
        decide(s, application, reviewer, "return", reason=RETURN_REASON, now=clock.NOW - timedelta(days=1))
    return tracking


def test_the_right_digits_show_the_stage_dates_and_return_reason_and_nothing_private(world: World) -> None:
    tracking = returned_application(world)
    RIGHT = code_of(world, tracking)
    citizen = world.client()
    for number, code in ((tracking, RIGHT), (tracking.lower().replace("-", " "), RIGHT.lower())):
        status, html = ask(citizen, number, code)
        assert status == 200, html
        assert tracking in html
        assert "أعيد للاستكمال" in html and "أعيد طلبك للاستكمال" in html  # status and plain-words stage
        assert RETURN_REASON in html  # said to the citizen, as the SMS says it
        assert "تاريخ الاستلام" in html and "موعد الإنجاز القانوني" in html
        assert html.count("<li data-status=") == 2  # received, then returned
        for private in (NAME, "محمد", NATIONAL_ID, PHONE, INTERNAL_NOTE, "id.png", "/documents/", REVIEWER):
            assert private not in html, private

    english = world.client()
    english.get("/lang/en")
    status, html = ask(english, tracking, RIGHT)
    assert status == 200 and "Returned for completion" in html and "was returned for completion" in html


def same_page(html: str, typed: str) -> str:
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1T", html)
    return html.replace(typed, "N").replace(typed.lower(), "N")  # the language link carries the path as typed


def test_a_wrong_suffix_and_an_unknown_number_get_the_same_answer(world: World) -> None:
    tracking = returned_application(world)
    RIGHT = code_of(world, tracking)
    unknown = format_tracking("SOH-01", 2026, 999_999)
    citizen = world.client()
    wrong_status, wrong = ask(citizen, tracking, WRONG)
    unknown_status, missing = ask(citizen, unknown, WRONG)
    assert wrong_status == unknown_status == 404
    assert "لا يوجد طلب بهذا الرقم وهذا الرمز" in wrong
    # Byte for byte the same page, apart from the number the citizen typed being echoed in the box and the form's
    # CSRF token (signed with the second it was made in, so two requests can straddle a second).
    assert same_page(wrong, tracking) == same_page(missing, unknown)
    assert "أعيد" not in wrong and RETURN_REASON not in wrong

    api = world.client()
    answers = [api.post("/api/v1/inquiry", json={"tracking_number": n, "access_code": WRONG})
               for n in (tracking, unknown)]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].get_json() == answers[1].get_json()

    # The service itself: one None for both.
    with world.session() as s:
        assert inquire(s, tracking, WRONG) is None and inquire(s, unknown, WRONG) is None
        assert inquire(s, tracking, RIGHT) is not None


def test_input_that_cannot_be_an_inquiry_is_refused_before_any_lookup(world: World) -> None:
    from web.ratelimit import INQUIRY_LIMIT_KEY, INQUIRY_NUMBER_LIMIT_KEY

    world.app.config.update({INQUIRY_LIMIT_KEY: "100 per minute", INQUIRY_NUMBER_LIMIT_KEY: "100 per hour"})
    tracking = returned_application(world)
    RIGHT = code_of(world, tracking)
    citizen = world.client()
    status, html = ask(citizen, tracking[:-1] + ("A" if tracking[-1] != "A" else "B"), RIGHT)  # wrong check char
    assert status == 400 and "رقم المتابعة غير صحيح" in html
    assert 'role="alert"' in html and '<a href="#number">' in html  # the error summary links to the field
    # the last four ID digits (shown on the permit's public page) are no longer an answer, nor any other shape
    for code in (NATIONAL_ID[-4:], "ABCDE-FGHJ", "ABCDE-FGHJKL", "ABCDE-FGH0K", "ABCDE-FGHIK", "أبجده-هوزحط", ""):
        status, html = ask(citizen, tracking, code)
        assert status == 400 and "رمز الاستعلام المطبوع على الإيصال" in html, code
        assert '<a href="#access_code">' in html and "يوجد خطأ في البيانات" in html, code
    with world.session() as s:
        try:
            inquire(s, tracking, "1234")
        except InquiryInvalid as exc:
            assert exc.field == "access_code"
        else:
            raise AssertionError("four digits were accepted as an access code")
    # spellings of the right code: lower case, no dash, spaces, Arabic-Indic digits
    arabic = RIGHT.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for spelling in (RIGHT.lower(), RIGHT.replace("-", ""), " ".join(RIGHT), arabic):
        assert ask(citizen, tracking, spelling)[0] == 200, spelling


def test_the_receipt_qr_link_asks_for_the_code_and_shows_nothing_by_itself(world: World) -> None:
    tracking = world.register()
    RIGHT = code_of(world, tracking)
    citizen = world.client()
    page = citizen.get("/track/" + tracking.lower())
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f'value="{tracking}"' in html and 'name="access_code"' in html
    assert "تم استلام الطلب" not in html and "طلب بيان" not in html  # neither status nor service before the digits
    # An unknown number gets exactly the same landing page.
    unknown = format_tracking("SOH-01", 2026, 999_999)
    other = citizen.get("/track/" + unknown).get_data(as_text=True)
    assert same_page(other, unknown) == same_page(html, tracking)
    status, html = ask(citizen, tracking, RIGHT)
    assert status == 200 and "تم استلام الطلب" in html


def test_the_api_answers_with_the_same_facts(world: World) -> None:
    tracking = returned_application(world)
    RIGHT = code_of(world, tracking)
    response = world.client().post("/api/v1/inquiry",
                                   json={"tracking_number": tracking.lower(), "access_code": RIGHT})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["tracking_number"] == tracking and body["status"] == "returned"
    assert body["status_ar"] == "أعيد للاستكمال" and body["return_reason"] == RETURN_REASON
    assert [m["status"] for m in body["milestones"]] == ["received", "returned"]
    assert body["overdue"] is False and body["finished_at"] is None
    text = str(body)
    for private in (NAME, NATIONAL_ID, PHONE, INTERNAL_NOTE):
        assert private not in text
    bad = world.client().post("/api/v1/inquiry", json={"tracking_number": "nonsense", "access_code": RIGHT})
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad_tracking_number"
    spec = world.client().get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/inquiry"]["post"]
    assert operation["security"] == [] and {"200", "400", "404", "429"} <= set(operation["responses"])


def test_inquiries_are_limited_per_address_and_per_tracking_number(world: World) -> None:
    from web.ratelimit import INQUIRY_LIMIT_KEY, INQUIRY_NUMBER_LIMIT_KEY

    world.app.config.update({INQUIRY_LIMIT_KEY: "3 per minute", INQUIRY_NUMBER_LIMIT_KEY: "5 per hour"})
    tracking = world.register()
    RIGHT = code_of(world, tracking)
    guesser = world.client()
    token = csrf_token_from(guesser.get("/track").get_data(as_text=True))

    def guess(client: FlaskClient, address: str, number: str = tracking) -> int:
        return client.post("/track", data={"csrf_token": token, "number": number, "access_code": WRONG},
                           environ_base={"REMOTE_ADDR": address}).status_code

    assert [guess(guesser, "192.0.2.1") for _ in range(4)] == [404, 404, 404, 429]
    refused = guesser.post("/track", data={"csrf_token": token, "number": tracking, "access_code": RIGHT},
                           environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert refused.status_code == 429 and "طلبات كثيرة جدا" in refused.get_data(as_text=True)
    # From other addresses, the number's own budget (5 per hour) runs out: 3 counted above + 2 more.
    assert [guess(guesser, "192.0.2.2"), guess(guesser, "192.0.2.3")] == [404, 404]
    assert guess(guesser, "192.0.2.4") == 429
    # Another number (known or not) is unaffected, and the JSON API shares the number's count.
    assert guess(guesser, "192.0.2.5", format_tracking("SOH-01", 2026, 999_999)) == 404
    # Mistyped numbers (refused before any lookup) do not share one budget: each address still gets its 400.
    assert [guess(guesser, f"192.0.2.{n}", "nonsense") for n in range(10, 17)] == [400] * 7
    api = world.client().post("/api/v1/inquiry", json={"tracking_number": tracking, "access_code": RIGHT},
                              environ_base={"REMOTE_ADDR": "192.0.2.6"})
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
    assert re.search(r"Retry-After", str(api.headers))


def test_switching_language_keeps_the_page_and_the_form(world: World) -> None:
    """The language link of a public page comes back to the same page; after a lookup it asks again, same answer."""
    tracking = returned_application(world)
    RIGHT = code_of(world, tracking)
    citizen = world.client()
    status, html = ask(citizen, tracking, RIGHT)
    assert status == 200 and 'id="lang-switch"' in html
    form = re.search(r'<form method="post" action="([^"]+)" class="inline" id="lang-switch">(.*?)</form>', html, re.S)
    assert form is not None and form.group(1) == "/track?lang=en"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    assert fields["number"] == tracking
    response = citizen.post(form.group(1), data=fields)
    english = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="en"' in english
    assert "Returned for completion" in english and tracking in english

    # a wrong lookup keeps what was typed too
    status, html = ask(citizen, tracking, WRONG)
    form = re.search(r'id="lang-switch">(.*?)</form>', html, re.S)
    assert status == 404 and form is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))
    response = citizen.post("/track?lang=ar", data=fields)
    assert response.status_code == 404 and f'value="{tracking}"' in response.get_data(as_text=True)

    # GET pages: the link carries the page's own path back, and ?lang= works on any public URL
    anonymous = world.client()
    path = f"/track/{tracking}"
    link = re.search(r'href="([^"]+)"[^>]*id="lang-switch"', anonymous.get(path).get_data(as_text=True))
    assert link is not None
    followed = anonymous.get(link.group(1).replace("&amp;", "&"))
    assert followed.status_code == 302 and followed.headers["Location"] == path
    assert '<html lang="en"' in anonymous.get(path).get_data(as_text=True)
    assert '<html lang="ar"' in world.client().get("/track?lang=ar").get_data(as_text=True)
    assert '<html lang="en"' in world.client().get("/track?lang=en").get_data(as_text=True)

    # never an open redirect
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
                   "/track\r\nSet-Cookie: x=1", ""):
        response = world.client().get("/lang/en", query_string={"next": target})
        assert response.status_code == 302 and response.headers["Location"] == "/", target
