"""Kobiri's tontine routes (seed 003) as its app calls them, under ``/kobiri``, on SQLite and PostgreSQL: people
who signed up on Kobiri create a tontine, join it by code, hold sessions, record and validate cash with its proof,
start a mobile-money payment, and draw the payout order; someone outside the tontine sees none of it."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from cauri.kit.outcomes import Outcome
from tests.compat.conftest import Operators
from tests.compat.test_accounts import kobiri_user, register_and_login
from tests.payments.support import phone

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def test_a_tontine_on_kobiri_s_routes(client: httpx.AsyncClient, operators: Operators) -> None:
    del operators  # the operator organisation exists
    president, treasurer, member, outsider = [
        await register_and_login(client, "kobiri", kobiri_user(first_name=name))
        for name in ("Awa", "Fatou", "Binta", "Ibou")
    ]
    created = ok(
        await client.post(
            "/kobiri/api/v1/tontines",
            json={
                "name": "Tontine de Sandaga",
                "frequency": "bimensuel",
                "start_date": date.today().isoformat(),
                "contribution_amount": 5_000,
                "currency": "XAF",
            },
            headers=president,
        ),
        201,
    )
    tid = created["id"]
    for headers in (treasurer, member):
        ok(await client.post("/kobiri/api/v1/tontines/join", json={"code": created["join_code"]}, headers=headers))
    members = ok(await client.get(f"/kobiri/api/v1/tontines/{tid}/members", headers=member))
    by_name = {m["display_name"].split()[0]: m["id"] for m in members}
    again = await client.post(
        f"/kobiri/api/v1/tontines/{tid}/members", json={"user_id": members[1]["user_id"]}, headers=president
    )
    assert (again.status_code, again.json()["errors"][0]["code"]) == (422, "already_member")
    listed = ok(await client.get("/kobiri/api/v1/tontines", params={"limit": 10}, headers=member))
    assert [t["id"] for t in listed] == [tid]
    assert ok(await client.get("/kobiri/api/v1/tontines", headers=outsider)) == []
    hidden = await client.get(f"/kobiri/api/v1/tontines/{tid}", headers=outsider)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "tontine_not_found")

    sessions = ok(
        await client.post("/kobiri/api/v1/sessions", json={"tontine_id": tid, "count": 2}, headers=president), 201
    )
    assert sessions[1]["due_date"] > sessions[0]["due_date"]
    sid = sessions[0]["id"]
    ok(await client.post(f"/kobiri/api/v1/sessions/{sid}/open", headers=president))
    assert [s["id"] for s in ok(await client.get(f"/kobiri/api/v1/sessions/tontine/{tid}", headers=member))] == [
        s["id"] for s in sessions
    ]
    cash = ok(
        await client.post(
            "/kobiri/api/v1/payments",
            params={"session_id": sid},
            data={"session_id": sid, "member_id": by_name["Binta"], "amount": "5000", "currency": "XAF"},
            files={"proof": ("recu.jpg", PNG, "image/png")},
            headers=president,
        ),
        201,
    )
    own = await client.post(f"/kobiri/api/v1/payments/{cash['id']}/validate", json={"approve": True}, headers=president)
    assert (own.status_code, own.json()["code"]) == (403, "maker_checker_violation")
    started = ok(
        await client.post(
            "/kobiri/api/v1/payments/initiate",
            json={
                "session_id": sid,
                "amount": 5_000,
                "currency": "XAF",
                "phone": phone(Outcome.PENDING_FOREVER),
                "provider": "sandbox",
            },
            headers=treasurer,
        ),
        202,
    )
    assert (started["status"], started["method"]) == ("initiated", "mobile_money")
    assert (
        ok(await client.get(f"/kobiri/api/v1/payments/{cash['id']}", headers=member))["status"] == "pending_validation"
    )
    assert len(ok(await client.get("/kobiri/api/v1/payments", params={"tontine_id": tid}, headers=member))) == 2
    stats = ok(await client.get(f"/kobiri/api/v1/sessions/{sid}/stats", headers=member))
    assert (stats["expected"], stats["in_flight"]) == (15_000, 10_000)
    ok(await client.post(f"/kobiri/api/v1/sessions/{sid}/close", headers=president))
    twice = await client.post(f"/kobiri/api/v1/sessions/{sid}/close", headers=president)
    assert (twice.status_code, twice.json()["field"]) == (409, "session_id")

    order = ok(
        await client.post(f"/kobiri/api/v1/passages/generate/{tid}", json={"method": "join_date"}, headers=president)
    )
    assert [p["display_name"].split()[0] for p in order] == ["Awa", "Fatou", "Binta"]
    schedule = ok(await client.get(f"/kobiri/api/v1/passages/tontine/{tid}/schedule", headers=member))
    assert [p["position"] for p in schedule] == [1, 2, 3]
    started_turn = ok(await client.post(f"/kobiri/api/v1/passages/{order[0]['id']}/start", headers=president))
    assert started_turn["status"] == "started"
    assert (await client.get(f"/kobiri/api/v1/passages/tontine/{tid}", headers=outsider)).status_code == 404
