"""The services marketplace over HTTP: providers' profiles and search, a request quoted by two providers, one quote
accepted (the other rejected, and only one of two concurrent accepts wins), the price paid through the sandbox into
the job's escrow, the job done and confirmed, the provider paid from escrow minus the platform's commission; who sees
what; bad input as problem+json in French and English."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.rentals import services
from cauri.rentals.money import ESCROW, PLATFORM_FEES
from cauri.rentals.services import PROVIDER_ACCOUNT
from tests.rentals.conftest import Market, Member, join
from tests.support.identity import Actor, register
from tests.support.waiting import until

API = "/api/v1/rentals"
REQUESTS = f"{API}/service-requests"
PHONE = "+221770000100"  # the sandbox's magic ending: success after a short settle


def _city() -> str:
    """A city of this test only, so other tests' providers and requests never match."""
    return f"Cotonou-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Cast:
    """The people of these tests, registered once per database (registering hashes a password: slow on purpose);
    each test works in cities of its own and sets the providers' profiles it needs."""

    tenant: Member
    landlord: Member
    providers: tuple[Member, Member, Member]
    stranger: Actor  # the owner of another organisation


@pytest.fixture(scope="module")
async def cast(app: FastAPI, market: Market) -> AsyncIterator[Cast]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        people = [await join(http, market, role) for role in ("tenant", "landlord", "provider", "provider", "provider")]
        stranger = await register(http, org_name="Another marketplace")
    yield Cast(tenant=people[0], landlord=people[1], providers=(people[2], people[3], people[4]), stranger=stranger)


async def _provider(client: httpx.AsyncClient, provider: Member, city: str, services: list[str]) -> Member:
    profile = await client.put(
        f"{API}/providers/me",
        json={
            "company_name": "Plomberie Express",
            "services": services,
            "areas": [city, "Porto-Novo"],
            "hourly_rate": 5_000,
        },
        headers=provider.headers,
    )
    assert profile.status_code == 200, profile.text
    return provider


async def _request(client: httpx.AsyncClient, requester: Member, city: str, **changes: Any) -> dict[str, Any]:
    body = {
        "service": "plumbing",
        "title": "Fuite sous l'évier",
        "description": "L'eau coule sous l'évier de la cuisine depuis hier.",
        "urgency": "urgent",
        "city": f"  {city.upper()} ",  # matched case- and space-insensitively
        "wanted_date": (datetime.now(UTC).date() + timedelta(days=3)).isoformat(),
        **changes,
    }
    created = await client.post(REQUESTS, json=body, headers=requester.headers)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


