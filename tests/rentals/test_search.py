"""Search: every filter of the seed's PropertyFilter, full-text, sorting, keyset paging and ``nearby`` — the same
answers on SQLite and PostgreSQL — and bad filters answered as problems naming the parameter."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx

from cauri.rentals.search import KM_PER_DEGREE, haversine_km
from tests.rentals.conftest import Market, join, published

PROPS = "/api/v1/rentals/properties"


async def _ids(client: httpx.AsyncClient, market: Market, path: str = PROPS, **params: Any) -> list[str]:
    response = await client.get(path, params={"limit": 500, **params}, headers=market.public)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


async def test_every_filter_of_the_seed(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    city = f"Lomé-{uuid.uuid4().hex[:6]}"
    a = await published(
        client,
        landlord,
        city=city,
        neighborhood="Bè",
        price=15_000,
        bedrooms=1,
        bathrooms=1,
        is_furnished=False,
        amenities=["wifi"],
        property_type="studio",
        rental_type="short_term",
        available_from="2030-01-01",
        available_to="2030-12-31",
    )
    b = await published(
        client,
        landlord,
        city=city,
        neighborhood="Tokoin",
        price=150_000,
        bedrooms=3,
        bathrooms=2,
        is_furnished=True,
        amenities=["wifi", "parking", "ac"],
        property_type="house",
        rental_type="long_term",
        available_from=None,
        available_to=None,
        minimum_stay=None,
    )
    c = await published(
        client,
        landlord,
        city=city,
        neighborhood="Bè",
        price=40_000,
        bedrooms=2,
        bathrooms=1,
        is_furnished=True,
        amenities=["parking"],
        property_type="apartment",
        title="Appartement avec piscine",
        description="Grande piscine et jardin.",
    )
    draft = await client.post(PROPS, json={**_base(city)}, headers=landlord.headers)
    assert draft.status_code == 201

    def ids(*props: dict[str, Any]) -> set[str]:
        return {p["id"] for p in props}

    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, ids(a, b, c)),  # the draft never shows
        ({"city": city.upper()}, ids(a, b, c)),
        ({"neighborhood": "bè"}, ids(a, c)),
        ({"property_type": "house"}, ids(b)),
        ({"rental_type": "long_term"}, ids(b)),
        ({"min_price": 20_000}, ids(b, c)),
        ({"max_price": 40_000}, ids(a, c)),
        ({"min_price": 20_000, "max_price": 40_000}, ids(c)),
        ({"bedrooms": 2}, ids(b, c)),
        ({"bathrooms": 2}, ids(b)),
        ({"is_furnished": "true"}, ids(b, c)),
        ({"is_furnished": "false"}, ids(a)),
        ({"amenities": ["parking"]}, ids(b, c)),
        ({"amenities": ["wifi", "parking"]}, ids(b)),
        ({"available_from": "2031-03-01", "available_to": "2031-03-05"}, ids(b, c)),  # a's window has ended
        ({"q": "piscine"}, ids(c)),
        ({"q": "PISCINE jardin"}, ids(c)),
        ({"q": "zzzyyyxxx"}, set()),
    ]
    for params, expected in cases:
        query = params if "city" in params else {"city": city, **params}
        assert set(await _ids(client, market, **query)) == expected, params

    by_price = await _ids(client, market, city=city, sort="price_asc")
    assert by_price == [a["id"], c["id"], b["id"]]
    assert await _ids(client, market, city=city, sort="price_desc") == by_price[::-1]
    assert await _ids(client, market, city=city, sort="newest") == [c["id"], b["id"], a["id"]]

    # Keyset paging visits each listing once, in order, whatever the sort.
    for sort in ("newest", "price_asc", "price_desc", "oldest", "featured"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"city": city, "sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(PROPS, params=params, headers=market.public)).json()
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == await _ids(client, market, city=city, sort=sort), sort
        assert len(seen) == 3


def _base(city: str) -> dict[str, Any]:
    return {
        "title": "Brouillon",
        "property_type": "room",
        "rental_type": "short_term",
        "price": 1000,
        "address": "Quelque part",
        "city": city,
    }


async def test_french_stemming_on_postgresql_and_prefixes_on_sqlite(
    client: httpx.AsyncClient, market: Market, backend: str
) -> None:
    landlord = await join(client, market, "landlord")
    city = f"Dakar-{uuid.uuid4().hex[:6]}"
    prop = await published(client, landlord, city=city, title="Appartements lumineux", description="Près du marché")
    # A word's beginning finds it on both; PostgreSQL's French stemmer also finds the singular from the plural.
    assert await _ids(client, market, city=city, q="appartement") == [prop["id"]]
    assert await _ids(client, market, city=city, q="marché") == [prop["id"]]
    if backend == "postgresql":
        assert await _ids(client, market, city=city, q="appartements") == [prop["id"]]


async def test_nearby_by_radius_sorted_by_distance_the_same_on_both_databases(
    client: httpx.AsyncClient, market: Market
) -> None:
    landlord = await join(client, market, "landlord")
    rng = random.Random(uuid.uuid4().int)
    lat, lon = rng.uniform(-50, 50), rng.uniform(-170, 170)  # a spot of its own, away from other tests' listings
    north_km = {"0.5": 0.5, "2": 2.0, "4.9": 4.9, "7": 7.0, "30": 30.0}
    made = {}
    for name, km in north_km.items():
        made[name] = await published(
            client,
            landlord,
            title=f"À {name} km",
            latitude=lat + km / KM_PER_DEGREE,
            longitude=lon,
            price=10_000 if name != "2" else 99_000,
        )
    east = await published(client, landlord, title="À l'est", latitude=lat, longitude=lon + 3 / (KM_PER_DEGREE * 1))
    near = f"{PROPS}/nearby"
    response = await client.get(near, params={"latitude": lat, "longitude": lon}, headers=market.public)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    expected_east = haversine_km(lat, lon, lat, lon + 3 / KM_PER_DEGREE)
    within = sorted(
        [(0.5, made["0.5"]["id"]), (2.0, made["2"]["id"]), (4.9, made["4.9"]["id"])]
        + ([(expected_east, east["id"])] if expected_east <= 5 else []),
    )
    assert [p["id"] for p in items] == [pid for _, pid in within]  # default radius 5 km, nearest first
    for item, (km, _) in zip(items, within, strict=True):
        assert abs(item["distance_km"] - km) < 0.01

    wide = await _ids(client, market, near, latitude=lat, longitude=lon, radius=50)
    assert set(wide) == {p["id"] for p in made.values()} | {east["id"]}
    tight = await _ids(client, market, near, latitude=lat, longitude=lon, radius=0.6)
    assert tight == [made["0.5"]["id"]]
    filtered = await _ids(client, market, near, latitude=lat, longitude=lon, radius=10, max_price=50_000)
    assert made["2"]["id"] not in filtered and made["0.5"]["id"] in filtered and made["7"]["id"] in filtered

    # The same circle through the search route (bounding box + haversine there too).
    searched = await _ids(client, market, latitude=lat, longitude=lon, radius=5)
    assert set(searched) == {p["id"] for p in items}

    # Paging nearest first
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"latitude": lat, "longitude": lon, "radius": 50, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(near, params=params, headers=market.public)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == wide


async def test_bad_filters_are_problems_naming_the_parameter(client: httpx.AsyncClient, market: Market) -> None:
    near = f"{PROPS}/nearby"
    cases = [
        (near, {"latitude": 6.4, "longitude": 2.4, "radius": 0.05}, "radius"),
        (near, {"latitude": 6.4, "longitude": 2.4, "radius": 51}, "radius"),
        (near, {"latitude": 91, "longitude": 2.4}, "latitude"),
        (near, {"latitude": 6.4, "longitude": -180.5}, "longitude"),
        (near, {"longitude": 2.4}, "latitude"),
        (PROPS, {"min_price": 50_000, "max_price": 10_000}, "min_price"),
        (PROPS, {"available_from": "2030-05-10", "available_to": "2030-05-01"}, "available_to"),
        (PROPS, {"latitude": 6.4}, "longitude"),
        (PROPS, {"cursor": "not-a-cursor"}, "cursor"),
        (PROPS, {"sort": "random"}, "sort"),
    ]
    for path, params, field in cases:
        for language in ("fr", "en"):
            response = await client.get(path, params=params, headers={**market.public, "Accept-Language": language})
            assert response.status_code == 422, (params, response.text)
            problem = response.json()
            assert problem["field"] == field, (params, problem)
            assert problem["detail"]
    anonymous = await client.get(PROPS)
    assert anonymous.status_code == 422 and anonymous.json()["field"] == "X-Organization-ID"
