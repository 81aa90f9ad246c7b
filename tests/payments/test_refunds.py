"""Refunds end to end over HTTP: our API, the provider's refund (or a payout back) over loopback HTTP, the ledger.

The embedded sandbox (the default provider) refunds through its own refund endpoint; MTN MoMo, Wave and FedaPay
through theirs, each against its simulator; FreeMoPay, which has no refund operation, by a payout back to the payer.
After each refund the provider's own books (what it paid back to the payer) agree with ours (the ledger).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work
from cauri.core.errors import ValidationFailed
from cauri.kit.outcomes import Outcome
from cauri.ledger import service as ledger
from cauri.payments import public
from cauri.payments.models import PaymentRefund, SettlementEventRecord
from tests.payments import test_every_provider as every
from tests.payments.conftest import Sandbox
from tests.payments.support import (
    create,
    eventually,
    fund,
    get,
    postings,
    wait_status,
    wallet,
    wallet_transfer_count,
)
from tests.payments.test_every_provider import BY_NAME, SETTLE_WITHIN, Profile, World
from tests.support.identity import Actor, create_org_with_user

REFUND_STEPS = ("refund.reserve", "refund.post", "refund.void")


async def collected(client: httpx.AsyncClient, owner: Actor, amount: int = 5000, **fields: Any) -> dict[str, Any]:
    """A succeeded sandbox collection of ``amount``."""
    created = await create(client, owner, "collection", amount=amount, **fields)
    done = await wait_status(client, owner, "collection", created["id"])
    assert done["status"] == "succeeded", done
    return done


async def ask_refund(
    client: httpx.AsyncClient,
    owner: Actor,
    collection_id: str,
    *,
    key: str | None = None,
    language: str | None = None,
    **body: Any,
) -> httpx.Response:
    headers = dict(owner.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    if language is not None:
        headers["Accept-Language"] = language
    body.setdefault("reason", "Commande annulée")
    return await client.post(f"/api/v1/collections/{collection_id}/refunds", json=body, headers=headers)


async def refunds_of(client: httpx.AsyncClient, owner: Actor, collection_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/collections/{collection_id}/refunds", headers=owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def wait_refund(
    client: httpx.AsyncClient, owner: Actor, collection_id: str, refund_id: str, *, within: float = 25.0
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def settled() -> bool:
        found = {r["id"]: r for r in await refunds_of(client, owner, collection_id)}
        seen.update(found[refund_id])
        return seen["status"] != "pending"

    await eventually(settled, within=within, what=f"refund {refund_id} to settle")
    return seen


async def refund_postings(sessionmaker: async_sessionmaker[AsyncSession], refund_id: str) -> dict[str, int]:
    return await postings(sessionmaker, refund_id, REFUND_STEPS)


async def clearing_net(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, provider: str, currency: str
) -> int:
    """What the provider owes us by our books: its clearing account's credits less debits (posted)."""
    async with unit_of_work(sessionmaker) as session:
        account = await ledger.clearing_account(session, organization_id, provider, currency)
        balance = await ledger.balance(session, account.id)
        return balance.posted


async def refund_rows(sessionmaker: async_sessionmaker[AsyncSession], collection_id: str) -> int:
    async with sessionmaker() as session:
        count = await session.execute(select(func.count()).where(PaymentRefund.payment_id == uuid.UUID(collection_id)))
        return int(count.scalar_one())


# -- the embedded sandbox ---------------------------------------------------------------------------------------


