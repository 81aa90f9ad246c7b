"""The Africa's Talking SMS channel: HTTP through the kit's client, words through the transformers."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from cauri.kit.auth import ApiKeyHeader
from cauri.kit.http import ProviderHttpClient
from cauri.notifications.sms.africastalking import transformers
from cauri.notifications.sms.base import (
    Callback,
    DeliveryReport,
    InboundSms,
    SentSms,
    SmsChannel,
    SmsMessage,
)
from cauri.notifications.sms.wire import form_of, json_answer, verify_url_token

SEND_PATH = "/version1/messaging"


class AfricasTalkingChannel(SmsChannel):
    """Delivery reports and inbound messages go to the URLs set in the Africa's Talking dashboard (not per
    request): ``callback_url`` is not sent, but those URLs must carry ``?token=<CAURI_SMS_CALLBACK_TOKEN>``."""

    name = transformers.PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        api_key: SecretStr,
        sender_id: str = "",
        callback_token: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.username, self.sender_id, self.callback_token = username, sender_id, callback_token
        self.http = ProviderHttpClient(
            provider=self.name,
            base_url=base_url,
            auth=ApiKeyHeader("apiKey", api_key),
            sensitive_fields=("apiKey", "message"),
            transport=transport,
        )

    async def send(self, message: SmsMessage, *, callback_url: str | None) -> SentSms:
        form = transformers.send_form(message, username=self.username, sender_id=self.sender_id)
        # Not idempotent: a retry after a lost answer could send the SMS twice, so the kit does not retry it.
        response = await self.http.request("POST", SEND_PATH, operation="send_sms", data=form, idempotent=False)
        return transformers.sent_from(json_answer(response, provider=self.name))

    def verify(self, callback: Callback) -> None:
        # Unsigned callbacks: the dashboard's URL carries our token (wire.verify_url_token).
        verify_url_token(callback, self.callback_token, provider=self.name)

    def delivery_report(self, callback: Callback) -> DeliveryReport:
        return transformers.report_from(form_of(callback.body, provider=self.name))

    def inbound(self, callback: Callback) -> InboundSms:
        return transformers.inbound_from(form_of(callback.body, provider=self.name))

    async def aclose(self) -> None:
        await self.http.aclose()
