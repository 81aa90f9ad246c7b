"""Login throttling and temporary lockout, with the ``limits`` library.

* Per identifier (the e-mail or phone typed): at most ``login_attempts_per_minute`` attempts a minute, and after
  ``login_failures_before_lockout`` failures the identifier is locked for ``login_lockout_minutes``; a success
  clears the failures.
* Per client address: at most ``login_ip_failures_per_minute`` failures a minute, then a pause until the minute
  is over. Addresses are never locked out for long: behind carrier-grade NAT, one mobile operator's address
  carries thousands of honest customers.

Counters live in memory (one process) or in Redis (``CAURI_RATE_LIMIT_STORAGE_URL``, shared by every process).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError

from cauri.core.config import Settings
from cauri.core.errors import ServiceUnavailable, TooManyRequests
from cauri.core.limits import limits_storage

# OpenAPI: the routes that consult the throttle can answer 429 (cauri.core.openapi gives it the Problem schema).
THROTTLED: Final[dict[int | str, dict[str, Any]]] = {429: {}}


def _too_many_attempts(retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        f"Trop de tentatives. Réessayez dans {retry_after} secondes.",
        f"Too many attempts. Try again in {retry_after} seconds.",
        code="too_many_attempts",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


def _locked_out(retry_after: int) -> TooManyRequests:
    minutes = max(1, math.ceil(retry_after / 60))
    return TooManyRequests(
        f"Trop d'échecs : connexion bloquée pendant {minutes} min.",
        f"Too many failures: login locked for {minutes} min.",
        code="login_locked",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


def _storage_down() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Service de limitation indisponible. Réessayez dans un instant.",
        "Rate limiting service unavailable. Please retry in a moment.",
        code="rate_limit_unavailable",
        headers={"Retry-After": "5"},
    )


@dataclass(frozen=True)
class Limits:
    attempts: RateLimitItem
    failures: RateLimitItem
    address_failures: RateLimitItem

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            attempts=RateLimitItemPerMinute(settings.login_attempts_per_minute),
            failures=RateLimitItemPerMinute(
                settings.login_failures_before_lockout, multiples=settings.login_lockout_minutes
            ),
            address_failures=RateLimitItemPerMinute(settings.login_ip_failures_per_minute),
        )


class LoginThrottle:
    """Counts attempts and failures of a kind of credential check (``login``, ``password``, ``forgot``…)."""

    def __init__(self, settings: Settings) -> None:
        self.storage = limits_storage(settings.rate_limit_storage_url)
        self.limits = Limits.from_settings(settings)
        self._moving = MovingWindowRateLimiter(self.storage)
        # The lockout runs from the first failure: a fixed window keyed on it, not a sliding one.
        self._fixed = FixedWindowRateLimiter(self.storage)

    async def before_attempt(self, kind: str, identifier: str, address: str | None) -> None:
        """Refuse with a 429 when the identifier is locked or too busy, or the address failed too often."""
        try:
            if not await self._fixed.test(self.limits.failures, kind, "fail", identifier):
                raise _locked_out(await self._retry_after(self._fixed, self.limits.failures, kind, "fail", identifier))
            if address and not await self._moving.test(self.limits.address_failures, kind, "ip-fail", address):
                wait = await self._retry_after(self._moving, self.limits.address_failures, kind, "ip-fail", address)
                raise _too_many_attempts(wait)
            if not await self._moving.hit(self.limits.attempts, kind, "try", identifier):
                raise _too_many_attempts(
                    await self._retry_after(self._moving, self.limits.attempts, kind, "try", identifier)
                )
        except StorageError:
            raise _storage_down() from None

    async def failed(self, kind: str, identifier: str, address: str | None) -> None:
        try:
            await self._fixed.hit(self.limits.failures, kind, "fail", identifier)
            if address:
                await self._moving.hit(self.limits.address_failures, kind, "ip-fail", address)
        except StorageError:
            raise _storage_down() from None

    async def succeeded(self, kind: str, identifier: str) -> None:
        try:
            await self._fixed.clear(self.limits.failures, kind, "fail", identifier)
        except StorageError:
            raise _storage_down() from None

    @staticmethod
    async def _retry_after(
        limiter: FixedWindowRateLimiter | MovingWindowRateLimiter, item: RateLimitItem, *identifiers: str
    ) -> int:
        stats = await limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))


def install_throttle(app: FastAPI) -> None:
    """One throttle per application, so every worker of a process shares the same counters."""
    app.state.login_throttle = LoginThrottle(app.state.settings)


def login_throttle(app: FastAPI) -> LoginThrottle:
    throttle: LoginThrottle = app.state.login_throttle
    return throttle
