"""Messaging: only people a booking (or request) links may write to each other; conversations with unread counts,
messages keyset paged, read receipts, the rate limit, the seed's routes; and the ``/ws/messages`` WebSocket —
authenticated, live across two API processes sharing Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.kit.testing import serve_app
from cauri.rentals import messaging
from tests.conftest import service_url
from tests.rentals.conftest import Market, Member, join, published

RENTALS = "/api/v1/rentals"
SEED = "/lokahome/api/v1/messages"


async def _linked(
    client: httpx.AsyncClient, market: Market, *, stranger: bool = True
) -> tuple[Member, Member, Member | None, str, str]:
    """A landlord, a tenant who asked to book the landlord's listing, a stranger; the listing and the request."""
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    outsider = await join(client, market, "tenant") if stranger else None
    prop = await published(client, landlord, minimum_stay=None)
    body = {"property_id": prop["id"], "start_date": "2030-06-01", "end_date": "2030-06-03"}
    booking = await client.post(f"{RENTALS}/bookings", json=body, headers=tenant.headers)
    assert booking.status_code == 201, booking.text
    return landlord, tenant, outsider, prop["id"], booking.json()["id"]


async def test_conversations_unread_counts_paging_and_read_receipts(client: httpx.AsyncClient, market: Market) -> None:
    landlord, tenant, stranger, prop_id, booking_id = await _linked(client, market)
    assert stranger is not None

    # Nobody links the stranger to the landlord: refused, naming the field, nothing written.
    for body, field in (
        ({"property_id": prop_id, "content": "Bonjour"}, "recipient_id"),
        ({"booking_id": booking_id, "content": "Bonjour"}, "booking_id"),
        ({"property_id": prop_id, "recipient_id": str(tenant.user_id), "content": "Salut"}, "recipient_id"),
    ):
        refused = await client.post(f"{RENTALS}/messages", json=body, headers=stranger.headers)
        assert refused.status_code == 403, refused.text
        assert (refused.json()["code"], refused.json()["field"]) == ("rental_message_not_allowed", field)
    assert (await client.get(f"{RENTALS}/conversations", headers=stranger.headers)).json()["items"] == []
    english = await client.post(
        f"{RENTALS}/messages",
        json={"property_id": prop_id, "content": "   "},
        headers={**tenant.headers, "Accept-Language": "en"},
    )
    assert english.status_code == 422 and "content" in english.text

    # The tenant writes about the listing (to its landlord by default), then about the booking: one conversation.
    first = await client.post(
        f"{RENTALS}/messages",
        json={"property_id": prop_id, "content": "Bonjour, la clim marche ?"},
        headers=tenant.headers,
    )
    assert first.status_code == 201, first.text
    conversation_id = first.json()["conversation_id"]
    assert first.json()["receiver_id"] == str(landlord.user_id) and first.json()["read_at"] is None
    second = await client.post(
        f"{RENTALS}/messages", json={"booking_id": booking_id, "content": "Et le parking ?"}, headers=tenant.headers
    )
    assert second.json()["conversation_id"] == conversation_id
    answer = await client.post(
        f"{RENTALS}/conversations/{conversation_id}/messages",
        json={"content": "Oui aux deux."},
        headers=landlord.headers,
    )
    assert answer.status_code == 201 and answer.json()["receiver_id"] == str(tenant.user_id)

    listed = (await client.get(f"{RENTALS}/conversations", headers=landlord.headers)).json()["items"]
    assert [(c["id"], c["unread"], c["other_user_id"], c["booking_id"]) for c in listed] == [
        (conversation_id, 2, str(tenant.user_id), booking_id)
    ]
    assert listed[0]["last_message"]["content"] == "Oui aux deux."
    assert (await client.get(f"{RENTALS}/messages/unread", headers=tenant.headers)).json() == {"unread": 1}

    # Keyset paging, newest first; a stranger cannot read the conversation.
    path = f"{RENTALS}/conversations/{conversation_id}/messages"
    page = (await client.get(path, params={"limit": 2}, headers=tenant.headers)).json()
    rest = (await client.get(path, params={"limit": 2, "cursor": page["next_cursor"]}, headers=tenant.headers)).json()
    assert [m["content"] for m in page["items"] + rest["items"]] == [
        "Oui aux deux.",
        "Et le parking ?",
        "Bonjour, la clim marche ?",
    ]
    assert rest["next_cursor"] is None
    assert (await client.get(path, headers=stranger.headers)).status_code == 404
    intruder = await client.post(path, json={"content": "Coucou"}, headers=stranger.headers)
    assert intruder.status_code == 404 and intruder.json()["code"] == "rental_conversation_not_found"

    # Read receipts: the landlord reads; the tenant sees read_at on what they sent.
    read = await client.post(f"{RENTALS}/conversations/{conversation_id}/read", headers=landlord.headers)
    assert read.json() == {"marked": 2, "unread": 0}
    mine = (await client.get(path, headers=tenant.headers)).json()["items"]
    assert [m["read_at"] is not None for m in mine] == [False, True, True]
    one = await client.post(f"{RENTALS}/messages/{mine[0]['id']}/read", headers=tenant.headers)
    assert one.json()["read_at"] is not None
    assert (await client.post(f"{RENTALS}/messages/{mine[0]['id']}/read", headers=stranger.headers)).status_code == 404


