"""Kobiri's ``/api/v1/payments`` (seed 003): cash recorded with its proof (multipart), mobile money initiated
through the payments API, validation by another manager. Providers' callbacks are not taken here: they go to
Cauri's ``/api/v1/webhooks/{provider}``, verified there (docs/compatibility.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, status

from cauri.core.deps import SettingsDep, StorageDep
from cauri.core.pagination import PageParams
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.surfaces.kobiri.tontines import seen
from cauri.surfaces.registry import operator_id
from cauri.tontines import contributions, service, sessions
from cauri.tontines.forms import CASH_FORM, CASH_RESPONSES, record_cash_from_form
from cauri.tontines.schemas import ContributionRead, MobileContribution, Validation
from cauri.tontines.views import contribution_read

router = api_router(prefix="/api/v1/payments")


async def _by_session(
    request: Request, session: SessionDep, principal: CurrentPrincipal, session_id: uuid.UUID
) -> service.Access:
    tontine_id = await sessions.tontine_of_session(session, operator_id(request), session_id)
    return await seen(request, session, principal, tontine_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Enregistrer paiement manuel (multipart: session_id, member_id, amount, currency, proof)",
    openapi_extra=CASH_FORM,
    responses=CASH_RESPONSES,
)
async def record_cash(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    session_id: Annotated[uuid.UUID, Query(description="The session paid for")],
) -> ContributionRead:
    found = await _by_session(request, session, principal, session_id)
    return contribution_read(await record_cash_from_form(request, session, found, storage))


@router.post("/initiate", status_code=status.HTTP_202_ACCEPTED, summary="Initier paiement mobile")
async def initiate(
    body: MobileContribution, request: Request, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> ContributionRead:
    found = await _by_session(request, session, principal, body.session_id)
    row = await contributions.initiate_mobile(
        session,
        found,
        session_id=body.session_id,
        member_id=body.member_id,
        amount=body.amount,
        currency=body.currency,
        phone=body.phone,
        provider=body.provider,
        purpose=body.purpose,
        settings=settings,
    )
    return contribution_read(row)


@router.get("", summary="Liste paiements d'une tontine, skip/limit")
async def list_payments(
    *,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    tontine_id: uuid.UUID,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ContributionRead]:
    found = await seen(request, session, principal, tontine_id)
    rows, _ = await contributions.list_contributions(session, found, PageParams(limit=skip + limit))
    return [contribution_read(row) for row in rows[skip:]]


@router.get("/{payment_id}", summary="Détails paiement")
async def get_payment(
    payment_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> ContributionRead:
    tontine_id = await contributions.tontine_of_contribution(session, operator_id(request), payment_id)
    found = await seen(request, session, principal, tontine_id)
    return contribution_read(await contributions.get_contribution(session, found, payment_id))


@router.post("/{payment_id}/validate", summary="Valider/rejeter")
async def validate(
    payment_id: uuid.UUID, body: Validation, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> ContributionRead:
    tontine_id = await contributions.tontine_of_contribution(session, operator_id(request), payment_id)
    found = await seen(request, session, principal, tontine_id)
    row = await contributions.validate_cash(session, found, payment_id, approve=body.approve, reason=body.reason)
    return contribution_read(row)
