"""Listings: every field of the seed's table, statuses and publication, who may see and change what, photos
(checked by content, EXIF/GPS stripped, three sizes, primary and order, bombs refused) and favourites."""

from __future__ import annotations

import io
import uuid
import zlib

import httpx
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.rentals.models import PropertyImage
from tests.rentals.conftest import Market, join, listing, photo, published

PROPS = "/api/v1/rentals/properties"


async def test_a_landlord_lists_publishes_and_everyone_reads_only_published(
    client: httpx.AsyncClient, market: Market
) -> None:
    landlord = await join(client, market, "landlord")
    other_landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")

    created = await client.post(PROPS, json=listing(), headers=landlord.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    for name, value in listing().items():
        expected = value
        assert str(body[name]) == str(expected) or body[name] == expected, name
    assert (body["status"], body["owner_id"], body["views_count"], body["is_featured"]) == (
        "draft",
        str(landlord.user_id),
        0,
        False,
    )
    pid = body["id"]

    # A draft is the landlord's alone: anyone else gets a 404, as for another organisation's object.
    assert (await client.get(f"{PROPS}/{pid}", headers=market.public)).status_code == 404
    assert (await client.get(f"{PROPS}/{pid}", headers=tenant.headers)).status_code == 404
    assert (await client.get(f"{PROPS}/{pid}", headers=landlord.headers)).status_code == 200
    assert pid not in [p["id"] for p in (await client.get(PROPS, headers=market.public)).json()["items"]]

    publish = await client.post(f"{PROPS}/{pid}/status", params={"status": "published"}, headers=landlord.headers)
    assert publish.status_code == 200 and publish.json()["status"] == "published"
    seen = await client.get(f"{PROPS}/{pid}", headers=market.public)
    assert seen.status_code == 200 and seen.json()["views_count"] == 1
    assert pid in [
        p["id"] for p in (await client.get(PROPS, params={"limit": 500}, headers=market.public)).json()["items"]
    ]

    # Only its landlord changes it; a tenant cannot list at all.
    stranger = await client.patch(f"{PROPS}/{pid}", json={"price": 1}, headers=other_landlord.headers)
    assert stranger.status_code == 403
    assert (await client.post(PROPS, json=listing(), headers=tenant.headers)).status_code == 403
    changed = await client.patch(
        f"{PROPS}/{pid}", json={"price": 30_000, "amenities": ["wifi"]}, headers=landlord.headers
    )
    assert changed.status_code == 200 and (changed.json()["price"], changed.json()["amenities"]) == (30_000, ["wifi"])
    featured = await client.patch(f"{PROPS}/{pid}", json={"is_featured": True}, headers=landlord.headers)
    assert featured.status_code == 403  # the operator features listings
    by_operator = await client.patch(f"{PROPS}/{pid}", json={"is_featured": True}, headers=market.owner.headers)
    assert by_operator.status_code == 200 and by_operator.json()["is_featured"] is True

    mine = await client.get(f"{PROPS}/mine", headers=landlord.headers)
    assert [p["id"] for p in mine.json()["items"]] == [pid]

    assert (await client.delete(f"{PROPS}/{pid}", headers=other_landlord.headers)).status_code == 403
    assert (await client.delete(f"{PROPS}/{pid}", headers=landlord.headers)).status_code == 204
    assert (await client.get(f"{PROPS}/{pid}", headers=landlord.headers)).status_code == 404


async def test_bad_listings_are_refused_naming_the_field_in_both_languages(
    client: httpx.AsyncClient, market: Market
) -> None:
    landlord = await join(client, market, "landlord")
    cases = [
        (listing(available_from="2030-05-01", available_to="2030-04-01"), "available_to"),
        (listing(latitude=91), "latitude"),
        (listing(longitude=-181), "longitude"),
        (listing(price=0), "price"),
        (listing(property_type="castle"), "property_type"),
        (listing(latitude=None), "latitude"),
    ]
    for body, field in cases:
        for language in ("fr", "en"):
            response = await client.post(PROPS, json=body, headers={**landlord.headers, "Accept-Language": language})
            assert response.status_code == 422, (field, response.text)
            problem = response.json()
            assert response.headers["content-type"].startswith("application/problem+json")
            assert problem["field"] == field or field in [e["field"] for e in problem["errors"]], problem
    mine = await client.get(f"{PROPS}/mine", headers=landlord.headers)
    assert mine.json()["items"] == []  # nothing was written


async def test_photos_are_checked_stripped_resized_and_ordered(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    prop = await published(client, landlord)
    pid = prop["id"]
    files = [
        ("files", ("gps.jpg", photo(gps=True), "image/jpeg")),
        ("files", ("tall.png", photo("PNG", (800, 1600)), "image/png")),
        ("files", ("w.webp", photo("WEBP", (640, 480)), "image/webp")),
    ]
    response = await client.post(f"{PROPS}/{pid}/images", files=files, headers=landlord.headers)
    assert response.status_code == 201, response.text
    images = response.json()
    assert [i["is_primary"] for i in images] == [True, False, False]
    assert [i["order_index"] for i in images] == [0, 1, 2]

    for size, box in {"thumb": (150, 150), "medium": (600, 400), "large": (1200, 800)}.items():
        served = await client.get(images[0]["urls"][size])
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(served.content)) as rendition:
            assert rendition.format == "JPEG"
            assert rendition.width <= box[0] and rendition.height <= box[1]
            assert max(rendition.width / box[0], rendition.height / box[1]) > 0.99  # fitted, not shrunk more
            exif = rendition.getexif()
            assert 0x8825 not in exif and 0x010F not in exif, dict(exif)  # no GPS, no maker
            assert "exif" not in rendition.info

    # Order and primary
    order = [images[2]["id"], images[0]["id"], images[1]["id"]]
    arranged = await client.put(
        f"{PROPS}/{pid}/images/order", json={"order": order, "primary_id": images[2]["id"]}, headers=landlord.headers
    )
    assert arranged.status_code == 200
    detail = (await client.get(f"{PROPS}/{pid}", headers=landlord.headers)).json()
    assert [i["id"] for i in detail["images"]] == order
    assert [i["is_primary"] for i in detail["images"]] == [True, False, False]

    # Bad files: nothing written, the field at fault named.
    bomb = _bomb()
    cases = [
        ([("files", ("x.jpg", b"%PDF-1.7 not an image", "image/jpeg"))], 415, "files[0]"),
        (
            [
                ("files", ("a.jpg", photo(), "image/jpeg")),
                ("files", ("b.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")),
            ],
            415,
            "files[1]",
        ),
        ([("files", ("bomb.png", bomb, "image/png"))], 413, "files[0]"),
        ([("files", ("big.jpg", b"\xff\xd8\xff" + b"0" * 10_000_001, "image/jpeg"))], 413, "files[0]"),
        ([("files", (f"{n}.jpg", photo(size=(20, 20)), "image/jpeg")) for n in range(11)], 422, "files"),
    ]
    for upload, code, field in cases:
        refused = await client.post(f"{PROPS}/{pid}/images", files=upload, headers=landlord.headers)
        assert refused.status_code == code, refused.text
        assert refused.json()["field"] == field, refused.json()
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(PropertyImage).where(PropertyImage.property_id == uuid.UUID(pid))
        )
    assert count == 3

    other = await join(client, market, "landlord")
    stranger = await client.post(f"{PROPS}/{pid}/images", files=files[:1], headers=other.headers)
    assert stranger.status_code == 403


