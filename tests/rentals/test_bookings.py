"""Bookings: request, accept, reject, cancel, check in and out; who sees which bookings; the calendar; timers; and
no double booking ever — 100 concurrent requests for overlapping nights leave exactly one holding them."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import date, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import utcnow
from cauri.rentals.bookings import apply_timers
from cauri.rentals.models import HOLDING_STATUSES, Booking
from tests.rentals.conftest import Market, join, published

BOOKINGS = "/api/v1/rentals/bookings"


def day(offset: int) -> str:
    return (date(2030, 3, 1) + timedelta(days=offset)).isoformat()


async def test_request_accept_and_who_sees_what(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    other_landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    other_tenant = await join(client, market, "tenant")
    prop = await published(client, landlord, price=20_000, deposit_amount=40_000, minimum_stay=2)

    body = {"property_id": prop["id"], "start_date": day(0), "end_date": day(3), "message": "Bonjour !"}
    created = await client.post(BOOKINGS, json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    booking = created.json()
    assert (booking["status"], booking["nights"], booking["total_amount"], booking["deposit_amount"]) == (
        "pending",
        3,
        60_000,
        40_000,
    )
    bid = booking["id"]

    # The nights are held while the request waits: another tenant cannot take them.
    overlap = {"property_id": prop["id"], "start_date": day(2), "end_date": day(5)}
    taken = await client.post(BOOKINGS, json=overlap, headers=other_tenant.headers)
    assert taken.status_code == 409 and taken.json()["code"] == "rental_dates_unavailable"
    # Back to back is fine: the departure day is the next arrival.
    after = await client.post(
        BOOKINGS,
        json={"property_id": prop["id"], "start_date": day(3), "end_date": day(5)},
        headers=other_tenant.headers,
    )
    assert after.status_code == 201, after.text

    # Tenancy: a tenant sees their own bookings, a landlord their properties' bookings, nobody else's.
    mine = (await client.get(f"{BOOKINGS}/mine", headers=tenant.headers)).json()["items"]
    assert [b["id"] for b in mine] == [bid]
    theirs = (await client.get(f"{BOOKINGS}/my-properties", headers=landlord.headers)).json()["items"]
    assert {b["id"] for b in theirs} == {bid, after.json()["id"]}
    assert (await client.get(f"{BOOKINGS}/my-properties", headers=other_landlord.headers)).json()["items"] == []
    assert (await client.get(f"{BOOKINGS}/{bid}", headers=other_tenant.headers)).status_code == 404
    assert (await client.get(f"{BOOKINGS}/{bid}", headers=other_landlord.headers)).status_code == 404
    assert (await client.get(f"{BOOKINGS}/{bid}", headers=landlord.headers)).status_code == 200
    assert (await client.get(f"{BOOKINGS}/{bid}", headers=market.owner.headers)).status_code == 200

    # Only the landlord answers.
    assert (await client.post(f"{BOOKINGS}/{bid}/accept", headers=tenant.headers)).status_code == 403
    accepted = await client.post(f"{BOOKINGS}/{bid}/accept", headers=landlord.headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "confirmed"
    assert accepted.json()["pay_by"] is not None
    again = await client.post(f"{BOOKINGS}/{bid}/accept", headers=landlord.headers)
    assert again.status_code == 409 and again.json()["code"] == "rental_booking_wrong_state"

    calendar = (
        await client.get(
            f"/api/v1/rentals/properties/{prop['id']}/availability", params={"since": day(-10)}, headers=market.public
        )
    ).json()
    assert [(b["start_date"], b["end_date"], b["status"]) for b in calendar["busy"]] == [
        (day(0), day(3), "confirmed"),
        (day(3), day(5), "pending"),
    ]

    # Reject and cancel free the nights.
    rejected = await client.post(
        f"{BOOKINGS}/{after.json()['id']}/reject", json={"reason": "Travaux"}, headers=landlord.headers
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    cancelled = await client.post(
        f"{BOOKINGS}/{bid}/cancel", json={"reason": "Changement de plans"}, headers=tenant.headers
    )
    assert cancelled.status_code == 200 and cancelled.json()["cancellation_reason"] == "Changement de plans"
    retaken = await client.post(BOOKINGS, json=overlap, headers=other_tenant.headers)
    assert retaken.status_code == 201, retaken.text


async def test_check_in_and_out_are_recorded(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    prop = await published(client, landlord)
    bid = (
        await client.post(
            BOOKINGS,
            json={"property_id": prop["id"], "start_date": day(40), "end_date": day(42)},
            headers=tenant.headers,
        )
    ).json()["id"]
    assert (await client.post(f"{BOOKINGS}/{bid}/check-in", headers=landlord.headers)).status_code == 409
    await client.post(f"{BOOKINGS}/{bid}/accept", headers=landlord.headers)
    checked_in = await client.post(f"{BOOKINGS}/{bid}/check-in", headers=landlord.headers)
    assert checked_in.status_code == 200 and checked_in.json()["checked_in_at"]
    assert (await client.post(f"{BOOKINGS}/{bid}/cancel", headers=tenant.headers)).status_code == 409
    out = await client.post(f"{BOOKINGS}/{bid}/check-out", headers=landlord.headers)
    assert out.status_code == 200 and out.json()["status"] == "completed" and out.json()["checked_out_at"]


async def test_bad_booking_requests(client: httpx.AsyncClient, market: Market) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    prop = await published(client, landlord, minimum_stay=3, available_from="2030-01-01", available_to="2031-12-31")
    cases = [
        ({"start_date": day(5), "end_date": day(2)}, 422, "end_date"),
        ({"start_date": day(5), "end_date": day(5)}, 422, "end_date"),
        ({"start_date": day(5), "end_date": day(6)}, 422, "end_date"),  # minimum stay 3
        ({"start_date": "2029-12-30", "end_date": "2030-01-05"}, 422, "start_date"),  # before the window
        ({"start_date": "2031-12-30", "end_date": "2032-01-05"}, 422, "end_date"),  # after it
        ({"start_date": "2020-01-01", "end_date": "2020-01-05"}, 422, "start_date"),  # in the past
        ({"start_date": "not-a-date", "end_date": day(4)}, 422, "start_date"),
    ]
    for dates, code, field in cases:
        for language in ("fr", "en"):
            response = await client.post(
                BOOKINGS,
                json={"property_id": prop["id"], **dates},
                headers={**tenant.headers, "Accept-Language": language},
            )
            assert response.status_code == code, (dates, response.text)
            assert response.json()["field"] == field or field in [e["field"] for e in response.json()["errors"]]
    # A landlord does not book (role), nor a tenant an unknown listing.
    as_landlord = await client.post(
        BOOKINGS, json={"property_id": prop["id"], "start_date": day(1), "end_date": day(5)}, headers=landlord.headers
    )
    assert as_landlord.status_code == 403
    unknown = await client.post(
        BOOKINGS,
        json={"property_id": str(uuid.uuid4()), "start_date": day(1), "end_date": day(5)},
        headers=tenant.headers,
    )
    assert unknown.status_code == 404
    assert (await client.get(f"{BOOKINGS}/mine", headers=tenant.headers)).json()["items"] == []


async def test_an_unanswered_request_lapses_and_an_unpaid_booking_expires(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    prop = await published(client, landlord)
    ask = {"property_id": prop["id"], "start_date": day(60), "end_date": day(63)}
    unanswered = (await client.post(BOOKINGS, json=ask, headers=tenant.headers)).json()["id"]
    async with sessionmaker() as session:
        assert await apply_timers(session, now=utcnow(), booking_id=uuid.UUID(unanswered)) == 0  # not yet
        assert await apply_timers(session, now=utcnow() + timedelta(hours=25), booking_id=uuid.UUID(unanswered)) == 1
        await session.commit()
    assert (await client.get(f"{BOOKINGS}/{unanswered}", headers=tenant.headers)).json()["status"] == "lapsed"
    # Told in the app: the landlord of the request, both sides of the lapse.
    landlord_inbox = (await client.get("/api/v1/notifications", headers=landlord.headers)).json()["items"]
    tenant_inbox = (await client.get("/api/v1/notifications", headers=tenant.headers)).json()["items"]
    assert {(n["kind"], n["object_id"]) for n in landlord_inbox} >= {
        ("rental.booking_requested", unanswered),
        ("rental.booking_status", f"{unanswered}:lapsed"),
    }
    [lapse] = [n for n in tenant_inbox if n["object_id"] == f"{unanswered}:lapsed"]
    assert "Fidjrossè" in lapse["body"] and "lapsed" in lapse["body"]

    unpaid = (await client.post(BOOKINGS, json=ask, headers=tenant.headers)).json()["id"]  # the nights are free again
    await client.post(f"{BOOKINGS}/{unpaid}/accept", headers=landlord.headers)
    async with sessionmaker() as session:
        assert await apply_timers(session, now=utcnow() + timedelta(hours=25), booking_id=uuid.UUID(unpaid)) == 1
        assert await apply_timers(session, now=utcnow() + timedelta(hours=26), booking_id=uuid.UUID(unpaid)) == 0
        await session.commit()
    assert (await client.get(f"{BOOKINGS}/{unpaid}", headers=tenant.headers)).json()["status"] == "expired"
    assert (await client.post(BOOKINGS, json=ask, headers=tenant.headers)).status_code == 201


async def test_a_hundred_concurrent_overlapping_requests_leave_exactly_one_holding(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    tenants = [await join(client, market, "tenant") for _ in range(5)]
    prop = await published(client, landlord, minimum_stay=None)

    async def ask(n: int) -> httpx.Response:
        # Every request overlaps every other: all contain night 100+4 (start 100..104, 5 nights).
        start = 100 + n % 5
        body = {"property_id": prop["id"], "start_date": day(start), "end_date": day(start + 5)}
        headers = {**tenants[n % len(tenants)].headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
        return await client.post(BOOKINGS, json=body, headers=headers)

    answers = await asyncio.gather(*(ask(n) for n in range(100)))
    codes = Counter(a.status_code for a in answers)
    assert codes == {201: 1, 409: 99}, (codes, [a.text for a in answers if a.status_code not in (201, 409)][:3])
    assert all(a.json()["code"] == "rental_dates_unavailable" for a in answers if a.status_code == 409)
    async with sessionmaker() as session:
        holding = (
            (
                await session.execute(
                    select(Booking.id).where(
                        Booking.property_id == uuid.UUID(prop["id"]), Booking.status.in_(HOLDING_STATUSES)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(holding) == 1
