"""`cauri demo` (run by `make run`) seeds a funded pension fund whose logins work, and can run twice."""

from __future__ import annotations

import httpx

from cauri.core.config import Settings
from cauri.demo import DEMO_FUNDING, DEMO_PASSWORD, seed_demo


async def test_demo_is_idempotent_and_its_logins_work(settings: Settings, client: httpx.AsyncClient) -> None:
    first = await seed_demo(settings)
    second = await seed_demo(settings)
    assert first.organization_id == second.organization_id
    assert first.available_balance == second.available_balance >= DEMO_FUNDING

    roles = {user.email: user.role for user in first.users if user.role is not None}
    assert sorted(r.value for r in roles.values()).count("gestionnaire") == 2
    assert [r.value for r in roles.values()].count("superviseur") == 1

    for email in roles:
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD})
        assert login.status_code == 200, login.text
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.status_code == 200
