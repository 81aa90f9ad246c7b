"""People: public profiles readable by the marketplace's members, my profile and avatar (the listing photos'
pipeline: content checked, EXIF stripped, bombs refused), identity verification decided by an admin who is never
the requester, the member told in-app and by e-mail, the badge on the profile and the listings; and geocoding."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.notifications.models import Notification
from tests.rentals.conftest import Market, Member, join, listing, photo, published
from tests.rentals.test_properties import _bomb
from tests.support.identity import Actor, add_member, register

PEOPLE = "/api/v1/rentals/people"
ADMIN = "/api/v1/rentals/admin"
PROPS = "/api/v1/rentals/properties"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
async def cast(app: FastAPI, market: Market) -> tuple[Member, Member, Actor]:
    """A tenant, a landlord and an admin of the marketplace, shared by this file's tests (logins are slow)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        tenant = await join(http, market, "tenant")
        landlord = await join(http, market, "landlord")
        admin = await add_member(http, market.owner, role="admin")
    return tenant, landlord, admin


async def test_profiles_and_avatars(
    client: httpx.AsyncClient, market: Market, cast: tuple[Member, Member, Actor]
) -> None:
    tenant, landlord, _ = cast

    mine = await client.get(f"{PEOPLE}/me", headers=tenant.headers)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert (body["display_name"], body["user_type"], body["is_verified"], body["rating"], body["avatar_urls"]) == (
        "Kossi Adjovi",
        "tenant",
        False,
        None,
        None,
    )
    changed = await client.patch(
        f"{PEOPLE}/me",
        json={"display_name": "Kossi A.", "bio": "Ingénieur à Cotonou", "city": "Cotonou", "languages": ["fr", "EN"]},
        headers=tenant.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["languages"]) == ("Kossi A.", ["fr", "en"])
    bad = await client.patch(
        f"{PEOPLE}/me", json={"languages": ["français"]}, headers={**tenant.headers, "Accept-Language": "en"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("languages"), bad.text

    # Avatars go through the listing photos' pipeline: re-encoded at 500×500 at most, EXIF and GPS gone.
    uploaded = await client.post(
        f"{PEOPLE}/me/avatar",
        files={"file": ("me.jpg", photo(size=(1200, 900), gps=True), "image/jpeg")},
        headers=tenant.headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    urls = uploaded.json()["avatar_urls"]
    large = await client.get(urls["large"], headers=landlord.headers)
    assert large.status_code == 200 and large.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(large.content)) as image:
        assert image.size == (500, 375) and not image.getexif()
    refused = {
        "not an image": (b"%PDF-1.7 not a picture", 415),
        "bomb": (_bomb(), 413),
    }
    for name, (data, code) in refused.items():
        answer = await client.post(
            f"{PEOPLE}/me/avatar", files={"file": ("a.png", data, "image/png")}, headers=tenant.headers
        )
        assert (answer.status_code, answer.json()["field"]) == (code, "file"), name
    assert (await client.get(f"{PEOPLE}/me", headers=tenant.headers)).json()["avatar_urls"] == urls  # unchanged

    # Other members read the profile, never the e-mail or phone; outsiders and anonymous callers do not.
    seen = await client.get(f"{PEOPLE}/{tenant.user_id}", headers=landlord.headers)
    assert seen.status_code == 200 and seen.json()["bio"] == "Ingénieur à Cotonou"
    assert "email" not in seen.text and "+22177" not in seen.text
    outsider = await register(client, org_name=f"Ailleurs {uuid.uuid4().hex[:6]}")
    assert (await client.get(f"{PEOPLE}/{tenant.user_id}", headers=outsider.headers)).status_code == 404
    assert (await client.get(f"{PEOPLE}/{tenant.user_id}", headers=market.public)).status_code == 401


async def test_identity_verification_decided_by_another_admin(
    client: httpx.AsyncClient,
    market: Market,
    sessionmaker: async_sessionmaker[AsyncSession],
    cast: tuple[Member, Member, Actor],
) -> None:
    tenant, landlord, admin = cast
    prop = await published(client, landlord)
    request = f"{PEOPLE}/me/verification"

    # The document is checked by its bytes and size before anything is stored.
    for data, code in ((b"GIF89a not allowed", 415), (b"%PDF-" + b"0" * 10_000_000, 413)):
        refused = await client.post(
            request, files={"document": ("id.pdf", data, "application/pdf")}, headers=landlord.headers
        )
        assert (refused.status_code, refused.json()["field"]) == (code, "document"), refused.text
    assert (await client.get(f"{PEOPLE}/me/verifications", headers=landlord.headers)).json() == []

    sent = await client.post(
        request,
        files={"document": ("id.pdf", PDF, "application/pdf")},
        data={"document_type": "passport"},
        headers=landlord.headers,
    )
    assert sent.status_code == 201 and sent.json()["status"] == "pending", sent.text
    vid = sent.json()["id"]
    again = await client.post(request, files={"document": ("id.pdf", PDF, "application/pdf")}, headers=landlord.headers)
    assert again.status_code == 409 and again.json()["code"] == "rental_verification_pending"

    # The queue and the document are the admins' alone.
    for who in (tenant, landlord):
        assert (await client.get(f"{ADMIN}/verifications", headers=who.headers)).status_code == 403
        assert (await client.get(f"{ADMIN}/verifications/{vid}/document", headers=who.headers)).status_code == 403
    queue = (await client.get(f"{ADMIN}/verifications", headers=admin.headers)).json()["items"]
    assert vid in [v["id"] for v in queue]
    document = await client.get(f"{ADMIN}/verifications/{vid}/document", headers=admin.headers)
    assert (document.status_code, document.content, document.headers["content-type"]) == (200, PDF, "application/pdf")

    # A checker is never the maker: the admin's own request goes to another admin.
    own = await client.post(
        request, files={"document": ("id.png", photo("PNG", (40, 30)), "image/png")}, headers=admin.headers
    )
    assert own.status_code == 201, own.text
    decision = f"{ADMIN}/verifications/{own.json()['id']}/decision"
    refused_own = await client.post(decision, json={"decision": "approve"}, headers=admin.headers)
    assert refused_own.status_code == 403 and refused_own.json()["code"] == "rental_own_request"
    assert (await client.post(decision, json={"decision": "approve"}, headers=market.owner.headers)).status_code == 200

    # Rejecting needs a reason the member reads; then a new request is approved and the badge shows.
    no_reason = await client.post(
        f"{ADMIN}/verifications/{vid}/decision",
        json={"decision": "reject"},
        headers={**admin.headers, "Accept-Language": "en"},
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    assert "reason" in no_reason.json()["detail"]
    rejected = await client.post(
        f"{ADMIN}/verifications/{vid}/decision",
        json={"decision": "reject", "reason": "Document illisible"},
        headers=admin.headers,
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    twice = await client.post(
        f"{ADMIN}/verifications/{vid}/decision", json={"decision": "approve"}, headers=admin.headers
    )
    assert twice.status_code == 409
    resent = await client.post(
        request, files={"document": ("id.pdf", PDF, "application/pdf")}, headers=landlord.headers
    )
    approved = await client.post(
        f"{ADMIN}/verifications/{resent.json()['id']}/decision", json={"decision": "approve"}, headers=admin.headers
    )
    assert approved.status_code == 200 and approved.json()["decided_by"] == str(admin.user_id)

    profile = (await client.get(f"{PEOPLE}/{landlord.user_id}", headers=tenant.headers)).json()
    assert profile["is_verified"] is True
    listed = (await client.get(f"{PROPS}/{prop['id']}", headers=market.public)).json()
    assert listed["owner_verified"] is True

    inbox = (await client.get("/api/v1/notifications", headers=landlord.headers)).json()["items"]
    told = {n["object_id"]: n["body"] for n in inbox if n["kind"] == "rental.identity_verification"}
    assert "Document illisible" in told[f"{vid}:rejected"] and f"{resent.json()['id']}:approved" in told
    async with sessionmaker() as session:
        emails = (
            (
                await session.execute(
                    select(Notification.subject).where(
                        Notification.kind == "rental.identity_verification",
                        Notification.channel == "email",
                        Notification.user_id == landlord.user_id,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(emails) == ["LokaHome – Identité non vérifiée", "LokaHome – Identité vérifiée"]


async def test_geocoding_offline(client: httpx.AsyncClient, cast: tuple[Member, Member, Actor]) -> None:
    _, landlord, _ = cast
    found = await client.get("/api/v1/rentals/geocode", params={"q": "fidjrosse"})
    assert found.status_code == 200
    assert [(p["name"], p["city"]) for p in found.json()["items"]][:1] == [("Fidjrossè", "Cotonou")]
    assert (await client.get("/api/v1/rentals/geocode", params={"q": "Atlantide"})).json()["items"] == []
    short = await client.get("/api/v1/rentals/geocode", params={"q": "a"})
    assert short.status_code == 422 and short.json()["field"] == "q"

    # Without coordinates a listing is placed by its neighbourhood (accents and case aside), or left unplaced.
    placed = await client.post(
        PROPS,
        json=listing(latitude=None, longitude=None, neighborhood="CADJEHOUN", city="cotonou"),
        headers=landlord.headers,
    )
    assert placed.status_code == 201, placed.text
    assert (placed.json()["latitude"], placed.json()["longitude"]) == (6.362, 2.39)
    moved = await client.patch(
        f"{PROPS}/{placed.json()['id']}",
        json={"city": "Abidjan", "neighborhood": None, "address": "Rue des Jardins, Deux Plateaux"},
        headers=landlord.headers,
    )
    assert (moved.json()["latitude"], moved.json()["longitude"]) == (5.37, -3.997), moved.text
    unknown = await client.post(
        PROPS,
        json=listing(latitude=None, longitude=None, address="Rue 1", neighborhood="Nulle part", city="Atlantide"),
        headers=landlord.headers,
    )
    assert unknown.status_code == 201 and (unknown.json()["latitude"], unknown.json()["longitude"]) == (None, None)


async def test_the_lokahome_surface_routes(client: httpx.AsyncClient, cast: tuple[Member, Member, Actor]) -> None:
    tenant, landlord, _ = cast
    bearer = {"Authorization": f"Bearer {tenant.access_token}"}
    users = "/lokahome/api/v1/users"
    avatar = await client.post(
        f"{users}/me/avatar", files={"file": ("a.webp", photo("WEBP", (64, 64)))}, headers=bearer
    )
    assert avatar.status_code == 200 and avatar.json()["avatar_url"].endswith("/avatar/large"), avatar.text
    asked = await client.post(
        f"{users}/me/verify-identity", files={"document": ("id.png", photo("PNG", (40, 30)))}, headers=bearer
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending", asked.text
    seen = await client.get(f"{users}/{tenant.user_id}", headers={"Authorization": f"Bearer {landlord.access_token}"})
    assert seen.status_code == 200
    assert (seen.json()["identity_verified"], seen.json()["avatar_url"]) == (False, avatar.json()["avatar_url"])

    # Listings on the surface carry their landlord's badge, as on the native API.
    prop = await published(client, landlord)
    on_surface = (await client.get(f"/lokahome/api/v1/properties/{prop['id']}")).json()
    profile = (await client.get(f"{PEOPLE}/{landlord.user_id}", headers=tenant.headers)).json()
    assert on_surface["owner_verified"] is profile["is_verified"]