async def test_a_partial_then_a_full_refund_give_everything_back_once(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 1000)  # the sandbox kept its 1 % fee: the wallet covers it
    collection = await collected(client, owner, 5000)

    first = await ask_refund(client, owner, collection["id"], amount=2000, reason="Article manquant")
    assert first.status_code == 202, first.text
    partial = first.json()
    assert (partial["status"], partial["method"], partial["amount"], partial["currency"]) == (
        "pending",
        "refund",
        2000,
        "XAF",
    )
    # Held at once, in the request's transaction: the refunded money cannot be spent meanwhile.
    assert (await refund_postings(sessionmaker, partial["id"]))["refund.reserve"] == 2000
    partial = await wait_refund(client, owner, collection["id"], partial["id"])
    assert partial["status"] == "succeeded"
    assert partial["provider_reference"].startswith("sbx_ref_")
    assert (await get(client, owner, "collection", collection["id"]))["status"] == "partially_refunded"

    second = await ask_refund(client, owner, collection["id"])  # no amount: everything that remains
    assert second.status_code == 202, second.text
    assert second.json()["amount"] == 3000
    rest = await wait_refund(client, owner, collection["id"], second.json()["id"])
    assert rest["status"] == "succeeded"

    detail = await get(client, owner, "collection", collection["id"])
    assert detail["status"] == "refunded"
    steps = [(t["from_status"], t["to_status"], t["cause"]) for t in detail["transitions"]]
    assert steps[-2:] == [
        ("succeeded", "partially_refunded", steps[-2][2]),
        ("partially_refunded", "refunded", steps[-1][2]),
    ]
    # The provider's books and ours: 5000 went back to the payer, once, and the clearing account is square.
    assert sandbox.simulator.refunded(collection["outbound_reference"]) == 5000
    assert await refund_postings(sessionmaker, partial["id"]) == {"refund.reserve": 2000, "refund.post": 2000}
    assert await refund_postings(sessionmaker, rest["id"]) == {"refund.reserve": 3000, "refund.post": 3000}
    assert await clearing_net(sessionmaker, owner.organization_id, "sandbox", "XAF") == 0
    balance = await wallet(sessionmaker, owner.organization_id)
    assert (balance.posted, balance.available) == (1000 + 5000 - 50 - 5000, 950)

    again = await ask_refund(client, owner, collection["id"], amount=1)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "payment_not_refundable"

    # Business modules learn of each refund by a settlement event of its own, written with the refund's outcome.
    async with sessionmaker() as session:
        rows = await session.execute(
            select(SettlementEventRecord).where(SettlementEventRecord.payment_id == uuid.UUID(collection["id"]))
        )
        recorded = list(rows.scalars())
    assert sorted((e.status, e.refund_amount) for e in recorded if e.refund_id is not None) == [
        ("partially_refunded", 2000),
        ("refunded", 3000),
    ]
    assert {str(e.refund_id) for e in recorded if e.refund_id is not None} == {partial["id"], rest["id"]}


async def test_refusals_name_the_field_and_write_nothing(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 1000)
    collection = await collected(client, owner, 5000)
    transfers = await wallet_transfer_count(sessionmaker, owner.organization_id)

    over = await ask_refund(client, owner, collection["id"], amount=5001, language="en")
    assert over.status_code == 422, over.text
    assert over.headers["content-type"].startswith("application/problem+json")
    problem = over.json()
    assert problem["errors"][0]["field"] == "amount"
    assert problem["errors"][0]["code"] == "refund_exceeds_remaining"
    assert "At most 5000 XAF" in problem["detail"]
    french = await ask_refund(client, owner, collection["id"], amount=5001)
    assert "Au plus 5000 XAF" in french.json()["detail"]

    for body, field, code in [
        ({"amount": 0}, "amount", "amount_not_positive"),
        ({"amount": -5}, "amount", "amount_not_positive"),
        ({"amount": 10, "currency": "XOF"}, "currency", "currency_mismatch"),
    ]:
        refused = await ask_refund(client, owner, collection["id"], **body)
        assert refused.status_code == 422, refused.text
        assert (refused.json()["errors"][0]["field"], refused.json()["errors"][0]["code"]) == (field, code)
    for body in ({"amount": 12.5}, {"amount": "100"}, {"reason": ""}, {"amount": 10, "extra": 1}):
        refused = await ask_refund(client, owner, collection["id"], **body)
        assert refused.status_code == 422, refused.text

    failed = await create(client, owner, "collection", outcome=Outcome.REJECTED_BY_PAYER)
    failed = await wait_status(client, owner, "collection", failed["id"])
    not_paid = await ask_refund(client, owner, failed["id"], language="en")
    assert not_paid.status_code == 409
    assert not_paid.json()["code"] == "payment_not_refundable"
    assert "must have succeeded" in not_paid.json()["detail"]

    stranger = await create_org_with_user(client)
    assert (await ask_refund(client, stranger, collection["id"])).status_code == 404
    listed = await client.get(f"/api/v1/collections/{collection['id']}/refunds", headers=stranger.headers)
    assert listed.status_code == 404
    assert (await ask_refund(client, owner, str(uuid.uuid4()))).status_code == 404

    # Nothing written by any refusal: no refund, no ledger transfer, nothing at the provider.
    assert await refund_rows(sessionmaker, collection["id"]) == 0
    assert await refund_rows(sessionmaker, failed["id"]) == 0
    assert await wallet_transfer_count(sessionmaker, owner.organization_id) == transfers
    assert sandbox.simulator.refunded(collection["outbound_reference"]) == 0
    assert (await get(client, owner, "collection", collection["id"]))["status"] == "succeeded"


