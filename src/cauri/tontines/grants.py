"""Grants from the social fund of a cumulative tontine (illness, funeral, a birth…).

A manager proposes a grant to an active member (amount, reason, paid in cash or by mobile money); ANOTHER manager,
who is not the beneficiary either, approves it (maker ≠ checker) or rejects it with a reason. Approval pays it:

* ``cash``: the ledger transfer ``tontine_social_fund → tontine_member_cash(member)``, code ``tontine.grant``
  (handed over at the meeting), at once: ``paid``;
* ``mobile_money``: ``payments.payout`` from the social fund's account (purpose ``tontine.grant``: the amount is
  reserved at once, ``social_fund → provider_clearing``, posted on success); the settlement event marks it ``paid``
  or ``failed`` (the reservation is released: the money is back in the fund; a new grant may be proposed).

The social fund never goes below zero: approvals of one tontine are serialised by a lock on the tontine's row and
each checks what the fund has *available* (posted minus reserved by payouts in flight) under that lock; the
ledger's own rule on the account (debits never above credits) is the last guard. Every member sees the grants
(``GET …/grants``) and the fund's lines (``GET …/movements?fund=social_fund``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PhoneCounterparty, SettlementEvent
from cauri.tontines.contributions import member_cash_account
from cauri.tontines.errors import GrantMakerChecker, GrantNotFound, invalid, wrong_state
from cauri.tontines.models import GrantStatus, MemberStatus, Method, Tontine, TontineGrant
from cauri.tontines.savings import SOCIAL_FUND_CODE, available_in, require_cumulative, social_fund
from cauri.tontines.service import Access, get_member

GRANT_PURPOSE = "tontine.grant"


def _above_fund(available: int) -> Exception:
    return invalid(
        "amount",
        "grant_above_fund",
        f"La caisse sociale ne contient que {available}.",
        f"The social fund holds only {available}.",
    )


async def propose(
    session: AsyncSession, seen: Access, *, member_id: uuid.UUID, amount: int, reason: str, method: str
) -> TontineGrant:
    maker = seen.require_manager()
    tontine = seen.tontine
    require_cumulative(tontine)
    member = await get_member(session, tontine, member_id)
    if member.status != MemberStatus.ACTIVE:
        raise invalid("member_id", "member_not_active", "Ce membre n'est pas actif.", "This member is not active.")
    if method == Method.MOBILE_MONEY and not member.phone:
        raise invalid(
            "method", "no_phone", "Ce membre n'a pas de numéro de mobile money.", "This member has no mobile number."
        )
    if amount <= 0:
        raise invalid("amount", "amount_not_positive", "Le montant doit être positif.", "The amount must be positive.")
    if not reason.strip():
        raise invalid("reason", "reason_required", "Dites pourquoi cette aide.", "Say what this grant is for.")
    available = await available_in(session, tontine, SOCIAL_FUND_CODE)
    if amount > available:
        raise _above_fund(available)
    grant = TontineGrant(
        id=uuid.uuid4(),
        tontine_id=tontine.id,
        organization_id=tontine.organization_id,
        member_id=member.id,
        amount=amount,
        reason=reason.strip(),
        method=method,
        status=GrantStatus.PROPOSED,
        proposed_by=maker.user_id,
        created_at=utcnow(),
    )
    session.add(grant)
    await session.flush()
    return grant


async def _lock_grant(session: AsyncSession, tontine: Tontine, grant_id: uuid.UUID) -> TontineGrant:
    found = await session.scalar(
        select(TontineGrant)
        .where(TontineGrant.id == grant_id, TontineGrant.tontine_id == tontine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise GrantNotFound(field="grant_id")
    return found


async def decide(
    session: AsyncSession,
    seen: Access,
    grant_id: uuid.UUID,
    *,
    approve: bool,
    reason: str | None,
    provider: str | None,
    settings: Settings | None,
) -> TontineGrant:
    """The checker: a manager who neither proposed the grant nor receives it."""
    checker = seen.require_manager()
    # Lock the tontine first: two approvals of two grants would otherwise both see the same available fund.
    tontine = await session.scalar(
        select(Tontine).where(Tontine.id == seen.tontine.id).with_for_update().execution_options(populate_existing=True)
    )
    assert tontine is not None
    grant = await _lock_grant(session, tontine, grant_id)
    if grant.status != GrantStatus.PROPOSED:
        raise wrong_state(
            "Cette aide n'attend pas de décision", "This grant awaits no decision", grant.status, field="grant_id"
        )
    member = await get_member(session, tontine, grant.member_id)
    if checker.user_id in (grant.proposed_by, member.user_id):
        raise GrantMakerChecker()
    if not approve:
        if not reason or not reason.strip():
            raise invalid("reason", "reason_required", "Dites pourquoi vous refusez.", "Say why you refuse it.")
        grant.status, grant.rejection_reason = GrantStatus.REJECTED, reason.strip()
        grant.decided_by, grant.decided_at = checker.user_id, utcnow()
        await session.flush()
        return grant
    if member.status != MemberStatus.ACTIVE:
        raise invalid("member_id", "member_not_active", "Ce membre n'est pas actif.", "This member is not active.")
    fund = await social_fund(session, tontine)
    available = (await ledger.balance(session, fund.id)).available
    if grant.amount > available:
        raise _above_fund(available)
    grant.decided_by, grant.decided_at = checker.user_id, utcnow()
    if grant.method == Method.CASH:
        cash = await member_cash_account(session, tontine, member.id)
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=uuid.uuid5(grant.id, "cauri.tontines.grant"),
                    debit_account_id=fund.id,
                    credit_account_id=cash.id,
                    amount=grant.amount,
                    code="tontine.grant",
                    metadata={"member_id": str(member.id), "grant_id": str(grant.id)},
                )
            ],
        )
        grant.status, grant.paid_at = GrantStatus.PAID, utcnow()
        await session.flush()
        return grant
    if not member.phone:
        raise invalid(
            "member_id", "no_phone", "Ce membre n'a pas de numéro de mobile money.", "This member has no mobile number."
        )
    view = await payments.payout(
        session,
        organization_id=tontine.organization_id,
        amount=grant.amount,
        currency=tontine.currency,
        counterparty=PhoneCounterparty(member.phone, name=member.display_name),
        purpose=GRANT_PURPOSE,
        owner_id=str(grant.id),
        idempotency_key=f"tontine-grant-{grant.id}",
        account_id=fund.id,
        provider=provider,
        description=f"{tontine.name} caisse sociale"[:140],
        settings=settings,
    )
    grant.status, grant.payment_id = GrantStatus.PAYING, view.id
    await session.flush()
    return grant


async def grant_settled(session: AsyncSession, event: SettlementEvent) -> None:
    """The grant's payout settled: paid, or failed (the payments module released the reserved amount). A second
    delivery finds the grant final and changes nothing."""
    if event.refund_id is not None or event.owner_id is None:
        return
    grant = await session.scalar(
        select(TontineGrant)
        .where(TontineGrant.id == uuid.UUID(event.owner_id), TontineGrant.organization_id == event.organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if grant is None or grant.payment_id != event.payment_id or grant.status != GrantStatus.PAYING:
        return
    if event.status == "succeeded":
        grant.status, grant.paid_at = GrantStatus.PAID, utcnow()
    elif event.status in ("failed", "expired", "cancelled"):
        grant.status = GrantStatus.FAILED
    await session.flush()


async def list_grants(session: AsyncSession, seen: Access) -> list[TontineGrant]:
    """Every grant of the tontine, newest first: every member sees them."""
    found = await session.scalars(
        select(TontineGrant)
        .where(TontineGrant.tontine_id == seen.tontine.id)
        .order_by(TontineGrant.created_at.desc(), TontineGrant.id)
    )
    return list(found)
