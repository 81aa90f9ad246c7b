"""The credentials Cauri hands out: access JWTs, opaque refresh tokens and API keys.

Only keyed digests of refresh tokens and API keys are stored, so a copy of the database lets nobody log in.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections import OrderedDict
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


# Tokens whose signature this process already verified, with their expiry (Unix time). Verifying an HS256 JWT
# with PyJWT costs more than the rest of resolving a cached caller; a token's claims never change, and the login
# session behind it is checked (or its cached check invalidated) on every request all the same.
_VERIFIED_MAX = 20_000
_verified: OrderedDict[tuple[str, str], tuple[AccessClaims, float]] = OrderedDict()


def read_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verified claims of an access token, or a 401 (bad signature, ``alg: none``, expired, other type…)."""
    secret = settings.secret_key.get_secret_value()
    known = _verified.get((secret, token))
    if known is not None and known[1] > time.time():
        return known[0]
    claims = decode_jwt(secret, token, token_type=ACCESS_TOKEN_TYPE)
    try:
        access = AccessClaims(user_id=uuid.UUID(str(claims["sub"])), session_id=uuid.UUID(str(claims["sid"])))
    except (KeyError, ValueError):
        raise invalid_token() from None
    _verified[(secret, token)] = (access, float(claims["exp"]))
    while len(_verified) > _VERIFIED_MAX:
        _verified.popitem(last=False)
    return access


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
