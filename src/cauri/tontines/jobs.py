"""The tontines' settlement subscribers, imported by every process that runs jobs (``load_job_modules``): a
mobile-money contribution is marked paid, and a payout turn, a leaver's settlement, a social-fund grant or a loan
installment repaid by mobile money, only by the payment's settlement event."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.payments.public import SettlementEvent, on_settled
from cauri.tontines import auctions, contributions, grants, leavers, passages, reminders, savings


@on_settled(contributions.CONTRIBUTION_PURPOSE)
async def tontine_contribution_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await contributions.contribution_settled(session, event)


@on_settled(passages.PAYOUT_PURPOSE)
async def tontine_payout_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await passages.payout_settled(session, event)


@on_settled(leavers.SETTLEMENT_PURPOSE)
async def tontine_settlement_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await leavers.settlement_settled(session, event)


@on_settled(grants.GRANT_PURPOSE)
async def tontine_grant_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await grants.grant_settled(session, event)


@on_settled(savings.REPAYMENT_PURPOSE)
async def tontine_loan_repayment_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await savings.repayment_settled(session, event)


__all__ = [  # reminders: registers its target; auctions: the deadline job
    "auctions",
    "reminders",
    "tontine_contribution_settled",
    "tontine_grant_settled",
    "tontine_loan_repayment_settled",
    "tontine_payout_settled",
    "tontine_settlement_settled",
]
