"""The one HTTP layer every connector uses: auth, timeouts, safe retries, circuit breaker, rate limit, metrics, logs.

Retries happen **only where safe** (the idempotency key or reference is created by the caller *before* this
layer is called, so every attempt carries the same one):

* connect errors (the request never left): always retried;
* ``429``: retried after ``Retry-After`` (the provider did not process the request), unless that is longer than
  ``HttpPolicy.max_retry_after``, then :class:`RateLimited` tells the caller when to come back;
* ``5xx``, read timeouts and broken connections: retried only for idempotent calls (GET/HEAD/PUT/DELETE, or a
  POST carrying a key the provider honours: ``idempotent=True``). Otherwise the caller gets
  :class:`Unavailable`/:class:`Timeout` with ``outcome_unknown=True``: treat as pending, query status;
* ``401`` with a refreshable auth (OAuth): the token is dropped and the call replayed once.

A circuit breaker and a sliding-window rate limit are kept per (provider, credential) in the process's
:class:`~cauri.core.limits.LimitStore` (memory, or Redis shared by every API process and worker when
configured), so connectors built per call share them, and so do processes sharing one credential.

Logs carry the provider, operation, status and duration; at DEBUG also headers and bodies, with every secret
scrubbed (known secret values, secret-looking keys and provider fields).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json as jsonlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import limits
import structlog
from prometheus_client import Counter, Gauge, Histogram

from cauri.core.limits import BreakerState, LimitStore, limit_store
from cauri.core.logging import SENSITIVE_KEYS, mask_value
from cauri.kit.auth import AuthStrategy, NoAuth
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    PaymentNotFound,
    RateLimited,
    Timeout,
    Unavailable,
)

log = structlog.get_logger("cauri.kit.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENT_METHODS = SAFE_METHODS | {"PUT", "DELETE"}
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id", "x-amzn-requestid")
MAX_LOGGED_BODY = 2000

CONNECTOR_LATENCY = Histogram(
    "cauri_connector_request_duration_seconds",
    "Latency of calls to payment providers, per attempt",
    ["provider", "operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONNECTOR_ERRORS = Counter(
    "cauri_connector_errors_total", "Failed calls to payment providers by kind", ["provider", "operation", "kind"]
)
CONNECTOR_RETRIES = Counter(
    "cauri_connector_retries_total", "Retried calls to payment providers by cause", ["provider", "operation", "cause"]
)
CIRCUIT_OPEN = Gauge("cauri_connector_circuit_open", "1 while a provider circuit breaker is open", ["provider"])


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retries, breaker and rate limit of one provider. Connectors set defaults; settings may override."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 10.0
    pool_timeout: float = 5.0
    max_attempts: int = 3
    backoff_base: float = 0.25
    backoff_cap: float = 4.0
    max_retry_after: float = 30.0
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    rate_limit: str | None = None  # e.g. "100/minute" (the `limits` notation); None: no client-side limit
    max_rate_wait: float = 10.0

    def with_overrides(self, **changes: Any) -> HttpPolicy:
        return replace(self, **changes)

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout, read=self.read_timeout, write=self.write_timeout, pool=self.pool_timeout
        )


class CircuitBreaker:
    """The breaker of one (provider, credential): opens after ``failures`` consecutive failures; after
    ``reset_seconds`` lets one probe through. Its state lives in a :class:`~cauri.core.limits.LimitStore`:
    this process's memory, or Redis shared by every process (``store=None``: the process's store at call time).
    """

    def __init__(
        self,
        provider: str,
        failures: int,
        reset_seconds: float,
        *,
        credential: str = "anonymous",
        store: LimitStore | None = None,
    ) -> None:
        self.provider = provider
        self.key = f"{provider}:{credential}"
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self._store = store

    @property
    def store(self) -> LimitStore:
        return self._store if self._store is not None else limit_store()

    async def state(self) -> BreakerState:
        return await self.store.breaker_state(self.key)

    async def before_call(self) -> None:
        retry_in = await self.store.breaker_before_call(self.key, self.reset_seconds)
        if retry_in is None:
            return
        CIRCUIT_OPEN.labels(self.provider).set(1)
        raise Unavailable(
            "Le fournisseur est en panne ; les appels sont suspendus un moment.",
            "The provider is failing; calls are paused for a while.",
            provider=self.provider,
            code="provider_circuit_open",
            retryable=True,
        ) from TimeoutError(f"circuit open for another {retry_in:.1f} s")

    async def record_success(self) -> None:
        await self.store.breaker_success(self.key)
        CIRCUIT_OPEN.labels(self.provider).set(0)

    async def record_failure(self) -> None:
        if await self.store.breaker_failure(self.key, self.threshold, self.reset_seconds):
            CIRCUIT_OPEN.labels(self.provider).set(1)


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's bundle, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured), built once per
    process: loading the bundle costs ~25 ms of CPU, which a client made per message (an SMS) paid every time."""
    return httpx.create_ssl_context()


