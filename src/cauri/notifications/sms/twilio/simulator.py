"""The Twilio simulator: the Messages API (Basic auth with the account SID and auth token, form body) answered in
Twilio's words; status callbacks posted to each message's ``StatusCallback`` and inbound messages to the number's
messaging URL, both signed with ``X-Twilio-Signature`` as Twilio does."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import Fault, SimulatorSettings, basic_credentials
from cauri.notifications.sms.simulation import Fate, SimulatedSms, SmsSimulatorBase, refused_at_once
from cauri.notifications.sms.twilio.transformers import PROVIDER
from cauri.notifications.sms.twilio.webhooks import SIGNATURE_HEADER, signature
from cauri.notifications.sms.wire import form_of

DEMO_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEMO_AUTH_TOKEN = "twilio_simulator_demo_token"  # noqa: S105 - the simulator's published demo value
DEMO_NUMBER = "+15005550006"
FINAL_WORDS = {Fate.DELIVERED: "delivered", Fate.FAILED: "undelivered", Fate.UNKNOWN: "teleported"}
ERROR_CODES = {Outcome.ACCOUNT_INACTIVE: "30003", Outcome.REJECTED_BY_PAYER: "30007", Outcome.PROVIDER_ERROR: "30008"}


def _error(status: int, code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


class TwilioSimulator(SmsSimulatorBase):
    id_prefix = "SM"

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        *,
        account_sid: str = DEMO_ACCOUNT_SID,
        auth_token: SecretStr = SecretStr(DEMO_AUTH_TOKEN),
        inbound_url: str | None = None,
    ) -> None:
        super().__init__(settings)
        self.account_sid, self.auth_token, self.inbound_url = account_sid, auth_token, inbound_url
        path = "/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._app = Starlette(routes=[Route(path, self._send, methods=["POST"]), *self._control_routes()])

    def _signed(self, url: str, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            SIGNATURE_HEADER: signature(self.auth_token.get_secret_value(), url, body),
        }

    async def _send(self, request: Request) -> Response:
        await self._enter("POST /Messages.json")
        user, password = basic_credentials(request.headers.get("Authorization", ""))
        if (user, password) != (self.account_sid, self.auth_token.get_secret_value()) or (
            request.path_params["account_sid"] != self.account_sid
        ):
            return _error(401, 20003, "Authenticate")
        form = form_of(await request.body(), provider=PROVIDER)
        to, text = form.get("To", ""), form.get("Body", "")
        if not to or not text:
            return _error(400, 21604 if not to else 21602, "A 'To' phone number and a 'Body' are required.")
        outcome = outcome_for(to)
        fault = self._refusal(outcome, self._attempt(to))
        if fault is Fault.RATE_LIMITED:
            return _error(429, 20429, "Too Many Requests", self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, 20503, "Service Unavailable")
        message = self._record(to, text, form.get("From", DEMO_NUMBER), "queued")
        if refused_at_once(outcome):
            message.status = "failed"
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        callback = form.get("StatusCallback") or None
        self._report_later(message, callback, self._report_body, self._signed, FINAL_WORDS.__getitem__)
        return JSONResponse(self._resource(message), status_code=201)

    def _resource(self, message: SimulatedSms) -> dict[str, object]:
        return {
            "sid": message.id,
            "account_sid": self.account_sid,
            "to": message.to,
            "from": message.sender,
            "body": message.text,
            "status": message.status,
            "num_segments": "1",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.id}.json",
        }

    def _report_body(self, message: SimulatedSms) -> bytes:
        fields = {
            "MessageSid": message.id,
            "SmsSid": message.id,
            "AccountSid": self.account_sid,
            "From": message.sender,
            "To": message.to,
            "MessageStatus": message.status,
            "SmsStatus": message.status,
            "ApiVersion": "2010-04-01",
        }
        if message.status == FINAL_WORDS[Fate.FAILED]:
            fields["ErrorCode"] = ERROR_CODES.get(message.outcome, "30008")
        return urlencode(fields).encode()

    async def send_inbound(self, sender: str, text: str, *, to: str = DEMO_NUMBER) -> bool:
        message = self._record_inbound(sender, text, to)
        fields = {
            "MessageSid": message.id,
            "SmsSid": message.id,
            "AccountSid": self.account_sid,
            "From": sender,
            "To": to,
            "Body": text,
            "NumMedia": "0",
        }
        body = urlencode(fields).encode()
        return await self._post_inbound(self.inbound_url, body, self._signed(self.inbound_url or "", body))
