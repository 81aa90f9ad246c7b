"""Protection against default after taking the pot, by the tontine's rule (``protection``):

* ``guarantor``: the beneficiary names another active member in good standing as guarantor of their turn; the
  turn is paid only once that member accepted (``passages.payout``: ``guarantor_required``). The guarantor answers
  for the beneficiary's later dues (collected as contributions recorded on the defaulter's dues).
* ``deposit``: at payout, ``deposit_percent`` of the pot is withheld into the beneficiary's deposit account
  (``passages.withhold_deposit``). If they fall behind, a manager covers their late dues from it
  (``deposit → pot``, code ``tontine.deposit_cover``); once they owe nothing, the président releases what is left
  to them (``deposit → tontine_member_cash``, code ``tontine.deposit_release``: handed back in cash).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.ledger import service as ledger
from cauri.tontines.contributions import member_cash_account
from cauri.tontines.errors import NotAManager, invalid, wrong_state
from cauri.tontines.models import (
    MemberStatus,
    SessionStatus,
    TontineDue,
    TontineMember,
    TontinePassage,
    TontineSession,
)
from cauri.tontines.passages import _lock_passage, deposit_account, is_done
from cauri.tontines.service import Access, get_member
from cauri.tontines.standing import is_late, require_good_standing


def _require_rule(seen: Access, rule: str) -> None:
    if seen.tontine.protection != rule:
        raise wrong_state(
            f"La règle de protection de cette tontine n'est pas « {rule} »",
            f"This tontine's protection rule is not '{rule}'",
            seen.tontine.protection,
            field="protection",
        )


async def ask_guarantor(
    session: AsyncSession, seen: Access, passage_id: uuid.UUID, guarantor_id: uuid.UUID
) -> TontinePassage:
    """The beneficiary of a turn names their guarantor (a new name replaces a refused or unanswered one)."""
    _require_rule(seen, "guarantor")
    me = seen.require_active_member()
    passage = await _lock_passage(session, seen.tontine, passage_id)
    if passage.member_id != me.id:
        raise NotAManager("Seul le bénéficiaire du tour choisit son garant.", "Only the turn's beneficiary may ask.")
    if is_done(passage) or passage.guarantor_accepted_at is not None:
        raise wrong_state(
            "Ce tour est versé ou déjà garanti",
            "This turn is paid or already guaranteed",
            passage.status,
            field="passage_id",
        )
    guarantor = await get_member(session, seen.tontine, guarantor_id)
    if guarantor.id == me.id or guarantor.status != MemberStatus.ACTIVE:
        raise invalid(
            "member_id",
            "invalid_guarantor",
            "Le garant doit être un autre membre actif.",
            "The guarantor must be another active member.",
        )
    await require_good_standing(session, seen.tontine.id, guarantor.id)
    passage.guarantor_member_id, passage.guarantor_accepted_at = guarantor.id, None
    await session.flush()
    return passage


async def answer_guarantor(
    session: AsyncSession, seen: Access, passage_id: uuid.UUID, *, accept: bool
) -> TontinePassage:
    """The named guarantor accepts (the turn can then be paid) or refuses (the beneficiary asks someone else)."""
    _require_rule(seen, "guarantor")
    me = seen.require_active_member()
    passage = await _lock_passage(session, seen.tontine, passage_id)
    if passage.guarantor_member_id != me.id:
        raise NotAManager(
            "Seul le garant sollicité peut répondre.", "Only the member asked to stand guarantor may answer."
        )
    if passage.guarantor_accepted_at is not None or is_done(passage):
        raise wrong_state(
            "Cette garantie est déjà donnée", "This guarantee is already given", "accepted", field="passage_id"
        )
    if accept:
        await require_good_standing(session, seen.tontine.id, me.id)
        passage.guarantor_accepted_at = utcnow()
    else:
        passage.guarantor_member_id = None
    await session.flush()
    return passage


async def _late_dues(session: AsyncSession, tontine_id: uuid.UUID, member_id: uuid.UUID) -> list[TontineDue]:
    found = await session.scalars(
        select(TontineDue)
        .join(TontineSession, TontineSession.id == TontineDue.session_id)
        .where(
            TontineDue.tontine_id == tontine_id,
            TontineDue.member_id == member_id,
            TontineSession.status == SessionStatus.CLOSED,
            TontineDue.received < TontineDue.expected,
        )
        .order_by(TontineSession.number)
        .with_for_update(of=TontineDue)
        .execution_options(populate_existing=True)
    )
    return list(found)


async def cover_from_deposit(session: AsyncSession, seen: Access, member_id: uuid.UUID) -> int:
    """A manager covers a member's late contributions from their withheld deposit, oldest first, as far as it goes;
    answers how much was covered."""
    _require_rule(seen, "deposit")
    seen.require_manager()
    member = await get_member(session, seen.tontine, member_id)
    account = await deposit_account(session, seen.tontine, member.id)
    available = (await ledger.balance(session, account.id)).available
    covered = 0
    specs = []
    for due in await _late_dues(session, seen.tontine.id, member.id):
        amount = min(due.expected - due.received - due.in_flight, available)
        if amount <= 0:
            continue
        specs.append(
            ledger.TransferSpec(
                id=uuid.uuid5(due.id, f"cauri.tontines.deposit-cover.{due.received}"),
                debit_account_id=account.id,
                credit_account_id=seen.tontine.pot_account_id,
                amount=amount,
                code="tontine.deposit_cover",
                metadata={"member_id": str(member.id), "due_id": str(due.id)},
            )
        )
        due.received += amount
        if due.received >= due.expected and due.paid_at is None:
            due.paid_at = utcnow()
        available -= amount
        covered += amount
    if not specs:
        raise invalid(
            "member_id",
            "nothing_to_cover",
            "Rien à couvrir : aucun retard, ou caution épuisée.",
            "Nothing to cover: nothing late, or the deposit is used up.",
        )
    await ledger.create_transfers(session, specs)
    await session.flush()
    return covered


async def release_deposit(session: AsyncSession, seen: Access, member_id: uuid.UUID) -> int:
    """The président hands a member what is left of their deposit, once they owe nothing."""
    _require_rule(seen, "deposit")
    seen.require_president()
    member: TontineMember = await get_member(session, seen.tontine, member_id)
    if await is_late(session, seen.tontine.id, member.id):
        raise invalid(
            "member_id",
            "member_late",
            "Ce membre est en retard : couvrez d'abord ses dettes avec sa caution.",
            "This member is late: cover what they owe from their deposit first.",
        )
    account = await deposit_account(session, seen.tontine, member.id)
    left = (await ledger.balance(session, account.id)).available
    if left <= 0:
        raise invalid("member_id", "no_deposit", "Aucune caution à restituer.", "No deposit to release.")
    cash = await member_cash_account(session, seen.tontine, member.id)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=account.id,
                credit_account_id=cash.id,
                amount=left,
                code="tontine.deposit_release",
                metadata={"member_id": str(member.id)},
            )
        ],
    )
    return left