async def _quote(client: httpx.AsyncClient, provider: Member, request_id: str, amount: int) -> dict[str, Any]:
    quoted = await client.post(
        f"{REQUESTS}/{request_id}/quotes",
        json={
            "amount": amount,
            "message": "Je passe demain matin.",
            "valid_until": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
        headers=provider.headers,
    )
    assert quoted.status_code == 201, quoted.text
    result: dict[str, Any] = quoted.json()
    return result


async def _told(client: httpx.AsyncClient, member: Member, request_id: str, event: str) -> bool:
    inbox = (await client.get("/api/v1/notifications", headers=member.headers)).json()["items"]
    return any(n["object_id"].startswith(f"{request_id}:{event}:") for n in inbox)


async def _balance(sessionmaker: async_sessionmaker[AsyncSession], org: uuid.UUID, code: str, owner: str | None) -> int:
    async with sessionmaker() as session:
        account = await ledger.get_or_create_account(
            session,
            organization_id=org,
            currency="XOF",
            code=code,
            owner_ref=owner,
            debits_must_not_exceed_credits=code != PLATFORM_FEES,
        )
        balance = await ledger.balance(session, account.id)
        await session.commit()
    return balance.posted


async def test_a_job_quoted_accepted_paid_done_confirmed_and_the_provider_paid_out(
    client: httpx.AsyncClient, market: Market, cast: Cast, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    city = _city()
    org = market.organization_id
    tenant = cast.tenant
    first = await _provider(client, cast.providers[0], city, ["plumbing", "electricity"])
    second = await _provider(client, cast.providers[1], city, ["plumbing"])
    jobs_before = (await client.get(f"{API}/providers/me", headers=second.headers)).json()["total_jobs"]
    owed_before = await _balance(sessionmaker, org, PROVIDER_ACCOUNT, str(second.user_id))

    # The public catalogue and search: by service and city, keyset paged.
    catalogue = (await client.get(f"{API}/services", headers=market.public)).json()
    assert {"plumbing", "electricity", "cleaning", "moving"} <= {c["code"] for c in catalogue}
    page = await client.get(
        f"{API}/providers", params={"service": "plumbing", "city": city.lower(), "limit": 1}, headers=market.public
    )
    assert page.status_code == 200 and len(page.json()["items"]) == 1 and page.json()["next_cursor"]
    rest = await client.get(
        f"{API}/providers",
        params={"service": "plumbing", "city": city, "cursor": page.json()["next_cursor"]},
        headers=market.public,
    )
    assert {p["user_id"] for p in page.json()["items"] + rest.json()["items"]} == {
        str(first.user_id),
        str(second.user_id),
    }
    electricians = await client.get(
        f"{API}/providers", params={"service": "electricity", "city": city}, headers=market.public
    )
    assert [p["user_id"] for p in electricians.json()["items"]] == [str(first.user_id)]

    # A request both see; two quotes; the requester sees both, each provider only their own.
    request = await _request(client, tenant, city)
    rid = request["id"]
    assert request["status"] == "open" and request["city"] == city.upper()
    for provider in (first, second):
        mine = (await client.get(f"{REQUESTS}/open", headers=provider.headers)).json()["items"]
        assert [r["id"] for r in mine] == [rid]
    dear = await _quote(client, first, rid, 30_000)
    cheap = await _quote(client, second, rid, 25_000)
    assert len((await client.get(f"{REQUESTS}/{rid}/quotes", headers=tenant.headers)).json()) == 2
    own = (await client.get(f"{REQUESTS}/{rid}/quotes", headers=first.headers)).json()
    assert [q["id"] for q in own] == [dear["id"]]

    # Accepting one rejects the other; accepting it again is harmless.
    accepted = await client.post(f"{API}/service-quotes/{cheap['id']}/accept", headers=tenant.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "assigned" and accepted.json()["amount"] == 25_000
    assert accepted.json()["provider_id"] == str(second.user_id)
    again = await client.post(f"{API}/service-quotes/{cheap['id']}/accept", headers=tenant.headers)
    assert again.status_code == 200 and again.json()["accepted_quote_id"] == cheap["id"]
    statuses = {
        q["id"]: q["status"] for q in (await client.get(f"{REQUESTS}/{rid}/quotes", headers=tenant.headers)).json()
    }
    assert statuses == {dear["id"]: "rejected", cheap["id"]: "accepted"}

    # Paying twice asks the phone once; the settlement marks the job paid.
    paying = await client.post(f"{REQUESTS}/{rid}/pay", json={"phone": PHONE}, headers=tenant.headers)
    assert paying.status_code == 200, paying.text
    assert (paying.json()["purpose"], paying.json()["amount"]) == ("rental.service", 25_000)
    twice = await client.post(f"{REQUESTS}/{rid}/pay", json={"phone": PHONE}, headers=tenant.headers)
    assert twice.json()["id"] == paying.json()["id"]

    async def paid() -> bool:
        return bool((await client.get(f"{REQUESTS}/{rid}", headers=tenant.headers)).json()["status"] == "paid")

    await until(paid, "the job paid", within=30)

    async def fee_known() -> bool:  # the provider's fee may be charged just after the success
        async with sessionmaker() as session:
            view = await payments.get(session, organization_id=org, payment_id=uuid.UUID(paying.json()["id"]))
        return view.fee is not None

    await until(fee_known, "the payment's fee known", within=30)
    assert await _balance(sessionmaker, org, ESCROW, rid) in (25_000 - 250, 25_000)  # less the fee, until covered

    # Only the chosen provider says it is done; only the requester confirms; then the provider is paid.
    assert (await client.post(f"{REQUESTS}/{rid}/done", headers=first.headers)).status_code == 403  # not theirs
    assert (await client.post(f"{REQUESTS}/{rid}/confirm", headers=tenant.headers)).status_code == 409  # not done
    done = await client.post(f"{REQUESTS}/{rid}/done", headers=second.headers)
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["confirm_by"]
    fees_before = await _balance(sessionmaker, org, PLATFORM_FEES, None)
    escrow_before = await _balance(sessionmaker, org, ESCROW, rid)
    confirmed = await client.post(f"{REQUESTS}/{rid}/confirm", headers=tenant.headers)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "completed", confirmed.text
    assert await _balance(sessionmaker, org, ESCROW, rid) == 0
    assert await _balance(sessionmaker, org, PROVIDER_ACCOUNT, str(second.user_id)) - owed_before == 22_500
    # 10 % commission, less the provider's fee if it was covered only now (platform_fees → escrow).
    assert await _balance(sessionmaker, org, PLATFORM_FEES, None) - fees_before == 2_500 - (25_000 - escrow_before)

    # Each step told to the other side, in the app (the new request by a job, once committed).
    await until(lambda: _told(client, second, rid, "posted"), "the request announced", within=30)
    tenant_inbox = (await client.get("/api/v1/notifications", headers=tenant.headers)).json()["items"]
    provider_inbox = (await client.get("/api/v1/notifications", headers=second.headers)).json()["items"]
    told_tenant = {n["object_id"].split(":")[1] for n in tenant_inbox if n["object_id"].startswith(rid)}
    told_provider = {n["object_id"].split(":")[1] for n in provider_inbox if n["object_id"].startswith(rid)}
    assert (told_tenant, told_provider) == ({"quoted", "done"}, {"posted", "accepted", "paid", "completed"})
    assert all("Fuite sous l'évier" in n["body"] for n in provider_inbox if n["object_id"].startswith(rid))

    balance = await client.get(f"{API}/providers/me/balance", headers=second.headers)
    assert balance.json()["available"] == owed_before + 22_500
    payout = await client.post(
        f"{API}/providers/me/payouts", json={"phone": "+221770000101", "amount": 22_500}, headers=second.headers
    )
    assert payout.status_code == 201, payout.text
    assert (payout.json()["purpose"], payout.json()["amount"]) == ("rental.payout", 22_500)
    profile = (await client.get(f"{API}/providers/me", headers=second.headers)).json()
    assert profile["total_jobs"] == jobs_before + 1
    assert (await client.post(f"{REQUESTS}/{rid}/cancel", headers=tenant.headers)).status_code == 409

    # Double-blind reviews of the job: hidden until both wrote, then the provider's rating is on their profile.
    written = await client.post(f"{REQUESTS}/{rid}/reviews", json={"rating": 4}, headers=tenant.headers)
    assert written.status_code == 201 and written.json()["published_at"] is None, written.text
    assert (await client.get(f"{REQUESTS}/{rid}/reviews", headers=second.headers)).json() == []
    assert (
        await client.post(f"{REQUESTS}/{rid}/reviews", json={"rating": 2}, headers=first.headers)
    ).status_code == 403
    answer = await client.post(
        f"{REQUESTS}/{rid}/reviews", json={"rating": 5, "comment": "Client ponctuel"}, headers=second.headers
    )
    assert answer.status_code == 201 and answer.json()["published_at"] is not None
    again_review = await client.post(f"{REQUESTS}/{rid}/reviews", json={"rating": 1}, headers=tenant.headers)
    assert again_review.status_code == 409 and again_review.json()["code"] == "rental_already_reviewed"
    public = (await client.get(f"{API}/providers/{profile['id']}/reviews", headers=market.public)).json()
    assert (public["rating"], public["count"], [r["rating"] for r in public["items"]]) == (4.0, 1, [4])


async def test_two_concurrent_accepts_one_wins(client: httpx.AsyncClient, cast: Cast) -> None:
    city = _city()
    landlord = cast.landlord
    first = await _provider(client, cast.providers[0], city, ["plumbing"])
    second = await _provider(client, cast.providers[1], city, ["plumbing"])
    rid = (await _request(client, landlord, city))["id"]
    quotes = [await _quote(client, p, rid, amount) for p, amount in ((first, 40_000), (second, 45_000))]
    answers = await asyncio.gather(
        *(client.post(f"{API}/service-quotes/{q['id']}/accept", headers=landlord.headers) for q in quotes)
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 200)
    loser = next(a.json() for a in answers if a.status_code == 409)
    assert loser["code"] == "rental_quote_not_pending" or loser["code"] == "rental_service_request_wrong_state"
    request = (await client.get(f"{REQUESTS}/{rid}", headers=landlord.headers)).json()
    assert request["accepted_quote_id"] == winner["accepted_quote_id"]
    statuses = sorted(
        q["status"] for q in (await client.get(f"{REQUESTS}/{rid}/quotes", headers=landlord.headers)).json()
    )
    assert statuses == ["accepted", "rejected"]


async def test_who_sees_a_request(client: httpx.AsyncClient, market: Market, cast: Cast) -> None:
    city = _city()
    tenant, other_tenant, stranger = cast.tenant, cast.landlord, cast.stranger
    plumber = await _provider(client, cast.providers[0], city, ["plumbing"])
    electrician = await _provider(client, cast.providers[1], city, ["electricity"])
    elsewhere = await _provider(client, cast.providers[2], _city(), ["plumbing"])
    rid = (await _request(client, tenant, city))["id"]

    assert (await client.get(f"{REQUESTS}/{rid}", headers=plumber.headers)).status_code == 200
    # Announced to the provider covering it, to no one else.
    await until(lambda: _told(client, plumber, rid, "posted"), "the request announced", within=30)
    assert not await _told(client, electrician, rid, "posted") and not await _told(client, elsewhere, rid, "posted")
    for outsider in (other_tenant.headers, electrician.headers, elsewhere.headers, stranger.headers):
        assert (await client.get(f"{REQUESTS}/{rid}", headers=outsider)).status_code == 404
        assert (await client.get(f"{REQUESTS}/{rid}/quotes", headers=outsider)).status_code == 404
    for provider in (electrician, elsewhere):
        assert (await client.get(f"{REQUESTS}/open", headers=provider.headers)).json()["items"] == []
        refused = await client.post(f"{REQUESTS}/{rid}/quotes", json={"amount": 10_000}, headers=provider.headers)
        assert refused.status_code == 404
    # The operator verifies a provider (a provider cannot verify themselves); search can ask for verified ones.
    verify = f"{API}/providers/{(await client.get(f'{API}/providers/me', headers=plumber.headers)).json()['id']}"
    assert (await client.post(f"{verify}/verification", json={}, headers=plumber.headers)).status_code == 403
    verified = await client.post(f"{verify}/verification", json={"verified": True}, headers=market.owner.headers)
    assert verified.status_code == 200 and verified.json()["is_verified"] is True, verified.text
    only = await client.get(f"{API}/providers", params={"city": city, "verified": "true"}, headers=market.public)
    assert [p["user_id"] for p in only.json()["items"]] == [str(plumber.user_id)]
    # Another organisation does not find the marketplace's providers either.
    found = await client.get(f"{API}/providers", params={"city": city}, headers=stranger.headers)
    assert found.status_code == 200 and found.json()["items"] == []
    # Only a provider has a profile and quotes; only the requester accepts.
    as_tenant = await client.put(
        f"{API}/providers/me", json={"services": ["plumbing"], "areas": [city]}, headers=tenant.headers
    )
    assert as_tenant.status_code == 403
    quote = await _quote(client, plumber, rid, 12_000)
    assert (await client.post(f"{API}/service-quotes/{quote['id']}/accept", headers=plumber.headers)).status_code == 403
    assert (
        await client.post(f"{API}/service-quotes/{quote['id']}/accept", headers=other_tenant.headers)
    ).status_code == 404
    # Messages about the request: between the requester and a provider who quoted, nobody else.
    messages = f"{API}/messages"
    asked = await client.post(
        messages, json={"service_request_id": rid, "content": "Quelle marque de robinet ?"}, headers=plumber.headers
    )
    assert asked.status_code == 201 and asked.json()["receiver_id"] == str(tenant.user_id), asked.text
    answered = await client.post(
        messages,
        json={"service_request_id": rid, "recipient_id": str(plumber.user_id), "content": "Grohe."},
        headers=tenant.headers,
    )
    assert answered.status_code == 201 and answered.json()["conversation_id"] == asked.json()["conversation_id"]
    conversations = (await client.get(f"{API}/conversations", headers=tenant.headers)).json()["items"]
    about = [c for c in conversations if c["service_request_id"] == rid]
    assert len(about) == 1 and about[0]["property_id"] is None and about[0]["unread"] == 1
    for sender, body in (
        (electrician, {"service_request_id": rid, "content": "Je peux aussi ?"}),  # never quoted
        (tenant, {"service_request_id": rid, "recipient_id": str(electrician.user_id), "content": "Venez"}),
        (stranger, {"service_request_id": rid, "content": "Bonjour"}),  # another organisation
    ):
        refused = await client.post(messages, json=body, headers={**sender.headers, "Accept-Language": "en"})
        assert refused.status_code == 403 and refused.json()["code"] == "rental_message_not_allowed", refused.text
    # Cancelled before payment: free, the pending quote rejected; the provider no longer sees it as open.
    cancelled = await client.post(f"{REQUESTS}/{rid}/cancel", json={"reason": "Réparé"}, headers=tenant.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await client.get(f"{REQUESTS}/open", headers=plumber.headers)).json()["items"] == []
    assert [q["status"] for q in (await client.get(f"{REQUESTS}/{rid}/quotes", headers=tenant.headers)).json()] == [
        "rejected"
    ]


async def test_bad_service_input_is_a_problem_in_french_and_english(client: httpx.AsyncClient, cast: Cast) -> None:
    city = _city()
    tenant = cast.tenant
    plumber = await _provider(client, cast.providers[0], city, ["plumbing"])
    rival = await _provider(client, cast.providers[1], city, ["plumbing"])
    mine_before = (await client.get(f"{REQUESTS}/mine", headers=tenant.headers)).json()["items"]
    own = (await _request(client, plumber, city))["id"]  # a provider needs a plumber too
    rid = (await _request(client, tenant, city))["id"]
    taken = await _quote(client, plumber, rid, 20_000)
    lost = await _quote(client, rival, rid, 21_000)
    assert (await client.post(f"{API}/service-quotes/{taken['id']}/accept", headers=tenant.headers)).status_code == 200

    cases: list[tuple[str, str, dict[str, Any] | None, Member, int, str, str, dict[str, str]]] = [
        # path, method, body, who, status, field, code, {language: words in the message}
        (
            f"{REQUESTS}/{own}/quotes",
            "post",
            {"amount": 5_000},
            plumber,
            422,
            "request_id",
            "validation_error",
            {"fr": "propre demande", "en": "your own request"},
        ),
        (
            f"{API}/service-quotes/{lost['id']}/accept",
            "post",
            None,
            tenant,
            409,
            "quote_id",
            "rental_quote_not_pending",
            {"fr": "ne peut plus", "en": "can no longer"},
        ),
        (
            REQUESTS,
            "post",
            {"service": "astrology", "title": "Horoscope", "description": "Mon avenir", "city": city},
            tenant,
            422,
            "service",
            "validation_error",
            {"fr": "Service inconnu", "en": "Unknown service"},
        ),
        (
            REQUESTS,
            "post",
            {
                "service": "plumbing",
                "title": "Fuite",
                "description": "Fuite d'eau",
                "city": city,
                "wanted_date": "2020-01-01",
            },
            tenant,
            422,
            "wanted_date",
            "validation_error",
            {"fr": "passée", "en": "in the past"},
        ),
        (f"{REQUESTS}/{own}/quotes", "post", {"amount": 0}, rival, 422, "amount", "validation_error", {}),
        (
            f"{REQUESTS}/{own}/quotes",
            "post",
            {"amount": 5_000, "currency": "ZZZ"},
            rival,
            422,
            "currency",
            "validation_error",
            {"fr": "Devise inconnue", "en": "Unknown or unsupported currency"},
        ),
        (
            f"{REQUESTS}/{rid}/reviews",
            "post",
            {"rating": 5},
            tenant,
            409,
            "request_id",
            "rental_job_not_completed",
            {"fr": "service terminé", "en": "completed job"},
        ),
        (
            f"{REQUESTS}/{own}/quotes",
            "post",
            {"amount": 5_000, "valid_until": "2020-01-01T00:00:00Z"},
            rival,
            422,
            "valid_until",
            "validation_error",
            {"fr": "déjà passée", "en": "already over"},
        ),
        (
            f"{REQUESTS}/{rid}/done",
            "post",
            None,
            plumber,
            409,
            "request_id",
            "rental_service_request_wrong_state",
            {"fr": "Impossible de terminer", "en": "Cannot complete"},
        ),
    ]
    for path, method, body, who, status, field, code, words in cases:
        for language in ("fr", "en"):
            response = await client.request(
                method.upper(), path, json=body, headers={**who.headers, "Accept-Language": language}
            )
            assert response.status_code == status, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["code"] == code, problem
            assert problem.get("field") == field or field in [e["field"] for e in problem.get("errors", [])], problem
            if language in words:
                assert words[language] in problem["detail"], problem
    # Nothing half-written: the bad request made no request, the refused quote no quote.
    mine = (await client.get(f"{REQUESTS}/mine", headers=tenant.headers)).json()["items"]
    assert [r["id"] for r in mine] == [rid] + [r["id"] for r in mine_before]
    assert len((await client.get(f"{REQUESTS}/{own}/quotes", headers=plumber.headers)).json()) == 0


async def test_cancel_after_payment_refunds_a_done_job_confirms_itself_and_a_dispute_is_settled(
    client: httpx.AsyncClient, market: Market, cast: Cast, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    city = _city()
    org = market.organization_id
    provider = await _provider(client, cast.providers[2], city, ["cleaning"])
    jobs = []
    for _ in range(3):
        rid = (await _request(client, cast.landlord, city, service="cleaning"))["id"]
        quote = await _quote(client, provider, rid, 10_000)
        assert (
            await client.post(f"{API}/service-quotes/{quote['id']}/accept", headers=cast.landlord.headers)
        ).is_success
        paying = await client.post(f"{REQUESTS}/{rid}/pay", json={"phone": PHONE}, headers=cast.landlord.headers)
        assert paying.status_code == 200, paying.text
        jobs.append((rid, uuid.UUID(paying.json()["id"])))

    async def both_paid() -> bool:
        got = [(await client.get(f"{REQUESTS}/{rid}", headers=cast.landlord.headers)).json() for rid, _ in jobs]
        return all(j["status"] == "paid" for j in got)

    await until(both_paid, "both jobs paid", within=30)
    (cancelled_id, payment_id), (done_id, _), (disputed_id, disputed_payment) = jobs
    cancelled = await client.post(f"{REQUESTS}/{cancelled_id}/cancel", headers=cast.landlord.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    async with sessionmaker() as session:
        refunds = await payments.refunds_of(session, organization_id=org, payment_id=payment_id)
    assert [r.amount for r in refunds] == [10_000]

    owed_before = await _balance(sessionmaker, org, PROVIDER_ACCOUNT, str(provider.user_id))
    assert (await client.post(f"{REQUESTS}/{done_id}/done", headers=provider.headers)).status_code == 200
    # The third job is contested once done: it does not confirm itself; the operator (not a party) decides.
    assert (await client.post(f"{REQUESTS}/{disputed_id}/done", headers=provider.headers)).status_code == 200
    dispute = {"reason": "Les vitres sont restées sales."}
    assert (
        await client.post(f"{REQUESTS}/{disputed_id}/dispute", json=dispute, headers=provider.headers)
    ).status_code == 403
    disputed = await client.post(f"{REQUESTS}/{disputed_id}/dispute", json=dispute, headers=cast.landlord.headers)
    assert disputed.status_code == 200 and disputed.json()["status"] == "disputed", disputed.text
    async with sessionmaker() as session:  # the hourly job, three days and a minute later
        assert await services.confirm_due(session, now=datetime.now(UTC) + timedelta(days=3, minutes=1)) >= 1
        await session.commit()
    job = (await client.get(f"{REQUESTS}/{done_id}", headers=cast.landlord.headers)).json()
    assert job["status"] == "completed"
    assert await _balance(sessionmaker, org, PROVIDER_ACCOUNT, str(provider.user_id)) - owed_before == 9_000
    still = (await client.get(f"{REQUESTS}/{disputed_id}", headers=cast.landlord.headers)).json()
    assert still["status"] == "disputed"

    resolve = f"{REQUESTS}/{disputed_id}/resolve"
    settle = {"refund": 4_000, "reason": "Vitres à refaire : 40 % remboursés."}
    assert (await client.post(resolve, json=settle, headers=provider.headers)).status_code == 403
    too_much = await client.post(resolve, json={**settle, "refund": 10_001}, headers=market.owner.headers)
    assert too_much.status_code == 422 and too_much.json()["field"] == "refund", too_much.text
    settled = await client.post(resolve, json=settle, headers=market.owner.headers)
    assert settled.status_code == 200, settled.text
    assert (settled.json()["status"], settled.json()["refunded_amount"]) == ("completed", 4_000)
    async with sessionmaker() as session:
        refunds = await payments.refunds_of(session, organization_id=org, payment_id=disputed_payment)
    assert [r.amount for r in refunds] == [4_000]
    # The 6 000 kept: 5 400 to the provider, 600 commission.
    assert await _balance(sessionmaker, org, PROVIDER_ACCOUNT, str(provider.user_id)) - owed_before == 9_000 + 5_400


async def test_the_lokahome_surface_serves_the_seeds_services_routes(client: httpx.AsyncClient, cast: Cast) -> None:
    base = "/lokahome/api/v1"
    city = _city()
    provider = await _provider(client, cast.providers[0], city, ["moving"])
    bearer = {"Authorization": f"Bearer {cast.tenant.access_token}"}  # no X-Organization-ID: the surface's operator
    catalogue = (await client.get(f"{base}/services")).json()
    moving = next(s for s in catalogue if s["category"] == "moving")
    assert moving["name"] == "Déménagement"
    found = (await client.get(f"{base}/service-providers", params={"service": "moving", "city": city})).json()
    assert [p["user_id"] for p in found] == [str(provider.user_id)] and found[0]["service_areas"][0] == city
    profile = (await client.get(f"{base}/service-providers/{found[0]['id']}")).json()
    assert profile["services"] == ["moving"]

    body = {"service_id": moving["id"], "title": "Déménager un studio", "description": "Dix cartons", "city": city}
    created = await client.post(f"{base}/service-requests", json=body, headers=bearer)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert created.json()["service_id"] == moving["id"] and created.json()["status"] == "open"
    quoted = await client.post(
        f"{base}/service-quotes",
        json={"service_request_id": rid, "amount": 35_000, "description": "Camion et deux porteurs"},
        headers={"Authorization": f"Bearer {provider.access_token}"},
    )
    assert quoted.status_code == 201 and quoted.json()["provider_id"] == str(provider.user_id), quoted.text
    accepted = await client.put(f"{base}/service-quotes/{quoted.json()['id']}/accept", headers=bearer)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    mine = (await client.get(f"{base}/service-requests/my-requests", params={"per_page": 1}, headers=bearer)).json()
    assert [(r["id"], r["status"], r["amount"]) for r in mine] == [(rid, "assigned", 35_000)]
    assert (await client.get(f"{base}/service-requests/{rid}", headers=bearer)).json()["title"] == body["title"]
    assert (await client.get(f"{base}/reviews/provider/{found[0]['id']}")).json() == []
    # The seed's messages carry the service request they are about.
    sent = await client.post(
        f"{base}/messages",
        json={"receiver_id": str(cast.tenant.user_id), "service_request_id": rid, "content": "Quel étage ?"},
        headers={"Authorization": f"Bearer {provider.access_token}"},
    )
    assert sent.status_code == 201, sent.text
    assert (sent.json()["service_request_id"], sent.json()["property_id"]) == (rid, None)
    listed = (await client.get(f"{base}/messages/conversations", headers=bearer)).json()
    assert [c["last_message"]["service_request_id"] for c in listed if c["service_request_id"] == rid] == [rid]
    unknown = await client.post(
        f"{base}/service-requests",
        json={**body, "service_id": str(uuid.uuid4())},
        headers={**bearer, "Accept-Language": "en"},
    )
    assert (
        unknown.status_code == 422 and unknown.json()["field"] == "service_id" and "Unknown" in unknown.json()["detail"]
    )
