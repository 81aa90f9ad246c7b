"""FedaPay webhook signatures: ``X-FEDAPAY-SIGNATURE: t=<unix>,s=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.

Verified over the raw bytes before parsing, any matching ``s`` accepted, 300-second tolerance on ``t``, several
secrets accepted (rotation).
"""

from __future__ import annotations

from collections.abc import Mapping

from cauri.connectors.base import header
from cauri.kit.signatures import DEFAULT_TOLERANCE_SECONDS, signature_header, verify_timestamped_hmac

SIGNATURE_HEADER = "X-FEDAPAY-SIGNATURE"
TOLERANCE_SECONDS = DEFAULT_TOLERANCE_SECONDS
PROVIDER = "fedapay"


def sign(secret: str, raw_body: bytes, timestamp: int) -> dict[str, str]:
    """The headers FedaPay (and the simulator) sends with an event."""
    value = signature_header(secret, raw_body, timestamp, signature_key="s")
    return {SIGNATURE_HEADER: value, "Content-Type": "application/json"}


def verify(secrets: list[str], headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> int:
    """Raise :class:`InvalidSignature` unless the event is authentic and fresh; returns its timestamp."""
    return verify_timestamped_hmac(
        provider=PROVIDER,
        secrets=secrets,
        header_value=header(headers, SIGNATURE_HEADER),
        raw_body=raw_body,
        now=now,
        tolerance=TOLERANCE_SECONDS,
        signature_key="s",
    )
