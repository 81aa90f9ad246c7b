"""Delivery tracking and rate limits, on SQLite and PostgreSQL.

Tracking: through the Africa's Talking simulator over loopback HTTP, an organisation reads its messages with their
state (`sent → delivered`, `failed` with the provider's reason, refused at once) and every attempt, filtered by
state, channel and kind, page by page; nobody else reads them. Rate limits: per recipient and per organisation,
in this process's store and in Redis, urgent kinds exempt, the message over the limit recorded `suppressed`."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.db import unit_of_work
from cauri.kit.outcomes import MAGIC_SUFFIXES, Outcome
from cauri.notifications.models import DeliveryAttempt, Notification, NotificationStatus
from cauri.notifications.notify import Recipient, notify
from tests.conftest import make_settings, service_url
from tests.jobs.support import fresh_database
from tests.notifications.notify_support import TRACKED, URGENT
from tests.notifications.sms_support import SmsWorld, sms_world
from tests.support.identity import Actor, add_member, register

MESSAGES = "/api/v1/notifications/messages"


def number(outcome: Outcome = Outcome.SUCCESS) -> str:
    """A fresh Ivorian mobile number whose last digits make the simulator produce ``outcome``."""
    suffix = next(suffix for suffix, known in MAGIC_SUFFIXES.items() if known is outcome)
    return f"+22507{secrets.randbelow(100_000):05d}{suffix}"


async def tell(
    maker: async_sessionmaker[AsyncSession],
    *,
    phone: str | None = None,
    email: str | None = None,
    organization_id: uuid.UUID | None,
    kind: str = TRACKED.name,
    n: int = 0,
) -> list[Notification]:
    async with unit_of_work(maker) as session:
        return await notify(
            session,
            kind=kind,
            recipient=Recipient(uuid.uuid4(), email=email, phone=phone),
            context={"n": n},
            object_id=f"{uuid.uuid4()}",
            organization_id=organization_id,
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("tracking")) as url:
        yield url


@pytest.fixture
async def world(database: str, tmp_path: Path) -> AsyncIterator[SmsWorld]:
    async with sms_world("africastalking", database, tmp_path) as running:
        yield running


async def test_an_organisation_tracks_each_message_and_its_attempts(world: SmsWorld) -> None:
    async with httpx.AsyncClient(base_url=world.api_url, timeout=30) as client:
        owner = await register(client, org_name=f"Tontine {uuid.uuid4().hex[:6]}")
        member = await add_member(client, owner, role="member")
        stranger = await register(client, org_name=f"Autre {uuid.uuid4().hex[:6]}")
        org = owner.organization_id
        [delivered] = await tell(world.maker, phone=number(), organization_id=org, n=1)
        [failed_later] = await tell(world.maker, phone=number(Outcome.ACCOUNT_INACTIVE), organization_id=org, n=2)
        [refused] = await tell(world.maker, phone=number(Outcome.NOT_FOUND), organization_id=org, n=3)
        [emailed] = await tell(world.maker, email="awa@example.org", organization_id=org, n=4)
        await world.wait_for(delivered.id, NotificationStatus.DELIVERED)
        await world.wait_for(failed_later.id, NotificationStatus.FAILED)
        await world.wait_for(refused.id, NotificationStatus.FAILED)
        await world.wait_for(emailed.id, NotificationStatus.SENT)

        async def page(**params: Any) -> dict[str, Any]:
            response = await client.get(MESSAGES, params=params, headers=owner.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        everything = {item["id"]: item for item in (await page())["items"]}
        assert set(everything) == {str(m.id) for m in (delivered, failed_later, refused, emailed)}
        history = {key: [(a["outcome"], a["provider"]) for a in item["history"]] for key, item in everything.items()}
        assert history[str(delivered.id)] == [("sent", "africastalking"), ("delivered", "africastalking")]
        assert history[str(failed_later.id)] == [("sent", "africastalking"), ("failed", "africastalking")]
        assert history[str(refused.id)] == [("refused", "africastalking")]
        assert history[str(emailed.id)] == [("sent", "console")]
        late = everything[str(failed_later.id)]
        assert late["state"] == "failed" and late["failure_reason"] and late["history"][1]["detail"]
        assert everything[str(delivered.id)]["delivered_at"] and everything[str(delivered.id)]["kind"] == TRACKED.name
        # Filters and pages.
        failed = await page(state="failed")
        assert {item["id"] for item in failed["items"]} == {str(failed_later.id), str(refused.id)}
        assert [item["id"] for item in (await page(channel="email"))["items"]] == [str(emailed.id)]
        assert (await page(kind="nothing.else"))["items"] == []
        first = await page(limit=3)
        rest = await page(limit=3, cursor=first["next_cursor"])
        assert len(first["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert {i["id"] for i in first["items"] + rest["items"]} == set(everything)
        bad = await client.get(MESSAGES, params={"state": "lost"}, headers=owner.headers)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "state"
        # A member does not read the organisation's messages; another organisation sees none of them.
        assert (await client.get(MESSAGES, headers=member.headers)).status_code == 403
        other = await client.get(MESSAGES, headers=stranger.headers)
        assert other.status_code == 200 and other.json()["items"] == []


@pytest.fixture(params=["memory", "redis"])
async def limited(request: pytest.FixtureRequest, database: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    extra: dict[str, Any] = {}
    if request.param == "redis":
        extra = {"redis_url": service_url("redis"), "redis_namespace": f"t{uuid.uuid4().hex[:10]}"}
    settings = make_settings(
        database,
        tmp_path,
        notification_limit_per_recipient=2,
        notification_limit_per_organization=3,
        notification_limit_organization_seconds=2,
        job_sweep_seconds=1,
        **extra,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


async def settled(maker: async_sessionmaker[AsyncSession], ids: list[uuid.UUID]) -> dict[uuid.UUID, Notification]:
    deadline = time.monotonic() + 20
    while True:
        async with maker() as session:
            rows = {n.id: n for n in await session.scalars(select(Notification).where(Notification.id.in_(ids)))}
        if all(row.status in {"sent", "suppressed"} for row in rows.values()) and len(rows) == len(ids):
            return rows
        assert time.monotonic() < deadline, {row.id: row.status for row in rows.values()}
        await asyncio.sleep(0.05)


async def test_rate_limits_per_recipient_and_organisation_spare_urgent_kinds(limited: FastAPI) -> None:
    maker: async_sessionmaker[AsyncSession] = limited.state.sessionmaker
    phone = number()
    ids = [m.id for n in range(3) for m in await tell(maker, phone=phone, organization_id=None, n=n)]
    urgent = [m.id for n in range(3) for m in await tell(maker, phone=phone, organization_id=None, kind=URGENT.name)]
    rows = await settled(maker, ids + urgent)
    assert sorted(rows[i].status for i in ids) == ["sent", "sent", "suppressed"]
    [over] = [rows[i] for i in ids if rows[i].status == "suppressed"]
    assert over.failure_reason == "rate_limited" and over.provider is None
    assert [rows[i].status for i in urgent] == ["sent"] * 3  # security codes are never held back
    async with maker() as session:
        [attempt] = await session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.notification_id == over.id))
        assert (attempt.outcome, attempt.detail) == ("suppressed", "rate_limited")
    # Per organisation: three messages in two seconds, to anyone; the fourth waits its turn, it is not dropped.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t") as client:
        owner: Actor = await register(client, org_name=f"Org {uuid.uuid4().hex[:6]}")
    org_ids = [m.id for n in range(4) for m in await tell(maker, phone=number(), organization_id=owner.organization_id)]
    org_rows = await settled(maker, org_ids)
    assert [row.status for row in org_rows.values()] == ["sent"] * 4
    times = sorted(row.sent_at for row in org_rows.values() if row.sent_at is not None)
    assert (times[3] - times[0]).total_seconds() >= 1.5  # the fourth went out once the window let it
