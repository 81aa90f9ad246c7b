"""What Cauri could not settle by itself and lists for a person (no HTTP here; the caller's transaction).

A success the provider reports after our expiry is applied automatically when its money can still be booked
(:func:`settlement.apply_outcome`); when it cannot (the payout's released funds were spent since, the account no
longer takes the credit), the payment stays as it is and one line is listed here, until a person resolves it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import NotFound
from cauri.core.principal import Principal
from cauri.identity.audit import record_audit
from cauri.payments.models import Payment, PaymentAttention

LATE_SUCCESS_NOT_APPLIED = "late_success_not_applied"


class AttentionNotFound(NotFound):
    code = "attention_not_found"
    message_fr = "Élément à traiter introuvable."
    message_en = "Item needing attention not found."


class AttentionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    payment_id: uuid.UUID
    kind: str
    reason: str
    provider_status: str | None
    amount: int
    currency: str
    detail: dict[str, Any] | None
    created_at: datetime
    resolved_at: datetime | None


async def record_attention(
    session: AsyncSession,
    payment: Payment,
    *,
    kind: str,
    reason: str,
    provider_status: str | None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """List ``payment`` for a person (once per kind: a repeated callback adds nothing); True when newly listed.
    The caller holds the payment's row lock, so two deliveries cannot both insert."""
    known = await session.execute(
        select(PaymentAttention.id).where(PaymentAttention.payment_id == payment.id, PaymentAttention.kind == kind)
    )
    if known.scalar_one_or_none() is not None:
        return False
    session.add(
        PaymentAttention(
            organization_id=payment.organization_id,
            payment_id=payment.id,
            kind=kind,
            reason=reason[:60],
            provider_status=provider_status[:64] if provider_status else None,
            amount=payment.amount,
            currency=payment.currency,
            detail=detail,
            created_at=utcnow(),
        )
    )
    return True


async def list_attention(
    session: AsyncSession, *, organization_id: uuid.UUID, include_resolved: bool = False
) -> list[AttentionView]:
    statement = select(PaymentAttention).where(PaymentAttention.organization_id == organization_id)
    if not include_resolved:
        statement = statement.where(PaymentAttention.resolved_at.is_(None))
    rows = await session.execute(statement.order_by(PaymentAttention.created_at, PaymentAttention.id))
    return [AttentionView.model_validate(row) for row in rows.scalars()]


async def resolve_attention(
    session: AsyncSession, *, organization_id: uuid.UUID, attention_id: uuid.UUID, actor: Principal
) -> AttentionView:
    """A person dealt with it (outside Cauri, or by a ledger correction): it leaves the list, kept for audit."""
    item = (
        await session.execute(
            select(PaymentAttention)
            .where(PaymentAttention.id == attention_id, PaymentAttention.organization_id == organization_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if item is None:
        raise AttentionNotFound()
    if item.resolved_at is None:
        item.resolved_at = utcnow()
        item.resolved_by_user_id = actor.user_id
        await record_audit(
            session,
            action="payments.attention.resolve",
            organization_id=organization_id,
            actor=actor,
            target_type="payment",
            target_id=str(item.payment_id),
            changes={"attention_id": str(item.id), "kind": item.kind},
        )
    return AttentionView.model_validate(item)
