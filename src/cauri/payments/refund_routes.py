"""HTTP routes of what happens after a payment settled (included by :mod:`.router`): refunds
(``POST``/``GET /api/v1/collections/{id}/refunds``), payout reversals (``POST /api/v1/payouts/{id}/reversal``,
``GET …/reversals``) and the late outcomes listed for a person
(``GET /api/v1/payments/attention``, ``POST …/attention/{id}/resolve``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from cauri.core.config import Settings
from cauri.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from cauri.core.pagination import Page
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.permissions import Perm, require, require_org
from cauri.payments import attention, refunds
from cauri.payments.attention import AttentionView
from cauri.payments.refund_schemas import RefundCreate, RefundView, ReversalCreate
from cauri.payments.states import PaymentKind

router = api_router(tags=["collections"])

Creator = Annotated[Principal, Depends(require(Perm.PAYMENTS_CREATE))]
Reader = Annotated[Principal, Depends(require(Perm.PAYMENTS_READ))]


def _idempotency_key(request: Request) -> str:
    """The Idempotency-Key (answered again by the idempotency layer on a retry) also names the refund in the
    service, so a caller outside HTTP gets the same guarantee. Without one, each request is a new refund."""
    return (request.headers.get(IDEMPOTENCY_HEADER) or uuid.uuid4().hex)[:255]


@router.post(
    "/collections/{collection_id}/refunds",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Give back all (no amount) or part of a succeeded collection (sent to the provider after the commit)",
)
async def create_refund(  # noqa: PLR0917 - FastAPI injects each by name
    collection_id: uuid.UUID,
    body: RefundCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Creator,
) -> RefundView:
    settings: Settings = request.app.state.settings
    view = await refunds.refund(
        session,
        organization_id=require_org(principal),
        payment_id=collection_id,
        amount=body.amount,
        currency=body.currency,
        reason=body.reason,
        idempotency_key=_idempotency_key(request),
        actor=principal,
        settings=settings,
        ip=request.client.host if request.client else None,
    )
    response.headers["Location"] = f"/api/v1/collections/{collection_id}/refunds"
    return view


@router.get("/collections/{collection_id}/refunds", summary="The refunds of a collection, oldest first")
async def list_refunds(collection_id: uuid.UUID, session: SessionDep, principal: Reader) -> Page[RefundView]:
    items = await refunds.list_refunds(session, organization_id=require_org(principal), payment_id=collection_id)
    return Page[RefundView](items=items, next_cursor=None)


@router.post(
    "/payouts/{payout_id}/reversal",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["payouts"],
    summary="Ask the provider to undo a succeeded payout (where it can; sent after the commit)",
)
async def reverse_payout(  # noqa: PLR0917 - FastAPI injects each by name
    payout_id: uuid.UUID,
    body: ReversalCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Creator,
) -> RefundView:
    view = await refunds.reverse(
        session,
        organization_id=require_org(principal),
        payment_id=payout_id,
        reason=body.reason,
        idempotency_key=_idempotency_key(request),
        actor=principal,
        settings=request.app.state.settings,
        ip=request.client.host if request.client else None,
    )
    response.headers["Location"] = f"/api/v1/payouts/{payout_id}/reversals"
    return view


@router.get("/payouts/{payout_id}/reversals", tags=["payouts"], summary="The reversals of a payout")
async def list_reversals(payout_id: uuid.UUID, session: SessionDep, principal: Reader) -> Page[RefundView]:
    items = await refunds.list_refunds(
        session, organization_id=require_org(principal), payment_id=payout_id, kind=PaymentKind.PAYOUT
    )
    return Page[RefundView](items=items, next_cursor=None)


@router.get(
    "/payments/attention",
    tags=["payments"],
    summary="Late provider outcomes Cauri could not book by itself (a success after expiry whose money is gone)",
)
async def list_attention(
    session: SessionDep,
    principal: Reader,
    include_resolved: Annotated[bool, Query(description="Also the items already resolved")] = False,
) -> Page[AttentionView]:
    items = await attention.list_attention(
        session, organization_id=require_org(principal), include_resolved=include_resolved
    )
    return Page[AttentionView](items=items, next_cursor=None)


@router.post("/payments/attention/{attention_id}/resolve", tags=["payments"], summary="A person dealt with it")
async def resolve_attention(attention_id: uuid.UUID, session: SessionDep, principal: Creator) -> AttentionView:
    return await attention.resolve_attention(
        session, organization_id=require_org(principal), attention_id=attention_id, actor=principal
    )
