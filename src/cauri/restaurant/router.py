"""``/restaurant``: connections (connect, callback, health, revoke), sync runs, provider webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response, status
from fastapi.responses import JSONResponse

from cauri.core.deps import SettingsDep, client_address
from cauri.core.jobs import enqueue
from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router, writes_on_read
from cauri.identity.audit import record_audit
from cauri.identity.permissions import Perm, require, require_org
from cauri.kit.errors import ConnectorError
from cauri.restaurant import (
    booking_routes,
    catalog,
    connections,
    customer_routes,
    errors,
    kitchen_routes,
    sync,
    webhooks,
)
from cauri.restaurant.jobs import SYNC_JOB
from cauri.restaurant.providers import provider as provider_named
from cauri.restaurant.schemas import (
    CatalogItemRead,
    ConnectionRead,
    ConnectStarted,
    SyncQueued,
    catalog_cursor,
    encode_catalog_cursor,
)

router = api_router(prefix="/restaurant", tags=["restaurant"])
public_router = api_router(prefix="/restaurant", tags=["restaurant"])

router.include_router(kitchen_routes.router)
router.include_router(booking_routes.router)
router.include_router(customer_routes.router)
public_router.include_router(booking_routes.public_router)

Manager = Annotated[Principal, Depends(require(Perm.CONNECTORS_MANAGE))]
# What a call to the provider can add: its failure (502), its slowness (504), its rate limit (429).
PROVIDER_ERRORS: dict[int | str, dict[str, object]] = {429: {}, 502: {}, 504: {}}
Reader = Annotated[Principal, Depends(require(Perm.ORG_READ))]


@router.get("/connections", summary="The restaurant's connections and their health (one page)")
async def list_connections(principal: Reader, session: SessionDep) -> Page[ConnectionRead]:
    # One row per provider at most: always one page.
    rows = await connections.list_connections(session, organization_id=require_org(principal))
    return Page[ConnectionRead](items=[ConnectionRead.of(row, await sync.checkpoints(session, row.id)) for row in rows])


@router.get("/connections/{provider}", summary="One connection's health and sync status")
async def get_connection(provider: str, principal: Reader, session: SessionDep) -> ConnectionRead:
    row = await connections.get_connection(session, organization_id=require_org(principal), provider=provider)
    return ConnectionRead.of(row, await sync.checkpoints(session, row.id))


@router.post("/connections/{provider}/connect", summary="Start connecting: the provider's authorisation URL")
async def connect(
    provider: str, principal: Manager, session: SessionDep, settings: SettingsDep, request: Request
) -> ConnectStarted:
    organization_id = require_org(principal)
    url = await connections.start_connect(
        session, settings=settings, organization_id=organization_id, provider=provider, user_id=principal.person_id
    )
    await record_audit(
        session,
        action="restaurant.connection.started",
        organization_id=organization_id,
        actor=principal,
        target_type="restaurant_connection",
        target_id=provider,
        ip=client_address(request),
    )
    return ConnectStarted(authorize_url=url)


@public_router.get(
    "/connections/{provider}/callback",
    summary="The provider sends the manager back here (state checked once)",
    responses=PROVIDER_ERRORS,
)
@writes_on_read  # the browser comes back with a GET; it stores the connection
async def callback(
    provider: str,
    request: Request,
    *,
    session: SessionDep,
    settings: SettingsDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> ConnectionRead:
    row = await connections.complete_connect(
        session,
        sessionmaker=request.app.state.sessionmaker,
        settings=settings,
        provider=provider,
        code=code,
        state=state,
        error=error,
    )
    await record_audit(
        session,
        action="restaurant.connection.connected",
        organization_id=row.organization_id,
        actor=None,
        target_type="restaurant_connection",
        target_id=provider,
        changes={"scopes": row.scopes, "merchant_id": row.merchant_id},
        ip=client_address(request),
    )
    return ConnectionRead.of(row)


@router.delete(
    "/connections/{provider}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke at the provider, forget tokens",
    responses=PROVIDER_ERRORS,
)
async def revoke(
    provider: str, principal: Manager, session: SessionDep, settings: SettingsDep, request: Request
) -> Response:
    organization_id = require_org(principal)
    row = await connections.get_connection(session, organization_id=organization_id, provider=provider)
    await connections.revoke(session, settings=settings, connection=row)
    await record_audit(
        session,
        action="restaurant.connection.revoked",
        organization_id=organization_id,
        actor=principal,
        target_type="restaurant_connection",
        target_id=provider,
        ip=client_address(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/connections/{provider}/sync/{kind}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run an incremental sync of one object kind (in the background)",
)
async def start_sync(provider: str, kind: str, principal: Manager, session: SessionDep) -> SyncQueued:
    if kind not in sync.KINDS:
        raise errors.unknown_sync_kind(kind, list(sync.KINDS))
    row = await connections.get_connection(session, organization_id=require_org(principal), provider=provider)
    job_id = await enqueue(session, SYNC_JOB, {"connection_id": str(row.id), "kind": kind})
    return SyncQueued(kind=kind, job_id=str(job_id))


@router.get(
    "/connections/{provider}/catalog",
    summary="The POS catalogue, cached 24 h (refresh=true forces a read)",
    responses={409: {}, **PROVIDER_ERRORS},
)
async def get_catalog(
    provider: str,
    *,
    principal: Reader,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    paging: Annotated[PageParams, Depends(page_params)],
    refresh: bool = False,
) -> Page[CatalogItemRead]:
    row = await connections.get_connection(session, organization_id=require_org(principal), provider=provider)
    token = await connections.access_token(request.app.state.sessionmaker, settings, row.id)
    connector = provider_named(provider).pos(settings, token, None, row.merchant_id)
    try:
        objects = await catalog.catalog(
            request.app.state.cache,
            connector,
            connection_id=row.id,
            ttl_seconds=settings.restaurant_catalog_ttl_seconds,
            refresh=refresh,
        )
    except ConnectorError as exc:
        await connections.record_failure(request.app.state.sessionmaker, row.id, exc)
        raise exc.to_app_error() from exc
    finally:
        await connector.aclose()
    after = catalog_cursor(paging.cursor) if paging.cursor else ""
    chosen = [obj for obj in objects if str(obj["id"]) > after][: paging.limit + 1]
    next_cursor = None
    if len(chosen) > paging.limit:
        chosen = chosen[: paging.limit]
        next_cursor = encode_catalog_cursor(str(chosen[-1]["id"]))
    return Page[CatalogItemRead](items=[CatalogItemRead(**obj) for obj in chosen], next_cursor=next_cursor)


@public_router.post("/webhooks/{provider}", summary="Provider events (signature verified over the raw body)")
async def receive_webhook(provider: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    body = await request.body()
    try:
        event = webhooks.verify(settings, provider, dict(request.headers), body)
    except ConnectorError as exc:
        raise exc.to_app_error() from exc
    fresh = await webhooks.receive(session, provider=provider, event=event)
    return JSONResponse({"received": True, "duplicate": not fresh})
