"""The console's notification pages over HTTP, on SQLite and PostgreSQL: the bell's count in the header, the list
(unread filter, paging, mark one / all read, another person's id changes nothing), the live count stream, and the
preferences page (mandatory kinds locked, a kind turned off on one channel, quiet hours, bad times refused)."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.notifications import preferences
from cauri.notifications.kinds import kind_named, registered_kinds
from tests.support.console_notifications import CONSOLE_NOTICE, tell
from tests.support.identity import Actor, create_org_with_user
from tests.web.support import csrf_of, logged_in, new_browser, submit, text_of

LIST = "/console/notifications"
PREFS = "/console/notifications/preferences"


def badge(page: httpx.Response) -> str:
    match = re.search(r'data-testid="unread-count"( hidden)?>(\d+)<', page.text)
    assert match, "no bell on the page"
    return "hidden" if match.group(1) else match.group(2)


async def test_bell_list_mark_read_and_mark_all(
    app: FastAPI,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    awa, jean = await create_org_with_user(client), await create_org_with_user(client)
    dashboard = await logged_in(browser, awa.email, awa.password)
    assert badge(dashboard) == "hidden"
    for n in range(1, 24):  # more than a page (20)
        await tell(sessionmaker, awa.user_id, n)
    await tell(sessionmaker, jean.user_id, 1)

    page = await browser.get("/console")
    assert badge(page) == "23"
    assert 'aria-label="Notifications, 23 non lue(s)"' in page.text
    listing = await browser.get(LIST)
    assert listing.status_code == 200
    text = text_of(listing)
    assert "23 non lue(s)" in text
    assert text.index("Cotisation n°23 reçue") < text.index("Cotisation n°4 reçue")
    assert "Cotisation n°3 reçue" not in text  # on the next page
    assert "Vous avez reçu 230 000 F CFA." in text
    more = re.search(r'href="(/console/notifications\?cursor=[^"]+)" rel="next"', listing.text)
    assert more, "a next page"
    second = await browser.get(more.group(1).replace("&amp;", "&"))
    assert "Cotisation n°1 reçue" in text_of(second) and "Cotisation n°23" not in text_of(second)

    # Mark one read: by its own form; Jean's id in the same post changes nothing of his.
    newest = re.search(r'name="id" value="([0-9a-f-]{36})"', listing.text)
    assert newest
    jeans = await ids_of(client, jean)
    answer = await browser.post(
        f"{LIST}/mark-read",
        data={"csrf_token": csrf_of(listing), "id": [newest.group(1), *jeans]},
        headers={"Origin": "http://testserver"},
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("marked=1")
    after = await browser.get(answer.headers["location"])
    assert "1 notification(s) marquée(s) comme lue(s)." in text_of(after)
    assert badge(after) == "22"
    unread_only = await browser.get(f"{LIST}?unread=1")
    assert "Cotisation n°23 reçue" not in text_of(unread_only) and "Cotisation n°22 reçue" in text_of(unread_only)
    assert (await browser.get(f"{LIST}/unread-count", headers={"Accept": "application/json"})).json() == {"unread": 22}

    everything = await submit(browser, unread_only, f"{LIST}/mark-read", {"all": "1", "unread": "1"})
    assert everything.status_code == 303 and everything.headers["location"] == f"{LIST}?unread=1&marked=22"
    emptied = await browser.get(everything.headers["location"])
    assert "Aucune notification non lue." in text_of(emptied) and badge(emptied) == "hidden"
    assert "Tout marquer comme lu" not in text_of(emptied)
    # Jean still has his.
    async with new_browser(app) as other:
        assert badge(await logged_in(other, jean.email, jean.password)) == "1"


async def ids_of(client: httpx.AsyncClient, person: Actor) -> list[str]:
    """The ids of someone's notifications, read through the API as that person."""
    response = await client.get("/api/v1/notifications", headers=person.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_mark_read_needs_the_csrf_token(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    awa = await create_org_with_user(client)
    await logged_in(browser, awa.email, awa.password)
    await tell(sessionmaker, awa.user_id, 1)
    forged = await browser.post(f"{LIST}/mark-read", data={"all": "1"}, headers={"Origin": "http://testserver"})
    assert forged.status_code == 403
    assert badge(await browser.get(LIST)) == "1"


async def test_the_stream_announces_a_new_notification(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    awa = await create_org_with_user(client)
    async with new_browser(app) as browser:
        await logged_in(browser, awa.email, awa.password)
        cookie = {"Cookie": f"cauri_console={browser.cookies['cauri_console']}"}
    base_url = app.state.settings.public_base_url
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        http.stream("GET", f"{LIST}/stream", headers=cookie) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        await tell(sessionmaker, awa.user_id, 7)

        async def first_event() -> dict[str, str]:
            async for line in lines:
                if line.startswith("data:"):
                    data: dict[str, str] = json.loads(line[5:])
                    return data
            raise AssertionError("the stream ended")

        event = await asyncio.wait_for(first_event(), timeout=20)
    assert event["title"] == "Cotisation n°7 reçue" and event["kind"] == CONSOLE_NOTICE.name


async def test_preferences_page_locks_mandatory_kinds_and_saves_choices(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    awa = await create_org_with_user(client)
    await logged_in(browser, awa.email, awa.password)
    page = await browser.get(PREFS)
    assert page.status_code == 200
    text = text_of(page)
    assert "Préférences de notification" in text and "Codes de sécurité" in text
    code_box = re.search(r'data-testid="kind-auth.code">(.*?)</fieldset>', page.text, flags=re.S)
    assert code_box and "disabled" in code_box.group(1) and 'name="on"' not in code_box.group(1)
    assert "Obligatoire : ne peut pas être désactivé" in code_box.group(1)
    assert 'value="console.notice|in_app" checked' in page.text
    assert "Fuseau horaire : Africa/Lagos" in text

    # Turn console.notice off by e-mail (leave in-app on), quiet hours 22:00 → 07:00.
    kept = [f"{kind.name}|{channel}" for kind in registered_kinds() if not kind.mandatory for channel in kind.channels]
    kept.remove("console.notice|email")
    saved = await browser.post(
        PREFS,
        data={
            "csrf_token": csrf_of(page),
            "on": kept,
            "quiet": "1",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
        headers={"Origin": "http://testserver"},
    )
    assert saved.status_code == 303, text_of(saved)
    again = await browser.get(saved.headers["location"])
    assert "Préférences enregistrées." in text_of(again)
    assert 'value="console.notice|email">' in again.text and 'value="console.notice|in_app" checked' in again.text
    assert 'value="22:00"' in again.text and 'value="07:00"' in again.text
    async with sessionmaker() as session:
        channels = await preferences.accepted_channels(session, awa.user_id, CONSOLE_NOTICE)
        window = await preferences.quiet_window(session, awa.user_id)
        mandatory = await preferences.accepted_channels(session, awa.user_id, kind_named("auth.code"))
    assert channels == ["in_app"]
    assert window == preferences.Window(22 * 60, 7 * 60)
    assert mandatory == ["email", "sms"]

    # Same start and end: the service's words, on the page, nothing changed.
    refused = await submit(browser, again, PREFS, {"quiet": "1", "quiet_start": "08:00", "quiet_end": "08:00"})
    assert refused.status_code == 422
    assert "Les heures calmes doivent finir à une autre heure que leur début." in text_of(refused)
    bad = await submit(browser, again, PREFS, {"quiet": "1", "quiet_start": "25:00", "quiet_end": "08:00"})
    assert bad.status_code == 422 and "Heure invalide" in text_of(bad)
    async with sessionmaker() as session:
        assert await preferences.accepted_channels(session, awa.user_id, CONSOLE_NOTICE) == ["in_app"]
        assert await preferences.quiet_window(session, awa.user_id) == preferences.Window(22 * 60, 7 * 60)

    # Quiet hours off.
    off = await submit(browser, again, PREFS, {"on": "console.notice|in_app"})
    assert off.status_code == 303
    async with sessionmaker() as session:
        assert await preferences.quiet_window(session, awa.user_id) is None


async def test_pages_in_english_by_accept_language(client: httpx.AsyncClient, app: FastAPI) -> None:
    awa = await create_org_with_user(client)
    async with new_browser(app) as browser:
        browser.headers["Accept-Language"] = "en-GB,en;q=0.9"
        await logged_in(browser, awa.email, awa.password)
        listing = text_of(await browser.get(LIST))
        prefs = text_of(await browser.get(PREFS))
    assert "0 unread" in listing and "No notifications." in listing
    assert "Notification preferences" in prefs and "Required: cannot be turned off" in prefs
    assert "Quiet hours" in prefs and "Time zone: Africa/Lagos" in prefs


async def test_pages_need_a_login(browser: httpx.AsyncClient) -> None:
    for path in (LIST, PREFS):
        answer = await browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
