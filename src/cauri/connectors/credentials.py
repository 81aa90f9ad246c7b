"""Provider credentials per organisation, encrypted at rest (MultiFernet, key rotation).

Every credential field of one (organisation, provider) is stored as one encrypted JSON document; the plain
columns hold only what may be listed: the provider, a label, the *names* of the stored fields, non-secret
settings. Decrypted values live in :class:`SecretStr` and never reach a response or a log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.config import Settings
from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow
from cauri.core.errors import field_error
from cauri.core.security import Encryptor


class ProviderCredential(IdMixin, TimestampMixin, Base):
    __tablename__ = "connector_credentials"
    __table_args__ = (UniqueConstraint("organization_id", "provider"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(120), default="")
    field_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    ciphertext: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True)
class CredentialSummary:
    """What may be shown: never a secret value."""

    provider: str
    label: str
    fields: list[str]
    settings: dict[str, str]
    updated_at: datetime


@dataclass(frozen=True)
class StoredCredentials:
    provider: str
    label: str
    credentials: dict[str, SecretStr]
    settings: dict[str, str]


def encryptor_for(settings: Settings) -> Encryptor:
    return Encryptor(settings.encryption_key_list)


def _summary(row: ProviderCredential) -> CredentialSummary:
    return CredentialSummary(
        provider=row.provider,
        label=row.label,
        fields=sorted(row.field_names),
        settings=dict(row.settings or {}),
        updated_at=row.updated_at,
    )


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _check_settings(settings: Mapping[str, str]) -> None:
    for name, value in settings.items():
        if name.endswith("url"):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise field_error(
                    f"settings.{name}",
                    "invalid_url",
                    "Adresse invalide : http(s)://… attendu.",
                    "Invalid address: http(s)://… expected.",
                )


async def save_credentials(
    session: AsyncSession,
    *,
    encryptor: Encryptor,
    organization_id: uuid.UUID,
    provider: str,
    credentials: Mapping[str, str | SecretStr],
    settings: Mapping[str, str] | None = None,
    label: str = "",
) -> CredentialSummary:
    """Create or replace an organisation's credentials for ``provider`` (checked against the provider's spec)."""
    from cauri.connectors.registry import registry

    spec = registry.get(provider)
    values = {name: _plain(value) for name, value in credentials.items() if _plain(value)}
    settings = dict(settings or {})
    spec.validate(values, settings)
    _check_settings(settings)
    ciphertext = encryptor.encrypt(json.dumps(values, sort_keys=True))
    row = (
        await session.execute(
            select(ProviderCredential).where(
                ProviderCredential.organization_id == organization_id, ProviderCredential.provider == provider
            )
        )
    ).scalar_one_or_none()
    if row is None:
        row = ProviderCredential(organization_id=organization_id, provider=provider)
        session.add(row)
    row.label = label[:120]
    row.field_names = sorted(values)
    row.ciphertext = ciphertext
    row.settings = settings
    row.updated_at = utcnow()
    await session.flush()
    return _summary(row)


async def load_credentials(
    session: AsyncSession, *, encryptor: Encryptor, organization_id: uuid.UUID, provider: str
) -> StoredCredentials | None:
    row = (
        await session.execute(
            select(ProviderCredential).where(
                ProviderCredential.organization_id == organization_id, ProviderCredential.provider == provider
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    values: dict[str, Any] = json.loads(encryptor.decrypt(row.ciphertext))
    return StoredCredentials(
        provider=row.provider,
        label=row.label,
        credentials={name: SecretStr(str(value)) for name, value in values.items()},
        settings=dict(row.settings or {}),
    )


async def list_credentials(session: AsyncSession, *, organization_id: uuid.UUID) -> list[CredentialSummary]:
    rows = (
        await session.execute(
            select(ProviderCredential)
            .where(ProviderCredential.organization_id == organization_id)
            .order_by(ProviderCredential.provider)
        )
    ).scalars()
    return [_summary(row) for row in rows]


async def delete_credentials(session: AsyncSession, *, organization_id: uuid.UUID, provider: str) -> bool:
    result = await session.execute(
        delete(ProviderCredential).where(
            ProviderCredential.organization_id == organization_id, ProviderCredential.provider == provider
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
