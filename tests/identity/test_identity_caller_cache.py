"""The resolved-caller cache across two API instances sharing one database and one Redis.

Instance B answers from its own memory once it has seen a caller; every change made through instance A (logout,
role change, membership removal, password change, API key revocation) must stop B from answering with the old
caller at once. Without the invalidation B would keep serving the cached caller for a whole minute.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from cauri.app import create_app
from cauri.core.principal import Principal
from cauri.identity import resolver
from cauri.identity.models import ApiKey
from tests.conftest import make_settings, service_url
from tests.identity.conftest import random_address
from tests.support.identity import Actor, add_member, create_api_key, create_org_with_user
from tests.support.waiting import until

ME = "/api/v1/auth/me"
CACHE_SECONDS = 60.0


@pytest.fixture(scope="module")
async def instances(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two applications (as two `cauri serve` processes would be) on one database and one Redis."""
    redis_url = service_url("redis")
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    apps = [
        create_app(
            make_settings(
                database_url,
                tmp_path_factory.mktemp("files"),
                redis_url=redis_url,
                redis_namespace=namespace,
                principal_cache_seconds=CACHE_SECONDS,
            )
        )
        for _ in range(2)
    ]
    async with (
        LifespanManager(apps[0], startup_timeout=60, shutdown_timeout=60),
        LifespanManager(apps[1], startup_timeout=60, shutdown_timeout=60),
    ):
        await until(lambda: _all_connected(apps), "both instances listening on Redis")
        yield apps[0], apps[1]


