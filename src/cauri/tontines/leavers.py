"""A leaver's settlement paid out (rule ``leaver_refund: payout``): what a member who left mid-cycle paid in more
than they received (``settlement_amount`` > 0, computed at leaving) is paid from the pot to their phone through
``payments.payout`` (purpose ``tontine.settlement``: pending ``pot → provider_clearing``, posted on success), by the
président; the settlement event marks it paid, or failed (then it may be paid again). Under rule ``none`` the
settlement is shown and settled by hand."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PhoneCounterparty, SettlementEvent
from cauri.tontines.errors import MemberNotFound, invalid, wrong_state
from cauri.tontines.models import MemberStatus, Tontine, TontineMember
from cauri.tontines.service import Access

SETTLEMENT_PURPOSE = "tontine.settlement"


async def pay_settlement(
    session: AsyncSession, seen: Access, member_id: uuid.UUID, *, provider: str | None, settings: Settings | None
) -> TontineMember:
    seen.require_president()
    tontine = await session.scalar(
        select(Tontine).where(Tontine.id == seen.tontine.id).with_for_update().execution_options(populate_existing=True)
    )
    assert tontine is not None
    if tontine.leaver_refund != "payout":
        raise wrong_state(
            "Cette tontine règle ses sortants à la main (règle leaver_refund)",
            "This tontine settles its leavers by hand (rule leaver_refund)",
            tontine.leaver_refund,
            field="leaver_refund",
        )
    member = await session.scalar(
        select(TontineMember)
        .where(TontineMember.id == member_id, TontineMember.tontine_id == tontine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if member is None:
        raise MemberNotFound(field="member_id")
    owed = member.settlement_amount or 0
    if member.status != MemberStatus.LEFT or owed <= 0:
        raise invalid(
            "member_id",
            "nothing_to_settle",
            "Ce membre n'est pas sorti avec un solde en sa faveur.",
            "This member did not leave with a balance in their favour.",
        )
    if member.settlement_status in ("paying", "paid"):
        raise wrong_state(
            "Ce solde est déjà versé ou en cours",
            "This balance is paid or being paid",
            member.settlement_status,
            field="member_id",
        )
    if not member.phone:
        raise invalid(
            "member_id", "no_phone", "Ce membre n'a pas de numéro de mobile money.", "This member has no mobile number."
        )
    pot = await ledger.balance(session, tontine.pot_account_id)
    if pot.available < owed:
        raise invalid(
            "member_id",
            "pot_too_low",
            f"Le pot ({pot.available}) ne couvre pas ce solde ({owed}).",
            f"The pot ({pot.available}) does not cover this balance ({owed}).",
        )
    view = await payments.payout(
        session,
        organization_id=tontine.organization_id,
        amount=owed,
        currency=tontine.currency,
        counterparty=PhoneCounterparty(member.phone, name=member.display_name),
        purpose=SETTLEMENT_PURPOSE,
        owner_id=str(member.id),
        idempotency_key=f"tontine-settlement-{member.id}-{uuid.uuid4().hex[:8]}",
        account_id=tontine.pot_account_id,
        provider=provider,
        description=f"{tontine.name} solde de sortie"[:140],
        settings=settings,
    )
    member.settlement_status, member.settlement_payment_id = "paying", view.id
    await session.flush()
    return member


async def settlement_settled(session: AsyncSession, event: SettlementEvent) -> None:
    """The leaver's payout settled: paid, or failed (the président may pay it again). Delivered twice: no change."""
    if event.refund_id is not None or event.owner_id is None:
        return
    member = await session.scalar(
        select(TontineMember)
        .where(TontineMember.id == uuid.UUID(event.owner_id), TontineMember.organization_id == event.organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if member is None or member.settlement_payment_id != event.payment_id or member.settlement_status != "paying":
        return
    if event.status == "succeeded":
        member.settlement_status = "paid"
    elif event.status in ("failed", "expired", "cancelled"):
        member.settlement_status = "failed"
    await session.flush()
