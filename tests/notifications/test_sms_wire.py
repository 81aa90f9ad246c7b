"""The SMS providers' wire rules against their published examples, and the transformers' status maps."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from cauri.kit.errors import InvalidSignature
from cauri.notifications.sms.africastalking import transformers as africastalking
from cauri.notifications.sms.base import Callback, SmsStatus
from cauri.notifications.sms.twilio import transformers as twilio
from cauri.notifications.sms.twilio.webhooks import signature, verify

# Twilio's documentation example ("Validating requests"): auth token 12345, this URL and these parameters.
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_twilio_signature_matches_twilios_documented_example() -> None:
    body = urlencode(TWILIO_PARAMS).encode()
    assert signature("12345", TWILIO_URL, body) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    verify(Callback(TWILIO_URL, {"x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body), SecretStr("12345"))


@pytest.mark.parametrize(
    ("url", "body", "header"),
    [
        (TWILIO_URL.replace("bar=2", "bar=3"), urlencode(TWILIO_PARAMS), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (TWILIO_URL, urlencode({**TWILIO_PARAMS, "Digits": "9999"}), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (TWILIO_URL, urlencode(TWILIO_PARAMS), None),
    ],
    ids=["another URL", "a changed parameter", "no signature"],
)
def test_twilio_signature_refuses_any_change(url: str, body: str, header: str | None) -> None:
    headers = {"X-Twilio-Signature": header} if header else {}
    with pytest.raises(InvalidSignature):
        verify(Callback(url, headers, body.encode()), SecretStr("12345"))


@pytest.mark.parametrize(
    ("word", "status"),
    [("delivered", SmsStatus.DELIVERED), ("undelivered", SmsStatus.FAILED), ("sent", SmsStatus.SENT),
     ("queued", SmsStatus.PENDING), ("a-word-from-the-future", SmsStatus.PENDING)],
)  # fmt: skip
def test_twilio_status_words(word: str, status: SmsStatus) -> None:
    report = twilio.report_from({"MessageSid": "SM1", "MessageStatus": word, "ErrorCode": "30003"})
    assert report.status is status
    assert report.reason == ("30003" if status is SmsStatus.FAILED else None)


@pytest.mark.parametrize(
    ("word", "status"),
    [("Success", SmsStatus.DELIVERED), ("Failed", SmsStatus.FAILED), ("Rejected", SmsStatus.FAILED),
     ("Buffered", SmsStatus.PENDING), ("Sent", SmsStatus.SENT), ("Unheard-of", SmsStatus.PENDING)],
)  # fmt: skip
def test_africastalking_report_words(word: str, status: SmsStatus) -> None:
    report = africastalking.report_from({"id": "ATXid_1", "status": word, "failureReason": "UserInBlacklist"})
    assert report.status is status
    assert report.reason == ("UserInBlacklist" if status is SmsStatus.FAILED else None)


def test_africastalking_send_answer_refusal_and_acceptance() -> None:
    refused = {
        "SMSMessageData": {"Recipients": [{"statusCode": 403, "status": "InvalidPhoneNumber", "messageId": "None"}]}
    }
    accepted = {"SMSMessageData": {"Recipients": [{"statusCode": 101, "status": "Success", "messageId": "ATXid_9"}]}}
    assert africastalking.sent_from(refused).status is SmsStatus.FAILED
    assert africastalking.sent_from(refused).reason == "InvalidPhoneNumber"
    assert africastalking.sent_from(accepted).provider_message_id == "ATXid_9"
