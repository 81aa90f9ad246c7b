"""Webhook signature helpers shared by connectors and their simulators.

The rule (DESIGN.md, convention 8): verify over the *raw bytes* with :func:`hmac.compare_digest`, within the
scheme's timestamp tolerance, *before* parsing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from cauri.kit.errors import InvalidSignature

DEFAULT_TOLERANCE_SECONDS = 300


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def dotted_payload(timestamp: int, raw_body: bytes) -> bytes:
    """``"<t>.<raw body>"``: the message signed by Sandbox, Stripe and FedaPay."""
    return f"{timestamp}.".encode() + raw_body


def parse_signature_header(value: str | None, *, signature_key: str = "v1") -> tuple[int | None, list[str]]:
    """``t=<unix>,v1=<hex>[,v1=<hex>]`` -> (timestamp, signatures). Any malformed part gives ``(None, [])``."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (value or "").split(","):
        key, _, item = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(item)
            except ValueError:
                return None, []
        elif key == signature_key and item:
            signatures.append(item)
    return timestamp, signatures


def signature_header(
    secret: str,
    raw_body: bytes,
    timestamp: int,
    *,
    signature_key: str = "v1",
    payload: Callable[[int, bytes], bytes] = dotted_payload,
) -> str:
    """The header value a simulator sends (and a test forges with a wrong secret)."""
    return f"t={timestamp},{signature_key}={hmac_sha256_hex(secret, payload(timestamp, raw_body))}"


def verify_timestamped_hmac(
    *,
    provider: str,
    secrets: list[str],
    header_value: str | None,
    raw_body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    signature_key: str = "v1",
    payload: Callable[[int, bytes], bytes] = dotted_payload,
) -> int:
    """Verify a ``t=…,v1=…`` signature; returns the signed timestamp or raises :class:`InvalidSignature`.

    Several ``secrets`` are accepted so a provider's webhook secret can be rotated without losing events; any
    matching signature in the header is valid (providers send several while they rotate theirs).
    """
    timestamp, signatures = parse_signature_header(header_value, signature_key=signature_key)
    if timestamp is None or not signatures:
        raise InvalidSignature(provider=provider, code="callback_signature_missing")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature(
            "Notification refusée : horodatage hors de la tolérance (rejeu ?).",
            "Callback refused: timestamp outside the tolerance (replay?).",
            provider=provider,
            code="callback_timestamp_out_of_tolerance",
        )
    message = payload(timestamp, raw_body)
    for secret in secrets:
        expected = hmac_sha256_hex(secret, message)
        if any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures):
            return timestamp
    raise InvalidSignature(provider=provider, code="callback_signature_mismatch")


def verify_callback_token(*, provider: str, received: str | None, expected: str | None) -> None:
    """A callback authenticated by a per-payment token issued at creation (Orange WebPay's ``notif_token``).

    Compared in constant time; a missing token on either side is a refusal, never a pass.
    """
    if not received or not expected:
        raise InvalidSignature(provider=provider, code="callback_token_missing")
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise InvalidSignature(
            "Notification refusée : jeton de notification inconnu pour ce paiement.",
            "Callback refused: the notification token does not match this payment.",
            provider=provider,
            code="callback_token_mismatch",
        )
