"""``POST/DELETE /api/v1/notifications/devices`` on SQLite and PostgreSQL: login required, a user manages only
their own devices, re-registering is an update, a token moves to whoever registers it last, bad input is a 422
naming the field."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from cauri.core.db import unit_of_work
from cauri.notifications.models import Notification, PushDevice
from cauri.notifications.push.devices import queue_push
from tests.notifications.push_support import device_token
from tests.support.identity import Actor, create_api_key, register
from tests.support.waiting import until

DEVICES = "/api/v1/notifications/devices"


async def devices_of(app: FastAPI, user_id: uuid.UUID) -> list[PushDevice]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(PushDevice).where(PushDevice.user_id == user_id))).all())


async def add(client: httpx.AsyncClient, actor: Actor, token: str, device_id: str = "pixel-7") -> httpx.Response:
    return await client.post(
        DEVICES, json={"token": token, "platform": "android", "device_id": device_id}, headers=actor.headers
    )


async def test_registering_twice_updates_the_device(client: httpx.AsyncClient, app: FastAPI) -> None:
    actor = await register(client)
    first_token, new_token = device_token(), device_token()
    first = await add(client, actor, first_token)
    assert first.status_code == 201, first.text
    assert "token" not in first.json() and first.json()["platform"] == "android"
    second = await add(client, actor, new_token)
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"]
    (device,) = await devices_of(app, actor.user_id)
    assert device.token == new_token and device.device_id == "pixel-7"


async def test_a_token_registered_by_another_user_moves_to_them(client: httpx.AsyncClient, app: FastAPI) -> None:
    before, after = await register(client), await register(client)
    token = device_token()
    assert (await add(client, before, token)).status_code == 201
    assert (await add(client, after, token, device_id="shared-phone")).status_code == 201
    assert await devices_of(app, before.user_id) == []
    assert [d.token for d in await devices_of(app, after.user_id)] == [token]


async def test_a_user_removes_only_their_own_devices(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner, stranger = await register(client), await register(client)
    device_id = (await add(client, owner, device_token())).json()["id"]
    refused = await client.delete(f"{DEVICES}/{device_id}", headers=stranger.headers)
    assert refused.status_code == 404 and refused.json()["code"] == "push_device_not_found"
    assert len(await devices_of(app, owner.user_id)) == 1
    assert (await client.delete(f"{DEVICES}/{device_id}", headers=owner.headers)).status_code == 204
    assert await devices_of(app, owner.user_id) == []
    assert (await client.delete(f"{DEVICES}/{device_id}", headers=owner.headers)).status_code == 404


async def test_devices_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    body = {"token": device_token(), "platform": "ios", "device_id": "iphone"}
    assert (await client.post(DEVICES, json=body)).status_code == 401
    assert (await client.delete(f"{DEVICES}/{uuid.uuid4()}")).status_code == 401
    owner = await register(client, org_name=f"Org {uuid.uuid4().hex[:6]}")
    key = await create_api_key(client, owner)
    refused = await client.post(DEVICES, json=body, headers=key.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "push_devices_need_a_user"


async def test_bad_input_names_the_field_in_french_and_english(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    cases = {
        "platform": {"token": device_token(), "platform": "symbian", "device_id": "x"},
        "token": {"token": "short", "platform": "web", "device_id": "x"},
        "device_id": {"token": device_token(), "platform": "web", "device_id": ""},
    }
    for field, body in cases.items():
        for language in ("fr", "en"):
            answer = await client.post(DEVICES, json=body, headers={**actor.headers, "Accept-Language": language})
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert field in answer.text


async def test_with_push_off_a_push_fails_as_disabled(client: httpx.AsyncClient, app: FastAPI) -> None:
    assert app.state.settings.push_backend == "none"
    actor = await register(client)
    assert (await add(client, actor, device_token())).status_code == 201
    async with unit_of_work(app.state.sessionmaker) as session:
        (queued,) = await queue_push(session, user_id=actor.user_id, title="Bonjour", body="Test")

    async def failed() -> bool:
        async with app.state.sessionmaker() as session:
            found = await session.get(Notification, queued.id)
        return found is not None and found.status == "failed" and found.failure_reason == "push_disabled"

    await until(failed, "the push failed as push_disabled", within=20)
    assert len(await devices_of(app, actor.user_id)) == 1  # the token is fine: it stays
