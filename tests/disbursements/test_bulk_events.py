"""A batch's events reach the organisation's webhook endpoints too (not only the batch's ``callback_url``),
through the one signed delivery every module uses; and a failure reads the same for a single payout and a bulk
line, in French and in English."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, verify_signature
from cauri.disbursements.models import BulkCallback
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.testing import CallbackSink, serve_app
from tests.disbursements.support import (
    CURRENCY,
    Team,
    act,
    all_lines,
    fund,
    standard_file,
    team,
    upload,
    wait_state,
)
from tests.payments.support import create, eventually, wait_status
from tests.payments.test_webhooks_out import Receiver as PlannedReceiver
from tests.support.identity import Actor


async def register(client: httpx.AsyncClient, actor: Actor, url: str, events: list[str]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhook-endpoints", json={"url": url, "event_types": events}, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def delivery_log(client: httpx.AsyncClient, actor: Actor) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/webhook-deliveries", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


Receiver = tuple[CallbackSink, str]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The organisation's systems: one server on 127.0.0.1 taking every endpoint's and callback's requests."""
    sink = CallbackSink()
    async with serve_app(sink) as url:
        yield sink, url


async def funded_team(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> Team:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    return people


async def batch_callbacks(sessionmaker: async_sessionmaker[AsyncSession], batch_id: str) -> list[BulkCallback]:
    async with sessionmaker() as session:
        rows = await session.execute(select(BulkCallback).where(BulkCallback.batch_id == uuid.UUID(batch_id)))
        return list(rows.scalars())


def paid_file(lines: int) -> bytes:
    return standard_file([(magic_phone(Outcome.SUCCESS, "CM"), 1000 + index) for index in range(lines)])


async def test_batch_events_are_delivered_signed_to_the_organisations_endpoints(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    people = await funded_team(client, sessionmaker)
    sink, sink_url = receiver
    bulk_events = ["bulk.progress", "bulk.completed", "bulk.partially_completed", "bulk.failed"]
    endpoint = await register(client, people.owner, f"{sink_url}/erp", bulk_events)
    await register(client, people.owner, f"{sink_url}/payouts-only", ["payout.succeeded"])
    created = await upload(
        client, people.maker, paid_file(8), callback_url=f"{sink_url}/batch", callback_progress="true"
    )
    await act(client, people.maker, created["id"], "submit")
    assert (await wait_state(client, people.maker, created["id"]))["state"] == "COMPLETED"
    to_endpoint = await sink.wait_for(4, path="/erp", within=20)
    to_callback = await sink.wait_for(4, path="/batch", within=20)

    # The endpoint's copy: signed with the endpoint's secret (not the batch's), the same events, same ids.
    assert len(to_endpoint) == 4
    bodies = []
    for hook in to_endpoint:
        signature = hook.headers[SIGNATURE_HEADER.lower()]
        assert verify_signature(endpoint["secret"], signature, hook.body)
        assert not verify_signature(created["callback_secret"], signature, hook.body)
        body = json.loads(hook.body)
        assert hook.headers[EVENT_ID_HEADER.lower()] == body["id"]
        assert hook.headers[EVENT_TYPE_HEADER.lower()] == body["type"]
        assert body["organization_id"] == str(people.organization_id)
        assert body["data"]["id"] == created["id"]
        bodies.append(body)
    assert sorted((body["type"], body["data"].get("milestone") or 100) for body in bodies) == [
        ("bulk.completed", 100),
        ("bulk.progress", 25),
        ("bulk.progress", 50),
        ("bulk.progress", 75),
    ]
    by_id = {json.loads(hook.body)["id"]: hook.body for hook in to_callback}
    assert {body["id"] for body in bodies} == set(by_id)  # one event, two receivers
    assert all(json.loads(by_id[body["id"]]) == body for body in bodies)
    assert sink.for_path("/payouts-only") == []  # not subscribed to batch events

    # Logged like payment webhooks, and replayable under the same event id. The receiver answers before each
    # delivery commits its outcome: wait for the log, not for the hooks.
    async def bulk_log() -> list[dict[str, Any]]:
        return [item for item in await delivery_log(client, people.owner) if item["event_type"].startswith("bulk.")]

    async def all_logged() -> bool:
        return [item["state"] for item in await bulk_log()] == ["delivered"] * 4

    await eventually(all_logged, what="four delivered batch events in the log")
    logged = await bulk_log()
    assert len(logged) == 4
    assert {(item["state"], item["attempts"], item["payment_id"]) for item in logged} == {("delivered", 1, None)}
    final = next(item for item in logged if item["event_type"] == "bulk.completed")
    replayed = await client.post(f"/api/v1/webhook-deliveries/{final['id']}/replay", headers=people.owner.headers)
    assert replayed.status_code in (200, 201, 202), replayed.text
    again = await sink.wait_for(5, path="/erp", within=20)
    assert len(again) == 5
    assert json.loads(again[-1].body) == next(body for body in bodies if body["type"] == "bulk.completed")

    async def callback_delivered() -> bool:
        async with sessionmaker() as session:
            callback = await session.get(BulkCallback, uuid.UUID(bodies[-1]["id"]))
            return callback is not None and callback.state == "delivered"

    await eventually(callback_delivered, what="the batch callback's delivered mark")


async def test_a_batch_without_callback_url_still_tells_the_endpoints_and_unknown_events_are_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    people = await funded_team(client, sessionmaker)
    sink, sink_url = receiver
    await register(client, people.owner, f"{sink_url}/all", [])  # every event
    created = await upload(client, people.maker, paid_file(3))
    await act(client, people.maker, created["id"], "submit")
    await wait_state(client, people.maker, created["id"])
    [hook] = await sink.wait_for(1, path="/all", within=20)
    assert json.loads(hook.body)["type"] == "bulk.completed"  # no progress asked: only the end
    refused = await client.post(
        "/api/v1/webhook-endpoints",
        json={"url": "https://example.org/hooks", "event_types": ["bulk.exploded"]},
        headers={**people.owner.headers, "Accept-Language": "en"},
    )
    assert refused.status_code == 422
    assert "bulk.exploded" in refused.text


async def test_a_failure_reads_the_same_for_a_single_payout_and_a_bulk_line(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await funded_team(client, sessionmaker)
    blocked = Outcome.ACCOUNT_INACTIVE
    single = await create(client, people.owner, "payout", phone=magic_phone(blocked, "SN"), currency=CURRENCY)
    await wait_status(client, people.owner, "payout", single["id"])
    created = await upload(client, people.maker, standard_file([(magic_phone(blocked, "CM"), 20_000)]))
    await act(client, people.maker, created["id"], "submit")
    await wait_state(client, people.maker, created["id"])

    async def messages(language: str) -> tuple[tuple[str, str], tuple[str, str]]:
        headers = {**people.owner.headers, "Accept-Language": language}
        payout = (await client.get(f"/api/v1/payouts/{single['id']}", headers=headers)).json()
        status = await client.get(f"/api/v1/bulk-transfers/{created['id']}/status", headers=headers)
        [line] = status.json()["lines"]
        return (payout["failure_reason"], payout["failure_message"]), (line["failure_reason"], line["failure_message"])

    async def settled() -> bool:
        return bool(await all_lines(client, people.owner, created["id"], state="FAILED"))

    await eventually(settled, what="the failed line")
    french_payout, french_line = await messages("fr")
    english_payout, english_line = await messages("en")
    assert french_payout == french_line == ("account_inactive", "Le compte mobile money est inactif ou bloqué.")
    assert english_payout == english_line == ("account_inactive", "The mobile-money account is inactive or blocked.")


async def test_a_batch_callback_honours_the_receivers_retry_after(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The shared delivery: a 503 with ``Retry-After: 1`` is tried again after a second, not after the 10 s of
    the backoff schedule."""
    people = await funded_team(client, sessionmaker)
    busy = PlannedReceiver(planned=[(503, {"Retry-After": "1"}), (429, {"Retry-After": "1"})])
    async with serve_app(busy) as url:
        created = await upload(client, people.maker, paid_file(2), callback_url=f"{url}/batch")
        await act(client, people.maker, created["id"], "submit")
        await wait_state(client, people.maker, created["id"])

        async def delivered() -> bool:
            callbacks = await batch_callbacks(sessionmaker, created["id"])
            return bool(callbacks) and callbacks[0].state == "delivered"

        await eventually(delivered, within=8, what="the callback after two Retry-After answers")
    assert len(busy.received) == 3
    assert len({json.loads(hit.body)["id"] for hit in busy.received}) == 1  # one event, tried three times
    [callback] = await batch_callbacks(sessionmaker, created["id"])
    assert (callback.attempts, callback.last_status_code) == (3, 200)