async def test_the_seed_routes(client: httpx.AsyncClient, market: Market) -> None:
    landlord, tenant, stranger, prop_id, _ = await _linked(client, market)
    assert stranger is not None
    sent = await client.post(
        SEED,
        json={"receiver_id": str(landlord.user_id), "property_id": prop_id, "content": "Bonjour"},
        headers=tenant.headers,
    )
    assert sent.status_code == 201, sent.text
    assert (sent.json()["is_read"], sent.json()["property_id"]) == (False, prop_id)
    refused = await client.post(
        SEED,
        json={"receiver_id": str(landlord.user_id), "property_id": prop_id, "content": "Bonjour"},
        headers=stranger.headers,
    )
    assert refused.status_code == 403 and refused.json()["field"] == "recipient_id"
    listed = (await client.get(f"{SEED}/conversations", headers=landlord.headers)).json()
    assert [(c["user_id"], c["unread_count"]) for c in listed] == [(str(tenant.user_id), 1)]
    thread = (await client.get(f"{SEED}/conversation/{tenant.user_id}", headers=landlord.headers)).json()
    assert [m["content"] for m in thread] == ["Bonjour"]
    read = await client.put(f"{SEED}/{thread[0]['id']}/read", headers=landlord.headers)
    assert read.status_code == 200 and read.json()["is_read"] is True


