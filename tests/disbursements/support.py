"""Helpers of the bulk disbursement tests: the simulator, uploading, waiting, funding, reading the ledger."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.mobile_money.sandbox import SandboxSimulator
from cauri.core.config import Settings
from cauri.core.db import unit_of_work
from cauri.disbursements import reservation
from cauri.disbursements.models import BulkBatch, BulkLine
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerTransfer
from tests.conftest import create_postgres_database, service_url
from tests.support.identity import Actor, add_member, create_org_with_user

FINAL = {"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "CANCELLED"}
CURRENCY = "XOF"


class CallCounter:
    """An ASGI layer in front of a simulator that counts the payout calls in flight (the provider's view)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        counted = scope["type"] == "http" and scope["path"].startswith("/v1/payouts")
        if counted:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            if counted:
                self.in_flight -= 1


@dataclass
class Sandbox:
    simulator: SandboxSimulator
    url: str
    calls: CallCounter


def sandbox_simulator(**timings: Any) -> SandboxSimulator:
    """The sandbox provider with the application's development credentials and short timings."""
    defaults = Settings()
    values: dict[str, Any] = {
        "settle_seconds": 0.05,
        "slow_seconds": 0.4,
        "hang_seconds": 3.0,
        "expiry_seconds": 0.5,
        "late_callback_seconds": 0.5,
        "callback_attempts": 1,
    }
    values.update(timings)
    return SandboxSimulator(
        api_key=defaults.sandbox_api_key.get_secret_value(),
        webhook_secret=defaults.sandbox_webhook_secret.get_secret_value(),
        settings=SimulatorSettings(**values),
    )


@asynccontextmanager
async def served_sandbox() -> AsyncIterator[Sandbox]:
    """The sandbox provider on a loopback port, behind a counter of payout calls in flight."""
    simulator = sandbox_simulator()
    calls = CallCounter(simulator.app)
    async with serve_app(calls) as url:
        yield Sandbox(simulator, url, calls)
    await simulator.aclose()


async def fresh_database(backend: str, directory: Path) -> tuple[str, str | None]:
    """A new database's URL, and the PostgreSQL admin URL that drops it afterwards (None for SQLite)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / 'bulk.db'}", None
    admin_url = service_url("postgres")
    return await create_postgres_database(admin_url), admin_url


def bulk_settings(sandbox_url: str, port: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "public_base_url": f"http://127.0.0.1:{port}",
        "sandbox_url": sandbox_url,
        "bulk_provider_rate_limits": {"sandbox": "none"},
        # Most tests exercise the path of providers paid one call per line (MTN, Orange…), with the sandbox's
        # per-call outcomes (slow, 5xx, 429…); test_bulk_sandbox_bulk_api.py covers its bulk API.
        "bulk_line_by_line_providers": {"sandbox"},
        "bulk_workers_per_batch": 2,
        "bulk_claim_size": 5,
        "bulk_provider_concurrency": 4,
        "bulk_poll_initial_seconds": 0.05,
        "bulk_poll_max_seconds": 0.5,
        "bulk_line_lease_seconds": 5,
        "bulk_stream_interval_seconds": 0.5,
        "payments_provider_read_timeout_seconds": 1.0,
        "job_sweep_seconds": 1,
        "job_retry_base_seconds": 0.5,
    }
    values.update(overrides)
    return values


def standard_file(phones_and_amounts: list[tuple[str, int]], prefix: str | None = None) -> bytes:
    """A standard-format file (caller-chosen transfer ids) paying each (phone, amount)."""
    tag = prefix or uuid.uuid4().hex[:8]
    rows = ["transferId,amount,currency,partyIdType,partyIdentifier"]
    rows += [
        f"{tag}-{index:04d},{amount},{CURRENCY},MSISDN,{phone}"
        for index, (phone, amount) in enumerate(phones_and_amounts)
    ]
    return ("\r\n".join(rows) + "\r\n").encode()


@dataclass(frozen=True)
class Team:
    owner: Actor
    maker: Actor  # gestionnaire
    checker: Actor  # another gestionnaire
    supervisor: Actor

    @property
    def organization_id(self) -> uuid.UUID:
        assert self.owner.organization_id is not None
        return self.owner.organization_id


async def team(client: httpx.AsyncClient, *, maker_checker: bool = False) -> Team:
    owner = await create_org_with_user(client)
    if maker_checker:
        response = await client.patch(
            f"/api/v1/organizations/{owner.organization_id}",
            json={"require_maker_checker": True},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
    return Team(
        owner=owner,
        maker=await add_member(client, owner, role="gestionnaire"),
        checker=await add_member(client, owner, role="gestionnaire"),
        supervisor=await add_member(client, owner, role="superviseur"),
    )


async def fund(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, amount: int, currency: str = CURRENCY
) -> None:
    """A bank deposit into the organisation's wallet, through the ledger's service."""
    async with unit_of_work(sessionmaker) as session:
        wallet = await ledger.operating_account(session, organization_id, currency)
        bank = await ledger.bank_deposits_account(session, organization_id, currency)
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=uuid.uuid4(),
                    debit_account_id=bank.id,
                    credit_account_id=wallet.id,
                    amount=amount,
                    code="deposit",
                )
            ],
        )


async def wallet(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, currency: str = CURRENCY
) -> ledger.Balance:
    async with unit_of_work(sessionmaker) as session:
        account = await ledger.operating_account(session, organization_id, currency)
        return await ledger.balance(session, account.id)


async def upload(
    client: httpx.AsyncClient,
    actor: Actor,
    data: bytes,
    *,
    filename: str = "paiements.csv",
    expect: int = 201,
    headers: dict[str, str] | None = None,
    **form: str,
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/bulk-transfers",
        files={"file": (filename, data, "text/csv")},
        data=form,
        headers={**actor.headers, **(headers or {})},
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def act(
    client: httpx.AsyncClient, actor: Actor, batch_id: str, action: str, *, expect: int = 200, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/bulk-transfers/{batch_id}/{action}", json=body or None, headers=actor.headers
    )
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def get_batch(client: httpx.AsyncClient, actor: Actor, batch_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/bulk-transfers/{batch_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def wait_state(
    client: httpx.AsyncClient, actor: Actor, batch_id: str, states: set[str] | None = None, *, within: float = 60.0
) -> dict[str, Any]:
    wanted = states or FINAL
    deadline = time.monotonic() + within
    while True:
        batch = await get_batch(client, actor, batch_id)
        if batch["state"] in wanted:
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch['state']} after {within} s: {batch}")
        await asyncio.sleep(0.1)


async def all_lines(client: httpx.AsyncClient, actor: Actor, batch_id: str, **filters: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 50, **filters}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(f"/api/v1/bulk-transfers/{batch_id}/status", params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        lines.extend(page["lines"])
        cursor = page["next_cursor"]
        if not cursor:
            return lines


@dataclass(frozen=True)
class LedgerView:
    """What the ledger holds for one batch, read in one snapshot with the batch's own numbers."""

    posted: int  # sum of the chain's posts
    pending: int  # the live reservation
    posts: int
    completed_amount: int  # the batch's counter
    completed_lines_amount: int  # sum of its COMPLETED lines
    reserved_amount: int  # the batch's record of its reservation
    wallet_pending: int  # the organisation wallet's debits pending


async def ledger_view(sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID) -> LedgerView:
    async with sessionmaker() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        batch = await session.get(BulkBatch, batch_id)
        assert batch is not None
        indexes = range(1, batch.reservation_index + 1)
        posts = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(LedgerTransfer.amount), 0)).where(
                    LedgerTransfer.id.in_([reservation.post_transfer_id(batch_id, i) for i in indexes])
                )
            )
        ).one()
        live = (
            await session.execute(
                select(func.coalesce(func.sum(LedgerTransfer.amount), 0)).where(
                    LedgerTransfer.id.in_([reservation.reservation_transfer_id(batch_id, i) for i in indexes]),
                    LedgerTransfer.status == "pending",
                )
            )
        ).scalar_one()
        completed = (
            await session.execute(
                select(func.coalesce(func.sum(BulkLine.amount), 0)).where(
                    BulkLine.batch_id == batch_id, BulkLine.state == "COMPLETED"
                )
            )
        ).scalar_one()
        assert batch.currency is not None
        account = await ledger.operating_account(session, batch.organization_id, batch.currency)
        view = LedgerView(
            posted=int(posts[1]),
            pending=int(live),
            posts=int(posts[0]),
            completed_amount=batch.completed_amount,
            completed_lines_amount=int(completed),
            reserved_amount=batch.reserved_amount,
            wallet_pending=account.debits_pending,
        )
        await session.rollback()
        return view


def assert_ledger_agrees(view: LedgerView, *, final: bool) -> None:
    assert view.posted == view.completed_amount == view.completed_lines_amount, view
    assert view.pending == view.reserved_amount, view
    if final:
        assert view.pending == 0, view


def sandbox_paid(simulator: SandboxSimulator, reference: str) -> int:
    return simulator.paid_out(reference)


def sandbox_payments(simulator: SandboxSimulator, references: set[str]) -> list[str]:
    """The simulator's payouts (their references) among ``references``: one per paid attempt, never two."""
    return [reference for (kind, reference) in simulator.by_reference if kind == "payout" and reference in references]
