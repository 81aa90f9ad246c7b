"""LokaHome's own routes (seed 004, section 6): properties and bookings in the seed's shapes — bare arrays paged by
``page``/``per_page``, ``nearby`` sorted by distance, ``PUT`` to accept, reject and cancel — without
``X-Organization-ID``: the surface answers for its operator."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx

from cauri.rentals.search import KM_PER_DEGREE
from tests.rentals.conftest import Market, join, listing, photo

BASE = "/lokahome/api/v1"


def bearer(member: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {member.access_token}"}


async def test_properties_and_bookings_as_the_seed_documents_them(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    rng = random.Random(uuid.uuid4().int)
    lat, lon = rng.uniform(-40, 40), rng.uniform(-170, 170)
    city = f"Abidjan-{uuid.uuid4().hex[:6]}"
    ids = []
    for km in (3.0, 1.0, 2.0):
        created = await client.post(
            f"{BASE}/properties",
            json=listing(city=city, latitude=lat + km / KM_PER_DEGREE, longitude=lon, title=f"À {km} km"),
            headers=bearer(landlord),
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    # Drafts are not listed; PUT publishes.
    assert (await client.get(f"{BASE}/properties", params={"city": city})).json() == []
    for pid in ids:
        put = await client.put(f"{BASE}/properties/{pid}", json={"status": "published"}, headers=bearer(landlord))
        assert put.status_code == 200 and put.json()["status"] == "published"

    first = await client.get(f"{BASE}/properties", params={"city": city, "page": 1, "per_page": 2})
    second = await client.get(f"{BASE}/properties", params={"city": city, "page": 2, "per_page": 2})
    assert isinstance(first.json(), list) and len(first.json()) == 2 and len(second.json()) == 1
    assert {p["id"] for p in first.json() + second.json()} == set(ids)
    assert (await client.get(f"{BASE}/properties/search", params={"city": city, "per_page": 101})).status_code == 422

    near = await client.get(f"{BASE}/properties/nearby", params={"latitude": lat, "longitude": lon, "radius": 2.5})
    assert near.status_code == 200, near.text
    assert [(p["id"], p["distance_km"]) for p in near.json()] == [(ids[1], 1.0), (ids[2], 2.0)]
    bad = await client.get(f"{BASE}/properties/nearby", params={"latitude": lat, "longitude": lon, "radius": 60})
    assert bad.status_code == 422 and bad.json()["field"] == "radius"

    upload = await client.post(
        f"{BASE}/properties/{ids[0]}/images",
        files=[("files", ("a.jpg", photo(), "image/jpeg"))],
        headers=bearer(landlord),
    )
    assert upload.status_code == 200, upload.text
    detail = (await client.get(f"{BASE}/properties/{ids[0]}")).json()
    assert detail["images"][0]["image_url"] == upload.json()["uploaded"][0]
    assert (await client.get(detail["images"][0]["image_url"])).headers["content-type"] == "image/jpeg"

    asked = await client.post(
        f"{BASE}/bookings",
        json={"property_id": ids[0], "start_date": "2030-09-01", "end_date": "2030-09-05"},
        headers=bearer(tenant),
    )
    assert asked.status_code == 201, asked.text
    bid = asked.json()["id"]
    assert [b["id"] for b in (await client.get(f"{BASE}/bookings/my-bookings", headers=bearer(tenant))).json()] == [bid]
    assert [b["id"] for b in (await client.get(f"{BASE}/bookings/my-properties", headers=bearer(landlord))).json()] == [
        bid
    ]
    accepted = await client.put(f"{BASE}/bookings/{bid}/accept", headers=bearer(landlord))
    assert accepted.status_code == 200 and accepted.json()["status"] == "confirmed"
    calendar = (await client.get(f"{BASE}/properties/{ids[0]}/availability")).json()
    assert calendar["booked"] == [{"start_date": "2030-09-01", "end_date": "2030-09-05", "status": "confirmed"}]
    cancelled = await client.put(
        f"{BASE}/bookings/{bid}/cancel", json={"cancellation_reason": "Imprévu"}, headers=bearer(tenant)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await client.get(f"{BASE}/properties/{ids[0]}/availability")).json()["booked"] == []

    favorite = await client.post(f"{BASE}/properties/{ids[1]}/favorite", headers=bearer(tenant))
    assert favorite.status_code == 200
    assert (await client.delete(f"{BASE}/properties/{ids[2]}", headers=bearer(tenant))).status_code == 403
    assert (await client.delete(f"{BASE}/properties/{ids[2]}", headers=bearer(landlord))).status_code == 204
