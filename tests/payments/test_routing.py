"""Operator routing: which provider serves a number for an amount, over HTTP, as an integrator asks it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import Capability
from cauri.connectors.registry import ConnectorRegistry, registry
from cauri.core.config import Settings
from cauri.core.errors import ValidationFailed
from cauri.core.phone import parse_phone
from cauri.payments.providers import choose_provider, routing_table
from tests.support.identity import create_org_with_user


async def route(client: httpx.AsyncClient, headers: dict[str, str], **params: object) -> httpx.Response:
    return await client.get("/api/v1/providers/route", params=params, headers=headers)


async def test_a_cameroonian_mtn_number_is_routed_with_every_candidate_explained(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    response = await route(client, owner.headers, phone="670 00 01 00", amount=5000, currency="XAF")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phone"] == "+237670000100"
    assert (body["country"], body["operator"]) == ("CM", "mtn")
    # Only the sandbox has (development) credentials here: the operator's own API comes first but is not set up.
    assert body["provider"] == "sandbox"
    options = body["options"]
    assert options[-1] == {"provider": "sandbox", "eligible": True, "reason": None, "message": None}
    assert all(not o["eligible"] and o["reason"] == "provider_not_configured" for o in options[:-1])


async def test_amount_and_currency_limits_decide_and_the_refusal_names_why(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    too_big = await route(client, owner.headers, phone="+221770000100", amount=50_000_000, currency="XOF")
    assert too_big.status_code == 422
    problem = too_big.json()
    # Every configured provider refuses the amount: the amount is what to change, and the candidates say why.
    assert (problem["field"], problem["errors"][0]["code"]) == ("amount", "invalid_amount")
    assert {"provider": "sandbox", "reason": "invalid_amount"} in problem["candidates"]

    no_currency = await route(
        client, {**owner.headers, "Accept-Language": "en"}, phone="+221770000100", amount=500, currency="NGN"
    )
    assert no_currency.status_code == 422
    assert no_currency.json()["field"] == "currency"
    assert {"provider": "sandbox", "reason": "invalid_currency"} in no_currency.json()["candidates"]
    assert "NGN" in no_currency.json()["errors"][0]["message"]


async def test_a_number_no_configured_provider_serves_gets_a_clear_error(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    nobody = ConnectorRegistry(builtins=())  # an installation with no provider at all
    async with sessionmaker() as session:
        with pytest.raises(ValidationFailed) as refused:
            await choose_provider(
                session,
                organization_id=uuid.uuid4(),
                phone=parse_phone("670 00 01 00", "CM"),
                requested=None,
                amount=5000,
                currency="XAF",
                capability=Capability.PAYOUT,
                settings=settings,
                connectors=nobody,
            )
    assert refused.value.field == "phone"
    assert refused.value.errors[0].code == "no_provider_for_phone"


async def test_automatic_choice_of_a_payout_follows_the_route(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    refused = await client.post(
        "/api/v1/payouts",
        json={"amount": 50_000_000, "currency": "XOF", "phone": "+221770000100", "reference": "route-too-big"},
        headers=owner.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "invalid_amount"


async def test_bad_route_questions_name_the_field(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    cases = [
        ({"phone": "12", "amount": 500, "currency": "XOF"}, "phone"),
        ({"phone": "+221770000100", "amount": 0, "currency": "XOF"}, "amount"),
        ({"phone": "+221770000100", "amount": 500, "currency": "ZZZ"}, "currency"),
        ({"phone": "+221770000100", "amount": "1.5", "currency": "XOF"}, "amount"),
        ({"phone": "+221770000100", "amount": 500, "currency": "XOF", "kind": "refund"}, "kind"),
    ]
    for params, field in cases:
        response = await route(client, owner.headers, **params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["field"] == field


def test_every_provider_of_the_routing_table_is_a_registered_connector_serving_that_country() -> None:
    wrong = [
        (country, operator, name)
        for (country, operator), names in routing_table().items()
        for name in names
        if name not in registry.names() or country not in registry.get(name).countries
    ]
    assert wrong == [], f"routing table names providers that are not registered or do not serve the country: {wrong}"
