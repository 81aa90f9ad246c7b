"""Webhooks to organisations: a real receiver on 127.0.0.1, signatures, retries, the delivery log, replays."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

from cauri.core.signing import verify_signature
from cauri.kit.outcomes import Outcome
from cauri.kit.testing import serve_app
from cauri.payments.models import WebhookEndpoint
from tests.payments.support import create, eventually, fund, wait_status
from tests.support.identity import Actor, create_org_with_user


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, object]:
        parsed: dict[str, object] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An organisation's webhook receiver: answers the planned statuses in turn, then 200."""

    planned: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": f"{message['type']}.complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(headers, body))
        status, extra = self.planned.pop(0) if self.planned else (200, {})
        raw_headers = [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"not now"})

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.event["type"] == event_type]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    async with serve_app(target) as url:
        target.url = f"{url}/hooks/cauri"
        yield target


async def register(
    client: httpx.AsyncClient, actor: Actor, url: str, events: list[str] | None = None
) -> dict[str, str]:
    response = await client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "event_types": events or [], "description": "ERP"},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


async def deliveries(client: httpx.AsyncClient, actor: Actor, query: str = "") -> list[dict[str, object]]:
    response = await client.get(f"/api/v1/webhook-deliveries{query}", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_succeeded_collection_is_announced_signed(
    client: httpx.AsyncClient, receiver: Receiver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    endpoint = await register(client, owner, receiver.url, ["collection.succeeded", "collection.failed"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    listed = await client.get("/api/v1/webhook-endpoints", headers=owner.headers)
    assert listed.json()["next_cursor"] is None
    assert "secret" not in listed.json()["items"][0]
    async with sessionmaker() as session:
        stored = await session.get(WebhookEndpoint, uuid.UUID(endpoint["id"]))
        assert stored is not None and secret not in stored.secret_encrypted  # encrypted at rest

    created = await create(client, owner, "collection", amount=5000)
    await wait_status(client, owner, "collection", created["id"])

    async def announced() -> bool:
        return bool(receiver.of_type("collection.succeeded"))

    await eventually(announced, what="the webhook")
    [hook] = receiver.of_type("collection.succeeded")
    assert receiver.of_type("collection.pending") == []  # not subscribed
    assert verify_signature(secret, hook.headers["cauri-signature"], hook.body)
    assert not verify_signature(secret, hook.headers["cauri-signature"], hook.body + b" ")
    event = hook.event
    assert hook.headers["cauri-event-id"] == event["id"]
    assert hook.headers["cauri-event-type"] == "collection.succeeded"
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["id"], data["status"], data["amount"], data["fee"]) == (created["id"], "succeeded", 5000, 50)

    # The receiver answers before the delivery job commits its outcome: wait for the log, not for the hook.
    async def logged_delivered() -> bool:
        found = await deliveries(client, owner, f"?payment_id={created['id']}")
        return len(found) == 1 and found[0]["state"] == "delivered"

    await eventually(logged_delivered, what="the delivery log")
    [logged] = await deliveries(client, owner, f"?payment_id={created['id']}")
    assert (logged["state"], logged["attempts"], logged["last_status_code"]) == ("delivered", 1, 200)
    detail = (await client.get(f"/api/v1/webhook-deliveries/{logged['id']}", headers=owner.headers)).json()
    assert detail["payload"] == event
    assert [a["status_code"] for a in detail["attempt_log"]] == [200]

    # A replay sends the same event (same id) again, as a new delivery.
    replay = await client.post(f"/api/v1/webhook-deliveries/{logged['id']}/replay", headers=owner.headers)
    assert replay.status_code == 202
    assert replay.json()["replay_of_id"] == logged["id"]

    async def replayed() -> bool:
        return len(receiver.of_type("collection.succeeded")) == 2

    await eventually(replayed, what="the replay")
    again = receiver.of_type("collection.succeeded")[1]
    assert again.event["id"] == event["id"]
    assert verify_signature(secret, again.headers["cauri-signature"], again.body)


async def test_a_failing_receiver_is_retried_until_it_accepts(
    client: httpx.AsyncClient, receiver: Receiver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    endpoint = await register(client, owner, receiver.url, ["payout.failed"])
    receiver.planned = [(503, {"Retry-After": "1"}), (429, {"Retry-After": "1"}), (503, {"Retry-After": "1"})]
    await fund(sessionmaker, owner.organization_id, 10_000)
    payout = await create(client, owner, "payout", amount=2000, outcome=Outcome.LIMIT_REACHED)
    await wait_status(client, owner, "payout", payout["id"])

    async def accepted() -> bool:
        items = await deliveries(client, owner, f"?endpoint_id={endpoint['id']}")
        return bool(items) and items[0]["state"] == "delivered"

    await eventually(accepted, within=30, what="the delivery to be accepted")
    [logged] = await deliveries(client, owner, f"?endpoint_id={endpoint['id']}")
    assert logged["attempts"] == 4
    detail = (await client.get(f"/api/v1/webhook-deliveries/{logged['id']}", headers=owner.headers)).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [503, 429, 503, 200]
    assert detail["attempt_log"][0]["response_excerpt"] == "not now"
    ids = {r.event["id"] for r in receiver.received}
    assert len(ids) == 1  # every retry carries the same event id
    for hook in receiver.received:
        assert verify_signature(endpoint["secret"], hook.headers["cauri-signature"], hook.body)


async def test_a_receiver_down_is_retried_later_with_backoff(client: httpx.AsyncClient, receiver: Receiver) -> None:
    owner = await create_org_with_user(client)
    endpoint = await register(client, owner, receiver.url)
    receiver.planned = [(500, {})] * 5
    created = await create(client, owner, "collection", outcome=Outcome.REJECTED_BY_PAYER)
    await wait_status(client, owner, "collection", created["id"])

    async def first_attempt_failed() -> bool:
        items = await deliveries(client, owner, "?event_type=collection.failed")
        return bool(items) and items[0]["attempts"] == 1

    await eventually(first_attempt_failed, what="a first failed attempt")
    [logged] = await deliveries(client, owner, "?event_type=collection.failed")
    assert logged["state"] == "pending"
    assert logged["last_status_code"] == 500
    assert logged["last_error"] == "HTTP 500"
    next_at = datetime.fromisoformat(str(logged["next_attempt_at"]))
    last_at = datetime.fromisoformat(str(logged["last_attempt_at"]))
    assert timedelta(seconds=8) < next_at - last_at < timedelta(seconds=12)  # 10 s ± jitter, not hammering
    give_up = datetime.fromisoformat(str(logged["give_up_at"]))
    created_at = datetime.fromisoformat(str(logged["created_at"]))
    assert give_up - created_at == timedelta(days=3)

    # Disabling the endpoint stops everything: no new delivery for the next events.
    assert (
        await client.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=owner.headers)
    ).status_code == 204
    other = await create(client, owner, "collection", outcome=Outcome.REJECTED_BY_PAYER)
    await wait_status(client, owner, "collection", other["id"])
    assert await deliveries(client, owner, f"?payment_id={other['id']}") == []
    refused = await client.post(f"/api/v1/webhook-deliveries/{logged['id']}/replay", headers=owner.headers)
    assert refused.status_code == 409


async def test_endpoints_and_deliveries_are_private_and_validated(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    owner = await create_org_with_user(client)
    stranger = await create_org_with_user(client)
    endpoint = await register(client, owner, receiver.url)
    bad_url = await client.post("/api/v1/webhook-endpoints", json={"url": "ftp://x"}, headers=owner.headers)
    assert bad_url.status_code == 422 and bad_url.json()["field"] == "url"
    bad_event = await client.post(
        "/api/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["nope"]}, headers=owner.headers
    )
    assert bad_event.status_code == 422 and bad_event.json()["field"] == "event_types"
    assert (await client.get("/api/v1/webhook-endpoints", headers=stranger.headers)).json()["items"] == []
    assert (
        await client.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=stranger.headers)
    ).status_code == 404
    rotated = await client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=owner.headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != endpoint["secret"]
    assert (await client.get(f"/api/v1/webhook-deliveries/{uuid.uuid4()}", headers=owner.headers)).status_code == 404
