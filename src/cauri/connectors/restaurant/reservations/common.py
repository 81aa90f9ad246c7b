"""What both booking channels' connectors share: times, the cautious status rule, page reading, and the
timestamped HMAC notification scheme Cauri uses where a channel publishes none."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from cauri.kit.errors import InvalidSignature, unreadable_answer

#: ``x-cauri-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>``, 5 minutes' tolerance.
SIGNATURE_HEADER = "x-cauri-signature"
TOLERANCE_SECONDS = 300


def parse_time(value: object, provider: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise unreadable_answer(provider, f"timestamp {str(value)[:40]!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_answer(response: httpx.Response, provider: str) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise unreadable_answer(provider, exc) from None


def field(record: Mapping[str, Any], key: str, provider: str) -> Any:
    value = record.get(key)
    if value is None:
        raise unreadable_answer(provider, f"a record without {key}")
    return value


def mapping(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object, or an empty one when absent or of another type."""
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(*, secrets: Sequence[str], headers: Mapping[str, str], body: bytes, provider: str) -> None:
    """Over the raw bytes, before parsing; old and new secrets while one is replaced; a stale timestamp is a
    replay."""
    lowered = {name.lower(): value for name, value in headers.items()}
    received = lowered.get(SIGNATURE_HEADER, "")
    parts = dict(part.split("=", 1) for part in received.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        raise InvalidSignature(provider=provider, provider_code="missing_signature") from None
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature(provider=provider, provider_code="stale_signature")
    for secret in secrets:
        if hmac.compare_digest(sign(secret, body, timestamp).encode(), received.encode()):
            return
    raise InvalidSignature(provider=provider, provider_code="bad_signature")


def json_answer_bytes(body: bytes, provider: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise unreadable_answer(provider, "notification body") from exc
