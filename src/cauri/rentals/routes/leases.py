"""Long-term leases: create and end (landlord), read (both sides), rent calls, pay the rent, receipts as PDF."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import leases
from cauri.rentals.models import Lease, RentCall
from cauri.rentals.routes.common import MemberMarketplace, Paging, payment_read
from cauri.rentals.schemas import LeaseCreate, LeaseEnd, LeasePage, LeaseRead, PaymentRead, RentCallRead, RentPayment

router: APIRouter = api_router()


def lease_read(lease: Lease) -> LeaseRead:
    return LeaseRead.model_validate(lease, from_attributes=True)


def call_read(call: RentCall) -> RentCallRead:
    return RentCallRead.model_validate(call, from_attributes=True)


@router.post("/leases", status_code=status.HTTP_201_CREATED, summary="Lease a long-term listing to a tenant (landlord)")
async def create_lease(
    body: LeaseCreate, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> LeaseRead:
    lease = await leases.create_lease(
        session,
        organization_id=organization_id,
        principal=principal,
        property_id=body.property_id,
        tenant_id=body.tenant_id,
        monthly_rent=body.monthly_rent,
        due_day=body.due_day,
        start_date=body.start_date,
        end_date=body.end_date,
        late_fee_fixed=body.late_fee_fixed,
        late_fee_bps=body.late_fee_bps,
        grace_days=body.grace_days,
    )
    return lease_read(lease)


@router.get("/leases", summary="My leases (as a tenant or a landlord)")
async def my_leases(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace, paging: Paging
) -> LeasePage:
    rows, cursor = await leases.my_leases(session, organization_id=organization_id, principal=principal, params=paging)
    return LeasePage(items=[lease_read(lease) for lease in rows], next_cursor=cursor)


@router.get("/leases/{lease_id}", summary="A lease (its tenant, its landlord or the operator)")
async def get_lease(
    lease_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> LeaseRead:
    lease = await leases.get_lease(session, organization_id=organization_id, lease_id=lease_id, principal=principal)
    return lease_read(lease)


@router.post("/leases/{lease_id}/end", summary="End a lease on a date (landlord): no rent call after that month")
async def end_lease(
    lease_id: uuid.UUID,
    body: LeaseEnd,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> LeaseRead:
    lease = await leases.end_lease(
        session, organization_id=organization_id, lease_id=lease_id, principal=principal, end_date=body.end_date
    )
    return lease_read(lease)


@router.get("/leases/{lease_id}/rent-calls", summary="A lease's monthly rent calls, the latest first")
async def rent_calls(
    lease_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[RentCallRead]:
    lease = await leases.get_lease(session, organization_id=organization_id, lease_id=lease_id, principal=principal)
    return [call_read(call) for call in await leases.rent_calls(session, lease)]


@router.post("/leases/{lease_id}/pay", summary="Pay the rent owed, or part of it, by mobile money (tenant)")
async def pay_rent(
    lease_id: uuid.UUID,
    body: RentPayment,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> PaymentRead:
    view = await leases.pay_rent(
        session,
        organization_id=organization_id,
        lease_id=lease_id,
        principal=principal,
        phone=body.phone,
        amount=body.amount,
    )
    return payment_read(view)


@router.get(
    "/rent-calls/{call_id}/receipt.pdf",
    summary="The rent receipt (quittance de loyer) of a fully paid month, as PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def receipt(
    call_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> Response:
    call, pdf = await leases.receipt_of(session, organization_id=organization_id, call_id=call_id, principal=principal)
    filename = f"quittance-{call.period.strftime('%Y-%m')}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )
