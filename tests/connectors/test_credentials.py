"""Provider credentials: encrypted at rest, listed without secrets, rotated by `cauri keys rotate`, both databases."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from cauri.cli import app as cli_app
from cauri.connectors.base import CollectRequest, PaymentStatus
from cauri.connectors.credentials import (
    ProviderCredential,
    delete_credentials,
    encryptor_for,
    list_credentials,
    load_credentials,
    save_credentials,
)
from cauri.connectors.mobile_money.sandbox import SandboxSimulator
from cauri.connectors.registry import UnknownProvider, registry
from cauri.core.config import DEV_ENCRYPTION_KEY, Environment, Settings
from cauri.core.db import unit_of_work
from cauri.core.errors import ValidationFailed
from cauri.core.security import Encryptor
from cauri.kit.errors import AuthError
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app
from tests.support.identity import add_member, create_org_with_user

SECRET = "sk_live_" + "9" * 24


async def new_organization(client: httpx.AsyncClient) -> uuid.UUID:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    return owner.organization_id


async def test_credentials_are_encrypted_at_rest_and_listed_without_secrets(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    organization_id = await new_organization(client)
    encryptor = encryptor_for(settings)
    async with unit_of_work(sessionmaker) as session:
        summary = await save_credentials(
            session,
            encryptor=encryptor,
            organization_id=organization_id,
            provider="sandbox",
            credentials={"api_key": SecretStr(SECRET), "webhook_secret": "whsec_at_rest"},
            settings={"base_url": "http://127.0.0.1:8090"},
            label="Compte principal",
        )
    assert summary.fields == ["api_key", "webhook_secret"]
    assert SECRET not in repr(summary)
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(ProviderCredential).where(ProviderCredential.organization_id == organization_id)
            )
        ).scalar_one()
        assert SECRET not in row.ciphertext and "whsec_at_rest" not in row.ciphertext
        assert SECRET not in str(row.settings) + str(row.field_names) + row.label
        stored = await load_credentials(
            session, encryptor=encryptor, organization_id=organization_id, provider="sandbox"
        )
        listed = await list_credentials(session, organization_id=organization_id)
    assert stored is not None
    assert stored.credentials["api_key"].get_secret_value() == SECRET
    assert SECRET not in repr(stored)
    assert [(s.provider, s.label, s.settings) for s in listed] == [
        ("sandbox", "Compte principal", {"base_url": "http://127.0.0.1:8090"})
    ]


async def test_saving_again_replaces_and_deleting_forgets(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    organization_id = await new_organization(client)
    encryptor = encryptor_for(settings)
    for api_key in ("sk_first", "sk_second"):
        async with unit_of_work(sessionmaker) as session:
            await save_credentials(
                session,
                encryptor=encryptor,
                organization_id=organization_id,
                provider="sandbox",
                credentials={"api_key": api_key, "webhook_secret": "whsec"},
            )
    async with unit_of_work(sessionmaker) as session:
        stored = await load_credentials(
            session, encryptor=encryptor, organization_id=organization_id, provider="sandbox"
        )
        assert stored is not None and stored.credentials["api_key"].get_secret_value() == "sk_second"
        assert len(await list_credentials(session, organization_id=organization_id)) == 1
        assert await delete_credentials(session, organization_id=organization_id, provider="sandbox")
        assert not await delete_credentials(session, organization_id=organization_id, provider="sandbox")
        assert (
            await load_credentials(session, encryptor=encryptor, organization_id=organization_id, provider="sandbox")
            is None
        )


async def test_bad_credentials_are_refused_naming_the_field(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    organization_id = await new_organization(client)
    cases = [
        ({"api_key": "sk"}, {}, "credentials.webhook_secret"),
        ({"api_key": "sk", "webhook_secret": "w", "pin": "1234"}, {}, "credentials.pin"),
        ({"api_key": "sk", "webhook_secret": "w"}, {"region": "CM"}, "settings.region"),
        ({"api_key": "sk", "webhook_secret": "w"}, {"base_url": "file:///etc/passwd"}, "settings.base_url"),
    ]
    for credentials, extra, field in cases:
        with pytest.raises(ValidationFailed) as raised:
            async with unit_of_work(sessionmaker) as session:
                await save_credentials(
                    session,
                    encryptor=encryptor_for(settings),
                    organization_id=organization_id,
                    provider="sandbox",
                    credentials=credentials,
                    settings=extra,
                )
        assert field in [e.field for e in raised.value.errors] or raised.value.field == field
    with pytest.raises(UnknownProvider):
        registry.get("nope")
    async with sessionmaker() as session:
        assert await list_credentials(session, organization_id=organization_id) == []


async def test_an_organisation_uses_its_own_stored_credentials(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    organization_id = await new_organization(client)
    simulator = SandboxSimulator(
        api_key="sk_org_" + uuid.uuid4().hex, webhook_secret="whsec_org", settings=SimulatorSettings(settle_seconds=0)
    )
    async with serve_app(simulator.app) as url:
        async with unit_of_work(sessionmaker) as session:
            await save_credentials(
                session,
                encryptor=encryptor_for(settings),
                organization_id=organization_id,
                provider="sandbox",
                credentials={"api_key": simulator.api_key, "webhook_secret": "whsec_org"},
                settings={"base_url": url},
            )
        async with sessionmaker() as session:
            connector = await registry.connector_for(
                session, organization_id=organization_id, provider="sandbox", app_settings=settings
            )
        async with connector:
            reference = f"org-{uuid.uuid4().hex[:8]}"
            await connector.collect(CollectRequest(reference, 5000, "XAF", magic_phone(Outcome.SUCCESS)))
            for _ in range(100):
                if (await connector.collect_status(reference)).status is PaymentStatus.SUCCEEDED:
                    break
                await asyncio.sleep(0.02)
        await simulator.aclose()
    assert simulator.collected(reference) == 5000


async def test_without_stored_credentials_only_non_production_falls_back_to_the_sandbox(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    organization_id = uuid.uuid4()
    async with sessionmaker() as session:
        connector = await registry.connector_for(
            session, organization_id=organization_id, provider="sandbox", app_settings=settings
        )
        await connector.aclose()
        production = settings.model_copy(update={"env": Environment.PRODUCTION})
        with pytest.raises(AuthError) as raised:
            await registry.connector_for(
                session, organization_id=organization_id, provider="sandbox", app_settings=production
            )
    assert raised.value.code == "connector_not_configured"


async def test_keys_rotate_re_encrypts_every_credential_under_the_newest_key(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    key_a, key_b = Encryptor.generate_key(), Encryptor.generate_key()
    organization_id = await new_organization(client)
    async with unit_of_work(sessionmaker) as session:
        await save_credentials(
            session,
            encryptor=Encryptor([key_a]),
            organization_id=organization_id,
            provider="sandbox",
            credentials={"api_key": "sk_rotated", "webhook_secret": "whsec_rotated"},
        )
    # Other tests stored credentials under the development key: it stays listed, as in a real rotation.
    runner = CliRunner()
    database = {"CAURI_DATABASE_URL": settings.database_url, "CAURI_LOG_LEVEL": "WARNING"}

    refused = await asyncio.to_thread(
        runner.invoke,
        cli_app,
        ["keys", "rotate"],
        env={**database, "CAURI_ENCRYPTION_KEYS": f"{key_b},{DEV_ENCRYPTION_KEY}"},
    )
    assert refused.exit_code == 1, refused.output
    assert str(organization_id) in refused.output
    async with sessionmaker() as session:
        untouched = await load_credentials(
            session, encryptor=Encryptor([key_a]), organization_id=organization_id, provider="sandbox"
        )
    assert untouched is not None, "a refused rotation changes nothing"

    done = await asyncio.to_thread(
        runner.invoke,
        cli_app,
        ["keys", "rotate"],
        env={**database, "CAURI_ENCRYPTION_KEYS": f"{key_b},{key_a},{DEV_ENCRYPTION_KEY}"},
    )
    assert done.exit_code == 0, done.output
    async with sessionmaker() as session:
        rotated = await load_credentials(
            session, encryptor=Encryptor([key_b]), organization_id=organization_id, provider="sandbox"
        )
        assert rotated is not None
        assert rotated.credentials["api_key"].get_secret_value() == "sk_rotated"
        with pytest.raises(ValueError, match="cannot decrypt"):
            await load_credentials(
                session, encryptor=Encryptor([key_a]), organization_id=organization_id, provider="sandbox"
            )


async def test_the_credentials_api_is_write_only_and_needs_the_permission(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await create_org_with_user(client)
    url = "/api/v1/connectors/credentials/sandbox"
    body = {
        "label": "Sandbox",
        "credentials": {"api_key": SECRET, "webhook_secret": "whsec_api"},
        "settings": {"base_url": "http://127.0.0.1:8090"},
    }
    saved = await client.put(url, json=body, headers=owner.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["fields"] == ["api_key", "webhook_secret"]
    for response in (
        saved,
        await client.get(url, headers=owner.headers),
        await client.get("/api/v1/connectors/credentials", headers=owner.headers),
    ):
        assert response.status_code == 200
        assert SECRET not in response.text and "whsec_api" not in response.text
    providers = await client.get("/api/v1/connectors/providers", headers=owner.headers)
    assert "sandbox" in [p["name"] for p in providers.json()["items"]]

    clerk = await add_member(client, owner, role="gestionnaire")
    assert (await client.get(url, headers=clerk.headers)).status_code == 403
    assert (await client.put(url, json=body, headers=clerk.headers)).status_code == 403
    other = await create_org_with_user(client)
    assert (await client.get(url, headers=other.headers)).status_code == 404, "another organisation sees nothing"

    unknown = await client.put("/api/v1/connectors/credentials/nope", json=body, headers=owner.headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_provider"
    missing = await client.put(url, json={"credentials": {"api_key": "x"}}, headers=owner.headers)
    assert missing.status_code == 422 and missing.json()["field"] == "credentials.webhook_secret"

    audit = await client.get("/api/v1/audit-events", headers=owner.headers)
    assert "connectors.credentials.saved" in audit.text and SECRET not in audit.text
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    assert (await client.delete(url, headers=owner.headers)).status_code == 404
