"""Signed outbound deliveries: one event POSTed to a receiver, and the bookkeeping of its retries.

Every module that tells an organisation's systems about something (payment webhooks, bulk batch callbacks, and
the modules to come) stores each event as a *delivery row* in the transaction that made the change, then
sends it from a job, outside any transaction, through :func:`post_signed`:

* the body is signed ``Cauri-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
  (:mod:`cauri.core.signing`), with ``Cauri-Event-Id`` (stable across retries and replays: receivers
  deduplicate on it) and ``Cauri-Event-Type``;
* in production, a URL resolving to a private, loopback, link-local or reserved address is refused (SSRF: a
  receiver URL is typed by a customer and must never reach our own network);
* a receiver's ``Retry-After`` (on 429 and 503) is honoured, capped at :data:`MAX_RETRY_AFTER`; otherwise the
  next attempt follows :data:`BACKOFF_SCHEDULE` with jitter, until :data:`RETRY_WINDOW` after the event.

:func:`record_attempt` applies an attempt's result to any row with the :class:`DeliveryRow` columns, so every
module retries, gives up and reports the same way. Nothing here knows what the event is about.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import structlog

from cauri.core.config import OutboundTargets, Settings
from cauri.core.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header

log = structlog.get_logger(__name__)

RETRY_WINDOW = timedelta(days=3)
# Delay before attempt n+1 (seconds); the last value repeats until the window closes.
BACKOFF_SCHEDULE: tuple[int, ...] = (10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
MAX_RETRY_AFTER = 3600
# A leased row is not sent by another worker for this long (longer than any attempt, timeout included).
LEASE = timedelta(seconds=60)
USER_AGENT = "Cauri-Webhooks/1"
EXCERPT_CHARS = 500

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def event_body(
    *, event_id: str, event_type: str, organization_id: str, data: dict[str, Any], created_at: datetime
) -> str:
    """The JSON envelope every event has (``id``, ``type``, ``created_at``, ``organization_id``, ``data``): the
    exact bytes that are signed, stored once and sent on every attempt."""
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created_at": created_at.isoformat(),
            "organization_id": organization_id,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class Message:
    """One leased delivery, ready to send (the secret is decrypted only for the call)."""

    url: str
    secret: str
    payload: str
    event_id: str
    event_type: str


@dataclass(frozen=True)
class Attempt:
    """What one POST gave."""

    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None
    retry_after: float | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def refused_target(url: str, settings: Settings) -> str | None:
    """Why ``url`` must not be called, or None when it may.

    With ``public`` (the production default), the host is resolved and refused when any of its addresses is
    private, loopback, link-local or reserved: a receiver URL is typed by a customer and must never make us call
    our own network. ``none`` refuses everything before any DNS lookup, so a fuzzed URL reaches nobody.
    """
    targets = settings.effective_outbound_targets
    if targets is OutboundTargets.NONE:
        return "refused: outbound calls are disabled (CAURI_OUTBOUND_TARGETS=none)"
    if targets is OutboundTargets.ANY:
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return "cannot resolve host"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return "refused: private address"
    return None


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


async def post_signed(message: Message, *, settings: Settings, timeout_seconds: float) -> Attempt:
    """One signed POST of ``message`` (no redirects followed: a redirect could lead past the SSRF guard)."""
    started = time.perf_counter()
    refused = await refused_target(message.url, settings)
    if refused is not None:
        return Attempt(None, refused, 0, None, None)
    body = message.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(message.secret, body),
        EVENT_ID_HEADER: message.event_id,
        EVENT_TYPE_HEADER: message.event_type,
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as http:
            response = await http.post(message.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        attempt = Attempt(None, f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS], _since(started), None, None)
    else:
        error = None if response.is_success else f"HTTP {response.status_code}"
        excerpt = response.text[:EXCERPT_CHARS] or None
        attempt = Attempt(response.status_code, error, _since(started), excerpt, _retry_after(response))
    log.info(
        "outbound_delivery_attempt",
        event_id=message.event_id,
        event_type=message.event_type,
        status=attempt.status_code,
        error=attempt.error,
        ms=attempt.duration_ms,
    )
    return attempt


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Delay before the next attempt after ``attempts`` failed ones: the receiver's wish, else the schedule."""
    if retry_after is not None:
        return timedelta(seconds=min(max(retry_after, 1.0), MAX_RETRY_AFTER))
    base = BACKOFF_SCHEDULE[min(max(attempts, 1), len(BACKOFF_SCHEDULE)) - 1]
    return timedelta(seconds=base * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not cryptography


class DeliveryRow(Protocol):
    """The columns a module's delivery table has (``webhook_deliveries``, ``bulk_callbacks``…)."""

    state: str
    attempts: int
    next_attempt_at: datetime | None
    give_up_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


def new_delivery(now: datetime) -> dict[str, Any]:
    """The columns of a delivery row that is due now, for its whole retry window."""
    return {
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "give_up_at": now + RETRY_WINDOW,
        "created_at": now,
    }


def take_lease(row: DeliveryRow, now: datetime) -> bool:
    """Lease a due pending row (the caller holds its lock); False when it is not due, done, or leased by another."""
    if row.state != PENDING:
        return False
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return False
    row.next_attempt_at = now + LEASE
    return True


def give_up(row: DeliveryRow, reason: str) -> None:
    row.state = FAILED
    row.last_error = reason
    row.next_attempt_at = None


def record_attempt(row: DeliveryRow, attempt: Attempt, now: datetime) -> datetime | None:
    """Apply an attempt to its row (locked by the caller): when the next attempt is due, or None once the row
    is delivered or given up (its retry window closed)."""
    row.attempts += 1
    row.last_status_code = attempt.status_code
    row.last_error = attempt.error
    if attempt.delivered:
        row.state = DELIVERED
        row.delivered_at = now
        row.next_attempt_at = None
        return None
    following = now + retry_delay(row.attempts, attempt.retry_after)
    if following > row.give_up_at:
        row.state = FAILED
        row.next_attempt_at = None
        return None
    row.next_attempt_at = following
    return following
