"""Passages (payout turns): the order of a cycle — a seeded random draw any member can re-check, alphabetical, by
join date, or set by hand —, its schedule, the payout of the pot to the beneficiary through ``payments.payout``
(purpose ``tontine.payout``, settled by the payment's settlement event), and the beneficiary's confirmation.

The draw: the active members' ids, as strings, sorted; then ``random.Random(seed).shuffle`` (Python's Mersenne
Twister seeded from the seed text, identical on every Python ≥ 3.2). ``GET …/passages/draw`` gives the seed and
the sorted list, so anyone can run the same two lines and find the same order.
"""

from __future__ import annotations

import random
import secrets
import uuid

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PhoneCounterparty, SettlementEvent
from cauri.tontines import calendar, notices
from cauri.tontines.errors import NotAManager, PassageNotFound, invalid, wrong_state
from cauri.tontines.models import (
    MemberStatus,
    PassageStatus,
    Tontine,
    TontineBid,
    TontineMember,
    TontinePassage,
    TontineSession,
    TontineSwap,
)
from cauri.tontines.schemas import DrawRead
from cauri.tontines.service import Access, active_members

PAYOUT_PURPOSE = "tontine.payout"
DEPOSIT_CODE = "tontine_deposit"
ALGORITHM = "ids = sorted(str(id) for id in members); random.Random(seed).shuffle(ids)"
_DONE = (PassageStatus.PAYING, PassageStatus.PAID, PassageStatus.CONFIRMED)


def draw(member_ids: list[uuid.UUID], seed: str) -> list[uuid.UUID]:
    """The random order: reproducible by anyone from the seed and the members."""
    ids = sorted(str(member_id) for member_id in member_ids)
    random.Random(seed).shuffle(ids)  # noqa: S311 - reproducible on purpose: anyone re-checks the draw
    return [uuid.UUID(member_id) for member_id in ids]


async def _cycle_passages(session: AsyncSession, tontine: Tontine) -> list[TontinePassage]:
    found = await session.scalars(
        select(TontinePassage)
        .where(TontinePassage.tontine_id == tontine.id, TontinePassage.cycle == tontine.cycle)
        .order_by(TontinePassage.position)
    )
    return list(found)


async def current_turn(session: AsyncSession, tontine: Tontine) -> TontinePassage | None:
    """The first turn of the cycle not paid (nor being paid): the only one that can be paid, auctioned or swapped
    into."""
    return next((p for p in await _cycle_passages(session, tontine) if p.status not in _DONE), None)


def is_done(passage: TontinePassage) -> bool:
    return passage.status in _DONE


async def generate(
    session: AsyncSession, seen: Access, *, method: str, order: list[uuid.UUID] | None, seed: str | None
) -> list[TontinePassage]:
    """The order of the current cycle, replacing a previous one while no turn of it has been paid."""
    seen.require_president()
    tontine = seen.tontine
    existing = await _cycle_passages(session, tontine)
    if any(p.status in _DONE or p.discount is not None for p in existing):
        raise wrong_state(
            "Un tour de ce cycle a déjà été versé ou adjugé aux enchères : l'ordre ne peut plus changer",
            "A turn of this cycle was already paid or auctioned: the order can no longer change",
            "paying",
            field="method",
        )
    members = await active_members(session, tontine.id)
    if not members:
        raise invalid("method", "no_members", "La tontine n'a aucun membre actif.", "The tontine has no active member.")
    by_id = {m.id: m for m in members}
    if method == "alphabetical":
        ordered = [m.id for m in sorted(members, key=lambda m: (m.display_name.casefold(), str(m.id)))]
    elif method == "join_date":
        ordered = [m.id for m in sorted(members, key=lambda m: (m.joined_at, str(m.id)))]
    elif method == "random":
        seed = seed or secrets.token_hex(16)
        ordered = draw(list(by_id), seed)
    else:
        if order is None or sorted(map(str, order)) != sorted(map(str, by_id)):
            raise invalid(
                "order",
                "order_must_list_every_member",
                "L'ordre manuel doit citer chaque membre actif une fois.",
                "A manual order must list every active member once.",
            )
        ordered = list(order)
    # A new order cancels the open bids and the swaps of the old one (none of them moved money).
    old_ids = [p.id for p in existing]
    if old_ids:
        await session.execute(delete(TontineBid).where(TontineBid.passage_id.in_(old_ids)))
        await session.execute(
            delete(TontineSwap).where(
                or_(TontineSwap.proposer_passage_id.in_(old_ids), TontineSwap.target_passage_id.in_(old_ids))
            )
        )
    await session.execute(
        delete(TontinePassage).where(TontinePassage.tontine_id == tontine.id, TontinePassage.cycle == tontine.cycle)
    )
    first_number = await _first_session_number(session, tontine)
    dates = calendar.dates(tontine.start_date, tontine.frequency, first_number - 1 + len(ordered))[first_number - 1 :]
    rows = []
    for position, member_id in enumerate(ordered, start=1):
        row = TontinePassage(
            id=uuid.uuid4(),
            tontine_id=tontine.id,
            organization_id=tontine.organization_id,
            cycle=tontine.cycle,
            position=position,
            member_id=member_id,
            scheduled_date=dates[position - 1],
            status=PassageStatus.SCHEDULED,
        )
        session.add(row)
        rows.append(row)
    tontine.order_method, tontine.draw_seed = method, seed if method == "random" else None
    await session.flush()
    return rows


async def _first_session_number(session: AsyncSession, tontine: Tontine) -> int:
    first = await session.scalar(
        select(func.min(TontineSession.number)).where(
            TontineSession.tontine_id == tontine.id, TontineSession.cycle == tontine.cycle
        )
    )
    if first is not None:
        return int(first)
    last = await session.scalar(select(func.max(TontineSession.number)).where(TontineSession.tontine_id == tontine.id))
    return int(last or 0) + 1


async def list_passages(session: AsyncSession, seen: Access) -> list[tuple[TontinePassage, TontineMember]]:
    found = await session.execute(
        select(TontinePassage, TontineMember)
        .join(TontineMember, TontineMember.id == TontinePassage.member_id)
        .where(TontinePassage.tontine_id == seen.tontine.id)
        .order_by(TontinePassage.cycle, TontinePassage.position)
    )
    return [(first, second) for first, second in found.all()]


async def draw_of(session: AsyncSession, seen: Access) -> DrawRead:
    passages = await _cycle_passages(session, seen.tontine)
    ids = sorted(p.member_id for p in passages)
    return DrawRead(
        method=seen.tontine.order_method,
        seed=seen.tontine.draw_seed,
        algorithm=ALGORITHM,
        members_sorted_by_id=sorted(ids, key=str),
        order=[p.member_id for p in passages],
    )


async def tontine_of_passage(session: AsyncSession, organization_id: uuid.UUID, passage_id: uuid.UUID) -> uuid.UUID:
    found = await session.scalar(
        select(TontinePassage.tontine_id).where(
            TontinePassage.id == passage_id, TontinePassage.organization_id == organization_id
        )
    )
    if found is None:
        raise PassageNotFound(field="passage_id")
    return found


