"""An invalid phone number says which country it was read in, and why, in French and English."""

from __future__ import annotations

import httpx
import pytest

from tests.support.identity import DEFAULT_PASSWORD, create_org_with_user


async def test_a_number_without_prefix_is_read_in_the_organisations_country(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    created = await client.post(
        "/api/v1/organizations", json={"name": "Dakar Pay", "default_region": "SN"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    in_senegal = {**owner.headers, "X-Organization-ID": created.json()["id"]}
    # 690 12 34 56 is a Cameroonian mobile number: read in Senegal, it is no number at all.
    query = {"phone": "690 12 34 56", "amount": 1000, "currency": "XOF"}
    french = await client.get("/api/v1/providers/route", params=query, headers=in_senegal)
    assert french.status_code == 422, french.text
    problem = french.json()
    assert problem["field"] == "phone" and problem["errors"][0]["code"] == "invalid_phone"
    assert problem["expected_region"] == "SN"
    assert "Sénégal (SN, +221)" in problem["detail"]
    assert "le pays par défaut de l'organisation" in problem["detail"]
    english = await client.get("/api/v1/providers/route", params=query, headers={**in_senegal, "Accept-Language": "en"})
    assert "Senegal (SN, +221), the organisation's default country" in english.json()["detail"]
    with_prefix = await client.get(
        "/api/v1/providers/route", params={**query, "phone": "+237 690 12 34 56"}, headers=in_senegal
    )
    assert with_prefix.status_code == 200, "with its calling code the same number is fine"


@pytest.mark.parametrize(
    ("phone", "expected_region", "explained"),
    [
        # With its calling code the number names its own country, whatever the region given.
        ("+225 12", "CI", "not a valid number of Côte d’Ivoire (CI, +225)."),
        ("77 123 45", "SN", "read as a number of Senegal (SN, +221), the country given (region)"),
    ],
)
async def test_registration_says_which_country_and_why(
    client: httpx.AsyncClient, phone: str, expected_region: str, explained: str
) -> None:
    region = "CM" if phone.startswith("+") else expected_region
    registered = await client.post(
        "/api/v1/auth/register",
        json={"phone": phone, "password": DEFAULT_PASSWORD, "full_name": "Koffi", "region": region},
        headers={"Accept-Language": "en"},
    )
    assert registered.status_code == 422
    assert registered.json()["expected_region"] == expected_region
    assert explained in registered.json()["detail"]
