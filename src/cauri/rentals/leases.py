"""Long-term leases: monthly rent calls, reminders, late fees, partial payments carried forward, receipts.

A landlord signs a lease of one of their ``long_term`` listings with a tenant of the marketplace: monthly rent,
due day (1–28), start (and optional end), late-fee rule (a fixed amount plus a share of the month's rent, once per
month, ``grace_days`` after the due date). The scheduler (``rentals.rent_schedule``, hourly) does, for every
active lease, idempotently:

1. **rent calls**: one per month from the lease's start (unique per lease and month), created on the month's first
   day. What the previous call left to pay (or overpaid) is **carried forward** into the new one, and the previous
   call is closed as ``carried``; so the latest call of a lease always holds everything owed;
2. **reminders** three days before the due date (``notifications``, kind ``rental.rent_call``), once per call;
3. **late fees** once the grace period is over and something is still owed; the tenant is told.

The tenant pays with ``payments.collect`` (purpose ``rental.lease_rent``) into the lease's escrow
(``rental_lease_escrow``/lease), any amount: a partial payment is recorded as such and the rest carried forward.
On settlement (``@on_settled``, once per event) the payment is applied to the lease's latest call and leaves
escrow at once as linked transfers ``escrow → landlord`` (minus the commission) + ``escrow → platform_fees``.
A fully paid call gives a receipt (quittance de loyer, PDF, :mod:`cauri.rentals.receipts`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import Conflict, NotFound, field_error
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.identity.models import Membership, User
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PaymentView, PhoneCounterparty, SettlementEvent
from cauri.rentals import notices, receipts
from cauri.rentals.access import TENANT, is_admin, person_of, require_landlord
from cauri.rentals.errors import NotAllowed, PropertyNotBookable
from cauri.rentals.models import Lease, LeaseStatus, Property, RentalType, RentCall, RentCallStatus
from cauri.rentals.money import commission_of, fees_account, landlord_account, transfer_id
from cauri.rentals.properties import managed_property

LEASE_RENT: Final = "rental.lease_rent"
LEASE_ESCROW: Final = "rental_lease_escrow"
REMIND_BEFORE: Final = timedelta(days=3)


class LeaseNotFound(NotFound):
    code = "rental_lease_not_found"
    message_fr = "Bail introuvable."
    message_en = "Lease not found."


class RentCallNotFound(NotFound):
    code = "rental_rent_call_not_found"
    message_fr = "Appel de loyer introuvable."
    message_en = "Rent call not found."


class RentNotPaid(Conflict):
    code = "rental_rent_not_paid"
    message_fr = "La quittance n'est délivrée qu'une fois le loyer du mois entièrement payé."
    message_en = "A receipt is issued only once the month's rent is fully paid."


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def last_of_month(day: date) -> date:
    return next_month(day) - timedelta(days=1)


async def _is_tenant_member(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    role = await session.scalar(
        select(Membership.role).where(Membership.organization_id == organization_id, Membership.user_id == user_id)
    )
    return role == TENANT


async def create_lease(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    property_id: uuid.UUID,
    tenant_id: uuid.UUID,
    monthly_rent: int,
    due_day: int,
    start_date: date,
    end_date: date | None,
    late_fee_fixed: int,
    late_fee_bps: int,
    grace_days: int,
) -> Lease:
    """The landlord of a long-term listing leases it to a tenant of the marketplace."""
    require_landlord(principal)
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    if prop.rental_type != RentalType.LONG_TERM:
        raise PropertyNotBookable()
    if end_date is not None and end_date <= start_date:
        raise field_error(
            "end_date", "dates_reversed", "Le bail doit finir après son début.", "The lease must end after it starts."
        )
    if tenant_id == prop.owner_id or not await _is_tenant_member(session, organization_id, tenant_id):
        raise field_error(
            "tenant_id",
            "not_a_tenant",
            "Ce locataire n'est pas inscrit sur la place de marché.",
            "This tenant is not registered on the marketplace.",
        )
    lease = Lease(
        organization_id=organization_id,
        property_id=prop.id,
        landlord_id=prop.owner_id,
        tenant_id=tenant_id,
        currency=prop.currency,
        monthly_rent=monthly_rent,
        due_day=due_day,
        start_date=start_date,
        end_date=end_date,
        late_fee_fixed=late_fee_fixed,
        late_fee_bps=late_fee_bps,
        grace_days=grace_days,
        commission_bps=prop.commission_bps,
        status=LeaseStatus.ACTIVE.value,
        payment_details={},
    )
    session.add(lease)
    await session.flush()
    return lease


def _may_see(principal: Principal, lease: Lease) -> bool:
    return is_admin(principal) or principal.person_id in (lease.tenant_id, lease.landlord_id)


async def get_lease(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    lease_id: uuid.UUID,
    principal: Principal,
    for_update: bool = False,
) -> Lease:
    statement = select(Lease).where(Lease.organization_id == organization_id, Lease.id == lease_id)
    if for_update:
        statement = statement.with_for_update()
    lease = await session.scalar(statement)
    if lease is None or not _may_see(principal, lease):
        raise LeaseNotFound()
    return lease


async def my_leases(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[Lease], str | None]:
    me = person_of(principal)
    statement = select(Lease).where(
        Lease.organization_id == organization_id, (Lease.tenant_id == me) | (Lease.landlord_id == me)
    )
    rows, cursor = await paginate(session, statement, params, created_at=Lease.created_at, row_id=Lease.id)
    return list(rows), cursor


async def end_lease(
    session: AsyncSession, *, organization_id: uuid.UUID, lease_id: uuid.UUID, principal: Principal, end_date: date
) -> Lease:
    lease = await get_lease(
        session, organization_id=organization_id, lease_id=lease_id, principal=principal, for_update=True
    )
    if principal.person_id != lease.landlord_id and not is_admin(principal):
        raise NotAllowed("Seul le bailleur met fin au bail.", "Only the landlord ends the lease.")
    if end_date < lease.start_date:
        raise field_error(
            "end_date", "dates_reversed", "Le bail doit finir après son début.", "The lease must end after it starts."
        )
    lease.end_date = end_date
    lease.status = LeaseStatus.ENDED.value
    return lease


async def rent_calls(session: AsyncSession, lease: Lease) -> list[RentCall]:
    rows = await session.scalars(select(RentCall).where(RentCall.lease_id == lease.id).order_by(RentCall.period.desc()))
    return list(rows)


async def latest_call(session: AsyncSession, lease_id: uuid.UUID, *, for_update: bool = False) -> RentCall | None:
    statement = select(RentCall).where(RentCall.lease_id == lease_id).order_by(RentCall.period.desc()).limit(1)
    if for_update:
        statement = statement.with_for_update()
    found: RentCall | None = await session.scalar(statement)
    return found


def _settle_status(call: RentCall, now: datetime) -> None:
    if call.status == RentCallStatus.CARRIED:
        return
    if call.balance <= 0:
        call.status = RentCallStatus.PAID.value
        call.paid_at = call.paid_at or now
    else:
        call.status = (RentCallStatus.PARTIAL if call.paid > 0 else RentCallStatus.OPEN).value


# The schedule


def _due_periods(lease: Lease, latest: RentCall | None, today: date) -> list[date]:
    """Months that should have a call by ``today`` and have none yet, oldest first."""
    period = next_month(latest.period) if latest is not None else first_of_month(lease.start_date)
    last = first_of_month(today)
    if lease.end_date is not None:
        last = min(last, first_of_month(lease.end_date))
    periods = []
    while period <= last:
        periods.append(period)
        period = next_month(period)
    return periods


async def _call_months(session: AsyncSession, lease: Lease, now: datetime) -> int:
    latest = await latest_call(session, lease.id, for_update=True)
    made = 0
    for period in _due_periods(lease, latest, now.date()):
        carried = 0
        if latest is not None and latest.status != RentCallStatus.CARRIED:
            carried = latest.balance
            if carried != 0:
                latest.status = RentCallStatus.CARRIED.value
        call = RentCall(
            organization_id=lease.organization_id,
            lease_id=lease.id,
            period=period,
            due_date=period.replace(day=lease.due_day),
            currency=lease.currency,
            rent=lease.monthly_rent,
            carried=carried,
            late_fee=0,
            paid=0,
            status=RentCallStatus.OPEN.value,
        )
        try:
            async with session.begin_nested():  # another scheduler made it first: nothing to do
                session.add(call)
        except IntegrityError:
            return made
        _settle_status(call, now)
        made += 1
        latest = call
    return made


def late_fee_of(lease: Lease, call: RentCall) -> int:
    return lease.late_fee_fixed + commission_of(call.rent, lease.late_fee_bps)


async def run_schedule(session: AsyncSession, *, now: datetime) -> None:
    """Calls, reminders and late fees for every active lease; safe to run any number of times."""
    today = now.date()
    active = list(await session.scalars(select(Lease).where(Lease.status == LeaseStatus.ACTIVE.value)))
    for each in active:
        await _call_months(session, each, now)
    owing = (RentCallStatus.OPEN.value, RentCallStatus.PARTIAL.value)
    calls = await session.scalars(
        select(RentCall).where(RentCall.status.in_(owing)).order_by(RentCall.due_date).with_for_update()
    )
    for call in list(calls):
        lease = await session.get(Lease, call.lease_id)
        if lease is None:
            continue
        if call.reminded_at is None and call.due_date - REMIND_BEFORE <= today:
            call.reminded_at = now
            await notices.rent_call(session, lease, call, reason="due")
        if call.late_fee_at is None and today > call.due_date + timedelta(days=lease.grace_days):
            call.late_fee_at = now
            call.late_fee = late_fee_of(lease, call)
            await notices.rent_call(session, lease, call, reason="late")


# Paying


async def lease_escrow(session: AsyncSession, lease: Lease) -> ledger.Account:
    return await ledger.get_or_create_account(
        session,
        organization_id=lease.organization_id,
        currency=lease.currency,
        code=LEASE_ESCROW,
        owner_ref=str(lease.id),
        debits_must_not_exceed_credits=True,
    )


async def pay_rent(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    lease_id: uuid.UUID,
    principal: Principal,
    phone: str,
    amount: int | None,
) -> PaymentView:
    """Ask the tenant's phone for what is owed (or less: a partial payment), into the lease's escrow. While the last
    request is still under way it is answered again instead of a new one."""
    lease = await get_lease(
        session, organization_id=organization_id, lease_id=lease_id, principal=principal, for_update=True
    )
    if principal.person_id != lease.tenant_id:
        raise NotAllowed("Seul le locataire paie son loyer.", "Only the tenant pays their rent.")
    call = await latest_call(session, lease.id)
    owed = call.balance if call is not None else 0
    if owed <= 0:
        raise field_error("amount", "nothing_due", "Aucun loyer n'est dû.", "No rent is due.")
    amount = owed if amount is None else amount
    if amount > owed:
        raise field_error(
            "amount",
            "above_due",
            f"Au plus {owed} {lease.currency} sont dus.",
            f"At most {owed} {lease.currency} is due.",
        )
    details = dict(lease.payment_details or {})
    previous = details.get("payment_id")
    if previous is not None:
        last = await payments.get(session, organization_id=organization_id, payment_id=uuid.UUID(previous))
        if last.status in ("created", "pending"):
            return last  # one under way: a second tap never asks the phone twice
    attempt = int(details.get("attempts", 0)) + 1
    escrow = await lease_escrow(session, lease)
    assert call is not None
    view = await payments.collect(
        session,
        organization_id=organization_id,
        amount=amount,
        currency=lease.currency,
        counterparty=PhoneCounterparty(phone=phone),
        purpose=LEASE_RENT,
        owner_id=str(lease.id),
        account_id=escrow.id,
        idempotency_key=f"{LEASE_RENT}:{lease.id}:{attempt}",
        description=f"LokaHome loyer {call.period.strftime('%m/%Y')}",
    )
    details["attempts"] = attempt
    details["payment_id"] = str(view.id)
    lease.payment_details = details
    return view


async def record_settlement(session: AsyncSession, event: SettlementEvent) -> None:
    """A rent payment settled: applied to the lease's latest call (once per event), then paid on to the landlord
    less the commission, linked, straight out of escrow."""
    if event.owner_id is None or event.kind != "collection" or event.refund_id is not None:
        return
    if event.status != "succeeded":
        return
    lease = await session.get(Lease, uuid.UUID(event.owner_id), with_for_update=True)
    if lease is None or lease.organization_id != event.organization_id:
        return
    details = dict(lease.payment_details or {})
    seen = set(details.get("settled_events", []))
    if str(event.id) in seen:
        return
    details["settled_events"] = sorted(seen | {str(event.id)})
    lease.payment_details = details
    call = await latest_call(session, lease.id, for_update=True)
    if call is not None:
        call.paid += event.amount
        _settle_status(call, utcnow())
    await _release(session, lease, event)


async def _release(session: AsyncSession, lease: Lease, event: SettlementEvent) -> None:
    escrow = await lease_escrow(session, lease)
    fees = await fees_account(session, lease.organization_id, lease.currency)
    landlord = await landlord_account(session, lease.organization_id, lease.landlord_id, lease.currency)
    view = await payments.get(session, organization_id=lease.organization_id, payment_id=event.payment_id)
    specs = []
    if view.fee:  # the provider kept its fee: the marketplace bears it, so the landlord gets the whole rent
        specs.append(
            ledger.TransferSpec(
                id=transfer_id("lease-provider-fee", view.id),
                debit_account_id=fees.id,
                credit_account_id=escrow.id,
                amount=view.fee,
                code="rental_provider_fee",
                metadata={"lease_id": str(lease.id), "payment_id": str(view.id)},
            )
        )
    commission = commission_of(event.amount, lease.commission_bps)
    specs.append(
        ledger.TransferSpec(
            id=transfer_id("lease-rent", event.id, "landlord"),
            debit_account_id=escrow.id,
            credit_account_id=landlord.id,
            amount=event.amount - commission,
            code="rental_rent",
            linked=commission > 0,
            metadata={"lease_id": str(lease.id), "payment_id": str(event.payment_id)},
        )
    )
    if commission > 0:
        specs.append(
            ledger.TransferSpec(
                id=transfer_id("lease-rent", event.id, "fees"),
                debit_account_id=escrow.id,
                credit_account_id=fees.id,
                amount=commission,
                code="rental_commission",
                metadata={"lease_id": str(lease.id), "payment_id": str(event.payment_id)},
            )
        )
    await ledger.create_transfers(session, specs)


# Receipts


async def receipt_of(
    session: AsyncSession, *, organization_id: uuid.UUID, call_id: uuid.UUID, principal: Principal
) -> tuple[RentCall, bytes]:
    """The quittance of a fully paid month, as PDF (its tenant, landlord or the operator)."""
    call = await session.scalar(
        select(RentCall).where(RentCall.organization_id == organization_id, RentCall.id == call_id)
    )
    lease = await session.get(Lease, call.lease_id) if call is not None else None
    if call is None or lease is None or not _may_see(principal, lease):
        raise RentCallNotFound()
    if call.status != RentCallStatus.PAID:
        raise RentNotPaid()
    prop = await session.get(Property, lease.property_id)
    landlord = await session.get(User, lease.landlord_id)
    tenant = await session.get(User, lease.tenant_id)
    receipt = receipts.Receipt(
        number=f"{call.period.strftime('%Y%m')}-{str(call.id)[:8].upper()}",
        landlord=_name(landlord),
        tenant=_name(tenant),
        address=f"{prop.address}, {prop.city}" if prop is not None else "",
        period_start=call.period,
        period_end=last_of_month(call.period),
        rent=call.rent,
        late_fee=call.late_fee,
        carried=call.carried,
        paid=call.paid,
        currency=call.currency,
        paid_on=(call.paid_at or utcnow()).date(),
        issued_on=utcnow().date(),
    )
    return call, receipts.render_pdf(receipt)


def _name(user: User | None) -> str:
    if user is None:
        return ""
    return user.full_name or user.email or ""
