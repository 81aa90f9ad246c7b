"""``/connectors``: the providers available and the organisation's credentials (secrets are write-only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Depends, Request, Response, status

from cauri.connectors import credentials as service
from cauri.connectors.registry import registry
from cauri.connectors.schemas import CredentialFieldRead, CredentialsRead, CredentialsWrite, ProviderRead
from cauri.core.deps import client_address
from cauri.core.deps import settings_of as _settings
from cauri.core.errors import NotFound
from cauri.core.i18n import pick
from cauri.core.pagination import Page
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.audit import record_audit
from cauri.identity.permissions import Perm, require, require_org

router = api_router(prefix="/connectors", tags=["connectors"])

ConnectorsManager = Annotated[Principal, Depends(require(Perm.CONNECTORS_MANAGE))]


def _not_configured(provider: str) -> NotFound:
    return NotFound(
        f"Aucun identifiant enregistré pour « {provider} ».",
        f"No credentials stored for '{provider}'.",
        code="connector_not_configured",
    )


@router.get("/providers", summary="Providers Cauri can talk to, and the credentials each needs (one page)")
async def list_providers(_principal: CurrentPrincipal) -> Page[ProviderRead]:
    providers = []
    for name in registry.names():
        spec = registry.get(name)
        providers.append(
            ProviderRead(
                name=spec.name,
                display_name=spec.display_name,
                countries=sorted(spec.countries),
                credential_fields=[
                    CredentialFieldRead(
                        name=f.name, label=pick(f.label_fr, f.label_en), secret=f.secret, required=f.required
                    )
                    for f in spec.credential_fields
                ],
                settings=list(spec.setting_names),
            )
        )
    # The registry's few providers always fit one page; the envelope is the same as every other list's.
    return Page[ProviderRead](items=providers)


@router.get("/credentials", summary="The organisation's configured providers, never a secret (one page)")
async def list_credentials(principal: ConnectorsManager, session: SessionDep) -> Page[CredentialsRead]:
    # At most one row per registered provider: always one page.
    rows = await service.list_credentials(session, organization_id=require_org(principal))
    return Page[CredentialsRead](items=[CredentialsRead(**asdict(row)) for row in rows])


@router.get("/credentials/{provider}", summary="One provider's configuration (never a secret)")
async def get_credentials(provider: str, principal: ConnectorsManager, session: SessionDep) -> CredentialsRead:
    registry.get(provider)
    for row in await service.list_credentials(session, organization_id=require_org(principal)):
        if row.provider == provider:
            return CredentialsRead(**asdict(row))
    raise _not_configured(provider)


@router.put("/credentials/{provider}", summary="Store (or replace) a provider's credentials, encrypted")
async def put_credentials(
    provider: str, body: CredentialsWrite, principal: ConnectorsManager, request: Request, session: SessionDep
) -> CredentialsRead:
    organization_id = require_org(principal)
    summary = await service.save_credentials(
        session,
        encryptor=service.encryptor_for(_settings(request)),
        organization_id=organization_id,
        provider=provider,
        credentials=body.credentials,
        settings=body.settings,
        label=body.label,
    )
    await record_audit(
        session,
        action="connectors.credentials.saved",
        organization_id=organization_id,
        actor=principal,
        target_type="connector",
        target_id=provider,
        changes={"fields": summary.fields, "settings": summary.settings, "label": summary.label},
        ip=client_address(request),
    )
    return CredentialsRead(**asdict(summary))


@router.delete(
    "/credentials/{provider}", status_code=status.HTTP_204_NO_CONTENT, summary="Forget a provider's credentials"
)
async def delete_credentials(
    provider: str, principal: ConnectorsManager, request: Request, session: SessionDep
) -> Response:
    organization_id = require_org(principal)
    if not await service.delete_credentials(session, organization_id=organization_id, provider=provider):
        raise _not_configured(provider)
    await record_audit(
        session,
        action="connectors.credentials.deleted",
        organization_id=organization_id,
        actor=principal,
        target_type="connector",
        target_id=provider,
        ip=client_address(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
