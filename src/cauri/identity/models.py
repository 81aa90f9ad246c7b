"""Identity tables: organisations, users, memberships, login sessions, one-time codes and API keys.

Secrets are never stored: refresh tokens, API keys and one-time codes are kept as keyed digests
(``cauri.core.security.keyed_digest``) and passwords as argon2 hashes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow
from cauri.identity.audit import AuditEvent  # the audit table lives with its writer; listed so Alembic sees it

EMAIL_MAX = 320
PHONE_MAX = 16  # E.164: "+" and at most 15 digits
NAME_MAX = 200


class Organization(IdMixin, TimestampMixin, Base):
    """A customer of the platform: a pension fund, a tontine association, a landlord agency, a restaurant…"""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(NAME_MAX))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    default_region: Mapped[str] = mapped_column(String(2))
    default_language: Mapped[str] = mapped_column(String(2), default="fr")
    # When set, an operation someone creates must be approved by someone else (bulk payments…).
    require_maker_checker: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(500))


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="email_or_phone"),)

    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), unique=True)  # lower-cased
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX), unique=True)  # E.164
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(NAME_MAX))
    language: Mapped[str] = mapped_column(String(2), default="fr")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified_at: Mapped[datetime | None]
    phone_verified_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]


class Membership(IdMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))


class LoginSession(IdMixin, Base):
    """One login: the family of rotated refresh tokens and of the access tokens issued from them (``sid``)."""

    __tablename__ = "login_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class RefreshToken(IdMixin, Base):
    """One refresh token of a family; ``used_at`` set means rotated: presenting it again is a theft signal."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class VerificationCode(IdMixin, Base):
    """A 6-digit code sent by e-mail or SMS: verify an address, or reset a password."""

    __tablename__ = "verification_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # verify_email, verify_phone, reset_password
    destination: Mapped[str] = mapped_column(String(EMAIL_MAX))  # the address it was sent to
    code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None]  # used, replaced by a newer code, or dead after too many attempts


class ApiKey(IdMixin, Base):
    """A server-to-server credential acting for one organisation with one role."""

    __tablename__ = "api_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


__all__ = [
    "ApiKey",
    "AuditEvent",
    "LoginSession",
    "Membership",
    "Organization",
    "RefreshToken",
    "User",
    "VerificationCode",
]
