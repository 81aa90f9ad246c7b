"""Providers whose callbacks are not signed (FreeMoPay, MTN…): a callback only rings the bell; the provider's
answer to a status query decides, so a forged "success" credits nobody.

The provider here is a test double of such a provider: the sandbox's wire format and simulator, with callbacks
declared unsigned (nothing to verify; events marked ``signed=False``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator, Mapping

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import CallbackEvent
from cauri.connectors.mobile_money.sandbox import PROVIDER as SANDBOX
from cauri.connectors.mobile_money.sandbox import SandboxConnector
from cauri.connectors.registry import ConnectorConfig, ProviderSpec, registry
from cauri.core.config import Settings
from cauri.kit.outcomes import Outcome
from cauri.payments.models import ProviderEvent
from tests.payments.support import create, eventually, get, postings, settled_postings, wait_status
from tests.support.identity import create_org_with_user

NAME = "unsigned_sandbox"


class UnsignedSandbox(SandboxConnector):
    name = NAME
    callbacks_signed = False

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        """Nothing to verify: this provider does not sign its callbacks."""

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return dataclasses.replace(super()._parse_callback(headers, raw_body), signed=False)


def _build(config: ConnectorConfig) -> UnsignedSandbox:
    return UnsignedSandbox(
        base_url=config.require_setting("base_url"),
        api_key=config.optional_secret("api_key"),
        webhook_secrets=[config.secret("webhook_secret")],
    )


def _app_settings(settings: Settings) -> Mapping[str, str]:
    return {"base_url": settings.sandbox_base_url}


def _dev_credentials(settings: Settings) -> Mapping[str, SecretStr]:
    return {"api_key": settings.sandbox_api_key, "webhook_secret": settings.sandbox_webhook_secret}


@pytest.fixture
def unsigned_provider() -> Iterator[str]:
    registry.register(
        ProviderSpec(
            name=NAME,
            display_name="Unsigned test provider",
            build=_build,
            credential_fields=SANDBOX.credential_fields,
            setting_names=("base_url",),
            countries=frozenset(),  # never chosen automatically: only when a test names it
            app_settings=_app_settings,
            dev_credentials=_dev_credentials,
        ),
        replace=True,
    )
    yield NAME
    registry._specs.pop(NAME, None)


async def _outcome_of_events(sessionmaker: async_sessionmaker[AsyncSession], ref: str) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ProviderEvent.state, ProviderEvent.outcome, ProviderEvent.signed).where(
                ProviderEvent.outbound_reference == ref
            )
        )
        return [f"{row.state}|{row.outcome}|{row.signed}" for row in rows]


async def test_an_unsigned_callback_is_confirmed_by_a_status_query(
    client: httpx.AsyncClient, unsigned_provider: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await create(client, owner, "collection", provider=unsigned_provider, amount=4000)
    assert created["provider"] == NAME
    done = await wait_status(client, owner, "collection", created["id"])
    assert done["status"] == "succeeded"
    ref = done["outbound_reference"]

    async def processed() -> bool:
        outcomes = await _outcome_of_events(sessionmaker, ref)
        return bool(outcomes) and all(o.startswith("processed") for o in outcomes)

    await eventually(processed, what="the unsigned callback")
    for outcome in await _outcome_of_events(sessionmaker, ref):
        assert "(status_query)" in outcome
        assert outcome.endswith("|False")
    await settled_postings(sessionmaker, created["id"], {"collection.credit": 4000, "collection.fee": 40})


async def test_a_forged_unsigned_success_credits_nobody(
    client: httpx.AsyncClient, unsigned_provider: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await create(
        client, owner, "collection", provider=unsigned_provider, amount=9000, outcome=Outcome.PENDING_FOREVER
    )
    pending = await wait_status(client, owner, "collection", created["id"], {"pending"})
    # Anyone can POST this: no signature is expected from this provider.
    forged = json.dumps(
        {
            "id": f"evt_forged_{uuid.uuid4().hex[:8]}",
            "type": "collection.successful",
            "created": int(time.time()),
            "data": {
                "id": pending["provider_reference"],
                "kind": "collection",
                "reference": pending["outbound_reference"],
                "msisdn": pending["phone"].removeprefix("+"),
                "amount": "9000",
                "currency": "XAF",
                "fee": "90",
                "state": "SUCCESSFUL",
                "failure_code": None,
            },
        }
    ).encode()
    answer = await client.post(
        f"/api/v1/webhooks/{NAME}?org={owner.organization_id}",
        content=forged,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200

    async def processed() -> bool:
        outcomes = await _outcome_of_events(sessionmaker, pending["outbound_reference"])
        return bool(outcomes) and outcomes[0].startswith("processed")

    await eventually(processed, what="the forged callback")
    [outcome] = await _outcome_of_events(sessionmaker, pending["outbound_reference"])
    assert outcome == "processed|no change (status_query): pending|False"
    assert (await get(client, owner, "collection", created["id"]))["status"] == "pending"
    assert await postings(sessionmaker, created["id"]) == {}
