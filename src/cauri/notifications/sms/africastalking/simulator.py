"""The Africa's Talking simulator: ``POST /version1/messaging`` (form, ``apiKey`` header, ``username``) answered
in Africa's Talking's words, delivery reports and inbound messages posted, form-encoded, to the URLs that the
real service takes from its dashboard (here: the constructor).

The routes are grouped by product: :meth:`_sms_routes` today; USSD callbacks go in a section of their own next
to it, sharing the books and the callback sender.
"""

from __future__ import annotations

from urllib.parse import urlencode

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import Fault, SimulatorSettings
from cauri.notifications.sms.simulation import Fate, SimulatedSms, SmsSimulatorBase, refused_at_once
from cauri.notifications.sms.wire import form_of

DEMO_USERNAME = "sandbox"
DEMO_API_KEY = "atsk_simulator_demo_key"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
FINAL_WORDS = {Fate.DELIVERED: "Success", Fate.FAILED: "Failed", Fate.UNKNOWN: "Teleported"}


class AfricasTalkingSimulator(SmsSimulatorBase):
    id_prefix = "ATXid_"

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        *,
        username: str = DEMO_USERNAME,
        api_key: SecretStr = SecretStr(DEMO_API_KEY),
        delivery_report_url: str | None = None,
        inbound_url: str | None = None,
    ) -> None:
        super().__init__(settings)
        self.username, self.api_key = username, api_key
        self.delivery_report_url, self.inbound_url = delivery_report_url, inbound_url
        self._app = Starlette(routes=[*self._sms_routes(), *self._control_routes()])

    # -- SMS -----------------------------------------------------------------------------------------------------

    def _sms_routes(self) -> list[BaseRoute]:
        return [Route("/version1/messaging", self._send, methods=["POST"])]

    async def _send(self, request: Request) -> Response:
        await self._enter("POST /version1/messaging")
        if request.headers.get("apiKey") != self.api_key.get_secret_value():
            return PlainTextResponse("The supplied authentication is invalid", status_code=401)
        form = form_of(await request.body(), provider="africastalking")
        if form.get("username") != self.username:
            return PlainTextResponse("The supplied authentication is invalid", status_code=401)
        numbers = [n.strip() for n in form.get("to", "").split(",") if n.strip()]
        if not numbers or not form.get("message"):
            return PlainTextResponse("Must have to and message to send", status_code=400)
        fault = self._refusal(outcome_for(numbers[0]), self._attempt(numbers[0]))
        if fault is Fault.RATE_LIMITED:
            return PlainTextResponse("Too many requests", status_code=429, headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return PlainTextResponse("Service unavailable", status_code=503)
        recipients = [self._recipient(number, form["message"], form.get("from", "AFRICASTKNG")) for number in numbers]
        sent = sum(1 for r in recipients if r["statusCode"] == 101)
        summary = f"Sent to {sent}/{len(numbers)} Total Cost: XOF {sent * 25}.0000"
        return JSONResponse({"SMSMessageData": {"Message": summary, "Recipients": recipients}}, status_code=201)

    def _recipient(self, number: str, text: str, sender: str) -> dict[str, object]:
        message = self._record(number, text, sender, "Sent")
        if refused_at_once(message.outcome):
            message.status = "InvalidPhoneNumber"
            return {
                "statusCode": 403,
                "number": number,
                "status": "InvalidPhoneNumber",
                "cost": "0",
                "messageId": "None",
            }
        self._report_later(
            message, self.delivery_report_url, self._report_body, lambda _u, _b: FORM_HEADERS, self._final
        )
        return {
            "statusCode": 101,
            "number": number,
            "status": "Success",
            "cost": "XOF 25.0000",
            "messageId": message.id,
        }

    @staticmethod
    def _final(fate: Fate) -> str:
        return FINAL_WORDS[fate]

    @staticmethod
    def _report_body(message: SimulatedSms) -> bytes:
        fields = {"id": message.id, "status": message.status, "phoneNumber": message.to, "networkCode": "62002"}
        if message.status == FINAL_WORDS[Fate.FAILED]:
            fields["failureReason"] = (
                "UserIsInactive" if message.outcome is Outcome.ACCOUNT_INACTIVE else "DeliveryFailure"
            )
        return urlencode(fields).encode()

    async def send_inbound(self, sender: str, text: str, *, to: str = "12345") -> bool:
        """A subscriber replies (e.g. ``STOP``): the inbound callback the dashboard's URL would receive."""
        message = self._record_inbound(sender, text, to)
        fields = {"from": sender, "to": to, "text": text, "id": message.id, "linkId": "", "date": "2026-01-01 00:00:00"}
        return await self._post_inbound(self.inbound_url, urlencode(fields).encode(), FORM_HEADERS)
