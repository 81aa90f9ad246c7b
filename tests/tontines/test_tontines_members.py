"""Tontines and their members over HTTP, on SQLite and PostgreSQL: create, join by code, roles and hand-over,
leaving with a settlement; a member sees only their tontines (like another organisation's objects); bad input
answers a problem naming the field and writes nothing."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.tontines import calendar
from cauri.tontines.models import TontineMember
from tests.support.identity import create_org_with_user
from tests.tontines.support import create, join, members_by_user, ok, operator, problem


async def member_rows(sessionmaker: async_sessionmaker[AsyncSession], tontine_id: str) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(TontineMember).where(TontineMember.tontine_id == uuid.UUID(tontine_id))
            )
            or 0
        )


def test_bimensuel_is_twice_a_month_and_months_clamp() -> None:
    assert calendar.dates(date(2026, 1, 1), "bimensuel", 5) == [
        date(2026, 1, 1),
        date(2026, 1, 15),
        date(2026, 2, 1),
        date(2026, 2, 15),
        date(2026, 3, 1),
    ]
    assert calendar.dates(date(2026, 1, 20), "bimensuel", 3) == [date(2026, 1, 20), date(2026, 2, 6), date(2026, 2, 20)]
    assert calendar.dates(date(2026, 1, 31), "mensuel", 3) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert calendar.dates(date(2026, 11, 30), "trimestriel", 2) == [date(2026, 11, 30), date(2027, 2, 28)]
    assert calendar.dates(date(2026, 12, 7), "hebdomadaire", 3)[-1] == date(2026, 12, 21)
    assert calendar.dates(date(2026, 12, 31), "quotidien", 2)[-1] == date(2027, 1, 1)


async def test_a_member_sees_only_their_tontines(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    org = await operator(client, 3)
    president, member, outsider = org.members
    tontine = await create(client, president)
    assert tontine["my_role"] == "president" and tontine["join_code"] and tontine["pot_balance"] == 0
    # The shareable link shows what the tontine is, before one joins it.
    assert tontine["join_link"].endswith(f"/api/v1/tontines/join/{tontine['join_code']}")
    preview = ok(await client.get(f"/api/v1/tontines/join/{tontine['join_code'].lower()}", headers=member.headers))
    assert (preview["name"], preview["members"], preview["contribution_amount"]) == (tontine["name"], 1, 10_000)
    joined = await join(client, member, tontine["join_code"])
    assert (joined["role"], joined["status"]) == ("membre", "active")

    seen = ok(await client.get(f"/api/v1/tontines/{tontine['id']}", headers=member.headers))
    assert seen["my_role"] == "membre" and seen["join_code"] is None  # the code is the managers' to share
    assert [t["id"] for t in ok(await client.get("/api/v1/tontines", headers=member.headers))["items"]] == [
        tontine["id"]
    ]

    # Someone of the same operator who is not a member: exactly like another organisation's tontine.
    for path in ("", "/members", "/sessions", "/movements", "/passages"):
        response = await client.get(f"/api/v1/tontines/{tontine['id']}{path}", headers=outsider.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "tontine_not_found"
    assert ok(await client.get("/api/v1/tontines", headers=outsider.headers))["items"] == []
    stranger = await create_org_with_user(client)
    assert (await client.get(f"/api/v1/tontines/{tontine['id']}", headers=stranger.headers)).status_code == 404
    # The operator's own administrator sees every tontine of the organisation.
    assert ok(await client.get(f"/api/v1/tontines/{tontine['id']}", headers=org.owner.headers))["my_role"] is None


async def test_bad_joins_are_refused_naming_the_field_and_write_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    org = await operator(client, 4)
    president, first, second, third = org.members
    tontine = await create(client, president, rules={"max_members": 2})
    wrong = await client.post("/api/v1/tontines/join", json={"code": "ZZZZZZZZ"}, headers=first.headers)
    assert problem(wrong) == (422, "code", "invalid_join_code")
    await join(client, first, tontine["join_code"])
    full = await client.post(
        "/api/v1/tontines/join",
        json={"code": tontine["join_code"]},
        headers={**second.headers, "Accept-Language": "en"},
    )
    assert problem(full) == (422, "code", "tontine_full")
    assert "full" in full.json()["detail"]
    assert await member_rows(sessionmaker, tontine["id"]) == 2
    again = await client.post("/api/v1/tontines/join", json={"code": tontine["join_code"]}, headers=first.headers)
    assert problem(again) == (422, "code", "already_member")
    bad = await client.post(
        "/api/v1/tontines",
        json={
            "name": "x",
            "frequency": "chaque_lune",
            "start_date": "2026-12-07",
            "contribution_amount": 100,
            "currency": "XOF",
        },
        headers=third.headers,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "frequency")
    amount = await client.post(
        "/api/v1/tontines",
        json={
            "name": "x",
            "frequency": "mensuel",
            "start_date": "2026-12-07",
            "contribution_amount": 0,
            "currency": "XOF",
        },
        headers=third.headers,
    )
    assert (amount.status_code, amount.json()["field"]) == (422, "contribution_amount")


async def test_approval_roles_handover_and_leaving_with_a_settlement(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    org = await operator(client, 3)
    president, treasurer, member = org.members
    tontine = await create(client, president, rules={"max_members": 5, "approval_required": True})
    pending = await join(client, treasurer, tontine["join_code"])
    assert pending["status"] == "pending"
    forbidden = await client.post(
        f"/api/v1/tontines/{tontine['id']}/members/{pending['id']}/approve", headers=treasurer.headers
    )
    assert forbidden.status_code == 403
    approved = ok(
        await client.post(
            f"/api/v1/tontines/{tontine['id']}/members/{pending['id']}/approve", headers=president.headers
        )
    )
    assert approved["status"] == "active"
    added = ok(
        await client.post(
            f"/api/v1/tontines/{tontine['id']}/members",
            json={"user_id": str(member.user_id)},
            headers=president.headers,
        ),
        201,
    )
    ids = await members_by_user(client, president, tontine["id"])
    handed = ok(
        await client.post(
            f"/api/v1/tontines/{tontine['id']}/handover",
            json={"role": "tresorier", "member_id": ids[treasurer.user_id]},
            headers=president.headers,
        )
    )
    assert handed["role"] == "tresorier"
    # A trésorier cannot hand the presidency over; the président can, and becomes a plain member.
    refused = await client.post(
        f"/api/v1/tontines/{tontine['id']}/handover",
        json={"role": "president", "member_id": added["id"]},
        headers=treasurer.headers,
    )
    assert refused.status_code == 403
    cannot_leave = await client.post(f"/api/v1/tontines/{tontine['id']}/leave", headers=president.headers)
    assert problem(cannot_leave) == (422, "member_id", "president_must_hand_over")
    ok(
        await client.post(
            f"/api/v1/tontines/{tontine['id']}/handover",
            json={"role": "president", "member_id": added["id"]},
            headers=president.headers,
        )
    )
    roles = {
        m["user_id"]: m["role"]
        for m in ok(await client.get(f"/api/v1/tontines/{tontine['id']}/members", headers=member.headers))
    }
    assert roles == {
        str(president.user_id): "membre",
        str(treasurer.user_id): "tresorier",
        str(member.user_id): "president",
    }
    settlement = ok(await client.post(f"/api/v1/tontines/{tontine['id']}/leave", headers=president.headers))
    assert settlement == {"member_id": ids[president.user_id], "paid": 0, "received": 0, "balance": 0}
    assert ok(await client.get("/api/v1/tontines", headers=president.headers))["items"] == []