class RateLimit:
    """At most ``amount`` calls in any ``window`` seconds (a provider's "100 requests/min") per (provider,
    credential), counted in a :class:`~cauri.core.limits.LimitStore` (per process, or shared through Redis)."""

    def __init__(self, provider: str, credential: str, rate: str, *, store: LimitStore | None = None) -> None:
        item = limits.parse(rate)
        self.amount = item.amount
        self.window = float(item.get_expiry())
        # The rate is part of the key: two policies for one credential (a test's) do not share a window.
        self.key = f"{provider}:{credential}:{rate}"
        self._store = store

    @property
    def store(self) -> LimitStore:
        return self._store if self._store is not None else limit_store()

    async def reserve(self) -> float:
        """0 when a call may go now (and counts it); otherwise how long to wait before asking again."""
        return await self.store.reserve(self.key, self.amount, self.window)


async def forget_limits(provider: str) -> None:
    """Close every breaker and empty every window of ``provider`` (all credentials) in the process's store."""
    await limit_store().forget(f"{provider}:")


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


ErrorMapper = Callable[[httpx.Response], ConnectorError | None]


@dataclass(frozen=True)
class _Call:
    """One logical call, fixed before the first attempt (same body, same idempotency key on every retry)."""

    method: str
    url: str
    operation: str
    body: bytes | None
    headers: Mapping[str, str]
    params: Mapping[str, str] | None
    auth: AuthStrategy
    idempotent: bool


class _Retry(Exception):
    def __init__(self, cause: str, delay: float | None, error: ConnectorError) -> None:
        self.cause, self.delay, self.error = cause, delay, error


