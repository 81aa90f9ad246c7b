"""Sandbox callback signatures: ``Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.

Verified over the raw bytes, with a 300-second tolerance on ``t`` (older or future-dated callbacks are replays
or forgeries), any of the configured secrets accepted so the webhook secret can be rotated.
"""

from __future__ import annotations

from collections.abc import Mapping

from cauri.connectors.base import header
from cauri.kit.signatures import DEFAULT_TOLERANCE_SECONDS, signature_header, verify_timestamped_hmac

SIGNATURE_HEADER = "Sandbox-Signature"
TOLERANCE_SECONDS = DEFAULT_TOLERANCE_SECONDS
PROVIDER = "sandbox"


def sign(secret: str, raw_body: bytes, timestamp: int) -> dict[str, str]:
    """The headers the simulator sends with a callback."""
    return {SIGNATURE_HEADER: signature_header(secret, raw_body, timestamp), "Content-Type": "application/json"}


def verify(secrets: list[str], headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> int:
    """Raise :class:`InvalidSignature` unless the callback is authentic and fresh; returns its timestamp."""
    return verify_timestamped_hmac(
        provider=PROVIDER,
        secrets=secrets,
        header_value=header(headers, SIGNATURE_HEADER),
        raw_body=raw_body,
        now=now,
        tolerance=TOLERANCE_SECONDS,
    )