async def _lock_passage(session: AsyncSession, tontine: Tontine, passage_id: uuid.UUID) -> TontinePassage:
    found = await session.scalar(
        select(TontinePassage)
        .where(TontinePassage.id == passage_id, TontinePassage.tontine_id == tontine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise PassageNotFound(field="passage_id")
    return found


async def start(session: AsyncSession, seen: Access, passage_id: uuid.UUID) -> TontinePassage:
    seen.require_manager()
    passage = await _lock_passage(session, seen.tontine, passage_id)
    if passage.status != PassageStatus.SCHEDULED:
        raise wrong_state(
            "Ce tour n'est pas planifié", "This turn is not scheduled", passage.status, field="passage_id"
        )
    passage.status = PassageStatus.STARTED
    await session.flush()
    return passage


async def payout(
    session: AsyncSession,
    seen: Access,
    passage_id: uuid.UUID,
    *,
    member_id: uuid.UUID | None,
    provider: str | None,
    settings: Settings | None,
) -> TontinePassage:
    """Pay the pot to this turn's beneficiary: only the first unpaid turn of the cycle, in order."""
    seen.require_manager()
    tontine = await session.scalar(
        select(Tontine).where(Tontine.id == seen.tontine.id).with_for_update().execution_options(populate_existing=True)
    )
    assert tontine is not None
    passage = await _lock_passage(session, tontine, passage_id)
    if passage.status not in (PassageStatus.SCHEDULED, PassageStatus.STARTED, PassageStatus.FAILED):
        raise wrong_state(
            "Ce tour est déjà versé ou en cours", "This turn is paid or being paid", passage.status, field="passage_id"
        )
    if member_id is not None and member_id != passage.member_id:
        raise invalid(
            "member_id", "not_their_turn", "Ce n'est pas le tour de ce membre.", "It is not this member's turn."
        )
    first_unpaid = next(
        (p for p in await _cycle_passages(session, tontine) if p.status not in _DONE),
        None,
    )
    if passage.cycle != tontine.cycle or first_unpaid is None or first_unpaid.id != passage.id:
        raise invalid(
            "passage_id",
            "not_their_turn",
            "Ce n'est pas le tour de ce membre : un tour précédent n'est pas encore versé.",
            "It is not this member's turn: an earlier turn is not paid yet.",
        )
    beneficiary = await session.scalar(select(TontineMember).where(TontineMember.id == passage.member_id))
    assert beneficiary is not None
    if beneficiary.status != MemberStatus.ACTIVE or not beneficiary.phone:
        raise invalid(
            "passage_id",
            "beneficiary_unreachable",
            "Le bénéficiaire n'est plus actif ou n'a pas de numéro de mobile money.",
            "The beneficiary is no longer active or has no mobile-money number.",
        )
    if tontine.protection == "guarantor" and passage.guarantor_accepted_at is None:
        raise invalid(
            "passage_id",
            "guarantor_required",
            "Cette tontine exige un garant qui a accepté avant de verser le pot.",
            "This tontine needs a guarantor who accepted before the pot is paid.",
        )
    if tontine.protection == "deposit" and passage.deposit_withheld is None:
        passage.deposit_withheld = await withhold_deposit(session, tontine, passage)
    pot = await ledger.balance(session, tontine.pot_account_id)
    if pot.available <= 0:
        raise invalid("passage_id", "pot_empty", "Le pot est vide.", "The pot is empty.")
    view = await payments.payout(
        session,
        organization_id=tontine.organization_id,
        amount=pot.available,
        currency=tontine.currency,
        counterparty=PhoneCounterparty(beneficiary.phone, name=beneficiary.display_name),
        purpose=PAYOUT_PURPOSE,
        owner_id=str(passage.id),
        idempotency_key=f"tontine-payout-{passage.id}-{uuid.uuid4().hex[:8]}",
        account_id=tontine.pot_account_id,
        provider=provider,
        description=f"{tontine.name} tour {passage.position}"[:140],
        settings=settings,
    )
    passage.status, passage.amount, passage.payment_id = PassageStatus.PAYING, pot.available, view.id
    await session.flush()
    return passage


def deposit_transfer_id(passage_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(passage_id, "cauri.tontines.deposit")


async def deposit_account(session: AsyncSession, tontine: Tontine, member_id: uuid.UUID) -> ledger.Account:
    """What was withheld from a member's pot against their default (protection ``deposit``)."""
    return await ledger.get_or_create_account(
        session,
        organization_id=tontine.organization_id,
        currency=tontine.currency,
        code=DEPOSIT_CODE,
        owner_ref=str(member_id),
        debits_must_not_exceed_credits=True,
    )


async def withhold_deposit(session: AsyncSession, tontine: Tontine, passage: TontinePassage) -> int:
    """``deposit_percent`` of the pot into the beneficiary's deposit account, once per turn (``pot → deposit``)."""
    pot = (await ledger.balance(session, tontine.pot_account_id)).available
    withheld = pot * tontine.deposit_percent // 100
    if withheld > 0:
        account = await deposit_account(session, tontine, passage.member_id)
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=deposit_transfer_id(passage.id),
                    debit_account_id=tontine.pot_account_id,
                    credit_account_id=account.id,
                    amount=withheld,
                    code="tontine.deposit_withheld",
                    metadata={"passage_id": str(passage.id), "member_id": str(passage.member_id)},
                )
            ],
        )
    return withheld


