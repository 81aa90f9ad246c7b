"""CinetPay notifications. Checkout v2: form fields ``cpm_*``, ``x-token`` = hex(HMAC-SHA256(secret, the 16 fields
concatenated)). The current API: JSON with the ``notify_token`` of the payment's init (:func:`verify_v1_shape`).

The token has no timestamp, so it proves the sender but not freshness: verify it (constant time), then treat the
notification as a signal and confirm with ``POST /v2/payment/check`` before crediting anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from cauri.connectors.base import header
from cauri.connectors.mobile_money.cinetpay.transformers import PROVIDER, TOKEN_FIELDS, notification_fields
from cauri.kit.errors import InvalidSignature

TOKEN_HEADER = "x-token"  # noqa: S105 - a header name


def token(secret: str, fields: Mapping[str, str]) -> str:
    message = "".join(fields.get(name, "") for name in TOKEN_FIELDS)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, raw_body: bytes) -> dict[str, str]:
    """The headers CinetPay (and the simulator) sends with a notification."""
    return {
        TOKEN_HEADER: token(secret, notification_fields(raw_body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def verify(secrets: list[str], headers: Mapping[str, str], raw_body: bytes) -> None:
    received = header(headers, TOKEN_HEADER)
    if not received:
        raise InvalidSignature(provider=PROVIDER, code="callback_signature_missing")
    fields = notification_fields(raw_body)
    for secret in secrets:
        if hmac.compare_digest(token(secret, fields).encode(), received.strip().lower().encode()):
            return
    raise InvalidSignature(provider=PROVIDER, code="callback_signature_mismatch")


def verify_v1_shape(raw_body: bytes) -> None:
    """The current API's notification is JSON carrying a ``notify_token``: one without it is refused. The token is
    compared with the init's by whoever stored it (the payments module matches a payment by it, the standalone
    client's ``verify_notify_token``); the event stays a doorbell confirmed by a status query."""
    try:
        body = json.loads(raw_body)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("notify_token"):
        raise InvalidSignature(provider=PROVIDER, code="callback_token_missing")
