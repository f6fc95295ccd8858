"""The cached public verification page: reused for anonymous visitors, never stale about the permit's state.

A permit issued through the web by two officials (DEMO PKI); its public page is then read by several anonymous
clients (served from :mod:`web.verify.pagecache`: the same bytes for all, no cookie), while the permit's row is changed
behind the app's back with plain SQL, as another server process or an operator would: a revocation, an expiry and a
renewal (a new archived hash) must each show on the very next request.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from signing.dev_pki import DemoPki
from tests.test_web_routing import (
    COUNCIL,
    HEAD,
    PKI_PASSWORD,
    REVIEWER,
    World,
    check_copy,
    decide,
    sign_with_pkcs12,
    text_of,
    trust_demo_pki,
    verdict,
)
from tests.test_web_routing import demo_pki as demo_pki
from tests.test_web_routing import world as world
from web.verify.pagecache import page_cache

TOKEN = "cached-page-token-0123456789abcdefABCDEFgh"


def issue(world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """An issued permit with two valid signatures: its tracking number and its public path."""
    monkeypatch.setattr("workflow.routing.new_verification_token", lambda: TOKEN)
    trust_demo_pki(world, demo_pki)
    tracking = world.register()
    assert decide(world.client(REVIEWER), tracking, "recommend", "مطابق").status_code == 303
    for who in (HEAD, COUNCIL):
        response = sign_with_pkcs12(world.client(who), tracking, demo_pki.signer(who).pkcs12_path.read_bytes(),
                                    PKI_PASSWORD)
        assert response.status_code == 303, text_of(response)
    permit = world.permit(tracking)
    assert permit is not None and permit.status == "issued"
    return tracking, f"/v/{permit.permit_number}/{TOKEN}"


def sql(world: World, statement: str, **params: object) -> None:
    with world.rt.db.engine.begin() as connection:
        connection.execute(text(statement), params)


def test_cached_page_is_reused_but_never_outlives_a_change_of_the_permit(
    world: World, demo_pki: DemoPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking, path = issue(world, demo_pki, monkeypatch)
    cache = page_cache(world.app)
    first, second = world.client(), world.client()

    assert verdict(text_of(first.get(path))) == "valid"
    hits = cache.hits
    pages = [second.get(path), first.get(path)]
    assert cache.hits == hits + 2  # both served from the cache
    for response in pages:
        assert response.status_code == 200 and verdict(text_of(response)) == "valid"
        assert response.headers["Cache-Control"] == "no-store" and "\x00" not in text_of(response)
    # the page is the same for every anonymous visitor and starts no session: a hit sets no cookie, and the cached
    # form (no CSRF token: the anonymous check changes nothing) still accepts a newcomer's upload
    newcomer = world.client()
    answers = [second.get(path), newcomer.get(path)]
    assert answers[0].data == answers[1].data and "csrf_token" not in text_of(answers[0])
    assert all("Set-Cookie" not in r.headers for r in answers)
    issued = world.client(HEAD).get(f"/applications/{tracking}/permit.pdf").data
    check = check_copy(newcomer, path, issued)
    assert check.status_code == 200 and 'data-copy="identical"' in text_of(check)

    # the JSON answer is kept in the same cache, under the same stamp
    api = "/api/v1/verify" + path[2:]
    hits = cache.hits
    answers = [world.client().get(api) for _ in range(3)]
    assert cache.hits == hits + 2 and len({r.data for r in answers}) == 1
    assert answers[0].json["valid"] is True and answers[0].headers["Content-Type"] == "application/json"

    # a forged token never reaches a cached page
    assert first.get(path[:-1] + "X").status_code == 404

    # revoked by another process (plain SQL): the very next request says so, from any visitor
    sql(world, "UPDATE permits SET status = 'revoked', revoked_at = CURRENT_TIMESTAMP, "
               "revocation_reason = 'إلغاء من عملية أخرى' WHERE permit_number = :n", n=path.split("/")[2])
    for client in (first, second, world.client()):
        html = text_of(client.get(path))
        assert verdict(html) == "revoked" and "إلغاء من عملية أخرى" in html
    revoked = world.client().get(api).json
    assert (revoked["valid"], revoked["status"], revoked["genuine"]) == (False, "revoked", True)
    # restored, then past its expiry date: expired at once, not the cached valid page
    sql(world, "UPDATE permits SET status = 'issued', revoked_at = NULL, revocation_reason = NULL "
               "WHERE permit_number = :n", n=path.split("/")[2])
    assert verdict(text_of(first.get(path))) == "valid"
    sql(world, "UPDATE permits SET expires_on = :d WHERE permit_number = :n",
        d=date.today() - timedelta(days=2), n=path.split("/")[2])
    assert verdict(text_of(first.get(path))) == "expired"

    # languages are cached apart
    first.get("/lang/en")
    english = text_of(first.get(path))
    assert "Expired" in english and re.search(r'<html[^>]+lang="en"', english)
    assert verdict(text_of(second.get(path))) == "expired"

    # a logged-in official's page (their menu) is neither served from nor put into the cache
    official = world.client(REVIEWER)
    hits = cache.hits
    html = text_of(official.get(path))
    assert cache.hits == hits and "logout" in html.lower()
    assert "logout" not in text_of(world.client().get(path)).lower()
