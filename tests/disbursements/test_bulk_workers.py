"""Batches paid by real ``cauri worker`` processes over Redis and RabbitMQ, and a worker killed mid-batch (paying
a call per line, and through the sandbox's bulk API right after it sent a bulk).

The API here only rings doorbells (a broker is configured); ``cauri worker`` and ``cauri scheduler`` are
subprocesses. The crash test kills the worker with SIGKILL while it has lines in flight, starts another and the
scheduler, and checks against the sandbox simulator's own books that every line was paid exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from cauri.app import create_app
from cauri.connectors.mobile_money.sandbox import SandboxSimulator
from cauri.disbursements.models import BulkLine
from cauri.kit.testing import serve_app
from tests.conftest import make_settings
from tests.disbursements.support import (
    CURRENCY,
    act,
    all_lines,
    assert_ledger_agrees,
    fund,
    get_batch,
    ledger_view,
    sandbox_simulator,
    team,
    upload,
    wait_state,
    wallet,
)
from tests.jobs.brokers import BrokerUnderTest, isolated_broker
from tests.jobs.support import fresh_database
from tests.support.processes import Processes

LINES = 400


# Each crash proof runs once per broker and once per database, paired (not the four combinations): the broker and
# the database play independent parts in it, and every combination costs a minute of CI.
@pytest.fixture(params=["redis", "amqp"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerUnderTest]:
    async with isolated_broker(str(request.param)) as test_broker:
        yield test_broker


def many_payees(count: int, prefix: str) -> bytes:
    """``count`` distinct valid Senegalese numbers (none ending like a sandbox magic number)."""
    rows = ["transferId,amount,currency,partyIdType,partyIdentifier"]
    number = 0
    for index in range(count):
        while 901 <= number % 1000 <= 920:
            number += 1
        rows.append(f"{prefix}-{index:05d},{1000 + index},{CURRENCY},MSISDN,+2217700{number:05d}")
        number += 1
    return ("\r\n".join(rows) + "\r\n").encode()


@asynccontextmanager
async def bulk_system(
    broker: BrokerUnderTest, backend: str, directory: Path, *, line_by_line: bool = True, **timings: float
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, SandboxSimulator, Processes]]:
    """``line_by_line``: a call per line (a kill lands between many of them), else the sandbox's bulk API."""
    simulator = sandbox_simulator(latency_seconds=0.01, **timings)
    async with serve_app(simulator.app) as sandbox_url, fresh_database(backend, directory) as database:
        settings = make_settings(
            database,
            directory,
            broker_url=broker.url,
            broker_queue=broker.queue,
            sandbox_url=sandbox_url,
            bulk_provider_rate_limits={"sandbox": "none"},
            bulk_line_by_line_providers={"sandbox"} if line_by_line else set(),
            bulk_workers_per_batch=2,
            bulk_claim_size=20,
            bulk_provider_concurrency=8,
            bulk_line_lease_seconds=3,
            bulk_poll_initial_seconds=0.05,
            bulk_poll_max_seconds=0.5,
            job_lease_seconds=5,
            job_sweep_seconds=1,
            job_retry_base_seconds=0.5,
        )
        application = create_app(settings)
        processes = Processes(settings, directory)
        try:
            async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
                transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
                    yield application, client, simulator, processes
        except BaseException:
            print(processes.logs())
            raise
        finally:
            await processes.kill_all()
            await simulator.aclose()