def _bomb() -> bytes:
    """A tiny PNG announcing a 100 000 × 100 000 canvas (10 gigapixels)."""
    out = io.BytesIO()
    Image.new("1", (10_000, 1_000)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    # IHDR: type at 12..16, width and height at 16..24, its CRC (over type and data) at 29..33
    data[16:20] = (100_000).to_bytes(4, "big")
    data[20:24] = (100_000).to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


async def test_favourites(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    first = await published(client, landlord)
    second = await published(client, landlord, title="Villa avec piscine à Cocody", city="Abidjan")
    for prop in (first, second, first):
        response = await client.post(f"{PROPS}/{prop['id']}/favorite", headers=tenant.headers)
        assert response.status_code == 200
    listed = (await client.get("/api/v1/rentals/favorites", headers=tenant.headers)).json()["items"]
    assert [p["id"] for p in listed] == [second["id"], first["id"]]
    assert (await client.delete(f"{PROPS}/{second['id']}/favorite", headers=tenant.headers)).status_code == 204
    listed = (await client.get("/api/v1/rentals/favorites", headers=tenant.headers)).json()["items"]
    assert [p["id"] for p in listed] == [first["id"]]
    # another tenant has their own list
    other = await join(client, market, "tenant")
    assert (await client.get("/api/v1/rentals/favorites", headers=other.headers)).json()["items"] == []