async def _all_connected(apps: list[FastAPI]) -> bool:
    return all(app.state.pubsub.connected for app in apps)


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(random_address(), 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def clients(instances: tuple[FastAPI, FastAPI]) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with _client(instances[0]) as a, _client(instances[1]) as b:
        yield a, b


async def _cached_on(app: FastAPI, headers: dict[str, str], http: httpx.AsyncClient) -> dict[str, object]:
    """Call B until its cache holds the caller, proving the next answers come from memory.

    A value read while an invalidation arrives is not kept (and A's own writes just published some)."""
    before = len(app.state.caller_cache.memory)
    answers: list[httpx.Response] = []

    async def cached() -> bool:
        answers[:] = [await http.get(ME, headers=headers)]
        assert answers[0].status_code == 200, answers[0].text
        return len(app.state.caller_cache.memory) > before

    await until(cached, "B caches the caller")
    body: dict[str, object] = answers[0].json()
    return body


async def _status_becomes(http: httpx.AsyncClient, headers: dict[str, str], status: int) -> httpx.Response:
    """Pub/sub takes a moment between processes: wait for the answer, bounded well below the cache's TTL."""
    last: list[httpx.Response] = []

    async def seen() -> bool:
        last[:] = [await http.get(ME, headers=headers)]
        return last[0].status_code == status

    await until(seen, f"GET /auth/me answers {status}", within=3.0)
    return last[0]


async def test_cache_is_on_with_redis_and_serves_without_queries(
    instances: tuple[FastAPI, FastAPI], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    _, b = instances
    http_a, http_b = clients
    owner = await create_org_with_user(http_a)
    await _cached_on(b, owner.headers, http_b)
    assert (await http_b.get(ME, headers=owner.headers)).status_code == 200
    ready = await http_b.get("/ready")
    assert ready.json()["checks"]["redis"] == "ok"  # readiness covers the Redis the cache depends on


async def test_logout_on_one_instance_ends_the_session_on_the_other(
    instances: tuple[FastAPI, FastAPI], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    _, b = instances
    http_a, http_b = clients
    owner = await create_org_with_user(http_a)
    await _cached_on(b, owner.headers, http_b)
    assert (await http_a.post("/api/v1/auth/logout", headers=owner.headers)).status_code == 204
    response = await _status_becomes(http_b, owner.headers, 401)
    assert response.json()["code"] == "session_revoked"


async def test_role_change_and_removal_reach_the_other_instance(
    instances: tuple[FastAPI, FastAPI], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    _, b = instances
    http_a, http_b = clients
    owner = await create_org_with_user(http_a)
    clerk = await add_member(http_a, owner, role="superviseur")
    assert (await _cached_on(b, clerk.headers, http_b))["roles"] == ["superviseur"]
    membership_id = await _membership_id(http_a, owner, clerk)

    changed = await http_a.patch(
        f"/api/v1/organizations/{owner.organization_id}/members/{membership_id}",
        json={"role": "gestionnaire"},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text

    async def role_seen_by_b() -> bool:
        return (await http_b.get(ME, headers=clerk.headers)).json()["roles"] == ["gestionnaire"]

    await until(role_seen_by_b, "B sees the new role", within=3.0)

    removed = await http_a.delete(
        f"/api/v1/organizations/{owner.organization_id}/members/{membership_id}", headers=owner.headers
    )
    assert removed.status_code == 204
    response = await _status_becomes(http_b, clerk.headers, 403)
    assert response.json()["code"] == "not_a_member"


async def test_password_change_ends_other_sessions_on_the_other_instance(
    instances: tuple[FastAPI, FastAPI], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    _, b = instances
    http_a, http_b = clients
    owner = await create_org_with_user(http_a)
    other_login = await http_a.post("/api/v1/auth/login", json={"email": owner.email, "password": owner.password})
    other_headers = {**owner.headers, "Authorization": f"Bearer {other_login.json()['access_token']}"}
    await _cached_on(b, other_headers, http_b)
    changed = await http_a.post(
        "/api/v1/auth/password/change",
        json={"current_password": owner.password, "new_password": "another-long-passphrase-42"},
        headers=owner.headers,
    )
    assert changed.status_code == 204, changed.text
    await _status_becomes(http_b, other_headers, 401)
    assert (await http_b.get(ME, headers=owner.headers)).status_code == 200  # the session that changed it stays


async def test_api_key_revocation_reaches_the_other_instance_and_use_is_recorded(
    instances: tuple[FastAPI, FastAPI], clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    a, b = instances
    http_a, http_b = clients
    owner = await create_org_with_user(http_a)
    key = await create_api_key(http_a, owner)
    await _cached_on(b, key.headers, http_b)
    async with a.state.read_sessionmaker() as session:
        last_used = (await session.execute(select(ApiKey.last_used_at).where(ApiKey.id == key.id))).scalar_one()
    assert last_used is not None  # recorded by a writing session of its own, the read stayed a read
    assert (await http_a.delete(f"/api/v1/api-keys/{key.id}", headers=owner.headers)).status_code == 204
    response = await _status_becomes(http_b, key.headers, 401)
    assert response.json()["code"] == "invalid_api_key"


async def _membership_id(http: httpx.AsyncClient, owner: Actor, member: Actor) -> str:
    response = await http.get(f"/api/v1/organizations/{owner.organization_id}/members", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return str(next(m["id"] for m in items if m["user_id"] == str(member.user_id)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def two_worker_server(database_url: str, tmp_path: Path) -> Iterator[str]:
    """`cauri serve --workers 2` on one port (real processes), with Redis; yields its base URL."""
    port = _free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "CAURI_ENV": "test",
        "CAURI_DATABASE_URL": database_url,
        "CAURI_REDIS_URL": service_url("redis"),
        "CAURI_REDIS_NAMESPACE": f"test-{uuid.uuid4().hex[:10]}",
        "CAURI_FILES_DIR": str(tmp_path / "files"),
        "CAURI_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", "from cauri.cli import app; app()", "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, env=environment, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=60)  # cauri serve's graceful shutdown is bounded (10 s)


@pytest.mark.postgres_only  # the processes share Redis's revocations; the database is beside the point
async def test_logout_reaches_every_process_of_cauri_serve_workers(two_worker_server: str) -> None:
    """Real processes: every answer after a logout is a 401, whichever process serves it."""
    base = two_worker_server
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def up() -> bool:
            try:
                return (await http.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await until(up, "cauri serve answers", within=180)  # two processes import and build the app
        owner = await create_org_with_user(http)
        # New connections each time, so that the kernel spreads them over both processes; each caches.
        for _ in range(20):
            async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:
                assert (await fresh.get(ME, headers=owner.headers)).status_code == 200
        assert (await http.post("/api/v1/auth/logout", headers=owner.headers)).status_code == 204

        async def every_process_refuses() -> bool:
            for _ in range(20):
                async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:
                    if (await fresh.get(ME, headers=owner.headers)).status_code != 401:
                        return False
            return True

        await until(every_process_refuses, "every process answers 401 after the logout", within=3)


def test_the_cached_caller_keeps_every_field_of_the_principal() -> None:
    """A field dropped by the cache would read as its default: a key's creator lost would let one person be maker
    and checker through a cached key."""
    every_field = Principal(
        user_id=None,
        organization_id=uuid.uuid4(),
        api_key_id=uuid.uuid4(),
        key_creator_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        is_platform_admin=True,
        roles=frozenset({"admin", "approver"}),
        language="en",
    )
    assert {f.name for f in dataclasses.fields(Principal)} == {
        *resolver._UUID_FIELDS,
        "is_platform_admin",
        "roles",
        "language",
    }
    assert resolver._principal_of(resolver._principal_bytes(every_field)) == every_field
