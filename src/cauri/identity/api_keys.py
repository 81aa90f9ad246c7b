"""API keys for server-to-server callers: shown once, stored as a keyed digest, revocable, one organisation."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.identity import errors
from cauri.identity.audit import record_audit
from cauri.identity.models import ApiKey
from cauri.identity.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from cauri.identity.tokens import generate_api_key


async def create_api_key(
    session: AsyncSession,
    settings: Settings,
    *,
    organization_id: uuid.UUID,
    data: ApiKeyCreate,
    actor: Principal,
    ip: str | None,
) -> ApiKeyCreated:
    new_key = generate_api_key(settings)
    api_key = ApiKey(
        organization_id=organization_id,
        name=data.name,
        prefix=new_key.prefix,
        key_digest=new_key.digest,
        role=data.role.value,
        created_by_user_id=actor.user_id,
    )
    session.add(api_key)
    await session.flush()
    await record_audit(
        session,
        action="api_key.created",
        organization_id=organization_id,
        actor=actor,
        target_type="api_key",
        target_id=str(api_key.id),
        changes={"name": api_key.name, "prefix": api_key.prefix, "role": api_key.role},
        ip=ip,
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(api_key).model_dump(), key=new_key.plaintext)


async def list_api_keys(
    session: AsyncSession, organization_id: uuid.UUID, params: PageParams
) -> tuple[list[ApiKey], str | None]:
    return await paginate(
        session,
        select(ApiKey).where(ApiKey.organization_id == organization_id),
        params,
        created_at=ApiKey.created_at,
        row_id=ApiKey.id,
    )


async def revoke_api_key(
    session: AsyncSession, *, organization_id: uuid.UUID, api_key_id: uuid.UUID, actor: Principal, ip: str | None
) -> None:
    """Revoke at once: the next call with this key is a 401. Revoking a revoked key changes nothing."""
    api_key = await session.get(ApiKey, api_key_id)
    if api_key is None or api_key.organization_id != organization_id:
        raise errors.ApiKeyNotFound()
    if api_key.revoked_at is not None:
        return
    api_key.revoked_at = utcnow()
    await record_audit(
        session,
        action="api_key.revoked",
        organization_id=organization_id,
        actor=actor,
        target_type="api_key",
        target_id=str(api_key.id),
        changes={"name": api_key.name, "prefix": api_key.prefix},
        ip=ip,
    )
    await session.flush()
