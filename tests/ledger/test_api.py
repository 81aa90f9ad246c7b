"""The ledger over HTTP: deposits by platform admins, accounts, statements (JSON and CSV), the trial balance."""

from __future__ import annotations

import csv
import io
import json
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.identity.models import AuditEvent
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerDeposit, LedgerTransfer
from tests.ledger.conftest import spec
from tests.support.identity import Actor, add_member, create_org_with_user, create_platform_admin

API = "/api/v1/ledger"


async def deposit(
    client: httpx.AsyncClient, admin: Actor, org: uuid.UUID, amount: int | str, reference: str, **extra: object
) -> httpx.Response:
    body = {"organization_id": str(org), "amount": amount, "currency": "XOF", "bank_reference": reference, **extra}
    return await client.post(f"{API}/deposits", json=body, headers=admin.headers)


async def accounts_by_code(client: httpx.AsyncClient, actor: Actor) -> dict[str, dict[str, object]]:
    response = await client.get(f"{API}/accounts", headers=actor.headers)
    assert response.status_code == 200, response.text
    return {item["code"]: item for item in response.json()["items"]}


async def test_a_platform_admin_records_a_deposit_once(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    admin = await create_platform_admin(client, sessionmaker)
    assert await accounts_by_code(client, owner) == {}

    first = await deposit(client, admin, owner.organization_id, "150 000", "VIR-2026-0001", proof_file_name="recu.pdf")
    assert first.status_code == 201, first.text
    recorded = first.json()
    assert (recorded["amount"], recorded["currency"], recorded["bank_reference"]) == (150000, "XOF", "VIR-2026-0001")
    assert recorded["recorded_by"] == str(admin.user_id)

    # The same reference again (a retry, another admin): the first deposit, credited once.
    again = await deposit(client, admin, owner.organization_id, 150000, "VIR-2026-0001", proof_file_name="recu.pdf")
    assert again.status_code == 200
    assert again.json()["id"] == recorded["id"]
    accounts = await accounts_by_code(client, owner)
    wallet, bank = accounts["org_wallet"], accounts["bank_deposits"]
    assert (wallet["posted"], wallet["available"], wallet["debits_must_not_exceed_credits"]) == (150000, 150000, True)
    assert bank["posted"] == -150000

    # The same reference with another amount is a conflict, and changes nothing.
    conflict = await deposit(client, admin, owner.organization_id, 1, "VIR-2026-0001")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "deposit_reference_exists"
    assert (await accounts_by_code(client, owner))["org_wallet"]["posted"] == 150000

    async with unit_of_work(sessionmaker) as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "ledger.deposit_recorded")))
            .scalars()
            .all()
        )
        mine = [event for event in events if event.target_id == recorded["id"]]
        assert len(mine) == 1
        assert mine[0].organization_id == owner.organization_id
        assert mine[0].actor_user_id == admin.user_id
        assert mine[0].changes is not None and mine[0].changes["bank_reference"] == "VIR-2026-0001"


