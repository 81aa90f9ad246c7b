"""Twilio wire ↔ domain: the Messages API form and answer, status callbacks and inbound messages.

Source: Twilio's Messages resource (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form ``To``,
``From``, ``Body``, ``StatusCallback``; ``MessageStatus`` accepted, scheduled, queued, sending, sent, delivered,
read, undelivered, failed, canceled, with an ``ErrorCode`` such as 30003 or 30008; a refused request answers
4xx ``{"code": 21211, "message": …}``).
"""

from __future__ import annotations

from typing import Any

from cauri.kit.errors import InvalidRequest
from cauri.notifications.sms.base import DeliveryReport, InboundSms, SentSms, SmsMessage, SmsStatus
from cauri.notifications.sms.wire import required

PROVIDER = "twilio"

STATUS: dict[str, SmsStatus] = {
    "accepted": SmsStatus.PENDING,
    "scheduled": SmsStatus.PENDING,
    "queued": SmsStatus.PENDING,
    "sending": SmsStatus.PENDING,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.FAILED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}
# Client errors that refuse this message for good (invalid or unreachable number, opted out at Twilio…).
REFUSING_STATUSES = (400,)


def messages_path(account_sid: str) -> str:
    return f"/2010-04-01/Accounts/{account_sid}/Messages.json"


def send_form(message: SmsMessage, *, sender: str, status_callback: str | None) -> dict[str, str]:
    form = {"To": message.to, "From": sender, "Body": message.text}
    if status_callback:
        form["StatusCallback"] = status_callback
    return form


def sent_from(status_code: int, answer: Any) -> SentSms:
    if not isinstance(answer, dict):
        raise InvalidRequest("Réponse Twilio illisible.", "Unreadable Twilio answer.", provider=PROVIDER)
    if status_code in REFUSING_STATUSES:
        return SentSms("", SmsStatus.FAILED, f"{answer.get('code', status_code)}: {answer.get('message', '')}"[:200])
    sid = answer.get("sid")
    if not isinstance(sid, str) or not sid:
        raise InvalidRequest("Réponse Twilio sans « sid ».", "Twilio answer without a sid.", provider=PROVIDER)
    status = STATUS.get(str(answer.get("status")), SmsStatus.PENDING)
    return SentSms(sid, status, _reason(answer.get("error_code")) if status is SmsStatus.FAILED else None)


def _reason(error_code: object, status: str = "failed") -> str:
    return str(error_code) if error_code not in (None, "") else status


def report_from(fields: dict[str, str]) -> DeliveryReport:
    word = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    status = STATUS.get(word, SmsStatus.PENDING)  # unknown words: still pending
    reason = _reason(fields.get("ErrorCode"), word) if status is SmsStatus.FAILED else None
    sid = fields.get("MessageSid") or required(fields, "SmsSid", provider=PROVIDER)
    return DeliveryReport(sid, status, reason)


def inbound_from(fields: dict[str, str]) -> InboundSms:
    return InboundSms(
        sender=required(fields, "From", provider=PROVIDER),
        text=fields.get("Body", ""),
        provider_message_id=fields.get("MessageSid") or None,
    )
