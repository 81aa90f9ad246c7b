"""Reviews: only after a completed stay, one per side, rating 1 to 5, double-blind (revealed when both wrote or
14 days after the stay), the listing's rating from revealed reviews."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import utcnow
from cauri.rentals.reviews import publish_due
from tests.rentals.conftest import Market, Member, join, published

BOOKINGS = "/api/v1/rentals/bookings"
REVIEWS = "/api/v1/rentals/reviews"


async def _stay(
    client: httpx.AsyncClient, landlord: Member, tenant: Member, prop_id: str, *, start: str, end: str
) -> str:
    body = {"property_id": prop_id, "start_date": start, "end_date": end}
    bid: str = (await client.post(BOOKINGS, json=body, headers=tenant.headers)).json()["id"]
    await client.post(f"{BOOKINGS}/{bid}/accept", headers=landlord.headers)
    return bid


async def test_double_blind_reviews_after_a_completed_stay(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    stranger = await join(client, market, "tenant")
    prop = await published(client, landlord, minimum_stay=None)
    bid = await _stay(client, landlord, tenant, prop["id"], start="2030-11-01", end="2030-11-03")

    early = await client.post(REVIEWS, json={"booking_id": bid, "rating": 5}, headers=tenant.headers)
    assert early.status_code == 409 and early.json()["code"] == "rental_stay_not_completed"
    assert early.json()["field"] == "booking_id"
    await client.post(f"{BOOKINGS}/{bid}/check-in", headers=landlord.headers)
    await client.post(f"{BOOKINGS}/{bid}/check-out", headers=landlord.headers)

    for rating in (0, 6):
        bad = await client.post(REVIEWS, json={"booking_id": bid, "rating": rating}, headers=tenant.headers)
        assert bad.status_code == 422 and bad.json()["field"] == "rating"
    assert (
        await client.post(REVIEWS, json={"booking_id": bid, "rating": 4}, headers=stranger.headers)
    ).status_code == 404

    mine = await client.post(
        REVIEWS, json={"booking_id": bid, "rating": 4, "comment": "Très propre"}, headers=tenant.headers
    )
    assert mine.status_code == 201 and mine.json()["published_at"] is None
    twice = await client.post(REVIEWS, json={"booking_id": bid, "rating": 1}, headers=tenant.headers)
    assert twice.status_code == 409 and twice.json()["code"] == "rental_already_reviewed"

    # Blind: the landlord does not see the tenant's review before writing theirs; the public sees nothing.
    assert (await client.get(f"{BOOKINGS}/{bid}/reviews", headers=landlord.headers)).json() == []
    public = (await client.get(f"/api/v1/rentals/properties/{prop['id']}/reviews", headers=market.public)).json()
    assert (public["rating"], public["count"], public["items"]) == (None, 0, [])

    theirs = await client.post(
        REVIEWS, json={"booking_id": bid, "rating": 5, "comment": "Locataire parfait"}, headers=landlord.headers
    )
    assert theirs.status_code == 201 and theirs.json()["published_at"] is not None
    both = (await client.get(f"{BOOKINGS}/{bid}/reviews", headers=tenant.headers)).json()
    assert sorted((r["side"], r["rating"]) for r in both) == [("landlord", 5), ("tenant", 4)]
    assert all(r["published_at"] for r in both)
    public = (await client.get(f"/api/v1/rentals/properties/{prop['id']}/reviews", headers=market.public)).json()
    assert (public["rating"], public["count"]) == (4.0, 1)  # the listing is rated by tenants

    # Alone for 14 days after the stay: revealed anyway.
    bid2 = await _stay(client, landlord, tenant, prop["id"], start="2030-12-01", end="2030-12-03")
    await client.post(f"{BOOKINGS}/{bid2}/check-in", headers=landlord.headers)
    await client.post(f"{BOOKINGS}/{bid2}/check-out", headers=landlord.headers)
    await client.post(REVIEWS, json={"booking_id": bid2, "rating": 2}, headers=tenant.headers)
    async with sessionmaker() as session:
        assert await publish_due(session, now=utcnow() + timedelta(days=13)) == 0
        assert await publish_due(session, now=utcnow() + timedelta(days=14, minutes=1)) >= 1
        await session.commit()
    public = (await client.get(f"/api/v1/rentals/properties/{prop['id']}/reviews", headers=market.public)).json()
    assert (public["rating"], public["count"]) == (3.0, 2)
