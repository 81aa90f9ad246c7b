"""Orange SMS API wire ↔ domain (GSMA OneAPI shapes): the outbound request, its ``resourceURL`` answer, and
delivery-receipt notifications.

Source: Orange Developer "SMS Africa" (``POST /smsmessaging/v1/outbound/tel%3A%2B{sender}/requests``,
``outboundSMSMessageRequest`` with ``address``, ``senderAddress``, ``senderName``, ``outboundSMSTextMessage``;
receipts ``deliveryInfoNotification.deliveryInfo.deliveryStatus`` DeliveredToTerminal, DeliveryImpossible,
DeliveredToNetwork, MessageWaiting). We add the OneAPI ``receiptRequest`` (``notifyURL``, ``callbackData`` = our
message id) to each request; receipts sent to a subscription carry only the address.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from cauri.kit.errors import InvalidRequest
from cauri.notifications.sms.base import DeliveryReport, SentSms, SmsMessage, SmsStatus

PROVIDER = "orange_sms"
TOKEN_PATH = "/oauth/v3/token"  # noqa: S105 - a path

STATUS: dict[str, SmsStatus] = {
    "DeliveredToTerminal": SmsStatus.DELIVERED,
    "DeliveryImpossible": SmsStatus.FAILED,
    "DeliveredToNetwork": SmsStatus.SENT,
    "MessageWaiting": SmsStatus.PENDING,
    "DeliveryUncertain": SmsStatus.PENDING,
}
REFUSING_STATUSES = (400,)  # SVC/POL exceptions: an invalid address, a policy refusal


def tel(number: str) -> str:
    return number if number.startswith("tel:") else f"tel:{number}"


def untel(address: str) -> str:
    return address.removeprefix("tel:")


def outbound_path(sender_address: str) -> str:
    return f"/smsmessaging/v1/outbound/{quote(tel(sender_address), safe='')}/requests"


def send_body(message: SmsMessage, *, sender_address: str, sender_name: str, notify_url: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "address": tel(message.to),
        "senderAddress": tel(sender_address),
        "outboundSMSTextMessage": {"message": message.text},
    }
    if sender_name:
        request["senderName"] = sender_name
    if notify_url:
        request["receiptRequest"] = {"notifyURL": notify_url, "callbackData": str(message.reference)}
    return {"outboundSMSMessageRequest": request}


def _unreadable(what: str) -> InvalidRequest:
    return InvalidRequest(
        f"Réponse Orange SMS illisible : {what}.", f"Unreadable Orange SMS answer: {what}.", provider=PROVIDER
    )


def sent_from(status_code: int, answer: Any) -> SentSms:
    if not isinstance(answer, dict):
        raise _unreadable("not an object")
    if status_code in REFUSING_STATUSES:
        exception = (
            (answer.get("requestError") or {}).get("serviceException")
            or (answer.get("requestError") or {}).get("policyException")
            or {}
        )
        return SentSms(
            "", SmsStatus.FAILED, f"{exception.get('messageId', status_code)}: {exception.get('text', '')}"[:200]
        )
    resource = (answer.get("outboundSMSMessageRequest") or {}).get("resourceURL")
    if not isinstance(resource, str) or "/" not in resource:
        raise _unreadable("no resourceURL")
    return SentSms(resource.rstrip("/").rsplit("/", 1)[1], SmsStatus.PENDING)


def _reference(callback_data: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(callback_data))
    except ValueError:
        return None


def report_from(body: Any) -> DeliveryReport:
    notification = body.get("deliveryInfoNotification") if isinstance(body, dict) else None
    if not isinstance(notification, dict):
        notification = {}
    info = notification.get("deliveryInfo")
    if not isinstance(info, dict) or not info.get("address"):
        raise InvalidRequest(
            "Notification Orange incomplète : « deliveryInfo.address » manquant.",
            "Incomplete Orange notification: 'deliveryInfo.address' is missing.",
            provider=PROVIDER,
        )
    word = str(info.get("deliveryStatus", ""))
    status = STATUS.get(word, SmsStatus.PENDING)  # unknown words: still pending
    return DeliveryReport(
        provider_message_id=None,
        status=status,
        reason=word if status is SmsStatus.FAILED else None,
        reference=_reference(notification.get("callbackData")),
        recipient=untel(str(info["address"])),
    )
