"""Test helpers to get logged-in actors, over HTTP like a real client.

owner = await create_org_with_user(client)                      # a new organisation and its owner
clerk = await add_member(client, owner, role="gestionnaire")    # a colleague in the same organisation
other = await create_org_with_user(client, role="superviseur")  # someone in another organisation
await client.get("/api/v1/…", headers=clerk.headers)            # Authorization + X-Organization-ID
key = await create_api_key(client, owner, role="admin")         # X-API-Key headers: key.headers
admin = await create_platform_admin(client, sessionmaker)       # flag set in the database (no HTTP route)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.models import User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    organization_id: uuid.UUID | None
    email: str
    password: str
    access_token: str
    refresh_token: str
    role: str | None

    @property
    def headers(self) -> dict[str, str]:
        """Authorization, and the organisation this actor acts for."""
        headers = {"Authorization": f"Bearer {self.access_token}"}
        if self.organization_id is not None:
            headers["X-Organization-ID"] = str(self.organization_id)
        return headers


@dataclass(frozen=True)
class ApiKeyActor:
    id: uuid.UUID
    key: str
    organization_id: uuid.UUID
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


def _expect(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, object] = response.json()
    return body


async def login(client: httpx.AsyncClient, *, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    """The token pair of a successful login."""
    body = _expect(await client.post("/api/v1/auth/login", json={"email": email, "password": password}), 200)
    return {"access_token": str(body["access_token"]), "refresh_token": str(body["refresh_token"])}


async def register(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    org_name: str | None = None,
    full_name: str = "Awa Diop",
) -> Actor:
    """A new account (with its own organisation when ``org_name`` is given), logged in."""
    email = email or unique_email()
    payload: dict[str, object] = {"email": email, "password": password, "full_name": full_name}
    if org_name is not None:
        payload["organization_name"] = org_name
    body = _expect(await client.post("/api/v1/auth/register", json=payload), 201)
    tokens = body["tokens"]
    user = body["user"]
    organization = body["organization"]
    assert isinstance(tokens, dict) and isinstance(user, dict)
    return Actor(
        user_id=uuid.UUID(user["id"]),
        organization_id=uuid.UUID(organization["id"]) if isinstance(organization, dict) else None,
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        role="owner" if organization else None,
    )


async def create_org_with_user(
    client: httpx.AsyncClient, *, role: str = "owner", org_name: str | None = None, password: str = DEFAULT_PASSWORD
) -> Actor:
    """A new organisation and a user holding ``role`` in it (for other roles, an owner adds them)."""
    owner = await register(client, org_name=org_name or f"Org {uuid.uuid4().hex[:8]}", password=password)
    if role == "owner":
        return owner
    return await add_member(client, owner, role=role, password=password)


async def add_member(
    client: httpx.AsyncClient,
    owner: Actor,
    *,
    role: str,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    full_name: str = "Jean Mballa",
) -> Actor:
    """A new account added to ``owner``'s organisation with ``role``, then logged in."""
    assert owner.organization_id is not None
    email = email or unique_email(role)
    member = _expect(
        await client.post(
            f"/api/v1/organizations/{owner.organization_id}/members",
            json={"email": email, "role": role, "full_name": full_name, "password": password},
            headers=owner.headers,
        ),
        201,
    )
    tokens = await login(client, email=email, password=password)
    return Actor(
        user_id=uuid.UUID(str(member["user_id"])),
        organization_id=owner.organization_id,
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        role=role,
    )


async def create_api_key(
    client: httpx.AsyncClient, owner: Actor, *, role: str = "admin", name: str = "ERP"
) -> ApiKeyActor:
    assert owner.organization_id is not None
    body = _expect(await client.post("/api/v1/api-keys", json={"name": name, "role": role}, headers=owner.headers), 201)
    return ApiKeyActor(
        id=uuid.UUID(str(body["id"])), key=str(body["key"]), organization_id=owner.organization_id, role=role
    )


async def make_platform_admin(sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID) -> None:
    """Platform admins are made with ``cauri admin create --platform-admin``; tests set the flag directly."""
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == user_id).values(is_platform_admin=True))
        await session.commit()


async def create_platform_admin(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> Actor:
    """A platform admin without an organisation, logged in."""
    actor = await register(client)
    await make_platform_admin(sessionmaker, actor.user_id)
    return actor