async def test_the_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    admin = await create_platform_admin(client, sessionmaker)
    headers = {**admin.headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"organization_id": str(owner.organization_id), "amount": 5000, "currency": "XOF", "bank_reference": "B-1"}
    first = await client.post(f"{API}/deposits", json=body, headers=headers)
    second = await client.post(f"{API}/deposits", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    assert (await accounts_by_code(client, owner))["org_wallet"]["posted"] == 5000


async def test_only_platform_admins_record_deposits(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    response = await deposit(client, owner, owner.organization_id, 1000, "SELF-FUNDED")
    assert response.status_code == 403
    assert await accounts_by_code(client, owner) == {}


async def test_bad_deposits_name_the_field_and_write_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    admin = await create_platform_admin(client, sessionmaker)
    cases = [
        ({"amount": "abc"}, "amount", "invalid_amount"),
        ({"amount": "100.5"}, "amount", "fractional_amount"),
        ({"amount": 0}, "amount", "amount_must_be_positive"),
        ({"amount": -5}, "amount", "amount_must_be_positive"),
        ({"currency": "ZZZ"}, "currency", "unknown_currency"),
        ({"currency": "xof"}, "currency", "string_pattern_mismatch"),
        ({"bank_reference": ""}, "bank_reference", "string_too_short"),
        ({"bank_reference": "   "}, "bank_reference", "invalid_bank_reference"),
        ({"organization_id": str(uuid.uuid4())}, "organization_id", "organization_not_found"),
        ({"surprise": 1}, "surprise", "extra_forbidden"),
    ]
    for change, field, code in cases:
        body = {
            "organization_id": str(owner.organization_id),
            "amount": 1000,
            "currency": "XOF",
            "bank_reference": f"BAD-{uuid.uuid4().hex[:6]}",
            **change,
        }
        response = await client.post(f"{API}/deposits", json=body, headers={**admin.headers, "Accept-Language": "en"})
        assert response.status_code == 422, (change, response.text)
        problem = response.json()
        assert problem["field"] == field, (change, problem)
        assert code in {problem["code"], *(e["code"] for e in problem.get("errors", []))}, (change, problem)
    assert await accounts_by_code(client, owner) == {}
    async with unit_of_work(sessionmaker) as session:
        count = (
            await session.execute(select(LedgerDeposit).where(LedgerDeposit.organization_id == owner.organization_id))
        ).all()
    assert count == []


async def test_another_organisations_account_is_not_found(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    stranger = await create_org_with_user(client)
    assert owner.organization_id is not None
    admin = await create_platform_admin(client, sessionmaker)
    assert (await deposit(client, admin, owner.organization_id, 1000, "X-1")).status_code == 201
    wallet = (await accounts_by_code(client, owner))["org_wallet"]
    for path in (
        f"/accounts/{wallet['id']}",
        f"/accounts/{wallet['id']}/statement",
        f"/accounts/{wallet['id']}/statement?format=csv",
    ):
        response = await client.get(API + path, headers=stranger.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "account_not_found"
    assert (await client.get(f"{API}/accounts/{wallet['id']}", headers=owner.headers)).status_code == 200
    # A platform admin acting for no organisation reads any account.
    assert (await client.get(f"{API}/accounts/{wallet['id']}", headers=admin.headers)).status_code == 200
    # A member without the ledger permission reads nothing.
    member = await add_member(client, owner, role="member")
    assert (await client.get(f"{API}/accounts", headers=member.headers)).status_code == 403


async def setup_statement(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[Actor, ledger.Account, list[int]]:
    """A wallet with a deposit of 10,000 then payouts and collections; the expected balances, newest first."""
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    async with unit_of_work(sessionmaker) as session:
        await ledger.fund_operating_account(session, owner.organization_id, 10_000, "XOF", "SEED-1")
        wallet = await ledger.operating_account(session, owner.organization_id, "XOF")
        clearing = await ledger.clearing_account(session, owner.organization_id, "sandbox", "XOF")
        await ledger.create_transfers(
            session,
            [
                spec(wallet.id, clearing.id, 2_500, metadata={"description": '=HYPERLINK("http://evil")'}),
                spec(clearing.id, wallet.id, 700, metadata={"reference": "COL-1"}),
                spec(wallet.id, clearing.id, 1_000, pending=True),  # a hold: not a line
            ],
        )
        [hold] = (
            (
                await session.execute(
                    select(LedgerTransfer.id).where(
                        LedgerTransfer.debit_account_id == wallet.id, LedgerTransfer.kind == "pending"
                    )
                )
            )
            .scalars()
            .all()
        )
        await ledger.post_pending(session, id=uuid.uuid4(), pending_id=hold, amount=400)
    # Lines: +10,000; -2,500; +700; -400 (the posted part of the hold).
    return owner, wallet, [7_800, 8_200, 7_500, 10_000]


async def test_statement_pages_back_with_running_balance(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, wallet, expected = await setup_statement(client, sessionmaker)
    balances: list[int] = []
    kinds: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        response = await client.get(f"{API}/accounts/{wallet.id}/statement{query}", headers=owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["account"]["posted"] == 7_800
        balances += [line["balance"] for line in page["items"]]
        kinds += [line["kind"] for line in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    assert balances == expected
    assert kinds == ["post_pending", "single", "single", "single"]
    first = (await client.get(f"{API}/accounts/{wallet.id}/statement", headers=owner.headers)).json()["items"]
    assert [(line["debit"], line["credit"]) for line in first] == [(400, 0), (0, 700), (2_500, 0), (0, 10_000)]
    assert first[3]["metadata"]["bank_reference"] == "SEED-1"
    # A period: before everything, nothing; a bad cursor or period names the field.
    empty = await client.get(f"{API}/accounts/{wallet.id}/statement?until=2000-01-01T00:00:00Z", headers=owner.headers)
    assert empty.json()["items"] == []
    bad = await client.get(f"{API}/accounts/{wallet.id}/statement?cursor=nonsense", headers=owner.headers)
    assert (bad.status_code, bad.json()["field"]) == (422, "cursor")
    backwards = await client.get(
        f"{API}/accounts/{wallet.id}/statement?since=2030-01-02T00:00:00&until=2030-01-01T00:00:00",
        headers=owner.headers,
    )
    assert (backwards.status_code, backwards.json()["field"]) == (422, "until")


async def test_statement_exports_as_csv(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner, wallet, expected = await setup_statement(client, sessionmaker)
    response = await client.get(f"{API}/accounts/{wallet.id}/statement?format=csv", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert [row["balance"] for row in rows] == [str(b) for b in reversed(expected)]  # oldest first
    assert [row["balance_side"] for row in rows] == ["credit"] * 4
    assert [(row["debit"], row["credit"]) for row in rows] == [("", "10000"), ("2500", ""), ("", "700"), ("400", "")]
    # A label that a spreadsheet would run as a formula is neutralised.
    assert rows[1]["description"] == '\'=HYPERLINK("http://evil")'
    assert rows[2]["description"] == "COL-1"
    assert json.loads(rows[0]["metadata"]) == {"bank_reference": "SEED-1", "proof_file_name": None}
    # The external funding account is below zero on its normal side: a size and a side, never a leading "-".
    bank = (await accounts_by_code(client, owner))["bank_deposits"]
    export = await client.get(f"{API}/accounts/{bank['id']}/statement?format=csv", headers=owner.headers)
    [line] = list(csv.DictReader(io.StringIO(export.text.removeprefix("\ufeff"))))
    assert (line["debit"], line["balance"], line["balance_side"]) == ("10000", "10000", "debit")


async def test_trial_balance(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    owner, _, _ = await setup_statement(client, sessionmaker)
    admin = await create_platform_admin(client, sessionmaker)
    platform = await client.get(f"{API}/trial-balance", headers=admin.headers)
    assert platform.status_code == 200, platform.text
    body = platform.json()
    assert (body["scope"], body["balanced"]) == ("platform", True)
    xof = next(c for c in body["currencies"] if c["currency"] == "XOF")
    assert xof["debits_posted"] == xof["credits_posted"] > 0
    assert xof["debits_pending"] == xof["credits_pending"]

    mine = (await client.get(f"{API}/trial-balance", headers=owner.headers)).json()
    assert (mine["scope"], mine["organization_id"], mine["balanced"]) == (
        "organization",
        str(owner.organization_id),
        True,
    )
    assert {a["code"] for a in mine["accounts"]} == {"org_wallet", "bank_deposits", "provider_clearing"}
    assert mine["currencies"] == [
        {
            "currency": "XOF",
            "accounts": 3,
            "debits_posted": 10_000 + 2_500 + 700 + 400,
            "credits_posted": 10_000 + 2_500 + 700 + 400,
            "debits_pending": 0,
            "credits_pending": 0,
            "balanced": True,
        }
    ]
    other = await create_org_with_user(client)
    peek = await client.get(f"{API}/trial-balance?organization_id={owner.organization_id}", headers=other.headers)
    assert peek.status_code == 404
    one = await client.get(f"{API}/trial-balance?organization_id={owner.organization_id}", headers=admin.headers)
    assert one.json()["currencies"] == mine["currencies"]


async def test_deposits_are_listed_for_their_organisation(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    other = await create_org_with_user(client)
    assert owner.organization_id is not None and other.organization_id is not None
    admin = await create_platform_admin(client, sessionmaker)
    for n in range(3):
        assert (await deposit(client, admin, owner.organization_id, 100 + n, f"L-{n}")).status_code == 201
    assert (await deposit(client, admin, other.organization_id, 5, "L-0")).status_code == 201
    listed = (await client.get(f"{API}/deposits?limit=2", headers=owner.headers)).json()
    assert [d["bank_reference"] for d in listed["items"]] == ["L-2", "L-1"]
    rest = (await client.get(f"{API}/deposits?cursor={listed['next_cursor']}", headers=owner.headers)).json()
    assert [d["bank_reference"] for d in rest["items"]] == ["L-0"]
    by_admin = await client.get(f"{API}/deposits?organization_id={other.organization_id}", headers=admin.headers)
    assert [d["amount"] for d in by_admin.json()["items"]] == [5]


async def test_exports_read_in_chunks_keep_the_running_balance(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, wallet, expected = await setup_statement(client, sessionmaker)
    async with unit_of_work(sessionmaker) as session:
        account = await ledger.get_account(session, wallet.id)
    for chunk in (1, 2, 3, 1000):
        lines = [line async for line in ledger.statement_lines(sessionmaker, account, chunk=chunk)]
        assert [line.balance for line in lines] == list(reversed(expected)), chunk
        assert [line.seq for line in lines] == sorted(line.seq for line in lines)
