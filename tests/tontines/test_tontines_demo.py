"""`make run`'s tontine demo: Kobiri (démo) in Dakar, 12 members, weekly, 10 000 F CFA, three sessions held, one
member late; idempotent, and its logins see it."""

from __future__ import annotations

import httpx

from cauri.core.config import Settings
from cauri.demo import seed_demo
from cauri.identity.seeding import DEMO_PASSWORD
from cauri.tontines.demo import KOBIRI, LATE_MEMBER
from tests.tontines.support import ok


async def login(client: httpx.AsyncClient, email: str, organization_id: str) -> dict[str, str]:
    answer = ok(await client.post("/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD}))
    return {"Authorization": f"Bearer {answer['access_token']}", "X-Organization-ID": organization_id}


async def test_the_demo_tontine_has_three_sessions_held_and_one_member_late(
    payments_settings: Settings, client: httpx.AsyncClient
) -> None:
    first = await seed_demo(payments_settings)
    second = await seed_demo(payments_settings)
    [kobiri] = [o for o in first.organizations if o.organization == KOBIRI.name]
    [again] = [o for o in second.organizations if o.organization == KOBIRI.name]
    assert kobiri.organization_id == again.organization_id
    assert kobiri.available_balance == again.available_balance == 35 * 10_000  # 12 + 12 + 11 contributions
    assert len([u for u in kobiri.users if u.role is not None]) == 13  # the operator and 12 members

    org = str(kobiri.organization_id)
    president = await login(client, "presidente@kobiri.demo.cauri.africa", org)
    [tontine] = ok(await client.get("/api/v1/tontines", headers=president))["items"]
    assert (tontine["members"], tontine["frequency"], tontine["contribution_amount"], tontine["currency"]) == (
        12, "hebdomadaire", 10_000, "XOF"
    )  # fmt: skip
    assert tontine["pot_balance"] == 350_000
    held = ok(await client.get(f"/api/v1/tontines/{tontine['id']}/sessions", headers=president))
    assert [s["status"] for s in held] == ["closed", "closed", "closed", "open"]
    third = ok(await client.get(f"/api/v1/tontines/{tontine['id']}/sessions/{held[2]['id']}/stats", headers=president))
    assert (third["late_members"], third["penalties"], third["collected"]) == (1, 1_000, 110_000)
    first_stats = ok(
        await client.get(f"/api/v1/tontines/{tontine['id']}/sessions/{held[0]['id']}/stats", headers=president)
    )
    assert (first_stats["late_members"], first_stats["penalties"]) == (0, 0)  # cash counted from its day
    late = await login(client, LATE_MEMBER, org)
    assert [t["id"] for t in ok(await client.get("/api/v1/tontines", headers=late))["items"]] == [tontine["id"]]
    draw = ok(await client.get(f"/api/v1/tontines/{tontine['id']}/passages/draw", headers=late))
    assert (draw["method"], draw["seed"], len(draw["order"])) == ("random", "sandaga-2026", 12)
