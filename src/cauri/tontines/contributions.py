"""Contributions (and penalty payments) into a tontine's pot.

* **Cash**: a manager records it with its proof (a photo or a receipt, stored through ``core.storage``); ANOTHER
  manager validates it (maker ≠ checker), which is the ledger transfer ``member cash → pot``; or rejects it.
* **Mobile money**: ``payments.collect`` into the pot with purpose ``tontine.contribution``; the payments module
  credits the pot (``provider_clearing → pot``) when the provider confirms, and the settlement event, delivered to
  :func:`contribution_settled`, marks the contribution paid. A client never says it paid.

Every step of a member's money at one session locks that member's due row (``tontine_dues``) first, and checks
what remains due under the lock: two phones paying at once, two treasurers validating the same record, or a
callback racing a manual record end with one contribution and one ledger transfer. A mobile-money request or a cash
record in flight counts as paid until it settles (a unique index keeps one in flight per due and purpose).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.pagination import PageParams, paginate
from cauri.core.storage import Storage, check_upload, new_key
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PhoneCounterparty, SettlementEvent
from cauri.tontines.errors import ContributionNotFound, OwnRecord, invalid, wrong_state
from cauri.tontines.models import (
    IN_FLIGHT,
    ContributionStatus,
    MemberStatus,
    Method,
    SessionStatus,
    Tontine,
    TontineContribution,
    TontineCorrection,
    TontineDue,
    TontineMember,
    TontineSession,
)
from cauri.tontines.service import MEMBER_CASH_CODE, Access, get_member
from cauri.tontines.sessions import get_session

CONTRIBUTION_PURPOSE = "tontine.contribution"
PROOF_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"})
PROOF_MAX_BYTES = 5_000_000
_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic"}


def cash_transfer_id(contribution_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(contribution_id, "cauri.tontines.cash")


def correction_transfer_id(contribution_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(contribution_id, "cauri.tontines.correction")


async def member_cash_account(session: AsyncSession, tontine: Tontine, member_id: uuid.UUID) -> ledger.Account:
    """The cash a member handed over, as the ledger sees it: debited by each validated cash payment."""
    return await ledger.get_or_create_account(
        session,
        organization_id=tontine.organization_id,
        currency=tontine.currency,
        code=MEMBER_CASH_CODE,
        owner_ref=str(member_id),
    )


async def lock_due(session: AsyncSession, session_id: uuid.UUID, member_id: uuid.UUID) -> TontineDue | None:
    return await session.scalar(
        select(TontineDue)
        .where(TontineDue.session_id == session_id, TontineDue.member_id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def owed(due: TontineDue, purpose: str) -> int:
    """What remains due, counting what is in flight as paid."""
    if purpose == "penalty":
        return 0 if due.penalty_waived_by is not None else due.penalty - due.penalty_paid
    return due.expected - due.received - due.in_flight


async def _checked_due(
    session: AsyncSession,
    tontine: Tontine,
    row: TontineSession,
    member: TontineMember,
    *,
    amount: int,
    currency: str,
    purpose: str,
) -> TontineDue:
    """The member's due at this session, locked, once the amount, currency and tontine's rules allow the payment."""
    if not tontine.active:
        raise wrong_state("Cette tontine est désactivée", "This tontine is deactivated", "inactive")
    if member.status != MemberStatus.ACTIVE:
        raise invalid("member_id", "member_not_active", "Ce membre n'est pas actif.", "This member is not active.")
    if currency != tontine.currency:
        raise invalid(
            "currency",
            "currency_mismatch",
            f"Cette tontine cotise en {tontine.currency}, pas en {currency}.",
            f"This tontine contributes in {tontine.currency}, not {currency}.",
        )
    if amount <= 0:
        raise invalid("amount", "amount_not_positive", "Le montant doit être positif.", "The amount must be positive.")
    if row.status == SessionStatus.PLANNED and not (tontine.allow_advance and purpose == "contribution"):
        raise invalid(
            "session_id",
            "advance_not_allowed",
            "Cette séance n'est pas ouverte et la tontine n'accepte pas les paiements d'avance.",
            "This session is not open and the tontine does not accept payments in advance.",
        )
    due = await lock_due(session, row.id, member.id)
    if due is None:
        raise invalid(
            "member_id", "nothing_due", "Ce membre ne doit rien à cette séance.", "This member owes nothing here."
        )
    pending = await session.scalar(
        select(TontineContribution.id).where(
            TontineContribution.due_id == due.id,
            TontineContribution.purpose == purpose,
            TontineContribution.status.in_(list(IN_FLIGHT)),
        )
    )
    if pending is not None:
        raise invalid(
            "member_id",
            "contribution_in_flight",
            "Un paiement de ce membre pour cette séance est déjà en cours : attendez son issue.",
            "A payment of this member for this session is already in progress: wait for its outcome.",
        )
    remaining = owed(due, purpose)
    if remaining <= 0:
        raise invalid("amount", "nothing_due", "Rien n'est dû pour cette séance.", "Nothing is due for this session.")
    if amount > remaining:
        raise invalid(
            "amount",
            "amount_above_due",
            f"Le montant dépasse ce qui est dû ({remaining}).",
            f"The amount is more than what is due ({remaining}).",
        )
    if amount < remaining and not tontine.allow_partial:
        raise invalid(
            "amount",
            "partial_not_allowed",
            f"Cette tontine n'accepte pas les paiements partiels : {remaining} attendus.",
            f"This tontine does not accept partial payments: {remaining} expected.",
        )
    return due


def _new_contribution(
    tontine: Tontine, due: TontineDue, member: TontineMember, *, method: str, amount: int, purpose: str, status: str
) -> TontineContribution:
    return TontineContribution(
        id=uuid.uuid4(),
        tontine_id=tontine.id,
        organization_id=tontine.organization_id,
        session_id=due.session_id,
        member_id=member.id,
        due_id=due.id,
        purpose=purpose,
        method=method,
        amount=amount,
        currency=tontine.currency,
        status=status,
    )


async def record_cash(
    session: AsyncSession,
    seen: Access,
    storage: Storage,
    *,
    session_id: uuid.UUID,
    member_id: uuid.UUID,
    amount: int,
    currency: str,
    purpose: str,
    proof: bytes | None,
    received_on: date | None = None,
) -> TontineContribution:
    """Cash handed to a manager, recorded with its proof; it reaches the pot when another manager validates it.
    ``received_on`` is the day the cash was handed over (default today; never in the future)."""
    recorder = seen.require_manager()
    if received_on is not None and received_on > utcnow().date():
        raise invalid(
            "received_on", "date_in_future", "La date de remise ne peut être future.", "The date cannot be future."
        )
    if not proof:
        raise invalid(
            "proof",
            "proof_required",
            "Joignez la preuve du paiement en espèces (photo ou reçu).",
            "Attach the proof of the cash payment (a photo or a receipt).",
        )
    media_type = check_upload(proof, allowed=PROOF_TYPES, max_bytes=PROOF_MAX_BYTES, field="proof")
    row = await get_session(session, seen.tontine, session_id)
    member = await get_member(session, seen.tontine, member_id)
    due = await _checked_due(session, seen.tontine, row, member, amount=amount, currency=currency, purpose=purpose)
    contribution = _new_contribution(
        seen.tontine,
        due,
        member,
        method=Method.CASH,
        amount=amount,
        purpose=purpose,
        status=ContributionStatus.PENDING_VALIDATION,
    )
    contribution.recorded_by, contribution.received_on = recorder.user_id, received_on
    suffix = _SUFFIX.get(media_type, ".pdf")
    stored = await storage.put(
        new_key("tontines/proofs", seen.tontine.organization_id, suffix), proof, content_type=media_type
    )
    contribution.proof_key, contribution.proof_content_type = stored.key, media_type
    if purpose == "contribution":
        due.in_flight += amount
    session.add(contribution)
    await session.flush()
    return contribution


async def _lock_contribution(
    session: AsyncSession, tontine: Tontine, contribution_id: uuid.UUID
) -> TontineContribution:
    found = await session.scalar(
        select(TontineContribution)
        .where(TontineContribution.id == contribution_id, TontineContribution.tontine_id == tontine.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise ContributionNotFound(field="contribution_id")
    return found


def _credit_due(due: TontineDue, contribution: TontineContribution, *, was_in_flight: bool) -> None:
    if contribution.purpose == "penalty":
        due.penalty_paid += contribution.amount
        return
    if was_in_flight:
        due.in_flight -= contribution.amount
    due.received += contribution.amount
    if due.received >= due.expected and due.paid_at is None:
        received = contribution.received_on
        # Cash counts from the day the treasurer was handed it (penalties are computed from it), not the day it
        # was typed in.
        due.paid_at = datetime.combine(received, time(12), UTC) if received is not None else utcnow()


async def validate_cash(
    session: AsyncSession, seen: Access, contribution_id: uuid.UUID, *, approve: bool, reason: str | None
) -> TontineContribution:
    """Another manager validates (ledger ``member cash → pot``) or rejects a recorded cash payment."""
    checker = seen.require_manager()
    contribution = await _lock_contribution(session, seen.tontine, contribution_id)
    if contribution.method != Method.CASH or contribution.status != ContributionStatus.PENDING_VALIDATION:
        raise wrong_state(
            "Ce paiement n'attend pas de validation",
            "This payment is not awaiting validation",
            contribution.status,
            field="contribution_id",
        )
    if contribution.recorded_by == checker.user_id:
        raise OwnRecord()
    due = await session.scalar(
        select(TontineDue)
        .where(TontineDue.id == contribution.due_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert due is not None
    contribution.checked_by, contribution.checked_at = checker.user_id, utcnow()
    if not approve:
        if not reason or not reason.strip():
            raise invalid("reason", "reason_required", "Dites pourquoi vous rejetez.", "Say why you reject it.")
        contribution.status, contribution.rejection_reason = ContributionStatus.REJECTED, reason.strip()
        if contribution.purpose == "contribution":
            due.in_flight -= contribution.amount
        await session.flush()
        return contribution
    cash = await member_cash_account(session, seen.tontine, contribution.member_id)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=cash_transfer_id(contribution.id),
                debit_account_id=cash.id,
                credit_account_id=seen.tontine.pot_account_id,
                amount=contribution.amount,
                code=f"tontine.{contribution.purpose}",
                metadata={"member_id": str(contribution.member_id), "contribution_id": str(contribution.id)},
            )
        ],
    )
    contribution.status, contribution.transfer_id = ContributionStatus.VALIDATED, cash_transfer_id(contribution.id)
    _credit_due(due, contribution, was_in_flight=True)
    await session.flush()
    return contribution


async def validate_session_cash(
    session: AsyncSession, seen: Access, session_id: uuid.UUID
) -> list[TontineContribution]:
    """Every cash record of a session awaiting its checker, except the caller's own (maker ≠ checker), validated at
    once: the ledger transfers ``member cash → pot`` posted in one batch (``ledger.create_transfers``), the same
    transfer ids as one by one, so a record validated alone before or after is never moved twice."""
    checker = seen.require_manager()
    row = await get_session(session, seen.tontine, session_id)
    pending = list(
        await session.scalars(
            select(TontineContribution)
            .where(
                TontineContribution.tontine_id == seen.tontine.id,
                TontineContribution.session_id == row.id,
                TontineContribution.method == Method.CASH,
                TontineContribution.status == ContributionStatus.PENDING_VALIDATION,
                TontineContribution.recorded_by != checker.user_id,
            )
            .order_by(TontineContribution.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if not pending:
        return []
    found = await session.scalars(
        select(TontineDue)
        .where(TontineDue.id.in_(sorted({c.due_id for c in pending})))
        .order_by(TontineDue.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    dues = {due.id: due for due in found}
    specs = []
    for contribution in pending:
        cash = await member_cash_account(session, seen.tontine, contribution.member_id)
        specs.append(
            ledger.TransferSpec(
                id=cash_transfer_id(contribution.id),
                debit_account_id=cash.id,
                credit_account_id=seen.tontine.pot_account_id,
                amount=contribution.amount,
                code=f"tontine.{contribution.purpose}",
                metadata={"member_id": str(contribution.member_id), "contribution_id": str(contribution.id)},
            )
        )
    await ledger.create_transfers(session, specs)
    now = utcnow()
    for contribution in pending:
        contribution.status, contribution.transfer_id = ContributionStatus.VALIDATED, cash_transfer_id(contribution.id)
        contribution.checked_by, contribution.checked_at = checker.user_id, now
        _credit_due(dues[contribution.due_id], contribution, was_in_flight=True)
    await session.flush()
    return pending


async def initiate_mobile(
    session: AsyncSession,
    seen: Access,
    *,
    session_id: uuid.UUID,
    member_id: uuid.UUID | None,
    amount: int,
    currency: str,
    phone: str | None,
    provider: str | None,
    purpose: str,
    settings: Settings | None,
) -> TontineContribution:
    """Ask the member's phone to pay into the pot; the pot is credited only by the payment's settlement."""
    if member_id is None:
        member = seen.require_active_member()
    else:
        member = await get_member(session, seen.tontine, member_id)
        if member.user_id != person_of(seen):
            seen.require_manager()
    row = await get_session(session, seen.tontine, session_id)
    number = phone or member.phone
    if not number:
        raise invalid("phone", "phone_required", "Indiquez le numéro de mobile money.", "Give the mobile-money number.")
    due = await _checked_due(session, seen.tontine, row, member, amount=amount, currency=currency, purpose=purpose)
    contribution = _new_contribution(
        seen.tontine,
        due,
        member,
        method=Method.MOBILE_MONEY,
        amount=amount,
        purpose=purpose,
        status=ContributionStatus.INITIATED,
    )
    contribution.recorded_by = seen.member.user_id if seen.member is not None else None
    session.add(contribution)
    await session.flush()
    view = await payments.collect(
        session,
        organization_id=seen.tontine.organization_id,
        amount=amount,
        currency=currency,
        counterparty=PhoneCounterparty(number, name=member.display_name),
        purpose=CONTRIBUTION_PURPOSE,
        owner_id=str(contribution.id),
        idempotency_key=f"tontine-contribution-{contribution.id}",
        account_id=seen.tontine.pot_account_id,
        provider=provider,
        description=f"{seen.tontine.name} #{row.number}"[:140],
        settings=settings,
    )
    contribution.payment_id, contribution.phone = view.id, view.phone
    if purpose == "contribution":
        due.in_flight += amount
    await session.flush()
    return contribution


def person_of(seen: Access) -> uuid.UUID | None:
    return seen.member.user_id if seen.member is not None else None


async def contribution_settled(session: AsyncSession, event: SettlementEvent) -> None:
    """The payment of a mobile-money contribution settled: mark it paid (the pot is already credited) or failed.
    A second delivery finds the contribution final and changes nothing."""
    if event.refund_id is not None or event.owner_id is None:
        return
    found = await session.scalar(
        select(TontineContribution)
        .where(
            TontineContribution.id == uuid.UUID(event.owner_id),
            TontineContribution.organization_id == event.organization_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None or found.payment_id != event.payment_id:
        return
    due = await session.scalar(
        select(TontineDue)
        .where(TontineDue.id == found.due_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert due is not None
    if event.status == "succeeded" and found.status in (ContributionStatus.INITIATED, ContributionStatus.FAILED):
        was_in_flight = found.status == ContributionStatus.INITIATED
        found.status, found.checked_at = ContributionStatus.VALIDATED, utcnow()
        _credit_due(due, found, was_in_flight=was_in_flight)
    elif event.status in ("failed", "expired", "cancelled") and found.status == ContributionStatus.INITIATED:
        found.status = ContributionStatus.FAILED
        if found.purpose == "contribution":
            due.in_flight -= found.amount
    await session.flush()


async def correct(session: AsyncSession, seen: Access, contribution_id: uuid.UUID, reason: str) -> TontineCorrection:
    """A reversing entry: the validated contribution leaves the pot back to the member's account, with who and why.
    Nothing is edited; the correction is a movement every member sees."""
    manager = seen.require_manager()
    contribution = await _lock_contribution(session, seen.tontine, contribution_id)
    if contribution.status != ContributionStatus.VALIDATED:
        raise wrong_state(
            "Seul un paiement validé peut être corrigé",
            "Only a validated payment can be corrected",
            contribution.status,
            field="contribution_id",
        )
    due = await session.scalar(
        select(TontineDue)
        .where(TontineDue.id == contribution.due_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert due is not None
    cash = await member_cash_account(session, seen.tontine, contribution.member_id)
    transfer = correction_transfer_id(contribution.id)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=transfer,
                debit_account_id=seen.tontine.pot_account_id,
                credit_account_id=cash.id,
                amount=contribution.amount,
                code="tontine.correction",
                metadata={"member_id": str(contribution.member_id), "contribution_id": str(contribution.id)},
            )
        ],
    )
    contribution.status = ContributionStatus.REVERSED
    if contribution.purpose == "penalty":
        due.penalty_paid -= contribution.amount
    else:
        due.received -= contribution.amount
        if due.received < due.expected:
            due.paid_at = None
    correction = TontineCorrection(
        id=uuid.uuid4(),
        tontine_id=seen.tontine.id,
        organization_id=seen.tontine.organization_id,
        contribution_id=contribution.id,
        amount=contribution.amount,
        reason=reason.strip(),
        made_by=manager.user_id,
        transfer_id=transfer,
        created_at=utcnow(),
    )
    session.add(correction)
    await session.flush()
    return correction


async def get_contribution(session: AsyncSession, seen: Access, contribution_id: uuid.UUID) -> TontineContribution:
    found = await session.scalar(
        select(TontineContribution).where(
            TontineContribution.id == contribution_id, TontineContribution.tontine_id == seen.tontine.id
        )
    )
    if found is None:
        raise ContributionNotFound(field="contribution_id")
    return found


async def list_contributions(
    session: AsyncSession,
    seen: Access,
    params: PageParams,
    *,
    session_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    status: str | None = None,
) -> tuple[list[TontineContribution], str | None]:
    query = select(TontineContribution).where(TontineContribution.tontine_id == seen.tontine.id)
    if session_id is not None:
        query = query.where(TontineContribution.session_id == session_id)
    if member_id is not None:
        query = query.where(TontineContribution.member_id == member_id)
    if status is not None:
        query = query.where(TontineContribution.status == status)
    rows, cursor = await paginate(
        session, query, params, created_at=TontineContribution.created_at, row_id=TontineContribution.id
    )
    return list(rows), cursor


async def tontine_of_contribution(
    session: AsyncSession, organization_id: uuid.UUID, contribution_id: uuid.UUID
) -> uuid.UUID:
    found = await session.scalar(
        select(TontineContribution.tontine_id).where(
            TontineContribution.id == contribution_id, TontineContribution.organization_id == organization_id
        )
    )
    if found is None:
        raise ContributionNotFound(field="contribution_id")
    return found
