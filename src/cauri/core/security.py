"""Cryptographic building blocks: password hashing, JWTs, keyed digests of secrets, encryption at rest."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pwdlib import PasswordHash
from sqlalchemy.orm import InstrumentedAttribute

from cauri.core.errors import Unauthenticated

_password_hash = PasswordHash.recommended()  # argon2id
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "cauri"


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return _password_hash.verify(password, hashed)


@functools.cache
def dummy_password_hash() -> str:
    """A hash of a password nobody has, so that a login for an unknown user costs the same time as a real one
    (made on first use: an argon2 hash is a tenth of a second of every process's start otherwise)."""
    return hash_password(secrets.token_urlsafe(16))


def keyed_digest(secret_key: str, value: str) -> str:
    """HMAC-SHA256 of a high-entropy secret (API key, refresh token, code): what we store instead of it."""
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def random_digits(length: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def encode_jwt(secret_key: str, claims: dict[str, Any], lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    payload = {
        "iss": JWT_ISSUER,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, secret_key, algorithm=JWT_ALGORITHM)


def decode_jwt(secret_key: str, token: str, *, token_type: str) -> dict[str, Any]:
    """Verify signature, algorithm (HS256 only: ``alg: none`` and key confusion are refused), expiry and type."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("Session expirée.", "Session expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("Jeton invalide.", "Invalid token.", code="invalid_token") from None
    if claims.get("typ") != token_type:
        raise Unauthenticated("Jeton invalide.", "Invalid token.", code="invalid_token")
    return claims


class Encryptor:
    """Encryption at rest with key rotation: the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: unknown key or corrupted data") from None

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ValueError("cannot decrypt: unknown key or corrupted data") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key; ValueError when no listed key decrypts the token."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: unknown key or corrupted data") from None

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()


@dataclass(frozen=True)
class EncryptedColumn:
    """A column of :class:`Encryptor` tokens (text, or bytes for binary columns), listed by its module in
    ``models.ENCRYPTED_COLUMNS`` so that ``cauri keys rotate`` re-encrypts it; ``named_by``: the columns that name
    a row in an error message (its primary key when empty)."""

    column: InstrumentedAttribute[Any]
    named_by: tuple[InstrumentedAttribute[Any], ...] = ()
