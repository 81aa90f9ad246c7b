"""HTTP shapes of the connector credential endpoints. Secrets are write-only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class CredentialsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=120)
    credentials: dict[str, SecretStr] = Field(
        description="Provider credential fields (write-only: never returned)", max_length=20
    )
    settings: dict[str, str] = Field(default_factory=dict, description="Non-secret settings (e.g. base_url)")


class CredentialsRead(BaseModel):
    provider: str
    label: str
    fields: list[str] = Field(description="Names of the stored credential fields (never their values)")
    settings: dict[str, str]
    updated_at: datetime


class CredentialFieldRead(BaseModel):
    name: str
    label: str
    secret: bool
    required: bool


class ProviderRead(BaseModel):
    name: str
    display_name: str
    countries: list[str]
    credential_fields: list[CredentialFieldRead]
    settings: list[str]
