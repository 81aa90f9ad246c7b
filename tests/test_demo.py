"""`cauri demo` (run by `make run`) seeds the platform administrator and each module's demo (the disbursements
module's funded pension fund) whose logins work, and can run twice."""

from __future__ import annotations

import asyncio

import httpx
from typer.testing import CliRunner

from cauri.cli import app as cli_app
from cauri.core.config import Settings
from cauri.demo import seed_demo
from cauri.disbursements.demo import DEMO_FUNDING, DEMO_ORG_SLUG, PENSION_FUND
from cauri.identity.seeding import DEMO_PASSWORD


async def test_demo_is_idempotent_and_its_logins_work(settings: Settings, client: httpx.AsyncClient) -> None:
    first = await seed_demo(settings)
    second = await seed_demo(settings)
    # Each module's demo (disbursements: the pension fund; tontines: Kobiri…), found by name.
    fund = next(o for o in first.organizations if o.organization == PENSION_FUND.name)
    again = next(o for o in second.organizations if o.organization == PENSION_FUND.name)
    assert fund.organization_id == again.organization_id
    assert fund.available_balance == again.available_balance >= DEMO_FUNDING
    assert [o.organization_id for o in first.organizations] == [o.organization_id for o in second.organizations]

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
    # The same files as the session's app: the demo's listing photos must be where the other demo tests read them.
    env = {
        "CAURI_DATABASE_URL": settings.database_url,
        "CAURI_FILES_DIR": str(settings.files_dir),
        "CAURI_LOG_LEVEL": "WARNING",
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output
    assert "admin@cauri.africa" in result.output
    assert "gestionnaire2@demo.cauri.africa" in result.output
    assert "Caisse de Retraite du Sahel" in result.output
    assert DEMO_ORG_SLUG not in result.output  # logins and names, not internals


async def test_the_lokahome_demo_has_listings_in_four_cities_with_photos_and_working_logins(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    first = await seed_demo(settings)
    await seed_demo(settings)
    [loka] = [o for o in first.organizations if o.organization.startswith("LokaHome")]
    public = {"X-Organization-ID": str(loka.organization_id)}
    listings = (await client.get("/api/v1/rentals/properties", params={"limit": 100}, headers=public)).json()["items"]
    assert {p["city"] for p in listings} == {"Cotonou", "Lomé", "Abidjan", "Dakar"}
    assert len(listings) == 8  # seeded once, however often the demo runs
    photo = await client.get(listings[0]["images"][0]["urls"]["medium"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    # The demo provider is found by service and city (once), and sees the demo tenant's open request.
    providers = await client.get(
        "/api/v1/rentals/providers", params={"service": "plumbing", "city": "lomé"}, headers=public
    )
    assert [p["company_name"] for p in providers.json()["items"]] == ["Mensah Dépannage"]
    for user in loka.users:
        login = await client.post("/api/v1/auth/login", json={"email": user.email, "password": DEMO_PASSWORD})
        assert login.status_code == 200, login.text
        if user.email.startswith("prestataire@"):
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            open_requests = await client.get("/api/v1/rentals/service-requests/open", headers=headers)
            assert [r["service"] for r in open_requests.json()["items"]] == ["plumbing"], open_requests.text
