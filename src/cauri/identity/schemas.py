"""Request and response bodies of the identity API.

Inputs forbid unknown fields and carry their limits, so bad input is a 422 naming the field. Responses never
carry a hash, a digest or a secret, except the credentials handed to their owner (tokens, a new API key).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from cauri.identity.models import EMAIL_MAX, NAME_MAX
from cauri.identity.permissions import Role

PASSWORD_MIN = 10
PASSWORD_MAX = 128  # argon2 accepts more, but hashing megabytes on demand is a denial of service


def normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValueError("Adresse e-mail invalide.|Invalid e-mail address.") from None


def _region(value: str) -> str:
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("Code pays inconnu (ISO 3166, ex. CM, SN).|Unknown country code (ISO 3166, e.g. CM, SN).")
    return region


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=EMAIL_MAX), AfterValidator(normalise_email)]
# Phone numbers are normalised by the service with the organisation's region (cauri.core.phone).
PhoneInput = Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=32)]
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2), AfterValidator(_region)]
Language = Literal["fr", "en"]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")]
WebhookUrl = Annotated[HttpUrl, Field(max_length=500)]
# API keys never get the owner role: a leaked key must not be able to take an organisation over.
ApiKeyRole = Literal[Role.ADMIN, Role.GESTIONNAIRE, Role.SUPERVISEUR, Role.MEMBER]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- accounts and sessions ---------------------------------------------------------------------------------


class RegisterRequest(Input):
    email: Email | None = None
    phone: PhoneInput | None = None
    password: Password
    full_name: Name
    language: Language = "fr"
    region: Region | None = Field(default=None, description="Country used to read a local phone number, e.g. CM")
    organization_name: Name | None = Field(default=None, description="Creates this organisation, you as owner")


class LoginRequest(Input):
    email: Email | None = None
    phone: PhoneInput | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]


class RefreshRequest(Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth 2 token type, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")


class UserRead(Output):
    id: uuid.UUID
    email: str | None
    phone: str | None
    full_name: str
    language: str
    is_active: bool
    is_platform_admin: bool
    email_verified_at: datetime | None
    phone_verified_at: datetime | None
    created_at: datetime


class UserUpdate(Input):
    full_name: Name | None = None
    language: Language | None = None


class OrganizationSummary(Output):
    id: uuid.UUID
    name: str
    slug: str


class MembershipSummary(BaseModel):
    organization: OrganizationSummary
    role: str


class Me(BaseModel):
    user: UserRead | None = Field(description="None when the caller is an API key")
    api_key_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = Field(description="The organisation this call acts for")
    roles: list[str]
    permissions: list[str]
    memberships: list[MembershipSummary]


class PasswordChange(Input):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]
    new_password: Password


class ForgotPassword(Input):
    email: Email | None = None
    phone: PhoneInput | None = None


class ResetPassword(Input):
    email: Email | None = None
    phone: PhoneInput | None = None
    code: Code
    new_password: Password


class VerificationRequest(Input):
    channel: Literal["email", "phone"]


class VerificationConfirm(Input):
    channel: Literal["email", "phone"]
    code: Code


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


# --- organisations and members -----------------------------------------------------------------------------


class OrganizationCreate(Input):
    name: Name
    slug: Slug | None = None
    default_region: Region | None = None
    default_language: Language = "fr"
    require_maker_checker: bool = False
    webhook_url: WebhookUrl | None = None


class OrganizationUpdate(Input):
    name: Name | None = None
    default_region: Region | None = None
    default_language: Language | None = None
    require_maker_checker: bool | None = None
    webhook_url: WebhookUrl | None = None


class OrganizationRead(Output):
    id: uuid.UUID
    name: str
    slug: str
    default_region: str
    default_language: str
    require_maker_checker: bool
    webhook_url: str | None
    created_at: datetime
    updated_at: datetime


class RegisterResult(BaseModel):
    user: UserRead
    organization: OrganizationRead | None
    tokens: TokenPair


class MemberAdd(Input):
    email: Email | None = None
    phone: PhoneInput | None = None
    role: Role = Role.MEMBER
    full_name: Name | None = Field(default=None, description="Required when no account exists yet")
    password: Password | None = Field(
        default=None, description="Initial password of a new account; without it they are invited to set one"
    )
    language: Language = "fr"


class MemberUpdate(Input):
    role: Role


class MemberRead(BaseModel):
    id: uuid.UUID = Field(description="Membership id")
    user_id: uuid.UUID
    email: str | None
    phone: str | None
    full_name: str
    role: str
    created_at: datetime


# --- API keys ----------------------------------------------------------------------------------------------


class ApiKeyCreate(Input):
    name: Name
    role: ApiKeyRole = Role.MEMBER


class ApiKeyRead(Output):
    id: uuid.UUID
    name: str
    prefix: str
    role: str
    created_by_user_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key: shown this once, store it now")


# --- audit -------------------------------------------------------------------------------------------------


class AuditEventRead(Output):
    id: uuid.UUID
    created_at: datetime
    organization_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    action: str
    target_type: str | None
    target_id: str | None
    changes: dict[str, object] | None
    ip: str | None
    request_id: str | None
