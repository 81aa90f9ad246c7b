"""Swaps of turns agreed by both members: one proposes to exchange their turn with another member's; only that
other member can accept (the turns are exchanged then, both still unpaid) or refuse; the proposer may withdraw
(refuse) their own proposal. No manager can swap two members' turns on their behalf: a swap one side did not
accept is refused."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.tontines.errors import NotYourSwap, SwapNotFound, invalid, wrong_state
from cauri.tontines.models import MemberStatus, SwapStatus, TontinePassage, TontineSwap
from cauri.tontines.passages import is_done
from cauri.tontines.service import Access, get_member


async def _turn_of(session: AsyncSession, seen: Access, member_id: uuid.UUID, *, lock: bool) -> TontinePassage | None:
    query = select(TontinePassage).where(
        TontinePassage.tontine_id == seen.tontine.id,
        TontinePassage.cycle == seen.tontine.cycle,
        TontinePassage.member_id == member_id,
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


def _unpaid(passage: TontinePassage | None, field: str) -> TontinePassage:
    if passage is None or is_done(passage) or passage.discount is not None:  # paid, or won at an auction
        raise invalid(
            field,
            "turn_not_swappable",
            "Ce membre n'a pas de tour non versé à échanger dans ce cycle.",
            "This member has no unpaid turn to swap in this cycle.",
        )
    return passage


async def propose(session: AsyncSession, seen: Access, target_member_id: uuid.UUID) -> TontineSwap:
    me = seen.require_active_member()
    target = await get_member(session, seen.tontine, target_member_id)
    if target.id == me.id or target.status != MemberStatus.ACTIVE:
        raise invalid(
            "member_id", "invalid_swap_partner", "Choisissez un autre membre actif.", "Choose another active member."
        )
    mine = _unpaid(await _turn_of(session, seen, me.id, lock=False), "passage_id")
    theirs = _unpaid(await _turn_of(session, seen, target.id, lock=False), "member_id")
    swap = TontineSwap(
        id=uuid.uuid4(),
        tontine_id=seen.tontine.id,
        organization_id=seen.tontine.organization_id,
        cycle=seen.tontine.cycle,
        proposer_member_id=me.id,
        target_member_id=target.id,
        proposer_passage_id=mine.id,
        target_passage_id=theirs.id,
        status=SwapStatus.PROPOSED,
        created_at=utcnow(),
    )
    session.add(swap)
    await session.flush()
    return swap


async def _lock_swap(session: AsyncSession, seen: Access, swap_id: uuid.UUID) -> TontineSwap:
    found = await session.scalar(
        select(TontineSwap)
        .where(TontineSwap.id == swap_id, TontineSwap.tontine_id == seen.tontine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise SwapNotFound(field="swap_id")
    if found.status != SwapStatus.PROPOSED:
        raise wrong_state(
            "Cet échange n'est plus en attente", "This swap is no longer pending", found.status, field="swap_id"
        )
    return found


async def answer(session: AsyncSession, seen: Access, swap_id: uuid.UUID, *, accept: bool) -> TontineSwap:
    """The other member accepts (the turns are exchanged) or refuses; the proposer can only withdraw."""
    me = seen.require_active_member()
    swap = await _lock_swap(session, seen, swap_id)
    if me.id not in (swap.target_member_id, swap.proposer_member_id):
        raise NotYourSwap("Cet échange ne vous concerne pas.", "This swap is not yours to answer.", field="swap_id")
    if accept and me.id != swap.target_member_id:
        raise NotYourSwap(
            "Seul l'autre membre peut accepter cet échange.",
            "Only the other member can accept this swap.",
            field="swap_id",
        )
    swap.decided_at = utcnow()
    if not accept:
        swap.status = SwapStatus.REFUSED
        await session.flush()
        return swap
    locked = await session.scalars(
        select(TontinePassage)
        .where(TontinePassage.id.in_([swap.proposer_passage_id, swap.target_passage_id]))
        .order_by(TontinePassage.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    turns = {passage.id: passage for passage in locked}
    mine, theirs = turns.get(swap.proposer_passage_id), turns.get(swap.target_passage_id)
    stale = (
        mine is None
        or theirs is None
        or is_done(mine)
        or is_done(theirs)
        or mine.discount is not None
        or theirs.discount is not None
        or mine.member_id != swap.proposer_member_id
        or theirs.member_id != swap.target_member_id
        or mine.cycle != seen.tontine.cycle
    )
    if stale or mine is None or theirs is None:
        raise wrong_state(
            "Les tours ont changé depuis la proposition",
            "The turns changed since the proposal",
            "stale",
            field="swap_id",
        )
    mine.member_id, theirs.member_id = theirs.member_id, mine.member_id
    swap.status = SwapStatus.ACCEPTED
    await session.flush()
    return swap


async def list_swaps(session: AsyncSession, seen: Access) -> list[TontineSwap]:
    found = await session.scalars(
        select(TontineSwap)
        .where(TontineSwap.tontine_id == seen.tontine.id, TontineSwap.cycle == seen.tontine.cycle)
        .order_by(TontineSwap.created_at)
    )
    return list(found)