class ProviderHttpClient:
    """httpx for one provider and one credential. Build it once per connector; close it with :meth:`aclose`.

    ``error_mapper`` lets a connector turn a provider's error answer into the precise error (e.g. a ``Declined``
    with its reason); it is consulted for every non-2xx answer that will not be retried, before the defaults.
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        auth: AuthStrategy | None = None,
        policy: HttpPolicy | None = None,
        sensitive_fields: Collection[str] = (),
        default_headers: Mapping[str, str] | None = None,
        error_mapper: ErrorMapper | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        refusals_in_5xx: bool = False,
        limits_store: LimitStore | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.auth: AuthStrategy = auth or NoAuth()
        self.policy = policy or HttpPolicy()
        self.sensitive_fields = frozenset(f.lower() for f in sensitive_fields)
        self.default_headers = {
            "Accept": "application/json",
            "User-Agent": "cauri-connectors/1",
            **(default_headers or {}),
        }
        self.error_mapper = error_mapper
        # Some providers (Mojaloop's SDK scheme adapter) answer a definite business refusal (party not found,
        # payer liquidity…) with a 5xx. Opted in, a 5xx that ``error_mapper`` maps to a non-retryable error is a
        # final answer: not retried, not a breaker failure, and its outcome is known.
        self.refusals_in_5xx = refusals_in_5xx
        self._transport = transport
        credential = self.auth.cache_key()
        # Keyed by (provider, credential) in the store, not held here: clients built per call share them, and
        # with Redis so do all processes.
        self.breaker = CircuitBreaker(
            provider,
            self.policy.breaker_failures,
            self.policy.breaker_reset_seconds,
            credential=credential,
            store=limits_store,
        )
        self.limiter = (
            RateLimit(provider, credential, self.policy.rate_limit, store=limits_store)
            if self.policy.rate_limit
            else None
        )
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # -- plumbing -------------------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=self.policy.timeout, transport=self._transport, verify=default_tls_context()
            )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    async def _respect_rate_limit(self) -> None:
        if self.limiter is None:
            return
        while True:
            wait = await self.limiter.reserve()
            if wait <= 0:
                return
            if wait > self.policy.max_rate_wait:
                raise RateLimited(
                    "Limite de requêtes vers le fournisseur atteinte ; réessayez plus tard.",
                    "Request limit towards the provider reached; try again later.",
                    provider=self.provider,
                    code="provider_rate_limited_locally",
                    retry_after=wait,
                )
            await asyncio.sleep(wait)

    # -- the call --------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str = "Idempotency-Key",
        allow_status: Collection[int] = (),
        auth: AuthStrategy | None = None,
        circuit: bool = True,
    ) -> httpx.Response:
        """Send one logical call (maybe several attempts) and return the answer, or raise a ConnectorError.

        ``idempotency_key`` must be created by the caller before calling (it is sent unchanged on every attempt).
        ``idempotent`` defaults to True for GET/HEAD/PUT/DELETE and for any call carrying an idempotency key.
        ``allow_status``: non-2xx statuses returned to the caller instead of raised (e.g. 404 on a lookup).
        ``circuit=False`` skips the breaker: token calls made *inside* a call the breaker already let through.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or idempotency_key is not None
        # Built once, before any attempt: every retry sends exactly the same bytes and key.
        body, content_type = self._encode_body(json=json, data=data, content=content)
        fixed_headers = dict(self.default_headers)
        if content_type:
            fixed_headers["Content-Type"] = content_type
        fixed_headers.update(headers or {})
        if idempotency_key is not None:
            fixed_headers[idempotency_header] = idempotency_key
        strategy = auth or self.auth
        call = _Call(method, self.url(path), operation, body, fixed_headers, params, strategy, idempotent)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if circuit:
                await self.breaker.before_call()
            await self._respect_rate_limit()
            try:
                response = await self._attempt(call, attempt)
            except _Retry as retry:
                if attempt >= self.policy.max_attempts or (retry.delay or 0) > self.policy.max_retry_after:
                    raise retry.error from None
                CONNECTOR_RETRIES.labels(self.provider, operation, retry.cause).inc()
                delay = retry.delay if retry.delay is not None else self._backoff(attempt)
                await asyncio.sleep(delay)
                continue
            if response.status_code == 401 and strategy.refreshable and not refreshed:
                refreshed = True
                attempt -= 1  # a stale token is not the provider failing
                strategy.invalidate()
                CONNECTOR_RETRIES.labels(self.provider, operation, "token_refresh").inc()
                continue
            if response.is_success or response.status_code in allow_status:
                return response
            raise self._error_for(response, operation, method)

    async def _attempt(self, call: _Call, attempt: int) -> httpx.Response:
        method, operation, idempotent = call.method, call.operation, call.idempotent
        headers = {**call.headers, **(await call.auth.headers(self))}
        http = self._http()
        request = http.build_request(method, call.url, content=call.body, headers=headers, params=call.params)
        started = time.perf_counter()
        may_have_been_processed = method not in SAFE_METHODS
        try:
            response = await http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never reached the provider: always safe to retry.
            self._observe(
                operation, "connect_error", started=started, attempt=attempt, request=request, response=None, exc=exc
            )
            await self.breaker.record_failure()
            raise _Retry(
                "connect_error",
                None,
                Unavailable(
                    "Impossible de joindre le fournisseur.",
                    "Cannot reach the provider.",
                    provider=self.provider,
                    code="provider_unreachable",
                ),
            ) from None
        except httpx.TimeoutException as exc:
            self._observe(
                operation, "timeout", started=started, attempt=attempt, request=request, response=None, exc=exc
            )
            await self.breaker.record_failure()
            timeout = Timeout(provider=self.provider, outcome_unknown=may_have_been_processed)
            if idempotent:
                raise _Retry("timeout", None, timeout) from None
            raise timeout from None
        except httpx.TransportError as exc:
            self._observe(
                operation, "transport_error", started=started, attempt=attempt, request=request, response=None, exc=exc
            )
            await self.breaker.record_failure()
            error = Unavailable(
                "La connexion au fournisseur a été interrompue.",
                "The connection to the provider broke.",
                provider=self.provider,
                code="provider_connection_broken",
                outcome_unknown=may_have_been_processed,
            )
            if idempotent:
                raise _Retry("transport_error", None, error) from None
            raise error from None
        status = response.status_code
        self._observe(
            operation,
            f"{status // 100}xx",
            started=started,
            attempt=attempt,
            request=request,
            response=response,
            exc=None,
        )
        if status >= 500:
            if self._is_refusal(response):
                await self.breaker.record_success()  # the provider is healthy: it answered with a verdict
                return response
            await self.breaker.record_failure()
            if idempotent:
                raise _Retry("server_error", None, self._error_for(response, operation, method))
            return response
        await self.breaker.record_success()
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retry("rate_limited", retry_after, self._error_for(response, operation, method))
        return response

    def _error_for(self, response: httpx.Response, operation: str, method: str) -> ConnectorError:
        error = self.error_mapper(response) if self.error_mapper else None
        if error is None:
            error = self._default_error(response, method)
        error.provider = error.provider or self.provider
        error.request_id = error.request_id or self._request_id(response)
        error.status_code = error.status_code or response.status_code
        if response.status_code >= 500 and method not in SAFE_METHODS and not self._is_refusal(response, error):
            error.outcome_unknown = True  # a 5xx may come after the provider acted
        CONNECTOR_ERRORS.labels(self.provider, operation, type(error).__name__).inc()
        return error

    def _is_refusal(self, response: httpx.Response, mapped: ConnectorError | None = None) -> bool:
        """A 5xx carrying a definite business refusal (only for providers that opted in)."""
        if not self.refusals_in_5xx or self.error_mapper is None:
            return False
        error = mapped if mapped is not None else self.error_mapper(response)
        return error is not None and not error.retryable

    def _default_error(self, response: httpx.Response, method: str) -> ConnectorError:
        status = response.status_code
        provider_code = _provider_code(response)
        common: dict[str, Any] = {"provider": self.provider, "provider_code": provider_code}
        if status == 429:
            return RateLimited(retry_after=parse_retry_after(response.headers.get("Retry-After")), **common)
        if status >= 500:
            return Unavailable(outcome_unknown=method not in SAFE_METHODS, **common)
        if status in (401, 403):
            return AuthError(**common)
        if status == 404:
            return PaymentNotFound(**common)
        if 400 <= status < 500:
            return InvalidRequest(**common)
        return ConnectorError(
            f"Réponse inattendue du fournisseur (HTTP {status}).",
            f"Unexpected provider answer (HTTP {status}).",
            **common,
        )

    @staticmethod
    def _request_id(response: httpx.Response) -> str | None:
        for name in REQUEST_ID_HEADERS:
            value = response.headers.get(name)
            if value:
                return str(value)
        return None

    @staticmethod
    def _encode_body(
        *, json: Any, data: Mapping[str, str] | None, content: bytes | None
    ) -> tuple[bytes | None, str | None]:
        if json is not None:
            return jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode(), "application/json"
        if data is not None:
            return urlencode(dict(data)).encode(), "application/x-www-form-urlencoded"
        return content, None

    # -- TokenRequester (used by OAuth2ClientCredentials) ----------------------------------------------------

    async def request_token(
        self,
        url: str,
        *,
        data: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> Mapping[str, Any]:
        response = await self.request(
            "POST",
            url,
            operation="token",
            data=data,
            json=json,
            headers=headers,
            idempotent=True,
            auth=NoAuth(),
            circuit=False,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise AuthError(
                "Réponse illisible du serveur de jetons.", "Unreadable token server answer.", provider=self.provider
            )
        return answer

    # -- observability ---------------------------------------------------------------------------------------

    def _observe(
        self,
        operation: str,
        outcome: str,
        *,
        started: float,
        attempt: int,
        request: httpx.Request,
        response: httpx.Response | None,
        exc: Exception | None,
    ) -> None:
        elapsed = time.perf_counter() - started
        CONNECTOR_LATENCY.labels(self.provider, operation, outcome).observe(elapsed)
        if exc is not None:
            CONNECTOR_ERRORS.labels(self.provider, operation, type(exc).__name__).inc()
        fields: dict[str, Any] = {
            "provider": self.provider,
            "operation": operation,
            "method": request.method,
            "path": request.url.path,
            "attempt": attempt,
            "outcome": outcome,
            "duration_ms": round(elapsed * 1000, 1),
        }
        if response is not None:
            fields["status"] = response.status_code
            fields["provider_request_id"] = self._request_id(response)
        if exc is not None:
            fields["error"] = type(exc).__name__
        level = "warning" if exc is not None or (response is not None and response.status_code >= 500) else "info"
        getattr(log, level)("connector_request", **self._scrub(fields))
        if not log.is_enabled_for(logging.DEBUG):
            return  # scrubbing bodies costs (a 1 MB page of orders): only for a log that will be written
        exchange: dict[str, Any] = {
            "provider": self.provider,
            "operation": operation,
            "attempt": attempt,
            "request_headers": self._scrub_headers(request.headers),
            "request_body": self._scrub_body(request.content, request.headers.get("content-type")),
        }
        if response is not None:
            exchange["response_headers"] = self._scrub_headers(response.headers)
            exchange["response_body"] = self._scrub_body(response.content, response.headers.get("content-type"))
        log.debug("connector_exchange", **exchange)

    def _secret_values(self) -> list[str]:
        return sorted((v for v in self.auth.secret_values() if len(v) >= 4), key=len, reverse=True)

    def _scrub(self, value: Any, key: str = "") -> Any:
        """Mask secret-looking keys, provider-declared fields and any known secret value anywhere."""
        if isinstance(value, Mapping):
            return {k: self._scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v, key) for v in value]
        if key and (key.lower() in self.sensitive_fields or SENSITIVE_KEYS.search(key)):
            return "***" if value is not None else None
        if isinstance(value, str):
            for secret in self._secret_values():
                value = value.replace(secret, "***")
            return mask_value(key, value)
        return value

    def _scrub_headers(self, headers: httpx.Headers) -> dict[str, str]:
        scrubbed = {}
        for key, value in headers.items():
            hidden = SENSITIVE_KEYS.search(key) or key.lower() in self.sensitive_fields
            scrubbed[key] = "***" if hidden else self._scrub(value)
        return scrubbed

    def _scrub_body(self, body: bytes, content_type: str | None) -> Any:
        if not body:
            return None
        text = body[: MAX_LOGGED_BODY * 4].decode("utf-8", errors="replace")
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind.endswith("json") or text[:1] in "{[":
            try:
                return self._scrub(jsonlib.loads(text))
            except ValueError:
                pass
        if kind == "application/x-www-form-urlencoded":
            return self._scrub(dict(parse_qsl(text)))
        return self._scrub(text[:MAX_LOGGED_BODY])


def _provider_code(response: httpx.Response) -> str | None:
    """Best effort: the error code a provider put in a JSON error body."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    candidates: list[Any] = [body.get("code"), body.get("error_code"), body.get("errorCode")]
    error = body.get("error")
    if isinstance(error, dict):
        candidates += [error.get("code"), error.get("type")]
    elif isinstance(error, str):
        candidates.append(error)
    for candidate in candidates:
        if isinstance(candidate, str | int) and str(candidate):
            return str(candidate)
    return None
