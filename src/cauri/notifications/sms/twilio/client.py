"""The Twilio SMS channel: the Messages API with Basic auth (account SID, auth token), per-message
``StatusCallback``; callbacks verified with ``X-Twilio-Signature``."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from cauri.kit.auth import BasicAuth
from cauri.kit.http import ProviderHttpClient
from cauri.notifications.sms.base import Callback, DeliveryReport, InboundSms, SentSms, SmsChannel, SmsMessage
from cauri.notifications.sms.twilio import transformers, webhooks
from cauri.notifications.sms.wire import form_of, json_answer


class TwilioChannel(SmsChannel):
    name = transformers.PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: SecretStr,
        sender: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account_sid, self.auth_token, self.sender = account_sid, auth_token, sender
        self.http = ProviderHttpClient(
            provider=self.name,
            base_url=base_url,
            auth=BasicAuth(account_sid, auth_token),
            sensitive_fields=("Body",),
            transport=transport,
        )

    async def send(self, message: SmsMessage, *, callback_url: str | None) -> SentSms:
        form = transformers.send_form(message, sender=self.sender, status_callback=callback_url)
        response = await self.http.request(
            "POST",
            transformers.messages_path(self.account_sid),
            operation="send_sms",
            data=form,
            idempotent=False,  # a retry after a lost answer could send the SMS twice
            allow_status=transformers.REFUSING_STATUSES,
        )
        return transformers.sent_from(response.status_code, json_answer(response, provider=self.name))

    def verify(self, callback: Callback) -> None:
        webhooks.verify(callback, self.auth_token)

    def delivery_report(self, callback: Callback) -> DeliveryReport:
        return transformers.report_from(form_of(callback.body, provider=self.name))

    def inbound(self, callback: Callback) -> InboundSms:
        return transformers.inbound_from(form_of(callback.body, provider=self.name))

    async def aclose(self) -> None:
        await self.http.aclose()