@pytest.mark.slow
@pytest.mark.parametrize(("broker", "backend"), [("redis", "postgresql"), ("amqp", "sqlite")], indirect=["broker"])
async def test_a_worker_killed_mid_batch_leaves_every_line_paid_exactly_once(
    broker: BrokerUnderTest, backend: str, tmp_path: Path
) -> None:
    async with bulk_system(broker, backend, tmp_path) as (app, client, simulator, processes):
        sessionmaker = app.state.sessionmaker
        people = await team(client)
        await fund(sessionmaker, people.organization_id, 50_000_000)

        # Nobody runs jobs yet: a submitted batch waits RESERVED, and cancelling it releases the money.
        waiting = await upload(client, people.maker, many_payees(5, "waiting"))
        reserved = await act(client, people.maker, waiting["id"], "submit")
        assert reserved["state"] == "RESERVED"
        assert (await wallet(sessionmaker, people.organization_id)).debits_pending == reserved["total_amount"]
        cancelled = await act(client, people.maker, waiting["id"], "cancel")
        assert cancelled["state"] == "CANCELLED"
        assert (await wallet(sessionmaker, people.organization_id)).debits_pending == 0

        created = await upload(client, people.maker, many_payees(LINES, "crash"))
        assert created["valid_lines"] == LINES
        await act(client, people.maker, created["id"], "submit")
        started = time.monotonic()
        first = await processes.start("worker", "--concurrency", "4")
        deadline = time.monotonic() + 90
        while (await get_batch(client, people.maker, created["id"]))["completed_lines"] < LINES // 4:
            assert time.monotonic() < deadline, processes.logs()
            await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 10)
        killed_at = time.monotonic()
        async with sessionmaker() as session:
            in_flight = await session.scalar(
                select(func.count()).where(
                    BulkLine.batch_id == uuid.UUID(created["id"]), BulkLine.state == "PROCESSING"
                )
            )
        at_kill = await get_batch(client, people.maker, created["id"])
        assert at_kill["state"] == "PROCESSING" and at_kill["completed_lines"] < LINES

        await processes.start("worker", "--concurrency", "4")
        await processes.start("scheduler")
        done = await wait_state(client, people.maker, created["id"], within=120)
        assert done["state"] == "COMPLETED", processes.logs()
        assert done["completed_lines"] == LINES

        lines = await all_lines(client, people.maker, created["id"])
        references = [line["provider_reference"] for line in lines]
        assert len(set(references)) == LINES
        payments = [ref for (kind, ref) in simulator.by_reference if kind == "payout"]
        assert sorted(payments) == sorted(references)  # one payment per line at the provider, no stray one
        resent = 0
        for line in lines:
            assert simulator.created(line["provider_reference"]) == 1
            assert simulator.paid_out(line["provider_reference"]) == line["amount"]
            resent += simulator.attempts(line["provider_reference"]) > 1
        view = await ledger_view(sessionmaker, uuid.UUID(created["id"]))
        assert_ledger_agrees(view, final=True)
        assert view.posted == created["total_amount"]
        balance = await wallet(sessionmaker, people.organization_id)
        assert (balance.pending, balance.available) == (0, 50_000_000 - created["total_amount"])
        print(
            f"bulk crash test {broker.kind}/{backend}: killed after {killed_at - started:.1f} s with "
            f"{at_kill['completed_lines']} lines paid and {in_flight} in flight; {resent} re-sent under their "
            f"reference and deduplicated; finished {time.monotonic() - killed_at:.1f} s later"
        )


@pytest.mark.slow
@pytest.mark.parametrize(("broker", "backend"), [("amqp", "postgresql"), ("redis", "sqlite")], indirect=["broker"])
async def test_a_worker_killed_right_after_sending_a_bulk_leaves_every_line_paid_exactly_once(
    broker: BrokerUnderTest, backend: str, tmp_path: Path
) -> None:
    """The sandbox settles a bulk's payouts a second after accepting it: the kill lands while all of them are at
    the provider and none is recorded. The next worker looks the bulks up by their references, never resends."""
    lines_count = 1_500  # two bulks
    async with bulk_system(broker, backend, tmp_path, line_by_line=False, settle_seconds=1.0) as system:
        app, client, simulator, processes = system
        sessionmaker = app.state.sessionmaker
        people = await team(client)
        await fund(sessionmaker, people.organization_id, 50_000_000)
        created = await upload(client, people.maker, many_payees(lines_count, "bulk-crash"))
        await act(client, people.maker, created["id"], "submit")
        first = await processes.start("worker", "--concurrency", "4")
        deadline = time.monotonic() + 90
        while simulator.requests["POST /v1/bulk-payouts"] < 2:
            assert time.monotonic() < deadline, processes.logs()
            await asyncio.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 10)
        at_kill = await get_batch(client, people.maker, created["id"])
        assert at_kill["state"] == "PROCESSING" and at_kill["completed_lines"] == 0

        await processes.start("worker", "--concurrency", "4")
        await processes.start("scheduler")
        done = await wait_state(client, people.maker, created["id"], within=120)
        assert (done["state"], done["completed_lines"]) == ("COMPLETED", lines_count), processes.logs()
        # Two bulks at the provider, never a third: after the crash each is looked up by its reference; one whose
        # POST was still being answered when the worker died may be sent again under its Idempotency-Key, which the
        # provider answers as a replay (the lines below prove nothing was paid twice).
        assert len(simulator.bulks) == 2
        lines = await all_lines(client, people.maker, created["id"])
        payments = [ref for (kind, ref) in simulator.by_reference if kind == "payout"]
        assert sorted(payments) == sorted(line["provider_reference"] for line in lines)
        for line in lines:
            assert simulator.paid_out(line["provider_reference"]) == line["amount"]
        view = await ledger_view(sessionmaker, uuid.UUID(created["id"]))
        assert_ledger_agrees(view, final=True)
        assert view.posted == created["total_amount"]
