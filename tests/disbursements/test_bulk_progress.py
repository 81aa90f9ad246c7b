"""Watching a batch: the live stream (SSE), signed callbacks, the ledger at every moment, exports that never run
as formulas, and the payee check before approval."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.core.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, verify_signature
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.testing import CallbackSink, serve_app
from tests.disbursements.bulk_files import csv_bytes, sample
from tests.disbursements.support import (
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


def slow_file(lines: int) -> bytes:
    """Lines the sandbox answers after 0.4 s each: a batch that runs for a few seconds."""
    return standard_file([(magic_phone(Outcome.SLOW, "CM"), 1000 + index) for index in range(lines)])


async def read_events(response: httpx.Response) -> AsyncIterator[tuple[float, str, dict[str, Any]]]:
    """(arrival time, event name, data) of each server-sent event, until the server closes the stream."""
    event, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            yield time.monotonic(), event, json.loads(data)
            event, data = "message", ""


@asynccontextmanager
async def second_api_process(settings: Settings) -> AsyncIterator[str]:
    """Another API process on the same database that runs no job at all (its broker is unreachable): whatever
    it streams can only come from the database."""
    other = create_app(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"}))
    async with serve_app(other) as url:
        yield url


async def test_the_stream_reports_progress_every_second_and_closes_at_the_end(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    settings: Settings = app.state.settings
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    created = await upload(client, people.maker, slow_file(30))
    url = f"/api/v1/bulk-transfers/{created['id']}/stream"
    async with (
        httpx.AsyncClient(base_url=settings.public_base_url, timeout=60) as http,
        http.stream("GET", url, headers=people.supervisor.headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await act(client, people.maker, created["id"], "submit")
        events = [item async for item in read_events(response)]
    assert len(events) >= 4
    assert {name for _, name, _ in events} == {"progress"}
    for _, _, data in events:
        assert set(data) == {"state", "completed", "failed", "cancelled", "total", "progress_percent"}
        assert data["total"] == 30
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(events)]
    assert max(gaps) <= 1.0 + 0.25, gaps  # every interval (0.5 s here) and never more than a second
    completed = [data["completed"] for _, _, data in events]
    assert completed == sorted(completed)
    assert events[0][2]["state"] in {"DRAFT", "RESERVED", "PROCESSING"}
    assert any(data["state"] == "PROCESSING" and 0 < data["progress_percent"] < 100 for _, _, data in events)
    assert events[-1][2] == {
        "state": "COMPLETED",
        "completed": 30,
        "failed": 0,
        "cancelled": 0,
        "total": 30,
        "progress_percent": 100.0,
    }

    async with second_api_process(settings) as other_url, httpx.AsyncClient(base_url=other_url, timeout=30) as http:
        async with http.stream("GET", url, headers=people.maker.headers) as response:
            replay = [data async for _, _, data in read_events(response)]
        assert replay == [events[-1][2]]  # an ended batch: one event, then the stream closes
        stranger = await team(client)
        hidden = await http.get(url, headers=stranger.maker.headers)
        assert hidden.status_code == 404


async def test_the_ledger_and_the_batch_agree_at_every_moment(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    created = await upload(client, people.maker, slow_file(30))
    batch_id = uuid.UUID(created["id"])
    await act(client, people.maker, created["id"], "submit")
    samples = 0
    seen_partial = False
    while True:
        view = await ledger_view(sessionmaker, batch_id)
        assert_ledger_agrees(view, final=False)
        assert view.wallet_pending == view.pending  # this organisation holds nothing else
        assert view.posted + view.pending == created["total_amount"] or view.pending == 0
        seen_partial = seen_partial or 0 < view.posted < created["total_amount"]
        samples += 1
        if (await get_batch(client, people.maker, created["id"]))["state"] == "COMPLETED":
            break
        await asyncio.sleep(0.05)
    final = await ledger_view(sessionmaker, batch_id)
    assert_ledger_agrees(final, final=True)
    assert final.posted == created["total_amount"]
    assert final.posts > 1  # paid in several settlements, each a post from the one live reservation
    assert seen_partial and samples > 2  # looked at it while it ran, not only before and after


async def test_callbacks_are_signed_and_sent_at_each_quarter_and_at_the_end(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    sink = CallbackSink()
    async with serve_app(sink) as sink_url:
        created = await upload(
            client,
            people.maker,
            slow_file(20),
            callback_url=f"{sink_url}/hooks/paie",
            callback_progress="true",
        )
        secret = created["callback_secret"]
        assert secret.startswith("whsec_")
        assert created["callback_url"] == f"{sink_url}/hooks/paie"
        again = await get_batch(client, people.maker, created["id"])
        assert "callback_secret" not in again  # shown once
        await act(client, people.maker, created["id"], "submit")
        await wait_state(client, people.maker, created["id"])
        # A delivery refused once waits out its backoff (10 s) before the next attempt: on a loaded machine the
        # last of the four can land well after the batch ends. The wait returns as soon as all four are in.
        received = await sink.wait_for(4, path="/hooks/paie", within=150)
    assert len(received) == 4
    bodies = []
    for callback in received:
        assert verify_signature(secret, callback.headers[SIGNATURE_HEADER.lower()], callback.body)
        assert not verify_signature("whsec_wrong", callback.headers[SIGNATURE_HEADER.lower()], callback.body)
        body = json.loads(callback.body)
        assert callback.headers[EVENT_ID_HEADER.lower()] == body["id"]
        assert callback.headers[EVENT_TYPE_HEADER.lower()] == body["type"]
        assert body["organization_id"] == str(people.organization_id)
        bodies.append(body)
    assert [(body["type"], body["data"].get("milestone")) for body in bodies] == [
        ("bulk.progress", 25),
        ("bulk.progress", 50),
        ("bulk.progress", 75),
        ("bulk.completed", None),
    ]
    assert bodies[-1]["data"]["completed"] == 20 and bodies[-1]["data"]["progress_percent"] == 100.0
    assert bodies[0]["data"]["progress_percent"] >= 25


async def test_without_progress_only_the_end_is_announced(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    sink = CallbackSink()
    async with serve_app(sink) as sink_url:
        created = await upload(client, people.maker, sample("bulk_excel_fr.csv"), callback_url=f"{sink_url}/end")
        await act(client, people.maker, created["id"], "submit")
        await wait_state(client, people.maker, created["id"])
        received = await sink.wait_for(1, path="/end", within=20)
        await asyncio.sleep(0.5)
    assert [json.loads(callback.body)["type"] for callback in sink.received] == ["bulk.completed"]
    assert len(received) == 1
    bad = await upload(client, people.maker, sample("bulk_excel_fr.csv"), callback_url="ftp://x", expect=422)
    assert bad["errors"][0]["field"] == "callback_url"


def hostile_file() -> bytes:
    rows = [
        ["type_id", "valeur_id", "devise", "montant", "nom"],
        ["MSISDN", "+221 77 000 01 00", "XOF", "10 000", '=HYPERLINK("http://evil.example/","Cliquez")'],
        ["MSISDN", "+221 77 000 02 00", "XOF", "12 000", "@SUM(1+1)*cmd|' /C calc'!A0"],
        ["MSISDN", "+221 77 000 03 00", "XOF", "13 000", "-2+3"],
        ["MSISDN", "+221 77 000 04 00", "XOF", "=1+2", "Awa Diop"],  # invalid amount: reported as written
    ]
    return csv_bytes(rows, delimiter=";", bom=True)


async def test_exports_never_open_as_formulas(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    created = await upload(client, people.maker, hostile_file())
    assert (created["valid_lines"], created["invalid_lines"]) == (3, 1)
    await act(client, people.maker, created["id"], "submit")
    await wait_state(client, people.maker, created["id"])
    url = f"/api/v1/bulk-transfers/{created['id']}"

    text = (await client.get(f"{url}/results", headers=people.maker.headers)).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    names = [row[2] for row in rows[1:]]
    assert names == ['\'=HYPERLINK("http://evil.example/","Cliquez")', "'@SUM(1+1)*cmd|' /C calc'!A0", "'-2+3"]
    assert {row[4][:2] for row in rows[1:]} == {"'+"}

    workbook = load_workbook(
        io.BytesIO((await client.get(f"{url}/results?format=xlsx", headers=people.maker.headers)).content)
    )
    sheet = workbook.active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    assert [row[2].value for row in sheet.iter_rows(min_row=2)] == names
    assert [row[5].value for row in sheet.iter_rows(min_row=2)] == [10000, 12000, 13000]  # numbers stay numbers

    english = (await client.get(f"{url}/issues?language=en", headers=people.maker.headers)).content.decode("utf-8-sig")
    issues = list(csv.reader(io.StringIO(english), delimiter=";"))
    assert issues[0] == ["Line", "Column", "Severity", "Code", "Message", "Value"]
    assert issues[1][:4] == ["5", "montant", "error", "invalid_amount"]
    assert issues[1][5] == "'=1+2"


async def test_the_payee_check_flags_unknown_and_blocked_numbers_with_the_provider_s_name(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, maker_checker=True)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    numbers = [
        (magic_phone(Outcome.SUCCESS, "CM"), 5000),
        (magic_phone(Outcome.NOT_FOUND, "CM"), 6000),
        (magic_phone(Outcome.ACCOUNT_INACTIVE, "CM"), 7000),
        (magic_phone(Outcome.SUCCESS, "SN"), 8000),
    ]
    created = await upload(client, people.maker, standard_file(numbers), check_payees="true")
    assert created["payee_check"] == "running"
    deadline = time.monotonic() + 20
    while (batch := await get_batch(client, people.maker, created["id"]))["payee_check"] != "done":
        assert time.monotonic() < deadline, batch
        await asyncio.sleep(0.1)
    assert (batch["payees_checked"], batch["payees_flagged"]) == (4, 2)
    flagged = await all_lines(client, people.checker, created["id"], payee="flagged")
    assert [(line["line_number"], line["payee_status"], line["payee_provider_name"]) for line in flagged] == [
        (3, "inactive", None),
        (4, "inactive", "Abonné 907"),
    ]
    everyone = await all_lines(client, people.checker, created["id"])
    assert [line["payee_status"] for line in everyone] == ["active", "inactive", "inactive", "active"]
    assert everyone[0]["payee_provider_name"] == "Abonné 100"

    await act(client, people.maker, created["id"], "submit")
    rerun = await act(client, people.checker, created["id"], "payee-check", expect=202)
    assert rerun["payee_check"] == "running"
    await act(client, people.checker, created["id"], "approve")
    done = await wait_state(client, people.checker, created["id"])
    assert (done["state"], done["failed_lines"]) == ("PARTIALLY_COMPLETED", 2)  # as the check foretold
    late = await act(client, people.checker, created["id"], "payee-check", expect=409)
    assert late["code"] == "bulk_batch_wrong_state"
