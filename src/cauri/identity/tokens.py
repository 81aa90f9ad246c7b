"""The credentials Cauri hands out: access JWTs, opaque refresh tokens and API keys.

Only keyed digests of refresh tokens and API keys are stored, so a copy of the database lets nobody log in.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from cauri.core.config import Environment, Settings
from cauri.core.errors import Unauthenticated
from cauri.core.security import decode_jwt, encode_jwt, keyed_digest, random_token

ACCESS_TOKEN_TYPE = "access"  # noqa: S105 (a claim value, not a secret)
API_KEY_PATTERN = re.compile(r"^cauri_(live|test)_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


def invalid_token() -> Unauthenticated:
    return Unauthenticated("Jeton invalide.", "Invalid token.", code="invalid_token")


def secret_digest(settings: Settings, value: str) -> str:
    return keyed_digest(settings.secret_key.get_secret_value(), value)


def issue_access_token(settings: Settings, *, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
    return encode_jwt(
        settings.secret_key.get_secret_value(),
        {"sub": str(user_id), "sid": str(session_id), "typ": ACCESS_TOKEN_TYPE},
        timedelta(minutes=settings.access_token_minutes),
    )


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID


def read_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verified claims of an access token, or a 401 (bad signature, ``alg: none``, expired, other type…)."""
    claims = decode_jwt(settings.secret_key.get_secret_value(), token, token_type=ACCESS_TOKEN_TYPE)
    try:
        return AccessClaims(user_id=uuid.UUID(str(claims["sub"])), session_id=uuid.UUID(str(claims["sid"])))
    except (KeyError, ValueError):
        raise invalid_token() from None


def new_refresh_token() -> str:
    return random_token(32)


@dataclass(frozen=True)
class NewApiKey:
    plaintext: str  # shown once, to the creator
    prefix: str  # stored and shown: lets people tell their keys apart
    digest: str  # stored


def generate_api_key(settings: Settings) -> NewApiKey:
    mode = "live" if settings.env is Environment.PRODUCTION else "test"
    prefix = secrets.token_hex(6)
    plaintext = f"cauri_{mode}_{prefix}_{random_token(32)}"
    return NewApiKey(plaintext=plaintext, prefix=prefix, digest=secret_digest(settings, plaintext))


def api_key_prefix(raw: str) -> str | None:
    """The lookup prefix of a well-formed key, None for anything else."""
    match = API_KEY_PATTERN.match(raw)
    return match.group(2) if match else None
