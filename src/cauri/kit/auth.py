"""Authentication strategies for the shared HTTP layer.

Each strategy turns credentials into request headers and lists its secret values so the HTTP layer can scrub
them from every log line. OAuth2 client-credentials tokens are cached process-wide until they expire (minus a
skew) and refreshed *single-flight*: when a hundred calls find the token expired, one fetches it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from cauri.kit.errors import AuthError


class TokenRequester(Protocol):
    """What OAuth needs from the HTTP layer: one logged, rate-limited, retried token call."""

    async def request_token(
        self,
        url: str,
        *,
        data: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> Mapping[str, Any]: ...


def _fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class AuthStrategy(ABC):
    #: True when a 401 may just mean "token expired early": the HTTP layer invalidates and retries once.
    refreshable: bool = False

    @abstractmethod
    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        """Headers to add to one request."""

    @abstractmethod
    def secret_values(self) -> list[str]:
        """Every secret this strategy may put on the wire (scrubbed from logs)."""

    @abstractmethod
    def cache_key(self) -> str:
        """A fingerprint of the credential (never the secret itself) for per-credential breakers and limits."""

    def invalidate(self) -> None:  # noqa: B027 - optional hook: only token-based strategies cache anything
        """Forget cached tokens (after a 401)."""


class NoAuth(AuthStrategy):
    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        return {}

    def secret_values(self) -> list[str]:
        return []

    def cache_key(self) -> str:
        return "anonymous"


class ApiKeyHeader(AuthStrategy):
    """``X-API-KEY: <key>`` (or any header, with an optional prefix such as ``Token ``)."""

    def __init__(self, header: str, key: SecretStr, *, prefix: str = "") -> None:
        self.header, self.key, self.prefix = header, key, prefix

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        return {self.header: f"{self.prefix}{self.key.get_secret_value()}"}

    def secret_values(self) -> list[str]:
        return [self.key.get_secret_value()]

    def cache_key(self) -> str:
        return _fingerprint("apikey", self.header, self.key.get_secret_value())


class BasicAuth(AuthStrategy):
    def __init__(self, username: str, password: SecretStr) -> None:
        self.username, self.password = username, password

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        return {"Authorization": basic_header(self.username, self.password.get_secret_value())}

    def secret_values(self) -> list[str]:
        encoded = basic_header(self.username, self.password.get_secret_value()).removeprefix("Basic ")
        return [self.password.get_secret_value(), encoded]

    def cache_key(self) -> str:
        return _fingerprint("basic", self.username, self.password.get_secret_value())


class BearerToken(AuthStrategy):
    """A static bearer token or API secret key (``Authorization: Bearer sk_…``)."""

    def __init__(self, token: SecretStr) -> None:
        self.token = token

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"}

    def secret_values(self) -> list[str]:
        return [self.token.get_secret_value()]

    def cache_key(self) -> str:
        return _fingerprint("bearer", self.token.get_secret_value())


class CombinedAuth(AuthStrategy):
    """Several strategies at once (e.g. MTN: an OAuth bearer plus ``Ocp-Apim-Subscription-Key``)."""

    def __init__(self, *strategies: AuthStrategy) -> None:
        self.strategies = strategies
        self.refreshable = any(s.refreshable for s in strategies)

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        merged: dict[str, str] = {}
        for strategy in self.strategies:
            merged.update(await strategy.headers(requester))
        return merged

    def secret_values(self) -> list[str]:
        return [value for s in self.strategies for value in s.secret_values()]

    def cache_key(self) -> str:
        return _fingerprint("combined", *(s.cache_key() for s in self.strategies))

    def invalidate(self) -> None:
        for strategy in self.strategies:
            strategy.invalidate()


@dataclass
class _CachedToken:
    value: str
    expires_at: float  # time.monotonic() deadline, skew already taken off


# Process-wide: connectors are built per call, tokens must outlive them. Values are plain data (shared by every
# event loop); locks belong to one loop each, so they are kept per loop.
_TOKENS: dict[str, _CachedToken] = {}
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock_for(key: str) -> asyncio.Lock:
    per_loop = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.Lock()
    return lock


def clear_token_cache() -> None:
    _TOKENS.clear()


class OAuth2ClientCredentials(AuthStrategy):
    """OAuth2 client credentials (RFC 6749 §4.4) and the many provider variants of it.

    * ``send_credentials="basic"``: ``Authorization: Basic id:secret`` (Orange, MTN); ``"body"``: in the body
      under ``client_id_field``/``client_secret_field`` (FreeMoPay's ``appKey``/``secretKey``).
    * ``body_format``: ``"form"`` (standard) or ``"json"``; ``grant_type=None`` sends none (MTN).
    * The lifetime comes from ``expires_in`` (seconds) or ``expires_at`` (ISO date, Square); missing, it is
      ``default_lifetime``. The token is reused until ``skew`` seconds before it expires.
    """

    refreshable = True

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | None = None,
        send_credentials: Literal["basic", "body"] = "basic",
        body_format: Literal["form", "json"] = "form",
        grant_type: str | None = "client_credentials",
        client_id_field: str = "client_id",
        client_secret_field: str = "client_secret",  # noqa: S107 - a field name
        extra_headers: Mapping[str, SecretStr | str] | None = None,
        token_field: str = "access_token",  # noqa: S107 - a field name
        skew: float = 60.0,
        default_lifetime: float = 300.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.send_credentials = send_credentials
        self.body_format = body_format
        self.grant_type = grant_type
        self.client_id_field = client_id_field
        self.client_secret_field = client_secret_field
        self.extra_headers = dict(extra_headers or {})
        self.token_field = token_field
        self.skew = skew
        self.default_lifetime = default_lifetime
        self._key = _fingerprint("oauth2", token_url, client_id, client_secret.get_secret_value(), scope or "")

    def cache_key(self) -> str:
        return self._key

    def secret_values(self) -> list[str]:
        values = [
            self.client_secret.get_secret_value(),
            basic_header(self.client_id, self.client_secret.get_secret_value()).removeprefix("Basic "),
        ]
        values += [v.get_secret_value() for v in self.extra_headers.values() if isinstance(v, SecretStr)]
        cached = _TOKENS.get(self._key)
        if cached is not None:
            values.append(cached.value)
        return values

    def invalidate(self) -> None:
        _TOKENS.pop(self._key, None)

    def _fresh(self) -> str | None:
        cached = _TOKENS.get(self._key)
        if cached is not None and time.monotonic() < cached.expires_at:
            return cached.value
        return None

    async def token(self, requester: TokenRequester) -> str:
        token = self._fresh()
        if token is not None:
            return token
        async with _lock_for(self._key):
            token = self._fresh()  # another task refreshed it while we waited
            if token is not None:
                return token
            return await self._fetch(requester)

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {await self.token(requester)}"}
        headers.update(self._plain_extra_headers())
        return headers

    def _plain_extra_headers(self) -> dict[str, str]:
        return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in self.extra_headers.items()}

    def _token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        """The token call's body fields and headers (a subclass with another grant overrides this)."""
        secret = self.client_secret.get_secret_value()
        headers = self._plain_extra_headers()
        fields: dict[str, str] = {}
        if self.grant_type is not None:
            fields["grant_type"] = self.grant_type
        if self.scope:
            fields["scope"] = self.scope
        if self.send_credentials == "basic":
            headers["Authorization"] = basic_header(self.client_id, secret)
        else:
            fields[self.client_id_field] = self.client_id
            fields[self.client_secret_field] = secret
        return fields, headers

    async def _fetch(self, requester: TokenRequester) -> str:
        fields, headers = self._token_request()
        if self.body_format == "json":
            answer = await requester.request_token(self.token_url, data=None, json=fields, headers=headers)
        else:
            answer = await requester.request_token(self.token_url, data=fields or None, json=None, headers=headers)
        value = answer.get(self.token_field)
        if not isinstance(value, str) or not value:
            raise AuthError(
                "Le fournisseur n'a pas délivré de jeton d'accès.",
                "The provider returned no access token.",
                code="provider_token_missing",
            )
        lifetime = self._lifetime(answer)
        _TOKENS[self._key] = _CachedToken(value, time.monotonic() + max(lifetime - self.skew, 0.0))
        return value

    def _lifetime(self, answer: Mapping[str, Any]) -> float:
        expires_in = answer.get("expires_in")
        if expires_in is not None:
            try:
                return float(expires_in)
            except (TypeError, ValueError):
                return self.default_lifetime
        expires_at = answer.get("expires_at")
        if isinstance(expires_at, str):
            try:
                moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
            except ValueError:
                return self.default_lifetime
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - datetime.now(UTC)).total_seconds()
        return self.default_lifetime
