"""The SDK scheme adapter's bulk callback to the backend: ``PUT /bulkTransactions/{bulkTransactionId}``.

The SDK does not sign what it sends to its DFSP backend (they share a private network, usually with mTLS), so a
callback is a doorbell: :func:`parse_bulk_callback` reads it (``signed=False``) and the results must be confirmed
with a status query (``MojaloopConnector.bulk_status``) before anyone is paid or refunded. Optionally the backend
route can require a shared token header (``Authorization: Bearer <token>``) set on the SDK's backend requests;
:func:`verify_shared_token` checks it with ``compare_digest``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping

from cauri.connectors.base import header
from cauri.connectors.mobile_money.mojaloop.transformers import PROVIDER, unreadable
from cauri.kit.errors import InvalidSignature


def verify_shared_token(expected: str | None, headers: Mapping[str, str]) -> None:
    """Raise :class:`InvalidSignature` unless the callback carries ``Authorization: Bearer <expected>``."""
    if not expected:
        return
    scheme, _, token = (header(headers, "Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise InvalidSignature(provider=PROVIDER, code="callback_token_mismatch")


def load_callback(raw_body: bytes) -> dict[str, object]:
    try:
        body = json.loads(raw_body)
    except ValueError:
        raise unreadable("bulk callback is not JSON") from None
    if not isinstance(body, dict) or not body.get("bulkTransactionId"):
        raise unreadable("bulk callback without bulkTransactionId")
    return body
