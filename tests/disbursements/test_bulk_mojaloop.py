"""Batches paid through Mojaloop's bulk API (the SDK scheme adapter's ``/bulkTransactions``): a thousand lines per
call, each line matched to its result by our reference; the party lookup as the payee check. Against the Mojaloop
simulator over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.mobile_money.mojaloop import MojaloopSimulator, magic_phone
from cauri.core.config import Settings
from cauri.disbursements.payouts import LineOrder, Verdict, check_group, open_link, pay_group, provider_reference
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app
from tests.disbursements.support import (
    Team,
    act,
    all_lines,
    assert_ledger_agrees,
    fund,
    get_batch,
    ledger_view,
    standard_file,
    team,
    upload,
    wait_state,
)

PAYER = "221770000001"


@dataclass
class Mojaloop:
    simulator: MojaloopSimulator
    url: str


@pytest.fixture(scope="session")
async def mojaloop() -> AsyncIterator[Mojaloop]:
    simulator = MojaloopSimulator(settings=SimulatorSettings(settle_seconds=0.05))
    async with serve_app(simulator.app) as url:
        yield Mojaloop(simulator, url)


async def mojaloop_team(client: httpx.AsyncClient, mojaloop: Mojaloop, **options: bool) -> Team:
    people = await team(client, **options)
    response = await client.put(
        "/api/v1/connectors/credentials/mojaloop",
        json={
            "label": "Switch UEMOA",
            "credentials": {},
            "settings": {"base_url": mojaloop.url, "payer_id_value": PAYER},
        },
        headers=people.owner.headers,
    )
    assert response.status_code == 200, response.text
    return people


def transfers_of(simulator: MojaloopSimulator, reference: str) -> list[str]:
    """The transfers the switch holds for one of our line references (one, whatever the resends)."""
    return list(simulator.by_home.get(reference, []))


async def test_a_batch_goes_to_mojaloop_as_one_bulk_and_each_line_gets_its_own_result(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], mojaloop: Mojaloop
) -> None:
    people = await mojaloop_team(client, mojaloop)
    await fund(sessionmaker, people.organization_id, 50_000_000)
    good = [(f"+2217700{10_000 + index:05d}", 20_000 + index) for index in range(40)]
    bad = [(magic_phone(Outcome.NOT_FOUND, "SN"), 7_000), (magic_phone(Outcome.LIMIT_REACHED, "CI"), 8_000)]
    bulks_before = mojaloop.simulator.requests["POST /bulkTransactions"]
    created = await upload(client, people.maker, standard_file(good + bad), provider="mojaloop", check_payees="true")
    assert created["provider"] == "mojaloop"
    deadline = time.monotonic() + 20
    while (batch := await get_batch(client, people.maker, created["id"]))["payee_check"] != "done":
        assert time.monotonic() < deadline, batch
        await asyncio.sleep(0.1)
    assert batch["payees_flagged"] == 1  # the party lookup finds no one behind the 901 number
    named = await all_lines(client, people.maker, created["id"])
    assert named[0]["payee_status"] == "active" and named[0]["payee_provider_name"]

    await act(client, people.maker, created["id"], "submit")
    done = await wait_state(client, people.maker, created["id"])
    assert (done["state"], done["completed_lines"], done["failed_lines"]) == ("PARTIALLY_COMPLETED", 40, 2)
    assert mojaloop.simulator.requests["POST /bulkTransactions"] - bulks_before == 1  # 42 lines, one call

    lines = await all_lines(client, people.maker, created["id"])
    for line in lines:
        transfers = transfers_of(mojaloop.simulator, line["provider_reference"])
        assert len(transfers) == 1
        transfer = mojaloop.simulator.transfers[transfers[0]]
        if line["state"] == "COMPLETED":
            assert (transfer.state, transfer.amount) == ("COMPLETED", line["amount"])
            assert line["provider_payment_id"] == transfer.transfer_id
    assert {(line["party_identifier"][-3:], line["failure_reason"]) for line in lines if line["state"] == "FAILED"} == {
        ("901", "payee_not_found"),
        ("903", "limit_reached"),
    }
    assert_ledger_agrees(await ledger_view(sessionmaker, uuid.UUID(created["id"])), final=True)

    await act(client, people.maker, created["id"], "retry")
    again = await wait_state(client, people.maker, created["id"])
    assert (again["state"], again["completed_lines"]) == ("PARTIALLY_COMPLETED", 40)
    assert mojaloop.simulator.requests["POST /bulkTransactions"] - bulks_before == 2  # the two failed lines only
    for line in await all_lines(client, people.maker, created["id"], state="COMPLETED"):
        assert len(transfers_of(mojaloop.simulator, line["provider_reference"])) == 1  # never sent again


async def test_a_bulk_sent_again_after_a_crash_is_looked_up_not_paid_twice(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], mojaloop: Mojaloop
) -> None:
    """What a worker that lost its answer does on its next round: the same group reference, the same lines."""
    settings: Settings = app.state.settings
    people = await mojaloop_team(client, mojaloop)
    batch_id = uuid.uuid4()
    orders = [
        LineOrder(
            line_number=line,
            reference=provider_reference(batch_id, f"tx-{line}", 1),
            amount=5_000 + line,
            currency="XOF",
            phone=f"+2217700{20_000 + line:05d}",
            payee_name=None,
            provider_payment_id=None,
            submitted_at=None,
            maybe_sent=False,
        )
        for line in range(2, 7)
    ]
    group = str(uuid.uuid4())
    async with sessionmaker() as session:
        link = await open_link(session, organization_id=people.organization_id, provider="mojaloop", settings=settings)
    first = await pay_group(link, group, orders, cancelled=lambda: False, maybe_sent=False)
    assert {outcome.verdict for outcome in first.values()} == {Verdict.PENDING}
    resent = [dataclasses.replace(order, maybe_sent=True) for order in orders]
    bulks = mojaloop.simulator.requests["POST /bulkTransactions"]
    again = await pay_group(link, group, resent, cancelled=lambda: False, maybe_sent=True)
    assert mojaloop.simulator.requests["POST /bulkTransactions"] == bulks  # looked up, not sent
    deadline = time.monotonic() + 10
    while True:
        settled = await check_group(link, group, resent)
        if {outcome.verdict for outcome in settled.values()} == {Verdict.COMPLETED}:
            break
        assert time.monotonic() < deadline, settled
        await asyncio.sleep(0.05)
    assert set(again) == set(settled)
    for order in orders:
        assert len(transfers_of(mojaloop.simulator, order.reference)) == 1

    cancelled = await pay_group(link, str(uuid.uuid4()), resent, cancelled=lambda: True, maybe_sent=True)
    assert {outcome.verdict for outcome in cancelled.values()} == {Verdict.NOT_SENT}  # never reached the switch
