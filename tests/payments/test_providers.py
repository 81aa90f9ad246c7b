"""Choosing the provider from the phone number: operator (numbering-plan carrier data) and country."""

from __future__ import annotations

import httpx
import pytest

from cauri.core.phone import parse_phone
from cauri.payments.providers import candidates_for, operator_of
from tests.payments.support import reference
from tests.support.identity import create_org_with_user


@pytest.mark.parametrize(
    ("number", "operator", "preferred"),
    [
        ("+237670000100", "mtn", "mtn_momo"),
        ("+237690000100", "orange", "orange_money"),
        ("+2250700000100", "orange", "orange_money"),
        ("+2250500000100", "mtn", "mtn_momo"),
        ("+2250100000100", "moov", "fedapay"),  # Moov's own API serves Benin and Togo only
        ("+221770000100", "orange", "orange_money"),
        ("+221760000100", "yas", "fedapay"),
        ("+2290196000000", "mtn", "mtn_momo"),
        ("+22870000000", "togocel", "fedapay"),
        ("+22670000000", "moov", "cinetpay"),
        ("+22370000000", "orange", "orange_money"),
        ("+22365000000", "moov", "cinetpay"),
        ("+2290195000000", "moov", "moov"),  # a Benin Moov number goes to Moov first, not to FedaPay
        ("+22899000000", "moov", "moov"),
        ("+22796000000", "airtel", "fedapay"),
        ("+224620000000", "orange", "orange_money"),
        ("+224660000000", "mtn", "mtn_momo"),
    ],
)
def test_each_market_s_operators_have_providers(number: str, operator: str, preferred: str) -> None:
    phone = parse_phone(number, "CM")
    assert operator_of(phone.carrier) == operator
    assert candidates_for(phone)[0] == preferred


def test_unknown_operators_have_no_preference() -> None:
    assert operator_of("") == ""
    assert operator_of("Some New Telco") == "some new telco"
    assert candidates_for(parse_phone("+33612345678", "FR")) == ()


async def test_without_a_matching_provider_the_default_one_is_used(client: httpx.AsyncClient) -> None:
    """Only the sandbox is usable here: a Beninese MTN number falls back to it; asking for it works too."""
    owner = await create_org_with_user(client)
    for extra in ({}, {"provider": "sandbox"}):
        response = await client.post(
            "/api/v1/collections",
            json={"amount": 500, "currency": "XOF", "phone": "+229 01 96 00 01 00", "reference": reference(), **extra},
            headers=owner.headers,
        )
        assert response.status_code == 202, response.text
        assert response.json()["provider"] == "sandbox"
        assert response.json()["operator"] == "MTN"
