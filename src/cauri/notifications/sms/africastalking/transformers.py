"""Africa's Talking wire ↔ domain: the send form and answer, delivery reports and inbound messages.

Source: Africa's Talking SMS docs (``POST /version1/messaging``; recipient ``statusCode`` 100 Processed,
101 Sent, 102 Queued, 401–409 and 500–502 refusals; delivery-report ``status`` Sent, Submitted, Buffered,
Rejected, Success, Failed, AbsentSubscriber, Expired with a ``failureReason``).
"""

from __future__ import annotations

from typing import Any

from cauri.kit.errors import InvalidRequest
from cauri.notifications.sms.base import DeliveryReport, InboundSms, SentSms, SmsMessage, SmsStatus
from cauri.notifications.sms.wire import required

PROVIDER = "africastalking"

ACCEPTED_CODES = {100: SmsStatus.PENDING, 101: SmsStatus.SENT, 102: SmsStatus.PENDING}
REPORT_STATUS: dict[str, SmsStatus] = {
    "Sent": SmsStatus.SENT,
    "Submitted": SmsStatus.SENT,
    "Buffered": SmsStatus.PENDING,
    "Success": SmsStatus.DELIVERED,
    "Rejected": SmsStatus.FAILED,
    "Failed": SmsStatus.FAILED,
    "AbsentSubscriber": SmsStatus.FAILED,
    "Expired": SmsStatus.FAILED,
}


def send_form(message: SmsMessage, *, username: str, sender_id: str) -> dict[str, str]:
    form = {"username": username, "to": message.to, "message": message.text}
    if sender_id:
        form["from"] = sender_id
    return form


def _invalid(what: str) -> InvalidRequest:
    return InvalidRequest(
        f"Réponse Africa's Talking illisible : {what}.",
        f"Unreadable Africa's Talking answer: {what}.",
        provider=PROVIDER,
    )


def sent_from(answer: Any) -> SentSms:
    """The one recipient of our request: accepted (its ``messageId``) or refused (its ``status`` word)."""
    try:
        recipient = answer["SMSMessageData"]["Recipients"][0]
        code = int(recipient["statusCode"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise _invalid("no recipient") from None
    status = ACCEPTED_CODES.get(code)
    message_id = str(recipient.get("messageId") or "")
    if status is None:
        return SentSms(message_id or "None", SmsStatus.FAILED, str(recipient.get("status") or code))
    if not message_id or message_id == "None":
        raise _invalid("no messageId")
    return SentSms(message_id, status)


def report_from(fields: dict[str, str]) -> DeliveryReport:
    status = REPORT_STATUS.get(fields.get("status", ""), SmsStatus.PENDING)  # unknown words: still pending
    reason = (fields.get("failureReason") or fields.get("status")) if status is SmsStatus.FAILED else None
    return DeliveryReport(required(fields, "id", provider=PROVIDER), status, reason)


def inbound_from(fields: dict[str, str]) -> InboundSms:
    return InboundSms(
        sender=required(fields, "from", provider=PROVIDER),
        text=fields.get("text", ""),
        provider_message_id=fields.get("id") or None,
    )
