"""Login throttling and lockout, with in-memory counters and with counters shared through a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from cauri.app import create_app
from tests.conftest import make_settings, service_url
from tests.identity.conftest import random_address
from tests.support.identity import DEFAULT_PASSWORD, register, unique_email

LOGIN = "/api/v1/auth/login"


async def fail_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": "definitely-wrong"})


def assert_throttled(response: httpx.Response, code: str, *, at_most: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= at_most
    assert response.json()["retry_after"] == retry_after


async def test_five_failures_lock_the_login_even_with_the_right_password(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    for _ in range(5):
        assert (await fail_login(client, actor.email)).status_code == 401
    locked = await client.post(LOGIN, json={"email": actor.email, "password": actor.password})
    assert_throttled(locked, "login_locked", at_most=15 * 60)
    assert locked.json()["retry_after"] > 14 * 60
    assert "15 min" in locked.json()["detail"]
    # The lock is on that identifier: someone else logs in from the same address.
    neighbour = await register(client)
    assert (
        await client.post(LOGIN, json={"email": neighbour.email, "password": neighbour.password})
    ).status_code == 200


async def test_a_success_clears_the_failures(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    for _ in range(4):
        await fail_login(client, actor.email)
    assert (await client.post(LOGIN, json={"email": actor.email, "password": actor.password})).status_code == 200
    for _ in range(4):
        assert (await fail_login(client, actor.email)).status_code == 401


async def test_too_many_attempts_a_minute_are_refused(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    for _ in range(10):
        assert (await client.post(LOGIN, json={"email": actor.email, "password": actor.password})).status_code == 200
    throttled = await client.post(LOGIN, json={"email": actor.email, "password": actor.password})
    assert_throttled(throttled, "too_many_attempts", at_most=60)


async def test_an_address_spraying_passwords_is_slowed_down(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(random_address(), 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as sprayer:
        for _ in range(30):
            assert (await fail_login(sprayer, unique_email())).status_code == 401
        assert_throttled(await fail_login(sprayer, unique_email()), "too_many_attempts", at_most=60)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(random_address(), 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
        assert (await fail_login(elsewhere, unique_email())).status_code == 401


async def test_guessing_the_current_password_with_a_stolen_token_is_locked_too(client: httpx.AsyncClient) -> None:
    actor = await register(client)
    body = {"current_password": "guess-number-x", "new_password": "whatever-comes-next"}
    for _ in range(5):
        response = await client.post("/api/v1/auth/password/change", json=body, headers=actor.headers)
        assert response.status_code == 422
    right = {"current_password": actor.password, "new_password": "whatever-comes-next"}
    locked = await client.post("/api/v1/auth/password/change", json=right, headers=actor.headers)
    assert_throttled(locked, "login_locked", at_most=15 * 60)


@pytest.fixture
async def redis_apps(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two API processes' worth of application sharing one database and one Redis for their counters."""
    redis_url = service_url("redis")
    first = create_app(make_settings(database_url, tmp_path, rate_limit_storage_url=redis_url))
    second = create_app(make_settings(database_url, tmp_path, rate_limit_storage_url=redis_url))
    async with LifespanManager(first), LifespanManager(second):
        yield first, second


def client_of(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_redis_shares_the_lockout_between_processes(redis_apps: tuple[FastAPI, FastAPI]) -> None:
    first, second = redis_apps
    address = random_address()
    async with client_of(first, address) as one, client_of(second, address) as other:
        actor = await register(one)
        for index in range(5):
            assert (await fail_login(one if index % 2 else other, actor.email)).status_code == 401
        locked = await one.post(LOGIN, json={"email": actor.email, "password": DEFAULT_PASSWORD})
        assert_throttled(locked, "login_locked", at_most=15 * 60)
        also_locked = await other.post(LOGIN, json={"email": actor.email, "password": DEFAULT_PASSWORD})
        assert_throttled(also_locked, "login_locked", at_most=15 * 60)


async def test_redis_counts_attempts_a_minute_across_processes(redis_apps: tuple[FastAPI, FastAPI]) -> None:
    first, second = redis_apps
    async with client_of(first, random_address()) as one, client_of(second, random_address()) as other:
        actor = await register(one)
        for index in range(10):
            client = one if index % 2 else other
            assert (
                await client.post(LOGIN, json={"email": actor.email, "password": actor.password})
            ).status_code == 200
        throttled = await one.post(LOGIN, json={"email": actor.email, "password": actor.password})
        assert_throttled(throttled, "too_many_attempts", at_most=60)


async def test_an_unreachable_redis_is_a_503_not_a_500(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path, rate_limit_storage_url="redis://127.0.0.1:1/0"))
    async with LifespanManager(app), client_of(app, random_address()) as client:
        response = await client.post(LOGIN, json={"email": unique_email(), "password": "whatever-it-is"})
    assert response.status_code == 503
    assert response.json()["code"] == "rate_limit_unavailable"
    assert response.headers["Retry-After"] == "5"
