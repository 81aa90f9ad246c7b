"""Request and response bodies of the tontines API. Amounts are integers of minor units with their currency."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cauri.tontines.models import Frequency, PenaltyKind, TontineRole, TontineType

_INPUT = ConfigDict(extra="forbid")


class TontineRules(BaseModel):
    model_config = _INPUT

    max_members: int = Field(default=30, ge=2, le=10_000)
    penalty_kind: PenaltyKind = PenaltyKind.NONE
    penalty_amount: int = Field(default=0, ge=0, le=10**12, description="Fixed, or per day late (minor units)")
    penalty_cap: int | None = Field(default=None, ge=0, le=10**12, description="At most this much per session")
    grace_days: int = Field(default=0, ge=0, le=60)
    approval_required: bool = False
    allow_partial: bool = False
    allow_advance: bool = False
    auction: bool = Field(default=False, description="Each turn goes to the highest discount bid (enchères)")
    auction_discount: Literal["share", "interest"] = Field(
        default="share", description="The winning discount: shared among the other members, or kept as interest"
    )
    protection: Literal["none", "deposit", "guarantor"] = Field(
        default="none", description="Against default after taking the pot: a withheld deposit, or a guarantor"
    )
    deposit_percent: int = Field(default=0, ge=0, le=100, description="Part of the pot withheld (protection deposit)")
    share_price: int = Field(default=0, ge=0, le=10**12, description="Cumulative: the price of one share")
    social_fund_amount: int = Field(default=0, ge=0, le=10**12, description="Cumulative: social fund per purchase")
    loan_interest_kind: Literal["flat", "declining"] = "flat"
    loan_interest_bp: int = Field(default=0, ge=0, le=10_000, description="Interest per installment, basis points")
    leaver_refund: Literal["none", "payout"] = Field(
        default="none", description="A leaver's positive settlement: settled by hand, or paid from the pot"
    )


class TontineCreate(BaseModel):
    model_config = _INPUT

    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    type: TontineType = TontineType.ROTATIVE
    frequency: Frequency
    start_date: date
    contribution_amount: int = Field(gt=0, le=10**12)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    timezone: str = Field(default="Africa/Dakar", max_length=40)
    rules: TontineRules = Field(default_factory=TontineRules)


class TontineUpdate(BaseModel):
    model_config = _INPUT

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    rules: TontineRules | None = None


class TontineRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    type: str
    frequency: str
    start_date: date
    contribution_amount: int
    currency: str
    rules: TontineRules
    join_code: str | None = Field(description="Shown to the tontine's managers only")
    join_link: str | None
    cycle: int
    active: bool
    pot_account_id: uuid.UUID
    pot_balance: int
    my_role: str | None
    members: int
    created_at: datetime


class JoinRequest(BaseModel):
    model_config = _INPUT

    code: str = Field(min_length=4, max_length=12)


class JoinPreview(BaseModel):
    """What the shareable link shows before one joins."""

    code: str
    name: str
    description: str | None
    type: str
    frequency: str
    contribution_amount: int
    currency: str
    members: int
    max_members: int
    approval_required: bool


class MemberAdd(BaseModel):
    model_config = _INPUT

    user_id: uuid.UUID
    role: TontineRole = TontineRole.MEMBRE


class MemberRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    role: str
    status: str
    joined_at: datetime
    left_at: datetime | None
    settlement_amount: int | None
    settlement_status: str | None = None


class Settlement(BaseModel):
    member_id: uuid.UUID
    paid: int = Field(description="Validated contributions of this cycle")
    received: int = Field(description="Payouts received this cycle")
    balance: int = Field(description="paid − received: positive is owed to the member, negative owed by them")


class Handover(BaseModel):
    model_config = _INPUT

    role: Literal["president", "tresorier"]
    member_id: uuid.UUID


class CalendarRead(BaseModel):
    frequency: str
    dates: list[date]


class SessionCreate(BaseModel):
    model_config = _INPUT

    count: int = Field(default=1, ge=1, le=366, description="How many next sessions to plan from the calendar")


class SessionRead(BaseModel):
    id: uuid.UUID
    tontine_id: uuid.UUID
    number: int
    cycle: int
    due_date: date
    status: str
    opened_at: datetime | None
    closed_at: datetime | None


class DueRead(BaseModel):
    member_id: uuid.UUID
    display_name: str
    expected: int
    received: int
    in_flight: int
    late: bool
    penalty: int
    penalty_paid: int
    penalty_waived: bool
    penalty_waiver_reason: str | None


class SessionDetail(SessionRead):
    dues: list[DueRead]


class SessionStats(BaseModel):
    session_id: uuid.UUID
    expected: int
    collected: int
    missing: int
    in_flight: int
    members: int
    paid_members: int
    late_members: int
    penalties: int
    penalties_waived: int
    rate: float = Field(description="collected / expected, 0 to 1")


class CashContribution(BaseModel):
    """Recorded with ``multipart/form-data`` (fields below plus ``proof``, the photo or receipt file)."""

    session_id: uuid.UUID
    member_id: uuid.UUID
    amount: int
    currency: str
    purpose: Literal["contribution", "penalty"] = "contribution"


class MobileContribution(BaseModel):
    model_config = _INPUT

    session_id: uuid.UUID
    member_id: uuid.UUID | None = Field(default=None, description="Default: the caller's own membership")
    amount: int = Field(gt=0, le=10**12)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    phone: str | None = Field(default=None, max_length=30, description="Default: the member's number")
    provider: str | None = Field(default=None, max_length=40)
    purpose: Literal["contribution", "penalty"] = "contribution"


class Validation(BaseModel):
    model_config = _INPUT

    approve: bool
    reason: str | None = Field(default=None, max_length=500)


class ContributionRead(BaseModel):
    id: uuid.UUID
    tontine_id: uuid.UUID
    session_id: uuid.UUID
    member_id: uuid.UUID
    purpose: str
    method: str
    amount: int
    currency: str
    status: str
    recorded_by: uuid.UUID | None
    checked_by: uuid.UUID | None
    checked_at: datetime | None
    rejection_reason: str | None
    has_proof: bool
    payment_id: uuid.UUID | None
    created_at: datetime


class Waiver(BaseModel):
    model_config = _INPUT

    member_id: uuid.UUID
    reason: str = Field(min_length=3, max_length=500)


class Correction(BaseModel):
    model_config = _INPUT

    reason: str = Field(min_length=3, max_length=500)


class PassageGenerate(BaseModel):
    model_config = _INPUT

    method: Literal["random", "alphabetical", "join_date", "manual"]
    order: list[uuid.UUID] | None = Field(default=None, description="manual: every active member id, in order")
    seed: str | None = Field(default=None, max_length=64, description="random: a seed of yours (default: drawn)")


class PassageRead(BaseModel):
    id: uuid.UUID
    tontine_id: uuid.UUID
    cycle: int
    position: int
    member_id: uuid.UUID
    display_name: str
    scheduled_date: date | None
    status: str
    amount: int | None
    payment_id: uuid.UUID | None
    paid_at: datetime | None
    confirmed_at: datetime | None
    discount: int | None = Field(default=None, description="The winning bid, when the turn was auctioned")
    deposit_withheld: int | None = Field(default=None, description="Withheld from the pot (protection deposit)")
    guarantor_member_id: uuid.UUID | None = None
    guarantor_accepted_at: datetime | None = None
    auction_closes_at: datetime | None = Field(default=None, description="The auction's deadline, if one was set")


class DrawRead(BaseModel):
    method: str | None
    seed: str | None
    algorithm: str
    members_sorted_by_id: list[uuid.UUID]
    order: list[uuid.UUID]


class MovementRead(BaseModel):
    transfer_id: uuid.UUID
    kind: str
    amount: int = Field(description="Signed: positive into the pot, negative out of it")
    balance_after: int
    member_id: uuid.UUID | None
    reference: str | None
    created_at: datetime


# --- auctions, swaps, protection ------------------------------------------------------------------------------


class BidCreate(BaseModel):
    model_config = _INPUT

    discount: int = Field(gt=0, le=10**12, description="What the bidder gives up to take the current pot now")


class BidRead(BaseModel):
    id: uuid.UUID
    passage_id: uuid.UUID
    member_id: uuid.UUID
    discount: int
    status: str
    created_at: datetime
    updated_at: datetime


class SwapCreate(BaseModel):
    model_config = _INPUT

    member_id: uuid.UUID = Field(description="The member whose turn the caller proposes to take (and give theirs)")


class SwapRead(BaseModel):
    id: uuid.UUID
    cycle: int
    proposer_member_id: uuid.UUID
    target_member_id: uuid.UUID
    proposer_passage_id: uuid.UUID
    target_passage_id: uuid.UUID
    status: str
    created_at: datetime
    decided_at: datetime | None


class GuarantorAsk(BaseModel):
    model_config = _INPUT

    member_id: uuid.UUID


class DepositMove(BaseModel):
    member_id: uuid.UUID
    amount: int = Field(description="Moved out of the member's deposit: into the pot (cover) or to them (release)")


# --- cumulative (ASCA/VSLA) ------------------------------------------------------------------------------------


class SharePurchaseCreate(BaseModel):
    model_config = _INPUT

    session_id: uuid.UUID
    member_id: uuid.UUID
    shares: int = Field(description="1 to 5 shares at this meeting")


class SharePurchaseRead(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    member_id: uuid.UUID
    cycle: int
    shares: int
    amount: int
    social_amount: int
    created_at: datetime


class LoanCreate(BaseModel):
    model_config = _INPUT

    amount: int = Field(le=10**12)
    installments: int = Field(ge=1, le=24)
    member_id: uuid.UUID | None = Field(default=None, description="A manager asking on a member's behalf")


class InstallmentRead(BaseModel):
    number: int
    due_date: date
    principal: int
    interest: int
    penalty: int = Field(description="Late penalty, fixed at repayment (or when its mobile-money repayment is asked)")
    method: str | None = Field(description="cash | mobile_money, once repaid or being repaid")
    payment_id: uuid.UUID | None
    paid_at: datetime | None


class LoanMobileRepayment(BaseModel):
    model_config = _INPUT

    phone: str | None = Field(default=None, max_length=20, description="Default: the borrower's number")
    provider: str | None = Field(default=None, max_length=40)


class LoanRead(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    cycle: int
    principal: int
    installments: int
    interest_kind: str
    interest_bp: int
    status: str
    requested_by: uuid.UUID | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    rejection_reason: str | None
    created_at: datetime
    total_interest: int
    schedule: list[InstallmentRead]


class LoanDecision(BaseModel):
    model_config = _INPUT

    approve: bool
    reason: str | None = Field(default=None, max_length=500)


class MemberShares(BaseModel):
    member_id: uuid.UUID
    shares: int
    amount: int = Field(description="Share-out: floor(fund × shares / total_shares)")


class ShareOutRead(BaseModel):
    fund: int
    total_shares: int
    formula: str
    lines: list[MemberShares]
    remainder: int = Field(description="Left in the loan fund by the rounding down")


class SavingsRead(BaseModel):
    currency: str
    share_price: int
    loan_fund: int = Field(description="Available to lend: shares bought plus interest earned minus loans out")
    loans_out: int
    social_fund: int = Field(description="Never shared out")
    share_out: ShareOutRead


class GrantCreate(BaseModel):
    model_config = _INPUT

    member_id: uuid.UUID
    amount: int = Field(le=10**12, description="In the tontine's currency, minor units")
    reason: str = Field(max_length=500, description="Shown to every member")
    method: Literal["cash", "mobile_money"] = "mobile_money"


class GrantDecision(BaseModel):
    model_config = _INPUT

    approve: bool
    reason: str | None = Field(default=None, max_length=500, description="Required to reject")
    provider: str | None = Field(default=None, max_length=40, description="Mobile money: the provider to pay with")


class GrantRead(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    amount: int
    currency: str
    reason: str
    method: str
    status: str = Field(description="proposed | rejected | paying | paid | failed")
    proposed_by: uuid.UUID
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    rejection_reason: str | None
    payment_id: uuid.UUID | None
    paid_at: datetime | None
    created_at: datetime


class MemberRejection(BaseModel):
    model_config = _INPUT

    reason: str = Field(max_length=500, description="Told to the applicant")


class AuctionDeadline(BaseModel):
    model_config = _INPUT

    closes_at: datetime = Field(description="With its time zone; in the future")
