"""Administration: only the operator's admins; a suspended listing leaves search and cannot be republished by its
landlord, who is told why; a hidden review counts nowhere, with its trail; statistics that add up to what was
done (listings by status and city, bookings and GMV by month, rent released, fees earned, users by role)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import utcnow
from tests.rentals.conftest import Market, Member, join, listing, published
from tests.rentals.test_money import TENANT_PHONE, _paid

ADMIN = "/api/v1/rentals/admin"
PROPS = "/api/v1/rentals/properties"
BOOKINGS = "/api/v1/rentals/bookings"


@pytest.fixture(scope="module")
async def cast(app: FastAPI, market: Market) -> tuple[Member, Member]:
    """A landlord and a tenant shared by this file's tests (logins are slow); the statistics make their own."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await join(http, market, "landlord"), await join(http, market, "tenant")


async def test_only_admins_administer(client: httpx.AsyncClient, cast: tuple[Member, Member]) -> None:
    landlord, _ = cast
    prop = await published(client, landlord)
    for method, path, body in (
        ("GET", f"{ADMIN}/stats", None),
        ("GET", f"{ADMIN}/listings", None),
        ("GET", f"{ADMIN}/reviews", None),
        ("POST", f"{ADMIN}/listings/{prop['id']}/suspend", {"reason": "Photos trompeuses"}),
    ):
        refused = await client.request(method, path, json=body, headers={**landlord.headers, "Accept-Language": "en"})
        assert refused.status_code == 403 and refused.json()["code"] == "rental_forbidden", (path, refused.text)
        assert "administrators" in refused.json()["detail"]
        assert (await client.request(method, path, json=body)).status_code == 401


async def test_a_suspended_listing_leaves_search_until_reinstated(
    client: httpx.AsyncClient, market: Market, cast: tuple[Member, Member]
) -> None:
    landlord, _ = cast
    title = "Studio lumineux à Gbégamey"
    prop = await published(client, landlord, title=title)
    pid = prop["id"]

    async def found() -> bool:
        hits = (await client.get(PROPS, params={"q": "lumineux Gbégamey"}, headers=market.public)).json()["items"]
        return pid in [p["id"] for p in hits]

    assert await found()
    no_reason = await client.post(f"{ADMIN}/listings/{pid}/suspend", json={}, headers=market.owner.headers)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    suspended = await client.post(
        f"{ADMIN}/listings/{pid}/suspend", json={"reason": "Photos trompeuses"}, headers=market.owner.headers
    )
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["status"], suspended.json()["suspension_reason"]) == ("inactive", "Photos trompeuses")
    assert not await found()
    assert (await client.get(f"{PROPS}/{pid}", headers=market.public)).status_code == 404
    queue = (await client.get(f"{ADMIN}/listings", params={"suspended": True}, headers=market.owner.headers)).json()
    assert pid in [p["id"] for p in queue["items"]]

    # The landlord sees why, is told, and cannot republish it.
    own = (await client.get(f"{PROPS}/{pid}", headers=landlord.headers)).json()
    assert own["suspension_reason"] == "Photos trompeuses"
    republish = await client.post(f"{PROPS}/{pid}/status", params={"status": "published"}, headers=landlord.headers)
    assert republish.status_code == 409 and republish.json()["code"] == "rental_listing_suspended"
    assert republish.json()["field"] == "status" and "Photos trompeuses" in republish.json()["detail"]
    inbox = (await client.get("/api/v1/notifications", headers=landlord.headers)).json()["items"]
    [told] = [n for n in inbox if n["kind"] == "rental.listing_moderated"]
    assert "Photos trompeuses" in told["body"] and title in told["body"]

    reinstated = await client.post(
        f"{ADMIN}/listings/{pid}/reinstate", json={"reason": "Photos remplacées"}, headers=market.owner.headers
    )
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "published"
    assert reinstated.json()["suspension_reason"] is None
    assert await found()
    trail = (await client.get(f"{ADMIN}/listings/{pid}/trail", headers=market.owner.headers)).json()
    assert [(e["action"], e["changes"]["reason"]) for e in trail] == [
        ("rental.listing.suspended", "Photos trompeuses"),
        ("rental.listing.reinstated", "Photos remplacées"),
    ]


async def _completed_stay(client: httpx.AsyncClient, landlord: Member, tenant: Member, prop_id: str) -> str:
    body = {"property_id": prop_id, "start_date": "2030-09-01", "end_date": "2030-09-03"}
    bid: str = (await client.post(BOOKINGS, json=body, headers=tenant.headers)).json()["id"]
    for step in ("accept", "check-in", "check-out"):
        assert (await client.post(f"{BOOKINGS}/{bid}/{step}", headers=landlord.headers)).status_code == 200, step
    return bid


