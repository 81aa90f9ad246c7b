"""A batch from upload to the last line, over HTTP, on SQLite and PostgreSQL, paid through the sandbox simulator.

Each sample file in the formats users send (examples/, shipped with the repository), and the French
Excel one saved as .xlsx: validated, submitted, reserved on the ledger, paid line by line, and checked against
the simulator's own books (each line paid once, to the right number, the right amount) and against the ledger
(posted = paid lines, nothing left held).
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.disbursements.models import BulkLine
from cauri.disbursements.upload import PROCESS_CHECK_BYTES
from tests.disbursements.bulk_files import sample, sample_rows, xlsx_bytes
from tests.disbursements.support import (
    Sandbox,
    act,
    all_lines,
    assert_ledger_agrees,
    fund,
    ledger_view,
    sandbox_payments,
    team,
    upload,
    wait_state,
    wallet,
)

# valid lines, invalid lines (two Togolese numbers that do not exist in the numbering plan), total, format
SAMPLES = {
    "bulk_standard.csv": (18, 2, 860_000, "standard"),
    "bulk_payment_list.csv": (20, 0, 722_500, "payment_list"),
    "bulk_excel_fr.csv": (12, 0, 810_000, "payment_list"),
}


def _excel_as_xlsx() -> bytes:
    rows: list[list[object]] = []
    for index, row in enumerate(sample_rows("bulk_excel_fr.csv", ";")):
        if index == 0:
            rows.append(list(row))
        else:
            rows.append([row[0], row[1], row[2], int(row[3].replace(" ", "")), row[4]])
    return xlsx_bytes(rows)


@pytest.mark.parametrize("name", [*SAMPLES, "bulk_excel_fr.xlsx"])
async def test_each_sample_file_is_paid_end_to_end_through_the_sandbox(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    name: str,
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 50_000_000)
    before = await wallet(sessionmaker, people.organization_id)
    data = _excel_as_xlsx() if name.endswith(".xlsx") else sample(name)

    created = await upload(client, people.maker, data, filename=name)
    assert created["state"] == "DRAFT"
    assert created["callback_secret"] is None
    expected_lines, invalid, total, expected_format = SAMPLES[name.replace(".xlsx", ".csv")]
    assert (created["valid_lines"], created["invalid_lines"]) == (expected_lines, invalid)
    assert created["file_format"] == expected_format
    assert created["report"]["accepted"] is True
    assert created["total_amount"] == total
    assert [issue["code"] for issue in created["report"]["issues"]] == ["invalid_phone"] * invalid

    submitted = await act(client, people.maker, created["id"], "submit")
    assert submitted["state"] in {"RESERVED", "PROCESSING", "COMPLETED"}
    done = await wait_state(client, people.maker, created["id"])
    assert done["state"] == "COMPLETED", done
    assert (done["completed_lines"], done["failed_lines"], done["completed_amount"]) == (expected_lines, 0, total)
    assert done["progress_percent"] == 100.0
    assert done["reserved_amount"] == 0

    lines = await all_lines(client, people.supervisor, created["id"])
    assert len(lines) == expected_lines
    references = {line["provider_reference"] for line in lines}
    assert len(references) == expected_lines
    assert sorted(sandbox_payments(sandbox.simulator, references)) == sorted(references)  # one payment each
    for line in lines:
        assert line["state"] == "COMPLETED"
        assert line["attempts"] == 1
        assert sandbox.simulator.paid_out(line["provider_reference"]) == line["amount"]
        payment = sandbox.simulator.payments[line["provider_payment_id"]]
        assert "+" + payment.msisdn == line["party_identifier"]

    view = await ledger_view(sessionmaker, uuid.UUID(created["id"]))
    assert_ledger_agrees(view, final=True)
    assert view.posted == total
    after = await wallet(sessionmaker, people.organization_id)
    assert before.posted - after.posted == total
    assert after.pending == 0 and after.available == before.available - total


async def test_the_status_counts_lines_per_state_and_pages_through_them(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 10_000_000)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    await act(client, people.maker, created["id"], "submit")
    await wait_state(client, people.maker, created["id"])

    response = await client.get(
        f"/api/v1/bulk-transfers/{created['id']}/status", params={"limit": 5}, headers=people.supervisor.headers
    )
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["counts"] == {"PENDING": 0, "PROCESSING": 0, "COMPLETED": 12, "FAILED": 0, "CANCELLED": 0}
    assert status["amounts"] == {
        "total": 810_000,
        "completed": 810_000,
        "failed": 0,
        "reserved": 0,
        "currency": "XOF",
    }
    assert [line["line_number"] for line in status["lines"]] == [2, 3, 4, 5, 6]
    assert status["next_cursor"]
    rest = await all_lines(client, people.maker, created["id"], state="COMPLETED")
    assert [line["line_number"] for line in rest] == list(range(2, 14))
    assert await all_lines(client, people.maker, created["id"], state="FAILED") == []


async def test_listing_shows_the_organisation_s_batches_newest_first(client: httpx.AsyncClient) -> None:
    people = await team(client)
    first = await upload(client, people.maker, sample("bulk_standard.csv"))
    second = await upload(client, people.maker, sample("bulk_payment_list.csv"))
    response = await client.get("/api/v1/bulk-transfers", headers=people.supervisor.headers)
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [second["id"], first["id"]]
    drafts = await client.get("/api/v1/bulk-transfers", params={"state": "DRAFT"}, headers=people.maker.headers)
    assert len(drafts.json()["items"]) == 2


async def test_results_export_is_a_spreadsheet_of_every_line(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 10_000_000)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    await act(client, people.maker, created["id"], "submit")
    await wait_state(client, people.maker, created["id"])
    response = await client.get(
        f"/api/v1/bulk-transfers/{created['id']}/results", params={"format": "csv"}, headers=people.maker.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Ligne", "Identifiant de transfert", "Nom"]
    assert len(rows) == 13
    assert rows[1][0] == "2" and rows[1][2] == "Aminata Diallo" and rows[1][5] == "62500" and rows[1][7] == "payé"
    # A phone number starting with "+" is text that must not become a formula.
    assert rows[1][4] == "'+221786936818"


async def test_a_large_upload_is_checked_by_a_child_process_and_stored_whole(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """From 4 MiB the file is read and checked in another process, from a copy of the spooled upload removed
    afterwards; the batch is the same as if checked in-process."""
    settings: Settings = app.state.settings
    people = await team(client)
    lines = 75_000
    rows = ["type_id;valeur_id;devise;montant;nom"]
    rows += [f"MSISDN;+221 77 {index:07d};XOF;1 000;Bénéficiaire n° {index}" for index in range(lines)]
    rows[500] = "MSISDN;+221 77 123;XOF;1 000;Numéro trop court"
    data = ("\r\n".join(rows) + "\r\n").encode("utf-8-sig")
    assert len(data) > PROCESS_CHECK_BYTES
    created = await upload(client, people.maker, data, filename="pension-mars.csv")
    assert (created["valid_lines"], created["invalid_lines"], created["total_amount"]) == (
        lines - 1,
        1,
        1000 * (lines - 1),
    )
    assert created["report"]["issues"][0]["line"] == 501 and created["report"]["encoding"] == "utf-8-sig"
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).select_from(BulkLine).where(BulkLine.batch_id == uuid.UUID(created["id"]))
        )
    assert stored == lines - 1
    uploads = Path(settings.files_dir) / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
