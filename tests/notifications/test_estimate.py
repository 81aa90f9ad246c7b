"""The cost of an SMS send before it goes, over HTTP: GSM-7 against UCS-2 segments, recipients and prices per
country, the GSM-7 transliteration and what it saves; a kind's SMS template rendered; bad input named."""

from __future__ import annotations

from typing import Any

import httpx

from cauri.notifications.kinds import registered_kinds
from tests.support.identity import register

URL = "/api/v1/notifications/estimate"
SENEGAL, IVORY_COAST, BENIN = "+221770001122", "+2250700112233", "+2290197112233"


async def estimate(client: httpx.AsyncClient, body: dict[str, Any], *, status: int = 200) -> dict[str, Any]:
    actor = await register(client)
    response = await client.post(URL, json=body, headers=actor.headers)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_french_accent_doubles_the_cost_and_the_transliteration_saves_it(client: httpx.AsyncClient) -> None:
    # 100 characters: one SMS in GSM-7, two in UCS-2 (70 per SMS alone, 67 per part).
    text = "Rappel : votre cotisation de 10 000 F CFA pour la tontine des femmes de Thiès est due demain à 18 h."
    text = text.replace("Thiès", "Thiês")  # ê is not GSM-7
    assert len(text) == 100
    answer = await estimate(client, {"text": text, "recipients": [SENEGAL, SENEGAL, IVORY_COAST, BENIN]})
    cost = answer["cost"]
    assert (cost["encoding"], cost["segments"], cost["per_part"], cost["non_gsm"]) == ("UCS-2", 2, 67, ["ê"])
    assert cost["sms"] == 8 and answer["recipients"] == 4 and answer["currency"] == "XOF"
    assert cost["by_country"] == [
        {"country": "BJ", "recipients": 1, "price_per_segment": 20, "amount": 40},
        {"country": "CI", "recipients": 1, "price_per_segment": 25, "amount": 50},
        {"country": "SN", "recipients": 2, "price_per_segment": 25, "amount": 100},
    ]
    assert cost["total"] == 190 and cost["total_display"].replace("\xa0", " ").replace("\u202f", " ") == "190 F CFA"
    gsm = answer["transliteration"]
    assert gsm["text"] == text.replace("Thiês", "Thies") and gsm["encoding"] == "GSM-7"
    assert (gsm["segments"], gsm["total"], answer["saving"]) == (1, 95, 95)


async def test_a_gsm7_text_offers_no_transliteration_and_long_ones_count_parts(client: httpx.AsyncClient) -> None:
    answer = await estimate(client, {"text": "é" * 161, "recipients": [SENEGAL]})
    assert (answer["cost"]["encoding"], answer["cost"]["segments"], answer["cost"]["per_part"]) == ("GSM-7", 2, 153)
    assert answer["transliteration"] is None and answer["saving"] == 0


async def test_a_kind_s_sms_is_rendered_with_its_sample(client: httpx.AsyncClient) -> None:
    assert "auth.code" in {kind.name for kind in registered_kinds()}
    answer = await estimate(client, {"kind": "auth.code", "language": "en", "recipients": [IVORY_COAST]})
    assert answer["cost"]["segments"] >= 1 and answer["cost"]["text"]


async def test_bad_input_is_a_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    for body, field in [
        ({"text": "Bonjour", "recipients": [SENEGAL, "+221338210000"]}, "recipients[1]"),  # a landline in Dakar
        ({"text": "Bonjour", "recipients": ["77 000 11 22"]}, "recipients[0]"),
        ({"text": "Bonjour", "recipients": []}, "recipients"),
        ({"recipients": [SENEGAL]}, "text"),
        ({"kind": "no.such.kind", "recipients": [SENEGAL]}, "kind"),
        ({"kind": "auth.code", "context": {}, "recipients": [SENEGAL]}, "context"),
        ({"text": "   ", "recipients": [SENEGAL]}, "text"),
    ]:
        answer = await estimate(client, body, status=422)
        assert [error["field"] for error in answer["errors"]] == [field], (body, answer)
    assert (await client.post(URL, json={"text": "x", "recipients": [SENEGAL]})).status_code == 401
