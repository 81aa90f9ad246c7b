"""The console's frame over HTTP: login and logout with a cookie, CSRF refusals, redirects, languages, organisations."""

from __future__ import annotations

import uuid
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.security import encode_jwt
from tests.support.identity import add_member, create_org_with_user, register, unique_email
from tests.web.support import (
    csrf_of,
    fund,
    get_with_session,
    log_in,
    logged_in,
    new_browser,
    submit,
    text_of,
)


def real_session_of(token: str) -> str:
    """The login session a console cookie names (read without verifying: the test made it)."""
    return str(jwt.decode(token, options={"verify_signature": False})["sid"])


def set_cookie_headers(response: httpx.Response, name: str) -> list[SimpleCookie]:
    found = []
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            found.append(cookie)
    return found


async def test_pages_need_a_login_browsers_are_sent_to_the_login_page(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    page = await browser.get("/console/organisations?x=1")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login?next=%2Fconsole%2Forganisations%3Fx%3D1"
    # A script (no text/html in Accept) gets the API's problem document instead.
    problem = await client.get("/console")
    assert problem.status_code == 401
    assert problem.headers["content-type"] == "application/problem+json"
    root = await browser.get("/")
    assert (root.status_code, root.headers["location"]) == (303, "/console")


async def test_login_page_is_french_by_default_english_on_request(browser: httpx.AsyncClient) -> None:
    french = await browser.get("/console/login")
    assert french.status_code == 200
    assert '<html lang="fr">' in french.text
    assert "Mot de passe" in text_of(french)
    english = await browser.get("/console/login", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in english.text
    assert "Password" in text_of(english)
    assert "Mot de passe" not in text_of(english)


async def test_the_language_switch_wins_over_the_browser(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/login")
    switched = await submit(browser, page, "/console/language", {"lang": "en", "next": "/console/login"})
    assert (switched.status_code, switched.headers["location"]) == (303, "/console/login")
    [cookie] = set_cookie_headers(switched, "cauri_lang")
    assert cookie["cauri_lang"].value == "en"
    assert "Log in" in text_of(await browser.get("/console/login"))  # the browser still says fr-FR
    back = await submit(browser, await browser.get("/console/login"), "/console/language", {"lang": "fr"})
    assert back.headers["location"] == "/console"
    assert "Connexion" in text_of(await browser.get("/console/login"))


async def test_login_sets_a_protected_cookie_and_shows_the_dashboard(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client, org_name="Caisse de Test")
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, 1_250_000)
    answer = await log_in(browser, owner.email, owner.password)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console")
    [cookie] = set_cookie_headers(answer, "cauri_console")
    morsel = cookie["cauri_console"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "lax"
    assert morsel["path"] == "/console"
    assert not morsel["secure"]  # plain HTTP here; over HTTPS the cookie is Secure (test below)
    dashboard = await browser.get("/console")
    assert dashboard.status_code == 200
    text = text_of(dashboard)
    assert "Bonjour Awa Diop" in text
    assert "Caisse de Test" in text
    assert "1 250 000 F CFA" in text
    assert "Propriétaire" in text
    assert dashboard.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in dashboard.headers["content-security-policy"]
    assert dashboard.headers["x-frame-options"] == "DENY"
    assert dashboard.headers["content-encoding"] == "gzip"  # httpx asked for it, and decoded it
    assert int(dashboard.headers["content-length"]) < len(dashboard.content)


async def test_the_cookie_is_secure_over_https(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as secure:
        page = await secure.get("/console/login", headers={"Accept": "text/html"})
        [csrf] = set_cookie_headers(page, "cauri_csrf")
        assert csrf["cauri_csrf"]["secure"] is True
        answer = await secure.post(
            "/console/login",
            data={"csrf_token": csrf_of(page), "identifier": owner.email, "password": owner.password},
            headers={"Origin": "https://testserver", "Accept": "text/html"},
        )
        assert answer.status_code == 303
        [cookie] = set_cookie_headers(answer, "cauri_console")
        assert cookie["cauri_console"]["secure"] is True


async def test_a_wrong_password_is_refused_in_the_page_language(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    refused = await log_in(browser, owner.email, "not-the-password")
    assert refused.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in text_of(refused)
    assert owner.email in refused.text  # the identifier is kept, the password is not
    assert "not-the-password" not in refused.text
    assert set_cookie_headers(refused, "cauri_console") == []
    english_browser = {"Accept-Language": "en"}
    page = await browser.get("/console/login", headers=english_browser)
    english = await submit(
        browser, page, "/console/login", {"identifier": owner.email, "password": "nope-nope"}, headers=english_browser
    )
    assert "Incorrect login or password." in text_of(english)
    empty = await submit(browser, page, "/console/login", {"identifier": "", "password": ""})
    assert empty.status_code == 422


async def test_login_by_phone_number_in_local_format(browser: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    suffix = f"{uuid.uuid4().int % 10**6:06d}"
    registered = await client.post(
        "/api/v1/auth/register",
        json={
            "phone": f"+237 690 {suffix}",
            "region": "CM",
            "password": "correct-horse-battery-staple",
            "full_name": "Paul Biya Junior",
            "organization_name": f"Tontine {suffix}",
        },
    )
    assert registered.status_code == 201, registered.text
    # The identity service reads local numbers with CAURI_DEFAULT_REGION (CM here), as the API does.
    page = await logged_in(browser, f"690 {suffix[:2]} {suffix[2:4]} {suffix[4:]}", "correct-horse-battery-staple")
    assert "Bonjour Paul Biya Junior" in text_of(page)


async def test_failed_logins_are_throttled_like_the_api(browser: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    for _ in range(5):
        assert (await log_in(browser, owner.email, "wrong-password")).status_code == 401
    locked = await log_in(browser, owner.email, owner.password)
    assert locked.status_code == 429
    assert "Trop d'échecs : connexion bloquée pendant 15 min." in text_of(locked)
    assert int(locked.headers["retry-after"]) > 14 * 60


async def test_forms_without_the_token_or_from_another_site_are_refused(
    app: FastAPI, browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    page = await browser.get("/console/login")
    credentials = {"identifier": owner.email, "password": owner.password}
    no_token = await browser.post("/console/login", data=credentials)
    assert no_token.status_code == 403
    assert "Formulaire expiré ou envoyé depuis un autre site" in text_of(no_token)
    forged = await browser.post("/console/login", data={**credentials, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    token = {**credentials, "csrf_token": csrf_of(page)}
    elsewhere = await browser.post("/console/login", data=token, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    by_referer = await browser.post("/console/login", data=token, headers={"Referer": "https://evil.example/x"})
    assert by_referer.status_code == 403
    as_json = await browser.post("/console/login", json=token, headers={"Origin": "http://testserver"})
    assert as_json.status_code == 403
    # Another browser's token does not fit this browser's cookie.
    async with new_browser(app) as other:
        foreign = {**credentials, "csrf_token": csrf_of(await other.get("/console/login"))}
    other_cookie = await browser.post("/console/login", data=foreign, headers={"Origin": "http://testserver"})
    assert other_cookie.status_code == 403
    assert set_cookie_headers(other_cookie, "cauri_console") == []
    accepted = await browser.post("/console/login", data=token, headers={"Origin": "http://testserver"})
    assert accepted.status_code == 303


async def test_logout_needs_the_token_and_ends_the_session_everywhere(
    app: FastAPI, browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    dashboard = await logged_in(browser, owner.email, owner.password)
    session_cookie = browser.cookies["cauri_console"]
    refused = await browser.post("/console/logout", data={}, headers={"Origin": "http://testserver"})
    assert refused.status_code == 403
    assert (await browser.get("/console")).status_code == 200  # still logged in
    answer = await submit(browser, dashboard, "/console/logout")
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/login?reason=logged_out")
    [cookie] = set_cookie_headers(answer, "cauri_console")
    assert cookie["cauri_console"]["max-age"] == "0"
    assert "Vous êtes déconnecté·e." in text_of(await browser.get("/console/login?reason=logged_out"))
    # The old cookie, replayed, is dead: the identity login session was revoked.
    replay = await get_with_session(app, "/console", session_cookie)
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/console/login")


async def test_a_token_from_before_login_is_useless_after_it(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    login_page = await browser.get("/console/login")
    await logged_in(browser, owner.email, owner.password)
    stale = await submit(browser, login_page, "/console/logout")
    assert stale.status_code == 403


async def test_a_password_change_through_the_api_ends_console_sessions(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    await logged_in(browser, owner.email, owner.password)
    changed = await client.post(
        "/api/v1/auth/password/change",
        json={"current_password": owner.password, "new_password": "another-long-password"},
        headers=owner.headers,
    )
    assert changed.status_code == 204, changed.text
    answer = await browser.get("/console")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole&reason=expired"
    [cookie] = set_cookie_headers(answer, "cauri_console")
    assert cookie["cauri_console"]["max-age"] == "0"


async def test_forged_or_foreign_tokens_do_not_open_the_console(
    app: FastAPI, browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    await logged_in(browser, owner.email, owner.password)
    real = browser.cookies["cauri_console"]
    assert (await get_with_session(app, "/console", real)).status_code == 200
    tampered = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    assert (await get_with_session(app, "/console", tampered)).status_code == 303
    # An API access token is not a console session (other type), even though it is signed with the same key.
    assert (await get_with_session(app, "/console", owner.access_token)).status_code == 303
    # A bearer token does not open console pages: the console reads its cookie only.
    async with new_browser(app) as other:
        assert (await other.get("/console", headers=owner.headers)).status_code == 303
    claims = {"sub": str(owner.user_id), "typ": "console"}
    forged = encode_jwt("another-secret-key-of-enough-length-0123456789", {**claims, "sid": "x"}, timedelta(hours=1))
    assert (await get_with_session(app, "/console", forged)).status_code == 303
    # Signed with the right key but expired: refused too.
    secret = app.state.settings.secret_key.get_secret_value()
    stale = real_session_of(real)
    expired = encode_jwt(secret, {**claims, "sid": stale}, timedelta(seconds=-5))
    assert (await get_with_session(app, "/console", expired)).status_code == 303
    fresh = encode_jwt(secret, {**claims, "sid": stale}, timedelta(hours=1))
    assert (await get_with_session(app, "/console", fresh)).status_code == 200


async def test_after_login_only_console_paths_are_followed(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    for target in ("//evil.example/", "https://evil.example/console", "/\\evil.example", "/api/v1/auth/me"):
        async with new_browser(app) as browser:
            answer = await log_in(browser, owner.email, owner.password, next_url=target)
            assert answer.headers["location"] == "/console", target
    async with new_browser(app) as browser:
        answer = await log_in(browser, owner.email, owner.password, next_url="/console/organisations")
        assert answer.headers["location"] == "/console/organisations"
        # Already logged in: the login page sends the user on.
        again = await browser.get("/console/login?next=/console/organisations")
        assert (again.status_code, again.headers["location"]) == (303, "/console/organisations")


async def test_people_in_several_organisations_choose_one(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    first = await create_org_with_user(client, org_name=f"Première {uuid.uuid4().hex[:6]}")
    second = await create_org_with_user(client, org_name=f"Seconde {uuid.uuid4().hex[:6]}")
    email = unique_email("both")
    await add_member(client, first, role="gestionnaire", email=email)
    joined = await client.post(
        f"/api/v1/organizations/{second.organization_id}/members",
        json={"email": email, "role": "superviseur"},
        headers=second.headers,
    )
    assert joined.status_code == 201, joined.text
    answer = await log_in(browser, email, first.password)
    assert answer.headers["location"] == "/console/organisations?next=/console"
    picker = await browser.get(answer.headers["location"])
    text = text_of(picker)
    assert "Choisir une organisation" in text
    assert "Gestionnaire" in text and "Superviseur (lecture seule)" in text
    chosen = await submit(
        browser, picker, "/console/organisations", {"organization_id": str(second.organization_id), "next": "/console"}
    )
    assert (chosen.status_code, chosen.headers["location"]) == (303, "/console")
    dashboard = text_of(await browser.get("/console"))
    assert "Seconde" in dashboard and "Première" not in dashboard
    assert "Votre rôle permet de consulter, pas d'agir." in dashboard
    stranger = await create_org_with_user(client)
    refused = await submit(
        browser, picker, "/console/organisations", {"organization_id": str(stranger.organization_id)}
    )
    assert refused.status_code == 404
    assert "Organisation introuvable." in text_of(refused)


async def test_someone_without_an_organisation_is_told_so(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    loner = await register(client)
    page = await logged_in(browser, loner.email, loner.password)
    assert "Vous n'êtes membre d'aucune organisation" in text_of(page)


async def test_static_files_are_public_and_cached_by_content(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/login")
    [css_url] = [part.split('"')[0] for part in page.text.split('href="')[1:] if "console.css" in part]
    css = await browser.get(css_url)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    script = await browser.get("/console/static/console.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert (await browser.get("/console/static/../pages.py")).status_code == 404