async def test_a_hidden_review_counts_nowhere(
    client: httpx.AsyncClient, market: Market, cast: tuple[Member, Member]
) -> None:
    landlord, tenant = cast
    prop = await published(client, landlord, minimum_stay=None)
    bid = await _completed_stay(client, landlord, tenant, prop["id"])
    review = await client.post("/api/v1/rentals/reviews", json={"booking_id": bid, "rating": 1}, headers=tenant.headers)
    await client.post("/api/v1/rentals/reviews", json={"booking_id": bid, "rating": 5}, headers=landlord.headers)
    rid = review.json()["id"]
    reviews_of = f"{PROPS}/{prop['id']}/reviews"
    assert (await client.get(reviews_of, headers=market.public)).json()["count"] == 1
    assert (await client.get(f"/api/v1/rentals/people/{landlord.user_id}", headers=tenant.headers)).json()[
        "rating"
    ] == 1.0

    hidden = await client.post(
        f"{ADMIN}/reviews/{rid}/hide", json={"reason": "Propos injurieux"}, headers=market.owner.headers
    )
    assert hidden.status_code == 200 and hidden.json()["hidden_reason"] == "Propos injurieux"
    public = (await client.get(reviews_of, headers=market.public)).json()
    assert (public["rating"], public["count"], public["items"]) == (None, 0, [])
    person = (await client.get(f"/api/v1/rentals/people/{landlord.user_id}", headers=tenant.headers)).json()
    assert (person["rating"], person["reviews_count"]) == (None, 0)
    again = await client.post(f"{ADMIN}/reviews/{rid}/hide", json={"reason": "Encore"}, headers=market.owner.headers)
    assert again.status_code == 409

    restored = await client.post(
        f"{ADMIN}/reviews/{rid}/restore", json={"reason": "Contesté avec succès"}, headers=market.owner.headers
    )
    assert restored.status_code == 200 and restored.json()["hidden_at"] is None
    assert (await client.get(reviews_of, headers=market.public)).json()["count"] == 1
    trail = (await client.get(f"{ADMIN}/reviews/{rid}/trail", headers=market.owner.headers)).json()
    assert [e["action"] for e in trail] == ["rental.review.hidden", "rental.review.restored"]
    assert all(e["actor_user_id"] == str(market.owner.user_id) for e in trail)


def _line(lines: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [line for line in lines if all(line[k] == v for k, v in match.items())]
    return found[0] if found else {}


async def test_statistics_add_up(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    stats = f"{ADMIN}/stats"
    before = (await client.get(stats, headers=market.owner.headers)).json()
    month = utcnow().strftime("%Y-%m")
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    city = "Ouidah"
    paid_prop = await published(client, landlord, city=city, price=20_000, deposit_amount=0, minimum_stay=None)
    await published(client, landlord, city=city)
    draft = await client.post(PROPS, json=listing(city=city), headers=landlord.headers)
    assert draft.status_code == 201, draft.text

    # One request left pending, one paid (60 000 of rent) and checked in: 90 % to the landlord, 10 % to the fees.
    ask = {"property_id": paid_prop["id"], "start_date": "2031-01-10", "end_date": "2031-01-12"}
    assert (await client.post(BOOKINGS, json=ask, headers=tenant.headers)).status_code == 201
    ask = {"property_id": paid_prop["id"], "start_date": "2031-02-01", "end_date": "2031-02-04"}
    bid = (await client.post(BOOKINGS, json=ask, headers=tenant.headers)).json()["id"]
    await client.post(f"{BOOKINGS}/{bid}/accept", headers=landlord.headers)
    paying = await client.post(f"{BOOKINGS}/{bid}/pay", json={"phone": TENANT_PHONE}, headers=tenant.headers)
    assert paying.status_code == 200, paying.text
    await _paid(client, sessionmaker, tenant, bid, [p["id"] for p in paying.json()])
    assert (await client.post(f"{BOOKINGS}/{bid}/check-in", headers=landlord.headers)).status_code == 200

    after = (await client.get(stats, headers=market.owner.headers)).json()

    def count(doc: dict[str, Any], status: str) -> int:
        return int(_line(doc["listings"], status=status, city=city).get("count", 0))

    assert (count(after, "published") - count(before, "published"), count(after, "draft") - count(before, "draft")) == (
        2,
        1,
    )
    for status in ("published", "draft"):
        assert after["listings_by_status"][status] - before["listings_by_status"].get(status, 0) >= 1
    month_before = _line(before["bookings_by_month"], month=month, currency="XOF")
    month_after = _line(after["bookings_by_month"], month=month, currency="XOF")
    assert {k: month_after[k] - month_before.get(k, 0) for k in ("bookings", "confirmed", "gmv")} == {
        "bookings": 2,
        "confirmed": 1,
        "gmv": 60_000,
    }
    released = _line(after["payouts"], currency="XOF")["released"] - _line(before["payouts"], currency="XOF").get(
        "released", 0
    )
    earned = _line(after["fees"], currency="XOF")["earned"] - _line(before["fees"], currency="XOF").get("earned", 0)
    assert (released, earned) == (54_000, 6_000)
    roles = {
        role: after["users_by_role"].get(role, 0) - before["users_by_role"].get(role, 0)
        for role in after["users_by_role"]
    }
    assert (roles["landlord"], roles["tenant"]) == (1, 1)
    assert after["users_by_role"]["owner"] >= 1
