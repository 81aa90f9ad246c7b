"""FreeMoPay callbacks are **not signed**: a callback is a doorbell, never proof of payment.

What can be checked on the bytes alone is that the callback names a payment that a status query can confirm
(FreeMoPay's ``reference`` and a ``status``); one that does not is refused before it is stored. The payments
module then asks ``GET /api/v2/payment/{reference}`` before crediting anyone (DESIGN.md, convention 8). FreeMoPay
re-sends a callback that is not answered 200.
"""

from __future__ import annotations

import json
from typing import Any

from cauri.connectors.mobile_money.freemopay.transformers import PROVIDER
from cauri.kit.errors import InvalidSignature

CALLBACK_HEADERS = {"Content-Type": "application/json"}


def check_confirmable(raw_body: bytes) -> None:
    """Raise :class:`InvalidSignature` unless the callback names a FreeMoPay payment a status query can confirm."""
    try:
        body = json.loads(raw_body)
    except ValueError:
        body = None
    reference = body.get("reference") if isinstance(body, dict) else None
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(reference, str) or not reference.strip() or not isinstance(status, str):
        raise InvalidSignature(
            "Notification FreeMoPay refusée : elle ne nomme aucun paiement vérifiable.",
            "FreeMoPay callback refused: it names no payment that can be confirmed.",
            provider=PROVIDER,
            code="callback_unconfirmable",
        )


def callback_body(
    *, status: str, reference: str, amount: str, transaction_type: str, external_id: str, message: str
) -> bytes:
    """The body the simulator POSTs (FreeMoPay's field names)."""
    payload: dict[str, Any] = {
        "status": status,
        "reference": reference,
        "amount": amount,
        "transactionType": transaction_type,
        "externalId": external_id,
        "message": message,
    }
    return json.dumps(payload).encode()
