"""Auctions (enchères) of a rotating tontine (rule ``auction``): the members who have not taken the pot this cycle
bid for the current turn the discount they give up to take it now; the highest bid wins (the earliest among
equals). Closing the auction gives the winner the current turn (their own later turn goes to the member who held
the current one) and moves the discount out of the pot, by rule:

* ``share``: shared equally among the other active members (``pot → tontine_member_cash(member)``, code
  ``tontine.auction_share``; the indivisible remainder, one unit each, to the first members by id);
* ``interest``: kept as the group's interest (``pot → tontine_interest(tontine)``, code ``tontine.auction_interest``).

The payout then pays the winner what is left in the pot: the pot minus the discount. A bid above the pot is
refused (``discount``), so is a late member's (``member_id``: ``standing.py``). Transfer ids derive from the turn,
so a retried close moves nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import AppError
from cauri.core.jobs import JobContext, enqueue, job
from cauri.ledger import service as ledger
from cauri.tontines.contributions import member_cash_account
from cauri.tontines.errors import invalid, wrong_state
from cauri.tontines.models import (
    BidStatus,
    MemberStatus,
    Tontine,
    TontineBid,
    TontineMember,
    TontinePassage,
)
from cauri.tontines.passages import current_turn, is_done
from cauri.tontines.service import Access, active_members
from cauri.tontines.standing import require_good_standing

INTEREST_CODE = "tontine_interest"


def share_transfer_id(passage_id: uuid.UUID, member_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(passage_id, f"cauri.tontines.auction-share.{member_id}")


def interest_transfer_id(passage_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(passage_id, "cauri.tontines.auction-interest")


def split(discount: int, members: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """``discount`` shared equally among ``members``; the remainder, one unit each, to the first by id."""
    ordered = sorted(members, key=str)
    base, remainder = divmod(discount, len(ordered))
    return {member: base + (1 if index < remainder else 0) for index, member in enumerate(ordered)}


async def interest_account(session: AsyncSession, tontine: Tontine) -> ledger.Account:
    return await ledger.get_or_create_account(
        session,
        organization_id=tontine.organization_id,
        currency=tontine.currency,
        code=INTEREST_CODE,
        owner_ref=str(tontine.id),
    )


def _require_auction(tontine: Tontine) -> None:
    if not tontine.auction_enabled:
        raise wrong_state(
            "Cette tontine n'attribue pas ses tours aux enchères",
            "This tontine does not auction its turns",
            "no_auction",
            field="tontine_id",
        )


async def _locked_turn(session: AsyncSession, tontine: Tontine) -> TontinePassage:
    turn = await current_turn(session, tontine)
    if turn is None:
        raise wrong_state(
            "Aucun tour à attribuer dans ce cycle", "No turn left to award in this cycle", "none", field="passage_id"
        )
    locked = await session.scalar(
        select(TontinePassage)
        .where(TontinePassage.id == turn.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    if locked.discount is not None:
        raise wrong_state(
            "L'enchère de ce tour est déjà close", "This turn's auction is closed", "awarded", field="passage_id"
        )
    return locked


async def bid(session: AsyncSession, seen: Access, *, discount: int) -> TontineBid:
    """The caller's bid for the current turn (a new one, or their own raised)."""
    member = seen.require_active_member()
    tontine = seen.tontine
    _require_auction(tontine)
    turn = await _locked_turn(session, tontine)
    own = await session.scalar(
        select(TontinePassage).where(
            TontinePassage.tontine_id == tontine.id,
            TontinePassage.cycle == tontine.cycle,
            TontinePassage.member_id == member.id,
        )
    )
    if own is None or is_done(own):
        raise invalid(
            "member_id",
            "already_received",
            "Vous avez déjà reçu le pot de ce cycle (ou n'avez pas de tour) : vous ne pouvez pas enchérir.",
            "You already received this cycle's pot (or have no turn): you cannot bid.",
        )
    await require_good_standing(session, tontine.id, member.id)
    if discount <= 0:
        raise invalid(
            "discount", "amount_not_positive", "La remise doit être positive.", "The discount must be positive."
        )
    pot = (await ledger.balance(session, tontine.pot_account_id)).available
    if discount > pot:
        raise invalid(
            "discount",
            "bid_above_pot",
            f"L'enchère dépasse le pot ({pot}).",
            f"The bid is more than the pot ({pot}).",
        )
    found = await session.scalar(
        select(TontineBid)
        .where(TontineBid.passage_id == turn.id, TontineBid.member_id == member.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is not None:
        if discount <= found.discount:
            raise invalid(
                "discount",
                "bid_not_higher",
                f"Une enchère se relève, jamais ne se baisse : plus de {found.discount}.",
                f"A bid is raised, never lowered: more than {found.discount}.",
            )
        found.discount, found.updated_at = discount, utcnow()
        await session.flush()
        return found
    row = TontineBid(
        id=uuid.uuid4(),
        tontine_id=tontine.id,
        organization_id=tontine.organization_id,
        passage_id=turn.id,
        member_id=member.id,
        discount=discount,
        status=BidStatus.OPEN,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def list_bids(session: AsyncSession, seen: Access) -> list[TontineBid]:
    """The current cycle's bids, every member sees them (transparency)."""
    found = await session.scalars(
        select(TontineBid)
        .join(TontinePassage, TontinePassage.id == TontineBid.passage_id)
        .where(TontineBid.tontine_id == seen.tontine.id, TontinePassage.cycle == seen.tontine.cycle)
        .order_by(TontinePassage.position, TontineBid.discount.desc(), TontineBid.created_at)
    )
    return list(found)


async def close(session: AsyncSession, seen: Access) -> TontinePassage:
    """Award the current turn to the highest bid (managers): swap turns, move the discount out of the pot."""
    seen.require_manager()
    _require_auction(seen.tontine)
    return await award(session, seen.tontine, await _locked_turn(session, seen.tontine))


async def award(session: AsyncSession, tontine: Tontine, turn: TontinePassage) -> TontinePassage:
    """The award itself, for a manager's close and the deadline job alike; ``turn`` is the current one, locked.
    Every refusal (no bid, a bid above the pot) is raised before anything is written."""
    bids = list(
        await session.scalars(
            select(TontineBid)
            .where(TontineBid.passage_id == turn.id)
            .order_by(TontineBid.discount.desc(), TontineBid.created_at, TontineBid.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    winner = None
    for candidate in bids:
        member = await session.get(TontineMember, candidate.member_id)
        if member is not None and member.status == MemberStatus.ACTIVE:
            winner = candidate
            break
    if winner is None:
        raise wrong_state("Aucune enchère pour ce tour", "No bid for this turn", "no_bids", field="passage_id")
    pot = (await ledger.balance(session, tontine.pot_account_id)).available
    if winner.discount > pot:
        raise invalid(
            "discount", "bid_above_pot", f"L'enchère dépasse le pot ({pot}).", f"The bid is more than the pot ({pot})."
        )
    if turn.member_id != winner.member_id:
        theirs = await session.scalar(
            select(TontinePassage)
            .where(
                TontinePassage.tontine_id == tontine.id,
                TontinePassage.cycle == tontine.cycle,
                TontinePassage.member_id == winner.member_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert theirs is not None and not is_done(theirs)
        theirs.member_id, turn.member_id = turn.member_id, winner.member_id
    await _move_discount(session, tontine, turn, winner.discount, winner.member_id)
    turn.discount = winner.discount
    for row in bids:
        row.status = BidStatus.WON if row.id == winner.id else BidStatus.LOST
    await session.flush()
    return turn


async def _move_discount(
    session: AsyncSession, tontine: Tontine, turn: TontinePassage, discount: int, winner: uuid.UUID
) -> None:
    meta = {"passage_id": str(turn.id), "winner_id": str(winner)}
    if tontine.auction_discount == "interest":
        interest = await interest_account(session, tontine)
        specs = [
            ledger.TransferSpec(
                id=interest_transfer_id(turn.id),
                debit_account_id=tontine.pot_account_id,
                credit_account_id=interest.id,
                amount=discount,
                code="tontine.auction_interest",
                metadata=meta,
            )
        ]
    else:
        others = [m.id for m in await active_members(session, tontine.id) if m.id != winner]
        if not others:
            return
        specs = []
        for member_id, amount in split(discount, others).items():
            if amount <= 0:
                continue
            cash = await member_cash_account(session, tontine, member_id)
            specs.append(
                ledger.TransferSpec(
                    id=share_transfer_id(turn.id, member_id),
                    debit_account_id=tontine.pot_account_id,
                    credit_account_id=cash.id,
                    amount=amount,
                    code="tontine.auction_share",
                    metadata={**meta, "member_id": str(member_id)},
                )
            )
    if specs:
        await ledger.create_transfers(session, specs)


# --- the deadline -------------------------------------------------------------------------------------------------

DEADLINE_JOB = "tontine.auction_deadline"
log = structlog.get_logger(__name__)


async def set_deadline(session: AsyncSession, seen: Access, *, closes_at: datetime) -> TontinePassage:
    """A manager gives the current turn's auction a deadline: the job closes it then, as a manager's close would.
    A new deadline replaces the previous one (whose job then finds its time changed and does nothing)."""
    seen.require_manager()
    tontine = seen.tontine
    _require_auction(tontine)
    if closes_at.tzinfo is None:
        raise invalid(
            "closes_at",
            "timezone_required",
            "Donnez l'heure avec son fuseau (par exemple 2026-12-14T18:00:00Z).",
            "Give the time with its time zone (for example 2026-12-14T18:00:00Z).",
        )
    if closes_at <= utcnow():
        raise invalid(
            "closes_at",
            "deadline_in_past",
            "La clôture doit être dans le futur.",
            "The deadline must be in the future.",
        )
    closes_at = closes_at.astimezone(UTC)
    turn = await _locked_turn(session, tontine)
    turn.auction_closes_at = closes_at
    await enqueue(
        session,
        DEADLINE_JOB,
        {"passage_id": str(turn.id), "closes_at": closes_at.isoformat()},
        run_after=closes_at,
        dedupe_key=f"{DEADLINE_JOB}:{turn.id}:{closes_at.isoformat()}",
    )
    await session.flush()
    return turn


async def close_at_deadline(session: AsyncSession, passage_id: uuid.UUID, closes_at: datetime) -> TontinePassage | None:
    """The deadline job's work: award the turn if its auction is still open, still the current turn's, still due at
    this time. Run twice, or after a manager closed it, it changes nothing; with no valid bid it leaves the auction
    open (a manager may close it later) and writes nothing."""
    turn = await session.scalar(select(TontinePassage).where(TontinePassage.id == passage_id))
    if turn is None or turn.discount is not None or turn.auction_closes_at is None:
        return None
    if turn.auction_closes_at != closes_at:
        return None  # moved since this job was queued: the newer deadline's job closes it
    tontine = await session.get(Tontine, turn.tontine_id)
    if tontine is None or not tontine.auction_enabled:
        return None
    current = await current_turn(session, tontine)
    if current is None or current.id != turn.id:
        return None
    try:
        return await award(session, tontine, await _locked_turn(session, tontine))
    except AppError as refused:  # no bid, or none the pot covers: nothing was written
        log.info("tontine_auction_not_awarded", passage_id=str(passage_id), code=refused.code)
        return None


@job(DEADLINE_JOB)
async def auction_deadline(ctx: JobContext, payload: dict[str, object]) -> None:
    await close_at_deadline(
        ctx.session, uuid.UUID(str(payload["passage_id"])), datetime.fromisoformat(str(payload["closes_at"]))
    )
