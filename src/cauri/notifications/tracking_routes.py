"""The organisation's view of its messages: ``GET /api/v1/notifications/messages`` (filters, keyset paging), each
with its state and every attempt, for those who read the organisation's audit; and what an SMS send will cost,
``POST /api/v1/notifications/estimate``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cauri.core.deps import settings_of
from cauri.core.errors import field_error
from cauri.core.i18n import Language, current_language
from cauri.core.money import Money, format_money
from cauri.core.pagination import PageParams, page_params
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.notifications.access import AUDIT_READ, require_permission
from cauri.notifications.estimate import Cost, estimate, text_of_kind
from cauri.notifications.tracking import messages_page

router = api_router(tags=["notifications"])

AuditReader = Annotated[Principal, Depends(require_permission(AUDIT_READ))]
State = Literal["queued", "sending", "sent", "delivered", "failed", "suppressed", "held"]
ChannelName = Literal["email", "sms", "push"]


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    provider: str
    outcome: str  # sent, refused, error, suppressed, delivered, failed
    detail: str | None
    at: datetime


class MessageRead(BaseModel):
    id: uuid.UUID
    kind: str | None
    channel: str
    recipient: str
    subject: str
    state: str
    failure_reason: str | None
    provider: str | None
    provider_message_id: str | None
    attempts: int
    digest_count: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    history: list[AttemptRead]


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None


@router.get("/notifications/messages", summary="The organisation's messages: state, reason and every attempt")
async def list_messages(
    *,
    principal: AuditReader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    state: Annotated[State | None, Query(description="queued, sending, sent, delivered, failed…")] = None,
    channel: Annotated[ChannelName | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=60)] = None,
) -> MessagePage:
    assert principal.organization_id is not None  # require_permission wants an organisation
    rows, attempts, next_cursor = await messages_page(
        session, organization_id=principal.organization_id, params=params, state=state, channel=channel, kind=kind
    )
    return MessagePage(
        items=[
            MessageRead(
                id=row.id,
                kind=row.kind,
                channel=row.channel,
                recipient=row.recipient,
                subject=row.subject,
                state=row.status,
                failure_reason=row.failure_reason,
                provider=row.provider,
                provider_message_id=row.provider_message_id,
                attempts=row.attempts,
                digest_count=row.digest_count,
                created_at=row.created_at,
                sent_at=row.sent_at,
                delivered_at=row.delivered_at,
                history=[
                    AttemptRead(
                        attempt=a.attempt, provider=a.provider, outcome=a.outcome, detail=a.detail, at=a.created_at
                    )
                    for a in attempts.get(row.id, [])
                ],
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


class EstimateRequest(BaseModel):
    text: str | None = Field(default=None, max_length=1600, description="The message; or a kind to render")
    kind: str | None = Field(default=None, max_length=60)
    context: dict[str, Any] | None = Field(default=None, description="The kind's context; else its sample")
    language: Language = "fr"
    recipients: list[str] = Field(min_length=1, max_length=100_000, description="Mobile numbers, +E.164")


class CountryCostRead(BaseModel):
    country: str
    recipients: int
    price_per_segment: int
    amount: int


class CostRead(BaseModel):
    text: str
    encoding: str  # GSM-7 or UCS-2
    characters: int  # septets (GSM-7) or UTF-16 units (UCS-2)
    segments: int  # SMS per recipient
    per_part: int
    non_gsm: list[str]  # the characters that force UCS-2
    sms: int  # segments × recipients
    total: int  # minor units of `currency`
    total_display: str
    by_country: list[CountryCostRead]


class EstimateRead(BaseModel):
    recipients: int
    currency: str
    cost: CostRead
    transliteration: CostRead | None  # the GSM-7 spelling, when the text is UCS-2
    saving: int  # what the transliteration saves, minor units


def _cost_read(cost: Cost, recipients: int, currency: str) -> CostRead:
    return CostRead(
        text=cost.text,
        encoding=cost.count.encoding.value,
        characters=cost.count.units,
        segments=cost.count.segments,
        per_part=cost.count.per_part,
        non_gsm=list(cost.count.non_gsm),
        sms=cost.count.segments * recipients,
        total=cost.total,
        total_display=format_money(Money(cost.total, currency), "en" if current_language.get() == "en" else "fr_SN"),
        by_country=[CountryCostRead(**asdict(row)) for row in cost.by_country],
    )


@router.post("/notifications/estimate", summary="What an SMS to these numbers costs: segments, GSM-7 or UCS-2, price")
async def estimate_sms(body: EstimateRequest, request: Request, principal: CurrentPrincipal) -> EstimateRead:
    if (body.text is None) == (body.kind is None):
        raise field_error(
            "text", "text_or_kind", "Donnez soit « text », soit « kind ».", "Give either 'text' or 'kind'."
        )
    text = body.text if body.text is not None else text_of_kind(str(body.kind), body.context, body.language)
    # Checking 100,000 numbers takes seconds of CPU: off the event loop, which other requests share.
    result = await asyncio.to_thread(estimate, settings_of(request), text, body.recipients)
    cost = _cost_read(result.cost, result.recipients, result.currency)
    gsm = result.transliteration
    return EstimateRead(
        recipients=result.recipients,
        currency=result.currency,
        cost=cost,
        transliteration=_cost_read(gsm, result.recipients, result.currency) if gsm else None,
        saving=result.cost.total - gsm.total if gsm else 0,
    )
