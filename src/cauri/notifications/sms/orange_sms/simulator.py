"""The Orange SMS API simulator: the OAuth2 token endpoint (Basic client credentials, one-hour bearer tokens)
and the outbound request in GSMA OneAPI shapes, with delivery-receipt notifications posted as JSON to the
request's ``receiptRequest.notifyURL`` (else to the subscription URL given to the constructor)."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import unquote

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.kit.outcomes import outcome_for
from cauri.kit.simulation import Fault, SimulatorSettings, basic_credentials, json_object
from cauri.notifications.sms.orange_sms.transformers import TOKEN_PATH, tel, untel
from cauri.notifications.sms.simulation import Fate, SimulatedSms, SmsSimulatorBase, refused_at_once
from cauri.notifications.sms.wire import form_of

DEMO_CLIENT_ID = "orange_sms_simulator_client"
DEMO_CLIENT_SECRET = "orange_sms_simulator_secret"  # noqa: S105 - the simulator's published demo value
FINAL_WORDS = {Fate.DELIVERED: "DeliveredToTerminal", Fate.FAILED: "DeliveryImpossible", Fate.UNKNOWN: "Teleported"}
JSON_HEADERS = {"Content-Type": "application/json"}


def _service_exception(status: int, message_id: str, text: str, variables: list[str] | None = None) -> Response:
    error = {"messageId": message_id, "text": text, "variables": variables or []}
    return JSONResponse({"requestError": {"serviceException": error}}, status_code=status)


def _auth_error(code: int, message: str, description: str) -> Response:
    return JSONResponse({"code": code, "message": message, "description": description}, status_code=401)


def _invalid_part(outbound: object, sender: str) -> str | None:
    """The first part of an outbound request Orange would refuse (SVC0002 names it), or None."""
    if not isinstance(outbound, dict):
        return "outboundSMSMessageRequest"
    if not str(outbound.get("address", "")).startswith("tel:+"):
        return "address"
    text = outbound.get("outboundSMSTextMessage")
    if not isinstance(text, dict) or not isinstance(text.get("message"), str) or not text["message"]:
        return "message"
    return None if outbound.get("senderAddress") == sender else "senderAddress"


class OrangeSmsSimulator(SmsSimulatorBase):
    id_prefix = "ORG"

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: SecretStr = SecretStr(DEMO_CLIENT_SECRET),
        subscription_url: str | None = None,
    ) -> None:
        super().__init__(settings)
        self.client_id, self.client_secret, self.subscription_url = client_id, client_secret, subscription_url
        self.tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
        self._app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route("/smsmessaging/v1/outbound/{sender}/requests", self._send, methods=["POST"]),
                *self._control_routes(),
            ]
        )

    async def _token(self, request: Request) -> Response:
        await self._enter("POST /oauth/v3/token")
        user, password = basic_credentials(request.headers.get("Authorization", ""))
        form = form_of(await request.body(), provider="orange_sms")
        if (user, password) != (self.client_id, self.client_secret.get_secret_value()):
            return JSONResponse({"error": "invalid_client", "error_description": "Invalid client"}, status_code=401)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = secrets.token_urlsafe(24)
        lifetime = self.settings.token_lifetime_seconds
        self.tokens[token] = time.monotonic() + lifetime
        return JSONResponse({"token_type": "Bearer", "access_token": token, "expires_in": lifetime})

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.tokens.get(token, 0.0) > time.monotonic()

    async def _send(self, request: Request) -> Response:
        await self._enter("POST /smsmessaging/v1/outbound/requests")
        if not self._authorised(request):
            return _auth_error(42, "Expired credentials", "The requested service needs credentials, but they expired")
        outbound = (json_object(await request.body()) or {}).get("outboundSMSMessageRequest")
        sender = unquote(request.path_params["sender"])
        invalid = _invalid_part(outbound, sender)
        if invalid is not None or not isinstance(outbound, dict):
            return _service_exception(400, "SVC0002", "Invalid input value for message part %1", [invalid or "body"])
        to = untel(str(outbound["address"]))
        outcome = outcome_for(to)
        fault = self._refusal(outcome, self._attempt(to))
        if fault is Fault.RATE_LIMITED:
            return JSONResponse(
                {"code": 53, "message": "Too many requests"}, status_code=429, headers=self._retry_after()
            )
        if fault is Fault.UNAVAILABLE:
            return JSONResponse({"code": 5, "message": "Service unavailable"}, status_code=503)
        if refused_at_once(outcome):
            return _service_exception(400, "SVC0004", "No valid addresses provided in message part %1", ["address"])
        message = self._record(to, str(outbound["outboundSMSTextMessage"]["message"]), sender, "MessageWaiting")
        receipt = outbound.get("receiptRequest")
        receipt = receipt if isinstance(receipt, dict) else {}
        message.extra = {"callbackData": str(receipt.get("callbackData", ""))}
        notify_url = str(receipt.get("notifyURL") or "") or self.subscription_url
        self._report_later(
            message, notify_url, self._receipt, lambda _url, _body: JSON_HEADERS, FINAL_WORDS.__getitem__
        )
        resource = f"{request.base_url}smsmessaging/v1/outbound/{request.path_params['sender']}/requests/{message.id}"
        return JSONResponse({"outboundSMSMessageRequest": {**outbound, "resourceURL": resource}}, status_code=201)

    @staticmethod
    def _receipt(message: SimulatedSms) -> bytes:
        info = {"address": tel(message.to), "deliveryStatus": message.status}
        notification = {"callbackData": message.extra.get("callbackData", ""), "deliveryInfo": info}
        return json.dumps({"deliveryInfoNotification": notification}).encode()
