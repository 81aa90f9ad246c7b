"""Tables of tontines (docs/tontines.md): a tontine and its rules, its members and their roles, its sessions, what
each member owes at each session (``tontine_dues``, the row every money operation of a member locks), the
contributions (cash recorded by a treasurer, or mobile money through payments), the payout turns (passages) and
the corrections.

The money itself lives in the ledger: one pot account per tontine (``tontine_pot``, owner = the tontine id) and
one cash account per member (``tontine_member_cash``, owner = the member id) that a cash contribution debits.
These tables record *why* money moved; the ledger records that it did.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow


class TontineType(StrEnum):
    ROTATIVE = "rotative"
    CUMULATIVE = "cumulative"
    MIXTE = "mixte"


class Frequency(StrEnum):
    QUOTIDIEN = "quotidien"
    HEBDOMADAIRE = "hebdomadaire"
    BIMENSUEL = "bimensuel"  # twice a month (the 1st and the 15th when it starts on the 1st)
    MENSUEL = "mensuel"
    TRIMESTRIEL = "trimestriel"


class PenaltyKind(StrEnum):
    NONE = "none"
    FIXED = "fixed"
    PER_DAY = "per_day"


class TontineRole(StrEnum):
    MEMBRE = "membre"
    PRESIDENT = "president"
    TRESORIER = "tresorier"


MANAGER_ROLES = frozenset({TontineRole.PRESIDENT, TontineRole.TRESORIER})


class MemberStatus(StrEnum):
    PENDING = "pending"  # asked to join; the président approves
    ACTIVE = "active"
    LEFT = "left"


class SessionStatus(StrEnum):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


class Method(StrEnum):
    CASH = "cash"
    MOBILE_MONEY = "mobile_money"


class ContributionStatus(StrEnum):
    PENDING_VALIDATION = "pending_validation"  # cash recorded, awaiting another manager
    INITIATED = "initiated"  # mobile money asked of the member's phone
    VALIDATED = "validated"  # in the pot (cash validated, or mobile money settled)
    REJECTED = "rejected"  # cash refused by the checker
    FAILED = "failed"  # mobile money failed, expired or was cancelled
    REVERSED = "reversed"  # corrected by a reversing entry


IN_FLIGHT = frozenset({ContributionStatus.PENDING_VALIDATION, ContributionStatus.INITIATED})


class PassageStatus(StrEnum):
    SCHEDULED = "scheduled"
    STARTED = "started"
    PAYING = "paying"  # payout sent through payments
    PAID = "paid"
    CONFIRMED = "confirmed"  # the beneficiary confirmed receipt
    FAILED = "failed"


class Tontine(IdMixin, TimestampMixin, Base):
    __tablename__ = "tontines"

    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(1000))
    type: Mapped[str] = mapped_column(String(12))
    frequency: Mapped[str] = mapped_column(String(14))
    start_date: Mapped[date] = mapped_column(Date)
    contribution_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    max_members: Mapped[int] = mapped_column(Integer)
    penalty_kind: Mapped[str] = mapped_column(String(8), default=PenaltyKind.NONE)
    penalty_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # fixed, or per day late
    penalty_cap: Mapped[int | None] = mapped_column(BigInteger)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_advance: Mapped[bool] = mapped_column(Boolean, default=False)
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    join_code_expires_at: Mapped[datetime | None]
    pot_account_id: Mapped[uuid.UUID]
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    timezone: Mapped[str] = mapped_column(String(40), default="Africa/Dakar")
    created_by: Mapped[uuid.UUID | None]
    # The passage order of the current cycle: how it was made, and the seed of a random draw (anyone re-checks it).
    order_method: Mapped[str | None] = mapped_column(String(14))
    draw_seed: Mapped[str | None] = mapped_column(String(64))
    # Auctions (enchères): the current turn goes to the highest discount; the discount is shared among the others
    # (``share``) or kept in the tontine's interest account (``interest``).
    auction_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    auction_discount: Mapped[str] = mapped_column(String(8), default="share")
    # Protection against default after taking the pot: ``deposit`` withholds ``deposit_percent`` of the pot in the
    # beneficiary's deposit account until the cycle ends; ``guarantor`` needs another member's acceptance first.
    protection: Mapped[str] = mapped_column(String(10), default="none")
    deposit_percent: Mapped[int] = mapped_column(Integer, default=0)
    # Cumulative (ASCA/VSLA) money: the price of a share, the social fund's part per meeting, the loans' interest
    # (per installment, in basis points; flat on the principal or declining on what remains).
    share_price: Mapped[int] = mapped_column(BigInteger, default=0)
    social_fund_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    loan_interest_kind: Mapped[str] = mapped_column(String(10), default="flat")
    loan_interest_bp: Mapped[int] = mapped_column(Integer, default=0)
    # A member who leaves mid-cycle with a positive settlement: ``none`` (settled by hand) or ``payout`` (the
    # président pays it from the pot through payments).
    leaver_refund: Mapped[str] = mapped_column(String(8), default="none")


class TontineMember(IdMixin, TimestampMixin, Base):
    __tablename__ = "tontine_members"
    __table_args__ = (UniqueConstraint("tontine_id", "user_id"),)

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(10), default=TontineRole.MEMBRE)
    status: Mapped[str] = mapped_column(String(8), default=MemberStatus.ACTIVE)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]
    # At leaving: what they paid into the pot this cycle minus what they received from it (positive: owed to them).
    settlement_amount: Mapped[int | None] = mapped_column(BigInteger)
    settlement_status: Mapped[str | None] = mapped_column(String(8))  # paying | paid | failed (rule payout)
    settlement_payment_id: Mapped[uuid.UUID | None]


class TontineSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "tontine_sessions"
    __table_args__ = (UniqueConstraint("tontine_id", "number"),)

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … across cycles
    cycle: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default=SessionStatus.PLANNED)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[uuid.UUID | None]


class TontineDue(IdMixin, Base):
    """What one member owes at one session, and what they paid: the row locked by every money step of theirs."""

    __tablename__ = "tontine_dues"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_sessions.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"), index=True)
    tontine_id: Mapped[uuid.UUID] = mapped_column(index=True)
    expected: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # validated into the pot
    in_flight: Mapped[int] = mapped_column(BigInteger, default=0)  # recorded cash awaiting its checker, mobile money
    paid_at: Mapped[datetime | None]  # when received reached expected
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_waived_by: Mapped[uuid.UUID | None]
    penalty_waiver_reason: Mapped[str | None] = mapped_column(String(500))


class TontineContribution(IdMixin, TimestampMixin, Base):
    __tablename__ = "tontine_contributions"
    __table_args__ = (
        Index("ix_tontine_contributions_tontine_id_created_at", "tontine_id", "created_at"),
        # One mobile-money request in flight per member and session: two phones asking at once make one.
        Index(
            "uq_tontine_contributions_one_in_flight",
            "due_id",
            "purpose",
            unique=True,
            postgresql_where=text("status IN ('initiated', 'pending_validation')"),
            sqlite_where=text("status IN ('initiated', 'pending_validation')"),
        ),
    )

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"))
    organization_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID] = mapped_column(index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(index=True)
    due_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_dues.id"))
    purpose: Mapped[str] = mapped_column(String(12), default="contribution")  # contribution | penalty
    method: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[uuid.UUID | None]
    checked_by: Mapped[uuid.UUID | None]
    checked_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    received_on: Mapped[date | None] = mapped_column(Date)  # cash: the day the treasurer was handed it
    proof_key: Mapped[str | None] = mapped_column(String(512))
    proof_content_type: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    transfer_id: Mapped[uuid.UUID | None]


class TontinePassage(IdMixin, TimestampMixin, Base):
    __tablename__ = "tontine_passages"
    __table_args__ = (UniqueConstraint("tontine_id", "cycle", "position"),)

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    cycle: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"))
    scheduled_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=PassageStatus.SCHEDULED)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    paid_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    discount: Mapped[int | None] = mapped_column(BigInteger)  # the winning bid of an auctioned turn
    deposit_withheld: Mapped[int | None] = mapped_column(BigInteger)  # protection ``deposit``
    guarantor_member_id: Mapped[uuid.UUID | None]  # protection ``guarantor``: asked by the beneficiary
    guarantor_accepted_at: Mapped[datetime | None]
    auction_closes_at: Mapped[datetime | None]  # the auction's deadline: the job closes it then


class TontineCorrection(IdMixin, Base):
    """A reversing entry: a validated contribution taken back out of the pot, with who and why (never an edit)."""

    __tablename__ = "tontine_corrections"

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    contribution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_contributions.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    made_by: Mapped[uuid.UUID | None]
    transfer_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BidStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class TontineBid(IdMixin, Base):
    """A member's bid for the current turn's pot: the discount they give up to take it now (raised, never lowered)."""

    __tablename__ = "tontine_bids"
    __table_args__ = (UniqueConstraint("passage_id", "member_id"),)

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    passage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_passages.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"))
    discount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(6), default=BidStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SwapStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class TontineSwap(IdMixin, Base):
    """Two members exchange their turns: proposed by one, done only when the other accepts."""

    __tablename__ = "tontine_swaps"

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    cycle: Mapped[int] = mapped_column(Integer)
    proposer_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"))
    target_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"))
    proposer_passage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_passages.id"))
    target_passage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_passages.id"))
    status: Mapped[str] = mapped_column(String(8), default=SwapStatus.PROPOSED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class TontineSharePurchase(IdMixin, Base):
    """Shares bought by one member at one meeting (1 to 5), and their social-fund part."""

    __tablename__ = "tontine_share_purchases"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    cycle: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_sessions.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"), index=True)
    shares: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    social_amount: Mapped[int] = mapped_column(BigInteger)
    recorded_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoanStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"  # approved by the committee and handed over
    REJECTED = "rejected"
    REPAID = "repaid"


class TontineLoan(IdMixin, Base):
    __tablename__ = "tontine_loans"

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    cycle: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"), index=True)
    principal: Mapped[int] = mapped_column(BigInteger)
    installments: Mapped[int] = mapped_column(Integer)
    interest_kind: Mapped[str] = mapped_column(String(10))
    interest_bp: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=LoanStatus.REQUESTED)
    requested_by: Mapped[uuid.UUID | None]
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TontineLoanInstallment(IdMixin, Base):
    __tablename__ = "tontine_loan_installments"
    __table_args__ = (UniqueConstraint("loan_id", "number"),)

    loan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_loans.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    principal: Mapped[int] = mapped_column(BigInteger)
    interest: Mapped[int] = mapped_column(BigInteger)
    # The late penalty, fixed when the installment is repaid (or its mobile-money repayment asked): the tontine's
    # penalty rule applied to the installment's due date.
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    method: Mapped[str | None] = mapped_column(String(12))  # cash | mobile_money, once repaid or being repaid
    payment_id: Mapped[uuid.UUID | None]  # the mobile-money repayment in flight (or settled)
    paid_at: Mapped[datetime | None]


class GrantStatus(StrEnum):
    PROPOSED = "proposed"  # by a manager; another manager decides
    REJECTED = "rejected"
    PAYING = "paying"  # approved, mobile-money payout sent through payments
    PAID = "paid"  # in cash at approval, or the payout settled
    FAILED = "failed"  # the payout failed: the money went back to the fund


class TontineGrant(IdMixin, Base):
    """A grant from the social fund to a member (illness, funeral, …): proposed by one manager, approved by another,
    paid in cash or by mobile money."""

    __tablename__ = "tontine_grants"

    tontine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontines.id"), index=True)
    organization_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tontine_members.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    method: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(8), default=GrantStatus.PROPOSED)
    proposed_by: Mapped[uuid.UUID]
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    payment_id: Mapped[uuid.UUID | None]
    paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
