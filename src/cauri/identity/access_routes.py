"""``/api-keys`` and ``/audit-events``: always those of the organisation the caller acts for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status

from cauri.core.errors import field_error
from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import api_keys
from cauri.identity.audit import list_audit_events as audit_events_page
from cauri.identity.deps import client_ip, settings_of
from cauri.identity.permissions import Perm, require, require_org
from cauri.identity.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, AuditEventRead

api_keys_router = api_router(prefix="/api-keys", tags=["api-keys"])
audit_router = api_router(prefix="/audit-events", tags=["audit"])

ApiKeysManager = Annotated[Principal, Depends(require(Perm.API_KEYS_MANAGE))]


@api_keys_router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key (the key is shown once)")
async def create_api_key(
    body: ApiKeyCreate, principal: ApiKeysManager, request: Request, session: SessionDep
) -> ApiKeyCreated:
    return await api_keys.create_api_key(
        session,
        settings_of(request),
        organization_id=require_org(principal),
        data=body,
        actor=principal,
        ip=client_ip(request),
    )


@api_keys_router.get("", summary="API keys of the organisation (never the secret)")
async def list_api_keys(
    principal: ApiKeysManager, session: SessionDep, params: PageParams = Depends(page_params)
) -> Page[ApiKeyRead]:
    rows, cursor = await api_keys.list_api_keys(session, require_org(principal), params)
    return Page[ApiKeyRead](items=[ApiKeyRead.model_validate(r) for r in rows], next_cursor=cursor)


@api_keys_router.delete("/{api_key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key")
async def revoke_api_key(
    api_key_id: uuid.UUID, principal: ApiKeysManager, request: Request, session: SessionDep
) -> Response:
    await api_keys.revoke_api_key(
        session, organization_id=require_org(principal), api_key_id=api_key_id, actor=principal, ip=client_ip(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _as_utc(value: datetime | None, field: str) -> datetime | None:
    """Dates without a time zone are read as UTC; the database compares aware datetimes only."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise field_error(field, "datetime_parsing", "Date hors limites.", "Date out of range.") from None


@audit_router.get("", summary="The audit trail of the organisation, newest first")
async def list_audit_events(
    *,
    principal: Annotated[Principal, Depends(require(Perm.AUDIT_READ))],
    session: SessionDep,
    params: PageParams = Depends(page_params),
    action: Annotated[str | None, Query(max_length=80, description="Exact action, e.g. member.role_changed")] = None,
    since: Annotated[datetime | None, Query(description="From this instant (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Until this instant (exclusive)")] = None,
) -> Page[AuditEventRead]:
    # Platform admins acting for no organisation read the platform's own events (logins, sign-ups…).
    organization_id = (
        None if principal.is_platform_admin and principal.organization_id is None else require_org(principal)
    )
    rows, cursor = await audit_events_page(
        session,
        params,
        organization_id=organization_id,
        action=action,
        since=_as_utc(since, "since"),
        until=_as_utc(until, "until"),
    )
    return Page[AuditEventRead](items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=cursor)
