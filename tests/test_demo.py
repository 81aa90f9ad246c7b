"""`cauri demo` (run by `make run`) seeds the platform administrator and each module's demo (the disbursements
module's funded pension fund) whose logins work, and can run twice."""

from __future__ import annotations

import asyncio

import httpx
from typer.testing import CliRunner

from cauri.cli import app as cli_app
from cauri.core.config import Settings
from cauri.demo import seed_demo
from cauri.disbursements.demo import DEMO_FUNDING, DEMO_ORG_SLUG
from cauri.identity.seeding import DEMO_PASSWORD


async def test_demo_is_idempotent_and_its_logins_work(settings: Settings, client: httpx.AsyncClient) -> None:
    first = await seed_demo(settings)
    second = await seed_demo(settings)
    [fund] = first.organizations  # the disbursements module's demo: the one module with a demo.py today
    assert fund.organization_id == second.organizations[0].organization_id
    assert fund.available_balance == second.organizations[0].available_balance >= DEMO_FUNDING

    roles = {user.email: user.role for user in fund.users if user.role is not None}
    assert sorted(r.value for r in roles.values()).count("gestionnaire") == 2
    assert [r.value for r in roles.values()].count("superviseur") == 1

    for email in [*roles, first.platform_admin.email]:
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200


async def test_cauri_demo_prints_every_organisation_and_login(settings: Settings) -> None:
    env = {"CAURI_DATABASE_URL": settings.database_url, "CAURI_LOG_LEVEL": "WARNING"}
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output
    assert "admin@cauri.africa" in result.output
    assert "gestionnaire2@demo.cauri.africa" in result.output
    assert "Caisse de Retraite du Sahel" in result.output
    assert DEMO_ORG_SLUG not in result.output  # logins and names, not internals
