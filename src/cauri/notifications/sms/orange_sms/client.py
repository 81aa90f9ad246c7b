"""The Orange SMS API channel: an OAuth2 client-credentials token (Basic ``client_id:client_secret``), the
outbound request per message; receipts verified by the token of the notify URL (Orange does not sign)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from cauri.kit.auth import OAuth2ClientCredentials
from cauri.kit.http import ProviderHttpClient
from cauri.notifications.sms.base import Callback, DeliveryReport, SentSms, SmsChannel, SmsMessage
from cauri.notifications.sms.orange_sms import transformers
from cauri.notifications.sms.wire import TOKEN_PARAMETER, json_of, verify_url_token, with_query


class OrangeSmsChannel(SmsChannel):
    name = transformers.PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: SecretStr,
        sender_address: str,
        sender_name: str = "",
        callback_token: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sender_address, self.sender_name, self.callback_token = sender_address, sender_name, callback_token
        auth = OAuth2ClientCredentials(
            token_url=transformers.TOKEN_PATH, client_id=client_id, client_secret=client_secret, default_lifetime=3600
        )
        self.http = ProviderHttpClient(
            provider=self.name, base_url=base_url, auth=auth, sensitive_fields=("message",), transport=transport
        )

    async def send(self, message: SmsMessage, *, callback_url: str | None) -> SentSms:
        notify_url = None
        if callback_url and self.callback_token is not None:
            notify_url = with_query(callback_url, {TOKEN_PARAMETER: self.callback_token.get_secret_value()})
        body = transformers.send_body(
            message, sender_address=self.sender_address, sender_name=self.sender_name, notify_url=notify_url
        )
        response = await self.http.request(
            "POST",
            transformers.outbound_path(self.sender_address),
            operation="send_sms",
            json=body,
            idempotent=False,  # a retry after a lost answer could send the SMS twice
            allow_status=transformers.REFUSING_STATUSES,
        )
        return transformers.sent_from(response.status_code, json_of(response.content, provider=self.name))

    def verify(self, callback: Callback) -> None:
        verify_url_token(callback, self.callback_token, provider=self.name)

    def delivery_report(self, callback: Callback) -> DeliveryReport:
        return transformers.report_from(json_of(callback.body, provider=self.name))

    async def aclose(self) -> None:
        await self.http.aclose()
