"""Orange Money notifications carry **no signature**.

* WebPay POSTs ``{status, notif_token, txnid}``: the ``notif_token`` is the per-payment secret Orange returned at
  init, so a notification is authentic only if its token equals the stored one (:func:`verify_notif_token`, in
  constant time); it is then re-checked with a status query before anyone is credited. The token is the payment's
  ``callback_token``: the notification names nothing else.
* The Cameroon USSD push notifies ``notifUrl`` with the payment's data (its exact shape is not public: the
  ``payToken`` is required); it is confirmed with ``mp/paymentstatus/{payToken}``.

On the bytes alone, :func:`check_webpay` and :func:`check_ussd` refuse a notification that names nothing a status
query could confirm.
"""

from __future__ import annotations

import json
from typing import Any

from cauri.connectors.mobile_money.orange_money.transformers import PROVIDER, notification_from_wire
from cauri.kit.errors import InvalidSignature
from cauri.kit.signatures import verify_callback_token

CALLBACK_HEADERS = {"Content-Type": "application/json"}


def _unconfirmable(what: str) -> InvalidSignature:
    return InvalidSignature(
        f"Notification Orange refusée : {what} manquant.",
        f"Orange notification refused: missing {what}.",
        provider=PROVIDER,
        code="callback_unconfirmable",
    )


def _object(raw_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw_body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def check_webpay(raw_body: bytes) -> None:
    body = _object(raw_body)
    if (
        not isinstance(body.get("notif_token"), str)
        or not body["notif_token"]
        or not isinstance(body.get("status"), str)
    ):
        raise _unconfirmable("notif_token/status")


def check_ussd(raw_body: bytes) -> None:
    body = _object(raw_body)
    data = body.get("data", body)
    if not isinstance(data, dict) or not isinstance(data.get("payToken"), str) or not data["payToken"]:
        raise _unconfirmable("payToken")


def verify_notif_token(raw_body: bytes, expected_notif_token: str | None) -> None:
    """The WebPay check: the notification's ``notif_token`` must be the one the init answered for this payment."""
    check_webpay(raw_body)
    notification, _raw = notification_from_wire(raw_body)
    verify_callback_token(provider=PROVIDER, received=notification.notif_token, expected=expected_notif_token)


def webpay_notification(status: str, notif_token: str, txnid: str | None) -> bytes:
    """The body the simulator POSTs."""
    return json.dumps({"status": status, "notif_token": notif_token, "txnid": txnid}).encode()
