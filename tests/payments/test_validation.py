"""Bad input: a problem+json naming the field at fault, in French or English, and nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.ledger import service as ledger
from cauri.payments.models import Payment
from tests.payments.support import fund, phone, reference
from tests.support.identity import create_org_with_user


def body(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"amount": 5000, "currency": "XAF", "phone": phone(), "reference": reference("BAD")}
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"amount": 0}, "amount", "amount_not_positive"),
        ({"amount": -500}, "amount", "amount_not_positive"),
        ({"amount": 100.5}, "amount", "value_error"),
        ({"amount": 100.5, "currency": "XOF"}, "amount", "value_error"),
        ({"amount": "5000"}, "amount", "value_error"),
        ({"amount": True}, "amount", "value_error"),
        ({"amount": None}, "amount", "value_error"),
        ({"currency": "ZZZ"}, "currency", "unknown_currency"),
        ({"currency": "KES"}, "currency", "invalid_currency"),  # known, but not by this provider
        ({"amount": 50}, "amount", "invalid_amount"),  # below the provider's minimum (100 XAF)
        ({"amount": 5_000_001}, "amount", "invalid_amount"),  # above its maximum
        ({"currency": "XA"}, "currency", "string_too_short"),
        ({"phone": "12"}, "phone", None),
        ({"phone": "+237 1234"}, "phone", "invalid_phone"),
        ({"phone": "not a number at all"}, "phone", "invalid_phone"),
        ({"provider": "nope"}, "provider", "unknown_provider"),
        ({"account_id": str(uuid.uuid4())}, "account_id", "account_not_found"),
        ({"account_id": "not-a-uuid"}, "account_id", "uuid_parsing"),
        ({"reference": "has spaces in it"}, "reference", "value_error"),
        ({"reference": ""}, "reference", "string_too_short"),
        ({"metadata": {f"k{i}": i for i in range(21)}}, "metadata", "value_error"),
        ({"unexpected": 1}, "unexpected", "extra_forbidden"),
    ],
)
@pytest.mark.parametrize("kind", ["collections", "payouts"])
async def test_bad_input_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    changes: dict[str, Any],
    field: str,
    code: str | None,
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 1_000_000)
    sent = body(**changes)
    response = await client.post(f"/api/v1/{kind}", json=sent, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field
    if code is not None:
        assert problem["errors"][0]["code"] == code
    assert problem["detail"]
    async with sessionmaker() as session:
        written = await session.execute(select(func.count()).where(Payment.organization_id == owner.organization_id))
        assert written.scalar_one() == 0


async def test_messages_are_in_french_by_default_and_english_on_request(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    french = await client.post("/api/v1/collections", json=body(amount=0), headers=owner.headers)
    english = await client.post(
        "/api/v1/collections", json=body(amount=0), headers={**owner.headers, "Accept-Language": "en"}
    )
    assert french.json()["detail"] == "Le montant doit être supérieur à zéro."
    assert english.json()["detail"] == "The amount must be greater than zero."


async def test_another_organisations_account_or_another_currency_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    stranger = await create_org_with_user(client)
    async with unit_of_work(sessionmaker) as session:
        foreign = await ledger.operating_account(session, stranger.organization_id, "XAF")
        euros = await ledger.operating_account(session, owner.organization_id, "EUR")
        clearing = await ledger.clearing_account(session, owner.organization_id, "sandbox", "XAF")
    cases = [
        (foreign.id, "account_not_found"),
        (euros.id, "account_currency_mismatch"),
        (clearing.id, "account_not_allowed"),
    ]
    for account_id, code in cases:
        response = await client.post(
            "/api/v1/collections", json=body(account_id=str(account_id)), headers=owner.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "account_id"
        assert response.json()["errors"][0]["code"] == code


async def test_a_reference_is_unique_per_organisation_and_kind(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    other = await create_org_with_user(client)
    ref = reference("DUP")
    first = await client.post("/api/v1/collections", json=body(reference=ref), headers=owner.headers)
    assert first.status_code == 202
    again = await client.post("/api/v1/collections", json=body(reference=ref), headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_reference"
    assert again.json()["field"] == "reference"
    assert again.json()["existing_id"] == first.json()["id"]
    # Another organisation may use the same words.
    assert (
        await client.post("/api/v1/collections", json=body(reference=ref), headers=other.headers)
    ).status_code == 202


async def test_permissions(client: httpx.AsyncClient) -> None:
    from tests.support.identity import add_member

    owner = await create_org_with_user(client)
    reader = await add_member(client, owner, role="superviseur")
    member = await add_member(client, owner, role="member")
    refused = await client.post("/api/v1/collections", json=body(), headers=reader.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert (await client.get("/api/v1/collections", headers=reader.headers)).status_code == 200
    assert (await client.get("/api/v1/collections", headers=member.headers)).status_code == 403
    assert (await client.post("/api/v1/collections", json=body())).status_code == 401
