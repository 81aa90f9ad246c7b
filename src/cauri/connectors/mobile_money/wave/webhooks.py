"""Wave webhook signatures: ``Wave-Signature: t=<unix>,v1=<hex>[,v1=<hex>]``.

Expected: ``hex(HMAC-SHA256(secret, t + raw_body))`` — the timestamp and the body *without a separator*, as
Wave's documentation shows (some code in the wild signs ``t.body``: that is not accepted). Verified over the raw
bytes with :func:`hmac.compare_digest`, within a 300-second tolerance on ``t`` ("?": Wave documents a tolerance
but not its length), before anything is parsed; any matching ``v1`` is valid, and several secrets may be
configured while one is rotated. Events are deduplicated on their ``id`` (``EV_…``).
"""

from __future__ import annotations

from collections.abc import Mapping

from cauri.connectors.base import header
from cauri.connectors.mobile_money.wave.transformers import PROVIDER
from cauri.kit.signatures import DEFAULT_TOLERANCE_SECONDS, signature_header, verify_timestamped_hmac

SIGNATURE_HEADER = "Wave-Signature"
TOLERANCE_SECONDS = DEFAULT_TOLERANCE_SECONDS


def signed_payload(timestamp: int, raw_body: bytes) -> bytes:
    """``t`` then the raw body, no separator (Wave's documented form)."""
    return str(timestamp).encode() + raw_body


def sign(secret: str, raw_body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Wave (and the simulator) sends with an event."""
    return {
        SIGNATURE_HEADER: signature_header(secret, raw_body, timestamp, payload=signed_payload),
        "Content-Type": "application/json",
    }


def verify(secrets: list[str], headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> int:
    """Raise :class:`InvalidSignature` unless the event is authentic and fresh; returns its timestamp."""
    return verify_timestamped_hmac(
        provider=PROVIDER,
        secrets=secrets,
        header_value=header(headers, SIGNATURE_HEADER),
        raw_body=raw_body,
        now=now,
        tolerance=TOLERANCE_SECONDS,
        payload=signed_payload,
    )
