"""The rentals marketplace, tested as its users call it: the LokaHome operator organisation, and tenants,
landlords and a provider who joined it through the LokaHome surface's register (the seed's ``user_type``)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.kit.testing import free_port, serve_app
from tests.conftest import make_settings
from tests.disbursements.support import Sandbox, bulk_settings, served_sandbox
from tests.support.identity import Actor, register

PASSWORD = "securepassword123"


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with served_sandbox() as served:
        yield served


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Settings:
    """The LokaHome operator configured; the sandbox provider on loopback, calling back the served app."""
    return make_settings(
        database_url,
        tmp_path_factory.mktemp("files"),
        lokahome_organization="lokahome-tests",
        **bulk_settings(sandbox.url, free_port()),
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Served over real HTTP: the sandbox's signed callbacks reach it."""
    application = create_app(settings)
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    async with serve_app(application, port=port, shutdown_timeout=2):
        yield application


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    access_token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "X-Organization-ID": str(self.organization_id)}


@dataclass(frozen=True)
class Market:
    owner: Actor
    organization_id: uuid.UUID

    @property
    def public(self) -> dict[str, str]:
        return {"X-Organization-ID": str(self.organization_id)}


@pytest.fixture(scope="session")
async def market(app: FastAPI) -> Market:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        owner = await register(http, org_name="LokaHome Tests")  # not the demo's "lokahome"
    assert owner.organization_id is not None
    return Market(owner=owner, organization_id=owner.organization_id)


async def join(client: httpx.AsyncClient, market: Market, user_type: str) -> Member:
    """A new person registered on the LokaHome surface with ``user_type``, logged in."""
    email = f"{user_type}-{uuid.uuid4().hex[:10]}@example.org"
    body = {
        "email": email,
        "phone": f"+22177{uuid.uuid4().int % 10_000_000:07d}",
        "password": PASSWORD,
        "first_name": "Kossi",
        "last_name": "Adjovi",
        "user_type": user_type,
    }
    created = await client.post("/lokahome/api/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    login = await client.post("/lokahome/api/v1/auth/login", json={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Member(
        user_id=uuid.UUID(created.json()["id"]),
        organization_id=market.organization_id,
        access_token=login.json()["access_token"],
        role=user_type,
    )


def listing(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Appartement meublé à Fidjrossè",
        "description": "Deux chambres climatisées, cuisine équipée, à deux pas de la plage.",
        "property_type": "apartment",
        "rental_type": "short_term",
        "price": 25_000,
        "currency": "XOF",
        "address": "Rue 12.045, Fidjrossè",
        "city": "Cotonou",
        "neighborhood": "Fidjrossè",
        "latitude": 6.3703,
        "longitude": 2.3912,
        "bedrooms": 2,
        "bathrooms": 1,
        "surface_area": 75.5,
        "is_furnished": True,
        "amenities": ["wifi", "ac", "parking"],
        "rules": "Pas de fête.",
        "available_from": "2030-01-01",
        "available_to": "2031-12-31",
        "minimum_stay": 2,
        "deposit_amount": 50_000,
    }
    body.update(changes)
    return body


async def published(client: httpx.AsyncClient, landlord: Member, **changes: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/rentals/properties", json=listing(status="published", **changes), headers=landlord.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def photo(fmt: str = "JPEG", size: tuple[int, int] = (1600, 1200), gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (6.0, 22.0, 13.0), 3: "E", 4: (2.0, 23.0, 28.0)}  # GPSInfo
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()