async def test_a_refund_the_wallet_cannot_cover_is_refused(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    collection = await collected(client, owner, 5000)  # the wallet holds 4950 after the sandbox's fee
    refused = await ask_refund(client, owner, collection["id"])
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["code"] == "insufficient_funds"
    assert await refund_rows(sessionmaker, collection["id"]) == 0
    accepted = await ask_refund(client, owner, collection["id"], amount=4950)
    assert accepted.status_code == 202, accepted.text


async def test_the_same_idempotency_key_answers_the_first_refund(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    collection = await collected(client, owner, 5000)
    key = f"refund-{uuid.uuid4().hex}"
    first = await ask_refund(client, owner, collection["id"], key=key, amount=1000)
    second = await ask_refund(client, owner, collection["id"], key=key, amount=1000)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    other_body = await ask_refund(client, owner, collection["id"], key=key, amount=2000)
    assert other_body.status_code == 422, other_body.text
    assert await refund_rows(sessionmaker, collection["id"]) == 1
    done = await wait_refund(client, owner, collection["id"], first.json()["id"])
    assert done["status"] == "succeeded"
    assert sandbox.simulator.refunded(collection["outbound_reference"]) == 1000


async def test_concurrent_refunds_never_give_back_more_than_was_collected(
    backend: str, client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    if backend != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every writer")
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 10_000)
    collection = await collected(client, owner, 5000)
    answers = await asyncio.gather(*(ask_refund(client, owner, collection["id"], amount=2000) for _ in range(6)))
    accepted = [a.json() for a in answers if a.status_code == 202]
    assert len(accepted) == 2, [a.text for a in answers]
    assert all(a.status_code in (202, 422, 503) for a in answers)
    for refund in accepted:
        assert (await wait_refund(client, owner, collection["id"], refund["id"]))["status"] == "succeeded"
    assert sandbox.simulator.refunded(collection["outbound_reference"]) == 4000
    assert await clearing_net(sessionmaker, owner.organization_id, "sandbox", "XAF") == -1000
    assert (await get(client, owner, "collection", collection["id"]))["status"] == "partially_refunded"


# -- providers with a refund operation of their own, and one without -----------------------------------------------

REFUND_PROVIDERS = ["mtn_momo", "wave", "fedapay", "freemopay"]
# Each provider's simulator served on loopback and an organisation with its credentials, as in test_every_provider.
simulators = every.simulators
world = every.world


@pytest.fixture(params=REFUND_PROVIDERS)
def profile(request: pytest.FixtureRequest) -> Profile:
    """Overrides ``test_every_provider``'s: the providers these refund tests drive."""
    return BY_NAME[request.param]


async def test_each_provider_gives_the_money_back_and_its_books_agree_with_ours(
    world: World, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    profile = world.profile
    owner = world.owner
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, profile.amount, profile.currency)  # covers the provider's fee
    created = await every._create(client, world, "collection", profile.phone_for("collection", Outcome.SUCCESS))
    collection = await wait_status(client, owner, "collection", created["id"], within=SETTLE_WITHIN)
    assert collection["status"] == "succeeded", collection

    # Wave refunds a session in full only: asking for part of it is refused before anything is written.
    partial_refunds = profile.name != "wave"
    if not partial_refunds:
        refused = await ask_refund(client, owner, collection["id"], amount=profile.amount // 2)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["code"] == "partial_refund_unsupported"
    parts = [profile.amount // 2, None] if partial_refunds else [None]
    for part in parts:
        body = {} if part is None else {"amount": part}
        asked = await ask_refund(client, owner, collection["id"], **body)
        assert asked.status_code == 202, asked.text
        refund = asked.json()
        assert refund["method"] == ("payout" if profile.name == "freemopay" else "refund")
        done = await wait_refund(client, owner, collection["id"], refund["id"], within=SETTLE_WITHIN)
        assert done["status"] == "succeeded", done

    detail = await get(client, owner, "collection", collection["id"])
    assert detail["status"] == "refunded"
    refunds = await refunds_of(client, owner, collection["id"])
    assert sum(r["amount"] for r in refunds) == profile.amount
    # The provider's books: what went back to the payer, once (FreeMoPay: the payouts back to the payer).
    if profile.name == "freemopay":
        paid_back = 0
        for refund in refunds:
            payout = await get(client, owner, "payout", refund["payout_id"])
            assert payout["status"] == "succeeded" and payout["phone"] == collection["phone"]
            paid_back += world.simulator.paid_out(payout["outbound_reference"])
    else:
        paid_back = world.simulator.refunded(collection["outbound_reference"])  # type: ignore[attr-defined]
        for refund in refunds:
            assert await refund_postings(sessionmaker, refund["id"]) == {
                "refund.reserve": refund["amount"],
                "refund.post": refund["amount"],
            }
    assert paid_back == profile.amount
    # Ours: what the provider owes us for this organisation is square again.
    assert await clearing_net(sessionmaker, owner.organization_id, profile.name, profile.currency) == 0


async def test_a_business_module_refunds_through_the_public_api(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    sessionmaker: async_sessionmaker[AsyncSession],
    payments_settings: Settings,
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    collection = await collected(client, owner, 5000)
    arguments: dict[str, Any] = {
        "organization_id": owner.organization_id,
        "payment_id": uuid.UUID(collection["id"]),
        "amount": 1500,
        "reason": "Tontine dissoute",
        "idempotency_key": f"tontine.refund:{uuid.uuid4().hex}",
        "settings": payments_settings,
    }
    async with unit_of_work(sessionmaker) as session:
        first = await public.refund(session, **arguments)
    async with unit_of_work(sessionmaker) as session:
        again = await public.refund(session, **arguments)  # a retried job: the same refund, nothing new
    assert again.id == first.id
    for bad, field in (({"reason": " "}, "reason"), ({"idempotency_key": ""}, "idempotency_key")):
        with pytest.raises(ValidationFailed) as refused:
            async with unit_of_work(sessionmaker) as session:
                await public.refund(session, **(arguments | bad))
        assert refused.value.field == field
    done = await wait_refund(client, owner, collection["id"], str(first.id))
    assert (done["status"], done["amount"]) == ("succeeded", 1500)
    async with sessionmaker() as session:
        listed = await public.refunds_of(
            session, organization_id=owner.organization_id, payment_id=uuid.UUID(collection["id"])
        )
    assert [r.id for r in listed] == [first.id]
    assert sandbox.simulator.refunded(collection["outbound_reference"]) == 1500


@pytest.mark.parametrize("profile", [BY_NAME["mtn_momo"]], ids=["mtn_momo"])
async def test_a_refund_the_provider_fails_releases_its_hold_and_can_be_asked_again(
    world: World, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    profile, owner = world.profile, world.owner
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, profile.amount, profile.currency)
    created = await every._create(client, world, "collection", profile.phone_for("collection", Outcome.SUCCESS))
    collection = await wait_status(client, owner, "collection", created["id"], within=SETTLE_WITHIN)
    assert collection["status"] == "succeeded", collection
    accounts = world.simulator.accounts  # type: ignore[attr-defined]
    drained = accounts.balance("disbursement", profile.currency)
    # MTN pays refunds from the disbursement account: empty, the refund is accepted (202), then FAILED.
    accounts.move("disbursement", "elsewhere", profile.currency, drained, "test:drain")
    try:
        asked = await ask_refund(client, owner, collection["id"], amount=1000)
        assert asked.status_code == 202, asked.text
        failed = await wait_refund(client, owner, collection["id"], asked.json()["id"], within=SETTLE_WITHIN)
    finally:
        accounts.move("elsewhere", "disbursement", profile.currency, drained, "test:refill")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "insufficient_funds")
    assert failed["failure_message"]
    assert await refund_postings(sessionmaker, failed["id"]) == {"refund.reserve": 1000, "refund.void": 1000}
    assert (await get(client, owner, "collection", collection["id"]))["status"] == "succeeded"
    assert world.simulator.refunded(collection["outbound_reference"]) == 0  # type: ignore[attr-defined]
    # Nothing went back: the whole amount is still refundable.
    again = await ask_refund(client, owner, collection["id"])
    assert (again.status_code, again.json()["amount"]) == (202, profile.amount)
    done = await wait_refund(client, owner, collection["id"], again.json()["id"], within=SETTLE_WITHIN)
    assert done["status"] == "succeeded"
    assert world.simulator.refunded(collection["outbound_reference"]) == profile.amount  # type: ignore[attr-defined]


# -- payout reversals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [BY_NAME["wave"]], ids=["wave"])
async def test_a_wave_payout_reversed_comes_back_to_the_wallet_once(
    world: World, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    profile, owner = world.profile, world.owner
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, 10_000, profile.currency)
    created = await every._create(client, world, "payout", profile.phone_for("payout", Outcome.SUCCESS))
    payout = await wait_status(client, owner, "payout", created["id"], within=SETTLE_WITHIN)
    assert payout["status"] == "succeeded", payout
    before = await wallet(sessionmaker, owner.organization_id, profile.currency)

    asked = await client.post(
        f"/api/v1/payouts/{payout['id']}/reversal", json={"reason": "Mauvais numéro"}, headers=owner.headers
    )
    assert asked.status_code == 202, asked.text
    assert (asked.json()["method"], asked.json()["amount"]) == ("reversal", profile.amount)

    async def reversed_() -> bool:
        return (await get(client, owner, "payout", payout["id"]))["status"] == "reversed"

    await eventually(reversed_, within=SETTLE_WITHIN, what="the payout to be reversed")
    listed = await client.get(f"/api/v1/payouts/{payout['id']}/reversals", headers=owner.headers)
    [reversal] = listed.json()["items"]
    assert reversal["status"] == "succeeded"
    # The payee gave it back at Wave; our books credit it back once; the provider owes us nothing more.
    assert world.simulator.reversed(payout["outbound_reference"]) == profile.amount  # type: ignore[attr-defined]
    after = await wallet(sessionmaker, owner.organization_id, profile.currency)
    assert after.posted == before.posted + profile.amount
    assert await clearing_net(sessionmaker, owner.organization_id, profile.name, profile.currency) == 0

    again = await client.post(
        f"/api/v1/payouts/{payout['id']}/reversal", json={"reason": "Encore"}, headers=owner.headers
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "payment_not_reversible"


async def test_reversals_are_refused_where_they_cannot_be(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, 10_000)
    payout = await create(client, owner, "payout", amount=2000)
    payout = await wait_status(client, owner, "payout", payout["id"])
    unsupported = await client.post(
        f"/api/v1/payouts/{payout['id']}/reversal", json={"reason": "Erreur"}, headers=owner.headers
    )
    assert unsupported.status_code == 409, unsupported.text
    assert unsupported.json()["code"] == "reversal_unsupported"  # the sandbox has no reversal operation
    collection = await collected(client, owner, 1000)
    not_payout = await client.post(
        f"/api/v1/payouts/{collection['id']}/reversal", json={"reason": "Erreur"}, headers=owner.headers
    )
    assert (not_payout.status_code, not_payout.json()["code"]) == (409, "not_a_payout")
    assert await refund_rows(sessionmaker, payout["id"]) == 0
