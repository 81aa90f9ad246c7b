"""The life of a batch over HTTP: maker–checker, insufficient funds, cancel (before and during), retry of failed
lines, duplicates across batches, discarding a draft, refused files, idempotent uploads, and the audit trail."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.disbursements.models import BulkBatch, BulkLine
from cauri.kit.outcomes import Outcome, magic_phone
from tests.disbursements.bulk_files import sample
from tests.disbursements.support import (
    CURRENCY,
    Sandbox,
    act,
    all_lines,
    assert_ledger_agrees,
    fund,
    get_batch,
    ledger_view,
    sandbox_payments,
    standard_file,
    team,
    upload,
    wait_state,
    wallet,
)


async def audit_actions(client: httpx.AsyncClient, owner: Any, batch_id: str) -> list[tuple[str, str | None]]:
    response = await client.get("/api/v1/audit-events", params={"limit": 100}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return [
        (event["action"], event["actor_user_id"])
        for event in reversed(response.json()["items"])
        if event["target_id"] == batch_id
    ]


async def test_maker_checker_needs_a_second_person_to_approve(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, maker_checker=True)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    submitted = await act(client, people.maker, created["id"], "submit")
    assert submitted["state"] == "AWAITING_APPROVAL"
    assert submitted["reserved_amount"] == 0
    assert (await wallet(sessionmaker, people.organization_id)).pending == 0  # nothing held before approval

    own = await act(client, people.maker, created["id"], "approve", expect=403)
    assert own["code"] == "maker_checker_violation"
    read_only = await act(client, people.supervisor, created["id"], "approve", expect=403)
    assert read_only["code"] == "permission_denied"
    approved = await act(client, people.checker, created["id"], "approve")
    assert approved["approved_by"] == str(people.checker.user_id)
    assert approved["state"] in {"RESERVED", "PROCESSING", "COMPLETED"}
    done = await wait_state(client, people.checker, created["id"])
    assert done["state"] == "COMPLETED"
    again = await act(client, people.checker, created["id"], "approve", expect=409)
    assert again["code"] == "bulk_batch_wrong_state"

    actions = await audit_actions(client, people.owner, created["id"])
    assert actions == [
        ("bulk.create", str(people.maker.user_id)),
        ("bulk.submit", str(people.maker.user_id)),
        ("bulk.approve", str(people.checker.user_id)),
    ]


async def test_without_maker_checker_submission_reserves_at_once(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    submitted = await act(client, people.maker, created["id"], "submit")
    assert submitted["state"] != "AWAITING_APPROVAL"
    assert submitted["run"] == 1
    await wait_state(client, people.maker, created["id"])


async def test_insufficient_funds_is_a_clear_422_and_nothing_is_held(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, maker_checker=True)
    await fund(sessionmaker, people.organization_id, 800_000)  # the file needs 810 000
    before = await wallet(sessionmaker, people.organization_id)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    await act(client, people.maker, created["id"], "submit")
    refused = await act(client, people.checker, created["id"], "approve", expect=422)
    assert refused["code"] == "validation_error"
    assert refused["errors"][0]["code"] == "insufficient_funds"
    assert refused["errors"][0]["field"] == "account"
    message = " ".join(refused["errors"][0]["message"].replace("\u202f", " ").replace("\xa0", " ").split())
    assert message == (
        "Solde disponible insuffisant : le lot demande 810 000 F CFA, le compte n'a que 800 000 F CFA "
        "disponibles (il manque 10 000 F CFA). Rien n'a été réservé."
    )
    after = await wallet(sessionmaker, people.organization_id)
    assert (after.posted, after.pending, after.available) == (before.posted, 0, before.available)
    batch = await get_batch(client, people.maker, created["id"])
    assert (batch["state"], batch["reserved_amount"], batch["approved_by"]) == ("AWAITING_APPROVAL", 0, None)

    english = await client.post(
        f"/api/v1/bulk-transfers/{created['id']}/approve",
        headers={**people.checker.headers, "Accept-Language": "en"},
    )
    assert english.status_code == 422
    assert "Insufficient available balance" in english.json()["errors"][0]["message"]

    await fund(sessionmaker, people.organization_id, 10_000)
    await act(client, people.checker, created["id"], "approve")
    assert (await wait_state(client, people.maker, created["id"]))["state"] == "COMPLETED"
    assert (await wallet(sessionmaker, people.organization_id)).available == 0


async def test_cancel_before_processing_releases_everything(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client, maker_checker=True)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
    await act(client, people.maker, created["id"], "submit")
    cancelled = await act(client, people.maker, created["id"], "cancel")
    assert cancelled["state"] == "CANCELLED"
    assert cancelled["cancelled_lines"] == 12
    lines = await all_lines(client, people.maker, created["id"])
    assert {line["state"] for line in lines} == {"CANCELLED"}
    assert (await wallet(sessionmaker, people.organization_id)).available == 5_000_000
    refused = await act(client, people.checker, created["id"], "approve", expect=409)
    assert refused["code"] == "bulk_batch_wrong_state"


LINES_TO_CANCEL = 200


async def test_cancel_during_processing_stops_new_lines_and_releases_the_rest(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    slow = magic_phone(Outcome.SLOW, "CM")  # the sandbox answers after 0.4 s
    # Many more lines than the workers claim at once, so some are still unclaimed when the cancel lands even
    # on a loaded machine where the first payment takes a while to be seen.
    data = standard_file([(slow, 1000 + index) for index in range(LINES_TO_CANCEL)])
    created = await upload(client, people.maker, data)
    total = created["total_amount"]
    await act(client, people.maker, created["id"], "submit")
    await wait_state(client, people.maker, created["id"], {"PROCESSING"}, within=20)
    deadline = time.monotonic() + 20
    while (await get_batch(client, people.maker, created["id"]))["completed_lines"] == 0:
        assert time.monotonic() < deadline, "no line was paid"
        await asyncio.sleep(0.05)
    cancelled = await act(client, people.maker, created["id"], "cancel")
    assert cancelled["cancel_requested"] is True
    assert cancelled["state"] == "PROCESSING"  # lines already at the provider finish first
    unclaimed = cancelled["cancelled_lines"]  # the lines no worker had claimed yet: never sent
    assert unclaimed > 0
    done = await wait_state(client, people.maker, created["id"])
    assert done["state"] == "CANCELLED"
    assert done["completed_lines"] > 0
    assert done["cancelled_lines"] >= unclaimed
    assert done["completed_lines"] + done["cancelled_lines"] == LINES_TO_CANCEL
    assert done["failed_lines"] == 0

    lines = await all_lines(client, people.maker, created["id"])
    paid = [line for line in lines if line["state"] == "COMPLETED"]
    unpaid = [line for line in lines if line["state"] == "CANCELLED"]
    assert sorted(sandbox_payments(sandbox.simulator, {line["provider_reference"] for line in paid})) == sorted(
        line["provider_reference"] for line in paid
    )
    for line in unpaid:  # never sent, or the provider never got it
        assert line["provider_reference"] is None or sandbox.simulator.created(line["provider_reference"]) == 0
    view = await ledger_view(sessionmaker, uuid.UUID(created["id"]))
    assert_ledger_agrees(view, final=True)
    balance = await wallet(sessionmaker, people.organization_id)
    assert balance.pending == 0
    assert balance.available == 5_000_000 - done["completed_amount"]
    assert done["completed_amount"] == sum(line["amount"] for line in paid) < total


async def test_failed_lines_are_retried_as_new_attempts_and_paid_lines_never_again(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    good = [(magic_phone(Outcome.SUCCESS, "SN"), 10_000 + index) for index in range(6)]
    blocked = [
        (magic_phone(Outcome.ACCOUNT_INACTIVE, "CM"), 20_000),
        (magic_phone(Outcome.LIMIT_REACHED, "CI"), 30_000),
    ]
    created = await upload(client, people.maker, standard_file(good + blocked))
    await act(client, people.maker, created["id"], "submit")
    first = await wait_state(client, people.maker, created["id"])
    assert first["state"] == "PARTIALLY_COMPLETED"
    assert (first["completed_lines"], first["failed_lines"], first["failed_amount"]) == (6, 2, 50_000)
    failed = await all_lines(client, people.maker, created["id"], state="FAILED")
    assert {(line["failure_reason"], line["failure_message"]) for line in failed} == {
        ("account_inactive", "Le compte mobile money est inactif ou bloqué."),
        ("limit_reached", "Plafond de transaction ou de compte atteint."),
    }
    paid_before = {
        line["line_number"]: line for line in await all_lines(client, people.maker, created["id"], state="COMPLETED")
    }
    assert (await wallet(sessionmaker, people.organization_id)).pending == 0

    retried = await act(client, people.maker, created["id"], "retry")
    assert retried["run"] == 2 and retried["failed_lines"] == 0 and retried["reserved_amount"] == 50_000
    second = await wait_state(client, people.maker, created["id"])
    assert second["state"] == "PARTIALLY_COMPLETED"  # the provider refuses these payees again
    again = await all_lines(client, people.maker, created["id"], state="FAILED")
    old_references = {line["provider_reference"] for line in failed}
    assert {line["attempts"] for line in again} == {2}
    assert not old_references & {line["provider_reference"] for line in again}  # a new payment each time
    for line in await all_lines(client, people.maker, created["id"], state="COMPLETED"):
        assert line["attempts"] == 1
        assert line["provider_reference"] == paid_before[line["line_number"]]["provider_reference"]
        assert sandbox.simulator.attempts(line["provider_reference"]) == 1  # never sent again
        assert sandbox.simulator.paid_out(line["provider_reference"]) == line["amount"]
    assert_ledger_agrees(await ledger_view(sessionmaker, uuid.UUID(created["id"])), final=True)
    assert (await wallet(sessionmaker, people.organization_id)).available == 5_000_000 - second["completed_amount"]

    nothing = await act(client, people.maker, created["id"], "retry", lines=[2], expect=422)
    assert nothing["code"] == "bulk_nothing_to_retry"  # line 2 was paid


async def test_a_batch_that_failed_for_want_of_provider_funds_is_paid_on_retry(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    accounts = sandbox.simulator.accounts
    float_ = accounts.balance("merchant", CURRENCY)
    accounts.move("merchant", "test-vault", CURRENCY, float_, "drain")  # the merchant's provider account is empty
    try:
        created = await upload(client, people.maker, sample("bulk_excel_fr.csv"))
        await act(client, people.maker, created["id"], "submit")
        failed = await wait_state(client, people.maker, created["id"])
    finally:
        accounts.move("test-vault", "merchant", CURRENCY, float_, "refill")
    assert (failed["state"], failed["failed_lines"], failed["completed_amount"]) == ("FAILED", 12, 0)
    first_refs = {line["provider_reference"] for line in await all_lines(client, people.maker, created["id"])}
    assert (await wallet(sessionmaker, people.organization_id)).available == 5_000_000  # all released

    await act(client, people.maker, created["id"], "retry")
    done = await wait_state(client, people.maker, created["id"])
    assert (done["state"], done["completed_amount"]) == ("COMPLETED", 810_000)
    lines = await all_lines(client, people.maker, created["id"])
    for line in lines:
        assert line["attempts"] == 2
        assert line["provider_reference"] not in first_refs
        assert sandbox.simulator.paid_out(line["provider_reference"]) == line["amount"]
    for reference in first_refs:
        assert sandbox.simulator.paid_out(reference) == 0
    view = await ledger_view(sessionmaker, uuid.UUID(created["id"]))
    assert_ledger_agrees(view, final=True)
    assert view.posted == 810_000


async def test_transfer_ids_of_an_earlier_batch_are_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    data = standard_file([(magic_phone(Outcome.SUCCESS, "SN"), 5_000 + index) for index in range(3)], prefix="pay")
    draft_one = await upload(client, people.maker, data)
    draft_two = await upload(client, people.maker, data)  # drafts do not hold their ids: a fixed file may follow
    assert draft_two["valid_lines"] == 3
    await act(client, people.maker, draft_one["id"], "submit")
    conflict = await act(client, people.maker, draft_two["id"], "submit", expect=409)
    assert conflict["code"] == "transfer_id_already_used"
    assert conflict["transfer_ids"] == ["pay-0000", "pay-0001", "pay-0002"]

    third = await upload(client, people.maker, data)
    assert (third["valid_lines"], third["invalid_lines"]) == (0, 3)
    assert {issue["code"] for issue in third["report"]["issues"]} == {"transfer_id_already_used"}
    empty = await act(client, people.maker, third["id"], "submit", expect=422)
    assert empty["code"] == "bulk_batch_empty"

    other_org = await team(client)  # ids are the organisation's own
    elsewhere = await upload(client, other_org.maker, data)
    assert elsewhere["valid_lines"] == 3


async def test_a_draft_can_be_discarded(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    created = await upload(client, people.maker, sample("bulk_payment_list.csv"))
    response = await client.delete(f"/api/v1/bulk-transfers/{created['id']}", headers=people.maker.headers)
    assert response.status_code == 204
    gone = await client.get(f"/api/v1/bulk-transfers/{created['id']}", headers=people.maker.headers)
    assert gone.status_code == 404
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(BulkLine).where(BulkLine.batch_id == uuid.UUID(created["id"]))
        )
    assert count == 0


async def test_an_unreadable_file_is_refused_with_its_report_and_nothing_is_stored(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    people = await team(client)
    refused = await upload(client, people.maker, b"nom;prenom\r\nDiallo;Awa\r\n", expect=422)
    assert refused["code"] == "invalid_bulk_file"
    assert refused["field"] == "file"
    assert refused["report"]["file_issues"][0]["code"] == "unrecognised_header"
    assert refused["detail"].startswith("La première ligne n'est pas un en-tête reconnu")
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(BulkBatch).where(BulkBatch.organization_id == people.organization_id)
        )
    assert count == 0
    unknown = await upload(client, people.maker, sample("bulk_excel_fr.csv"), provider="nope", expect=422)
    assert unknown["errors"][0]["field"] == "provider"


async def test_an_upload_retried_with_its_idempotency_key_returns_the_same_batch(client: httpx.AsyncClient) -> None:
    people = await team(client)
    # A retry sends the same bytes: the same multipart boundary (the guard compares the raw body).
    key = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "multipart/form-data; boundary=cauri-test-boundary"}
    first = await upload(client, people.maker, sample("bulk_excel_fr.csv"), headers=key)
    second = await upload(client, people.maker, sample("bulk_excel_fr.csv"), headers=key)
    assert second["id"] == first["id"]
    other = await upload(client, people.maker, sample("bulk_standard.csv"), headers=key, expect=422)
    assert other["errors"][0]["code"] == "idempotency_key_reused"
    listed = await client.get("/api/v1/bulk-transfers", headers=people.maker.headers)
    assert [item["id"] for item in listed.json()["items"]] == [first["id"]]


async def test_provider_calls_never_exceed_the_concurrency_bound(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    settings: Settings = app.state.settings
    people = await team(client)
    await fund(sessionmaker, people.organization_id, 5_000_000)
    slow = magic_phone(Outcome.SLOW, "SN")  # each send takes 0.4 s: calls pile up if nothing holds them back
    created = await upload(client, people.maker, standard_file([(slow, 2000 + index) for index in range(30)]))
    sandbox.calls.peak = 0
    await act(client, people.maker, created["id"], "submit")
    done = await wait_state(client, people.maker, created["id"])
    assert done["state"] == "COMPLETED"
    # Two worker jobs claim up to ten lines each, but the process sends at most bulk_provider_concurrency at once.
    assert sandbox.calls.peak == settings.bulk_provider_concurrency == 4


async def test_a_photo_uploaded_instead_of_the_list_is_named_as_a_photo(client: httpx.AsyncClient) -> None:
    people = await team(client)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)
    refused = await upload(client, people.maker, png, filename="liste.csv", expect=422)
    assert refused["report"]["file_issues"][0]["code"] == "unsupported_file_type"
    assert "(image PNG, .png)" in refused["detail"], "named by its content, not by its name"
    english = await upload(client, people.maker, png, expect=422, headers={"Accept-Language": "en"})
    assert "(PNG image, .png)" in english["detail"]