async def payout_settled(session: AsyncSession, event: SettlementEvent) -> None:
    """The pot's payout settled: the turn is paid (and its beneficiary told) or failed (it may be paid again)."""
    if event.refund_id is not None or event.owner_id is None:
        return
    passage = await session.scalar(
        select(TontinePassage)
        .where(TontinePassage.id == uuid.UUID(event.owner_id), TontinePassage.organization_id == event.organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if passage is None or passage.payment_id != event.payment_id or passage.status != PassageStatus.PAYING:
        return
    if event.status == "succeeded":
        passage.status, passage.paid_at = PassageStatus.PAID, utcnow()
        tontine = await session.scalar(select(Tontine).where(Tontine.id == passage.tontine_id))
        member = await session.scalar(select(TontineMember).where(TontineMember.id == passage.member_id))
        if tontine is not None and member is not None:
            await notices.payout_sent(session, tontine, passage, member)
    elif event.status in ("failed", "expired", "cancelled"):
        passage.status = PassageStatus.FAILED
    await session.flush()


async def confirm(session: AsyncSession, seen: Access, passage_id: uuid.UUID) -> TontinePassage:
    """The beneficiary confirms they received the pot."""
    passage = await _lock_passage(session, seen.tontine, passage_id)
    if seen.member is None or seen.member.id != passage.member_id:
        raise NotAManager("Seul le bénéficiaire confirme la réception.", "Only the beneficiary confirms receipt.")
    if passage.status != PassageStatus.PAID:
        raise wrong_state(
            "Ce tour n'est pas encore versé", "This turn is not paid yet", passage.status, field="passage_id"
        )
    passage.status, passage.confirmed_at = PassageStatus.CONFIRMED, utcnow()
    await session.flush()
    return passage


async def next_cycle(session: AsyncSession, seen: Access) -> Tontine:
    """End the cycle and start the next (président): every session of the cycle closed, every turn paid. The pot's
    balance is carried over as it is (no movement); the next cycle's sessions and order are planned anew."""
    seen.require_president()
    tontine = await session.scalar(
        select(Tontine).where(Tontine.id == seen.tontine.id).with_for_update().execution_options(populate_existing=True)
    )
    assert tontine is not None
    still_open = await session.scalar(
        select(func.count())
        .select_from(TontineSession)
        .where(TontineSession.tontine_id == tontine.id, TontineSession.cycle == tontine.cycle)
        .where(TontineSession.status != "closed")
    )
    if still_open:
        raise wrong_state(
            "Toutes les séances du cycle doivent être fermées",
            "Every session of the cycle must be closed",
            "open",
            field="cycle",
        )
    unpaid = [
        p
        for p in await _cycle_passages(session, tontine)
        if p.status not in (PassageStatus.PAID, PassageStatus.CONFIRMED)
    ]
    if unpaid:
        raise wrong_state(
            f"{len(unpaid)} tour(s) de ce cycle ne sont pas versés",
            f"{len(unpaid)} turn(s) of this cycle are not paid",
            "paying",
            field="cycle",
        )
    tontine.cycle += 1
    tontine.order_method, tontine.draw_seed = None, None
    await session.flush()
    return tontine
