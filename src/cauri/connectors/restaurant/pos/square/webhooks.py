"""Square's webhook signature: ``x-square-hmacsha256-signature`` = base64(HMAC-SHA256(signature key,
notification URL + raw body)), checked over the raw bytes before anything is parsed. Square signs no timestamp:
replays are stopped by the receiver's unique ``event_id``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from pydantic import SecretStr

from cauri.kit.errors import InvalidSignature

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
PROVIDER = "square"


def sign(signature_key: str, notification_url: str, body: bytes) -> str:
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    *, signature_keys: Sequence[SecretStr], headers: Mapping[str, str], body: bytes, notification_url: str
) -> None:
    """Raise :class:`InvalidSignature` unless one of ``signature_keys`` (the current one, and the previous one
    while a key is being replaced) signed ``notification_url + body``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    received = lowered.get(SIGNATURE_HEADER, "")
    for key in signature_keys:
        expected = sign(key.get_secret_value(), notification_url, body)
        if received and hmac.compare_digest(expected.encode(), received.encode()):
            return
    raise InvalidSignature(provider=PROVIDER, provider_code="bad_signature" if received else "missing_signature")