async def test_sending_is_rate_limited(
    client: httpx.AsyncClient, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messaging, "SEND_LIMIT", 3)
    _, tenant, _, prop_id, _ = await _linked(client, market, stranger=False)
    answers = [
        await client.post(
            f"{RENTALS}/messages", json={"property_id": prop_id, "content": f"n°{n}"}, headers=tenant.headers
        )
        for n in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[-1].json()["code"] == "rental_messages_rate_limited" and int(answers[-1].headers["Retry-After"]) >= 1
    conversation_id = answers[0].json()["conversation_id"]
    kept = (await client.get(f"{RENTALS}/conversations/{conversation_id}/messages", headers=tenant.headers)).json()
    assert len(kept["items"]) == 3  # the refused one was not written


def _ws(base_url: str, token: str | None = None, path: str = f"{RENTALS}/ws/messages") -> str:
    url = base_url.replace("http://", "ws://") + path
    return f"{url}?token={token}" if token is not None else url


async def _event(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind`` (others, such as the echo of one's own message, are passed over)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if frame["type"] == kind:
            return frame


async def _subscribed(*sockets: ClientConnection) -> None:
    """Each socket's Redis subscription is live: a ping answered after ``ready`` went through the same reader."""
    for ws in sockets:
        await ws.send(json.dumps({"type": "ping"}))
        await _event(ws, "pong")


@asynccontextmanager
async def _two_processes(settings: Settings, tmp: Any) -> AsyncIterator[tuple[str, str]]:
    """Two API processes sharing the database and Redis (pub/sub, limits), both subscribed once this yields."""
    shared = {"redis_url": service_url("redis"), "redis_namespace": f"t{uuid.uuid4().hex[:12]}"}
    first = create_app(settings.model_copy(update={**shared, "files_dir": tmp / "a"}))
    second = create_app(settings.model_copy(update={**shared, "files_dir": tmp / "b"}))
    async with serve_app(first) as url_a, serve_app(second) as url_b:
        yield url_a, url_b


async def test_the_websocket_is_authenticated_and_live_across_processes(
    client: httpx.AsyncClient, market: Market, settings: Settings, tmp_path: Any
) -> None:
    landlord, tenant, _, prop_id, _ = await _linked(client, market, stranger=False)
    async with _two_processes(settings, tmp_path) as (url_a, url_b):
        # No token, a forged one: closed with 4401 and a reason (French by default, English on request).
        for token, headers in ((None, {}), ("not-a-jwt", {"Accept-Language": "en"})):
            async with connect(_ws(url_a, token), additional_headers=headers) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
            assert closed.value.rcvd.reason
        assert "Jeton" in closed.value.rcvd.reason or "token" in closed.value.rcvd.reason.lower()

        async with (
            connect(_ws(url_a, landlord.access_token)) as landlord_ws,
            connect(_ws(url_b, tenant.access_token, "/lokahome/ws/messages")) as tenant_ws,
        ):
            assert (await _event(landlord_ws, "ready"))["user_id"] == str(landlord.user_id)
            assert (await _event(tenant_ws, "ready"))["user_id"] == str(tenant.user_id)
            await _subscribed(landlord_ws, tenant_ws)
            # The tenant writes over REST to process B; the landlord's socket on process A hears it.
            async with httpx.AsyncClient(base_url=url_b, timeout=30) as http_b:
                sent = await http_b.post(
                    f"{RENTALS}/messages", json={"property_id": prop_id, "content": "Bonjour !"}, headers=tenant.headers
                )
            assert sent.status_code == 201, sent.text
            heard = await _event(landlord_ws, "message")
            assert heard["message"]["content"] == "Bonjour !" and heard["message"]["id"] == sent.json()["id"]
            conversation_id = heard["message"]["conversation_id"]

            # The landlord answers on the socket (A); the tenant's socket (B) hears it; a bad frame is an error frame.
            await landlord_ws.send(json.dumps({"type": "send", "conversation_id": conversation_id, "content": ""}))
            error = await _event(landlord_ws, "error")
            assert (error["code"], error["field"]) == ("validation_error", "content")
            await landlord_ws.send(
                json.dumps({"type": "send", "conversation_id": conversation_id, "content": "Bienvenue", "ref": "r1"})
            )
            ack = await _event(landlord_ws, "ack")
            assert ack["ref"] == "r1"
            echo = await _event(
                tenant_ws, "message"
            )  # the tenant's own message first: every socket of a person hears it
            assert echo["message"]["content"] == "Bonjour !"
            assert (await _event(tenant_ws, "message"))["message"]["content"] == "Bienvenue"

            # Read receipt: the landlord reads on the socket; the tenant hears which messages were read.
            await landlord_ws.send(json.dumps({"type": "read", "conversation_id": conversation_id}))
            receipt = await _event(tenant_ws, "read")
            assert receipt["message_ids"] == [sent.json()["id"]] and receipt["reader_id"] == str(landlord.user_id)
