"""In-app notifications over HTTP on SQLite and PostgreSQL: listing with the unread filter and keyset paging, the
unread count, mark read (ids or all), a person sees only their own; and the live stream delivered across two API
processes through Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.db import unit_of_work
from cauri.kit.testing import serve_app
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify
from tests.conftest import make_settings, service_url
from tests.jobs.support import fresh_database
from tests.support.identity import Actor, register

INBOX = register_kind(
    NotificationKind("test.inbox", channels=("in_app", "email"), templates=Path(__file__).parent / "kind_templates")
)
LIST = "/api/v1/notifications"


async def tell(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID, n: int, *, language: str = "fr"
) -> None:
    async with unit_of_work(sessionmaker) as session:
        await notify(
            session,
            kind="test.inbox",
            recipient=Recipient(user_id, language=language),
            context={"n": n, "amount": 10000},
            object_id=f"{user_id}:{n}",
        )


async def unread(client: httpx.AsyncClient, actor: Actor) -> int:
    response = await client.get(f"{LIST}/unread-count", headers=actor.headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["unread"]
    return count


async def test_list_page_count_and_mark_read_only_ones_own(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    awa, jean = await register(client), await register(client)
    for n in (1, 2, 3):
        await tell(sessionmaker, awa.user_id, n)
    await tell(sessionmaker, awa.user_id, 3)  # the same object again: nothing new
    await tell(sessionmaker, jean.user_id, 1, language="en")

    first = await client.get(LIST, params={"limit": 2}, headers=awa.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [item["title"] for item in page["items"]] == ["Message n°3", "Message n°2"]
    assert page["items"][0]["body"] == "Vous avez reçu 10\u202f000\xa0F\u202fCFA."
    assert page["items"][0]["read_at"] is None and page["items"][0]["kind"] == "test.inbox"
    second = await client.get(LIST, params={"limit": 2, "cursor": page["next_cursor"]}, headers=awa.headers)
    assert [item["title"] for item in second.json()["items"]] == ["Message n°1"]
    assert second.json()["next_cursor"] is None
    assert await unread(client, awa) == 3

    [jeans] = (await client.get(LIST, headers=jean.headers)).json()["items"]
    assert jeans["title"] == "Message #1"
    newest = page["items"][0]["id"]
    marked = await client.post(f"{LIST}/mark-read", json={"ids": [newest, jeans["id"]]}, headers=awa.headers)
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 1, "unread": 2}  # Jean's notification is not Awa's to mark
    assert await unread(client, jean) == 1
    unread_only = (await client.get(LIST, params={"unread": "true"}, headers=awa.headers)).json()["items"]
    assert [item["title"] for item in unread_only] == ["Message n°2", "Message n°1"]
    everything = await client.post(f"{LIST}/mark-read", json={"all": True}, headers=awa.headers)
    assert everything.json() == {"marked": 2, "unread": 0}
    again = await client.post(f"{LIST}/mark-read", json={"all": True}, headers=awa.headers)
    assert again.json() == {"marked": 0, "unread": 0}
    assert await unread(client, jean) == 1


async def test_bad_requests_are_problems_naming_the_field(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    headers = {**actor.headers, "Accept-Language": "en"}
    for body in ({}, {"ids": [str(uuid.uuid4())], "all": True}):
        response = await client.post(f"{LIST}/mark-read", json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "ids"
    bad_cursor = await client.get(LIST, params={"cursor": "not-a-cursor"}, headers=headers)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"
    for path in (LIST, f"{LIST}/unread-count", f"{LIST}/stream"):
        assert (await client.get(path)).status_code == 401
    assert (await client.post(f"{LIST}/mark-read", json={"all": True})).status_code == 401


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path) as url:
        yield url


async def next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    event, data = "message", ""
    async for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            return event, json.loads(data)
    raise AssertionError("the stream ended")


async def test_the_stream_delivers_what_another_api_process_stores(database: str, tmp_path: Path) -> None:
    # Two API processes sharing the database and Redis; the stream's own poll is slow (60 s): what arrives within
    # seconds came through pub/sub.
    shared = {
        "redis_url": service_url("redis"),
        "redis_namespace": f"t{uuid.uuid4().hex[:12]}",
        "notification_stream_poll_seconds": 60,
    }
    watching = create_app(make_settings(database, tmp_path / "a", **shared))
    writing = create_app(make_settings(database, tmp_path / "b", **shared))
    async with (
        serve_app(watching) as url_a,
        serve_app(writing) as url_b,
        httpx.AsyncClient(base_url=url_b, timeout=30) as client_b,
    ):
        actor = await register(client_b)
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=30) as client_a,
            client_a.stream("GET", f"{LIST}/stream", headers=actor.headers) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            await tell(writing.state.sessionmaker, actor.user_id, 7)
            event, data = await asyncio.wait_for(next_event(lines), timeout=10)
            assert event == "notification"
            assert data["title"] == "Message n°7" and data["read_at"] is None
            other = await register(client_b)
            await tell(writing.state.sessionmaker, other.user_id, 8)  # someone else's: not on this stream
            await tell(writing.state.sessionmaker, actor.user_id, 9)
            event, data = await asyncio.wait_for(next_event(lines), timeout=10)
            assert data["title"] == "Message n°9"
