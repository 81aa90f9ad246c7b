"""Batches paid through the sandbox's bulk API (``POST /v1/bulk-payouts``, ``Capability.BULK_PAYOUT``): a thousand
lines per call, each line matched to its result by our reference, never a line paid twice. The other bulk tests
pay the sandbox one call per line (``bulk_line_by_line_providers``); this module's app, on a database of its own,
does not. On SQLite and PostgreSQL, against the sandbox simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.disbursements.payouts import LineOrder, Verdict, check_group, open_link, pay_group, provider_reference
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.testing import free_port, serve_app
from tests.conftest import drop_postgres_database, make_settings, migrate
from tests.disbursements.support import (
    Sandbox,
    act,
    all_lines,
    assert_ledger_agrees,
    bulk_settings,
    fresh_database,
    fund,
    ledger_view,
    sandbox_payments,
    standard_file,
    team,
    upload,
    wait_state,
)

BULK_CALL = "POST /v1/bulk-payouts"


@pytest.fixture(scope="module")
async def app(backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> AsyncIterator[FastAPI]:
    """An app paying the sandbox through its bulk API (overrides the shared one for this module)."""
    directory = tmp_path_factory.mktemp(f"bulk-api-{backend}")
    url, admin_url = await fresh_database(backend, directory)
    try:
        await migrate(url)
        port = free_port()
        settings = make_settings(
            url, directory, **bulk_settings(sandbox.url, port, bulk_line_by_line_providers=frozenset())
        )
        application = create_app(settings)
        async with serve_app(application, port=port, shutdown_timeout=2):
            yield application
    finally:
        if admin_url is not None:
            await drop_postgres_database(admin_url, url)


async def test_a_batch_goes_to_the_sandbox_in_bulks_and_each_line_gets_its_own_result(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 50_000_000)
    good = [(f"+2217700{30_000 + index:05d}", 10_000 + index) for index in range(30)]
    refused = (magic_phone(Outcome.NOT_FOUND, "SN"), 7_000)  # refused at once, inside the bulk
    declined = (magic_phone(Outcome.INSUFFICIENT_FUNDS, "CI"), 8_000)  # accepted, then failed
    simulator = sandbox.simulator
    bulks, singles = simulator.requests[BULK_CALL], simulator.requests["POST /v1/payouts"]
    created = await upload(client, people.maker, standard_file([*good, refused, declined]))
    await act(client, people.maker, created["id"], "submit")
    done = await wait_state(client, people.maker, created["id"])
    assert (done["state"], done["completed_lines"], done["failed_lines"]) == ("PARTIALLY_COMPLETED", 30, 2)
    assert simulator.requests[BULK_CALL] - bulks == 1  # 32 lines, one call
    assert simulator.requests["POST /v1/payouts"] == singles

    lines = await all_lines(client, people.maker, created["id"])
    for line in lines:
        if line["state"] == "COMPLETED":
            assert simulator.paid_out(line["provider_reference"]) == line["amount"]
            assert line["provider_payment_id"].startswith("sbx_pay_")
    assert {(line["party_identifier"][-3:], line["failure_reason"]) for line in lines if line["state"] == "FAILED"} == {
        ("901", "payee_not_found"),
        ("902", "insufficient_funds"),
    }
    assert_ledger_agrees(await ledger_view(sessionmaker, uuid.UUID(created["id"])), final=True)

    await act(client, people.maker, created["id"], "retry")
    again = await wait_state(client, people.maker, created["id"])
    assert (again["state"], again["completed_lines"]) == ("PARTIALLY_COMPLETED", 30)
    assert simulator.requests[BULK_CALL] - bulks == 2  # the two failed lines only, as a new bulk
    paid = {line["provider_reference"] for line in await all_lines(client, people.maker, created["id"])}
    assert sorted(sandbox_payments(simulator, paid)) == sorted(set(sandbox_payments(simulator, paid)))
    assert_ledger_agrees(await ledger_view(sessionmaker, uuid.UUID(created["id"])), final=True)


async def test_a_large_batch_is_sent_a_thousand_lines_a_call(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 50_000_000)
    # Last three digits under 900: no magic outcome of the sandbox.
    payees = [(f"+22177{1_000_000 + index // 900 * 1000 + index % 900:07d}", 100 + index % 7) for index in range(2_500)]
    bulks = sandbox.simulator.requests[BULK_CALL]
    created = await upload(client, people.maker, standard_file(payees))
    await act(client, people.maker, created["id"], "submit")
    done = await wait_state(client, people.maker, created["id"], within=120)
    assert (done["state"], done["completed_lines"]) == ("COMPLETED", 2_500)
    assert sandbox.simulator.requests[BULK_CALL] - bulks == 3  # 1000 + 1000 + 500
    references = {line["provider_reference"] for line in await all_lines(client, people.maker, created["id"])}
    assert len(sandbox_payments(sandbox.simulator, references)) == 2_500
    assert_ledger_agrees(await ledger_view(sessionmaker, uuid.UUID(created["id"])), final=True)


async def test_a_bulk_sent_again_after_a_crash_is_looked_up_not_paid_twice(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    """What a worker that lost its answer does on its next round: the same group reference, the same lines."""
    settings: Settings = app.state.settings
    people = await team(client)
    batch_id = uuid.uuid4()
    orders = [
        LineOrder(
            line_number=line,
            reference=provider_reference(batch_id, f"tx-{line}", 1),
            amount=5_000 + line,
            currency="XOF",
            phone=f"+2217720{line:05d}",
            payee_name="Awa Ndiaye",
            provider_payment_id=None,
            submitted_at=None,
            maybe_sent=False,
        )
        for line in range(2, 7)
    ]
    group = str(uuid.uuid4())
    async with sessionmaker() as session:
        link = await open_link(session, organization_id=people.organization_id, provider="sandbox", settings=settings)
    first = await pay_group(link, group, orders, cancelled=lambda: False, maybe_sent=False)
    assert {outcome.verdict for outcome in first.values()} == {Verdict.PENDING}
    resent = [dataclasses.replace(order, maybe_sent=True) for order in orders]
    bulks = sandbox.simulator.requests[BULK_CALL]
    await pay_group(link, group, resent, cancelled=lambda: False, maybe_sent=True)
    assert sandbox.simulator.requests[BULK_CALL] == bulks  # looked up, not sent
    deadline = time.monotonic() + 10
    while True:
        settled = await check_group(link, group, resent)
        if {outcome.verdict for outcome in settled.values()} == {Verdict.COMPLETED}:
            break
        assert time.monotonic() < deadline, settled
        await asyncio.sleep(0.05)
    for order in orders:
        assert sandbox.simulator.created(order.reference) == 1
        assert sandbox.simulator.paid_out(order.reference) == order.amount

    unknown = await check_group(link, str(uuid.uuid4()), resent)  # a bulk the sandbox never got
    assert {outcome.verdict for outcome in unknown.values()} == {Verdict.PENDING}
    cancelled = await pay_group(link, str(uuid.uuid4()), resent, cancelled=lambda: True, maybe_sent=True)
    assert {outcome.verdict for outcome in cancelled.values()} == {Verdict.NOT_SENT}  # never reached the sandbox
