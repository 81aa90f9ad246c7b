"""Routes of auctions (enchères), swaps of turns and protection against default (docs/tontines.md), under
``/api/v1/tontines/{id}…``; included in ``router.router``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from cauri.core.deps import SettingsDep
from cauri.core.routing import SessionDep, api_router
from cauri.tontines import auctions, leavers, protection, swaps
from cauri.tontines.deps import User, access_of
from cauri.tontines.models import TontineBid, TontineMember, TontinePassage, TontineSwap
from cauri.tontines.schemas import (
    AuctionDeadline,
    BidCreate,
    BidRead,
    DepositMove,
    GuarantorAsk,
    MemberRead,
    PassageRead,
    SwapCreate,
    SwapRead,
)
from cauri.tontines.service import Access
from cauri.tontines.views import member_read, passage_read

router = api_router(tags=["tontines"])


def bid_read(row: TontineBid) -> BidRead:
    return BidRead(
        id=row.id,
        passage_id=row.passage_id,
        member_id=row.member_id,
        discount=row.discount,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def swap_read(row: TontineSwap) -> SwapRead:
    return SwapRead(
        id=row.id,
        cycle=row.cycle,
        proposer_member_id=row.proposer_member_id,
        target_member_id=row.target_member_id,
        proposer_passage_id=row.proposer_passage_id,
        target_passage_id=row.target_passage_id,
        status=row.status,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


async def _passage(session: SessionDep, seen: Access, row: TontinePassage) -> PassageRead:
    member = await session.get(TontineMember, row.member_id)
    assert member is not None
    return passage_read(row, member)


@router.post(
    "/{tontine_id}/auctions/bids",
    status_code=status.HTTP_201_CREATED,
    summary="Bid for the current turn's pot: the discount one gives up to take it now (raise only)",
)
async def place_bid(tontine_id: uuid.UUID, body: BidCreate, session: SessionDep, principal: User) -> BidRead:
    seen = await access_of(session, principal, tontine_id)
    return bid_read(await auctions.bid(session, seen, discount=body.discount))


@router.get("/{tontine_id}/auctions/bids", summary="The cycle's bids (every member sees them)")
async def list_bids(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[BidRead]:
    seen = await access_of(session, principal, tontine_id)
    return [bid_read(row) for row in await auctions.list_bids(session, seen)]


@router.post(
    "/{tontine_id}/auctions/close",
    summary="Award the current turn to the highest bid; the discount is shared or kept as interest (managers)",
)
async def close_auction(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> PassageRead:
    seen = await access_of(session, principal, tontine_id)
    return await _passage(session, seen, await auctions.close(session, seen))


@router.put(
    "/{tontine_id}/auctions/deadline",
    summary="Give the current turn's auction a deadline: it is closed then, as a manager's close (managers)",
)
async def set_auction_deadline(
    tontine_id: uuid.UUID, body: AuctionDeadline, session: SessionDep, principal: User
) -> PassageRead:
    seen = await access_of(session, principal, tontine_id)
    return await _passage(session, seen, await auctions.set_deadline(session, seen, closes_at=body.closes_at))


@router.post(
    "/{tontine_id}/swaps", status_code=status.HTTP_201_CREATED, summary="Propose to swap one's turn with a member's"
)
async def propose_swap(tontine_id: uuid.UUID, body: SwapCreate, session: SessionDep, principal: User) -> SwapRead:
    seen = await access_of(session, principal, tontine_id)
    return swap_read(await swaps.propose(session, seen, body.member_id))


@router.get("/{tontine_id}/swaps", summary="The cycle's swaps of turns")
async def list_swaps(tontine_id: uuid.UUID, session: SessionDep, principal: User) -> list[SwapRead]:
    seen = await access_of(session, principal, tontine_id)
    return [swap_read(row) for row in await swaps.list_swaps(session, seen)]


@router.post("/{tontine_id}/swaps/{swap_id}/accept", summary="Accept a swap (only the member it was proposed to)")
async def accept_swap(tontine_id: uuid.UUID, swap_id: uuid.UUID, session: SessionDep, principal: User) -> SwapRead:
    seen = await access_of(session, principal, tontine_id)
    return swap_read(await swaps.answer(session, seen, swap_id, accept=True))


@router.post("/{tontine_id}/swaps/{swap_id}/refuse", summary="Refuse a swap (or withdraw one's own proposal)")
async def refuse_swap(tontine_id: uuid.UUID, swap_id: uuid.UUID, session: SessionDep, principal: User) -> SwapRead:
    seen = await access_of(session, principal, tontine_id)
    return swap_read(await swaps.answer(session, seen, swap_id, accept=False))


@router.post(
    "/{tontine_id}/passages/{passage_id}/guarantor", summary="Name one's guarantor for one's turn (the beneficiary)"
)
async def ask_guarantor(
    tontine_id: uuid.UUID, passage_id: uuid.UUID, body: GuarantorAsk, session: SessionDep, principal: User
) -> PassageRead:
    seen = await access_of(session, principal, tontine_id)
    return await _passage(session, seen, await protection.ask_guarantor(session, seen, passage_id, body.member_id))


@router.post("/{tontine_id}/passages/{passage_id}/guarantor/accept", summary="Stand guarantor (the member asked)")
async def accept_guarantee(
    tontine_id: uuid.UUID, passage_id: uuid.UUID, session: SessionDep, principal: User
) -> PassageRead:
    seen = await access_of(session, principal, tontine_id)
    return await _passage(session, seen, await protection.answer_guarantor(session, seen, passage_id, accept=True))


@router.post("/{tontine_id}/passages/{passage_id}/guarantor/refuse", summary="Decline to stand guarantor")
async def refuse_guarantee(
    tontine_id: uuid.UUID, passage_id: uuid.UUID, session: SessionDep, principal: User
) -> PassageRead:
    seen = await access_of(session, principal, tontine_id)
    return await _passage(session, seen, await protection.answer_guarantor(session, seen, passage_id, accept=False))


@router.post(
    "/{tontine_id}/members/{member_id}/deposit/cover",
    summary="Cover a member's late contributions from their withheld deposit (managers)",
)
async def cover_from_deposit(
    tontine_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: User
) -> DepositMove:
    seen = await access_of(session, principal, tontine_id)
    return DepositMove(member_id=member_id, amount=await protection.cover_from_deposit(session, seen, member_id))


@router.post(
    "/{tontine_id}/members/{member_id}/deposit/release",
    summary="Hand a member what is left of their deposit, once they owe nothing (président)",
)
async def release_deposit(
    tontine_id: uuid.UUID, member_id: uuid.UUID, session: SessionDep, principal: User
) -> DepositMove:
    seen = await access_of(session, principal, tontine_id)
    return DepositMove(member_id=member_id, amount=await protection.release_deposit(session, seen, member_id))


@router.post(
    "/{tontine_id}/members/{member_id}/settlement/payout",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Pay a leaver's settlement from the pot through mobile money (président; rule leaver_refund payout)",
)
async def pay_settlement(  # noqa: PLR0917 - FastAPI parameters
    tontine_id: uuid.UUID,
    member_id: uuid.UUID,
    session: SessionDep,
    principal: User,
    settings: SettingsDep,
    provider: Annotated[str | None, Query(max_length=40)] = None,
) -> MemberRead:
    seen = await access_of(session, principal, tontine_id)
    member = await leavers.pay_settlement(session, seen, member_id, provider=provider, settings=settings)
    return member_read(member)
