"""``cauri admin create`` against the test database, then the account is used over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
from typer.testing import CliRunner

from cauri.cli import app as cli
from tests.support.identity import DEFAULT_PASSWORD, login, unique_email


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str  # with rich's line wrapping undone


async def run_cli(database_url: str, *args: str) -> Run:
    # The command runs its own event loop: give it a thread of its own.
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, cli, ["admin", "create", *args], env={"CAURI_DATABASE_URL": database_url}
    )
    return Run(result.exit_code, " ".join(result.output.split()))


async def test_admin_create_makes_a_platform_admin_owning_an_organisation(
    client: httpx.AsyncClient, database_url: str
) -> None:
    email, org = unique_email("admin"), f"Cauri Ops {uuid.uuid4().hex[:6]}"
    created = await run_cli(
        database_url, "--email", email, "--password", DEFAULT_PASSWORD, "--platform-admin", "--org", org
    )
    assert created.exit_code == 0, created.output
    assert "created" in created.output
    tokens = await login(client, email=email)
    me = (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})).json()
    assert me["user"]["is_platform_admin"] is True
    assert [(m["organization"]["name"], m["role"]) for m in me["memberships"]] == [(org, "owner")]

    again = await run_cli(database_url, "--email", email, "--password", "another-password-entirely", "--org", org)
    assert again.exit_code == 0, again.output
    assert "already exists" in again.output
    assert "already owner" in again.output
    await login(client, email=email)  # the password was left as it was


async def test_admin_create_adds_an_existing_organisation_member_with_a_role(
    client: httpx.AsyncClient, database_url: str
) -> None:
    org = f"Restaurant {uuid.uuid4().hex[:6]}"
    owner = unique_email("owner")
    assert (await run_cli(database_url, "--email", owner, "--password", DEFAULT_PASSWORD, "--org", org)).exit_code == 0
    clerk = unique_email("clerk")
    joined = await run_cli(
        database_url, "--email", clerk, "--password", DEFAULT_PASSWORD, "--org", org, "--role", "gestionnaire"
    )
    assert joined.exit_code == 0, joined.output
    assert "as gestionnaire" in joined.output
    tokens = await login(client, email=clerk)
    me = (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})).json()
    assert me["roles"] == ["gestionnaire"]


async def test_admin_create_refuses_bad_input_clearly(database_url: str) -> None:
    short = await run_cli(database_url, "--email", unique_email(), "--password", "short")
    assert short.exit_code == 2
    assert "at least 10 characters" in short.output
    nobody = await run_cli(database_url, "--password", DEFAULT_PASSWORD)
    assert nobody.exit_code == 2
    bad_phone = await run_cli(database_url, "--phone", "12", "--password", DEFAULT_PASSWORD)
    assert bad_phone.exit_code == 2
    assert "invalid phone" in bad_phone.output
