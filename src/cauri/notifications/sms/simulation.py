"""What the SMS simulators share: their books (messages by id), the outcome of a number, delivery reports sent
as the outcome table says, and inbound messages (a ``STOP`` reply) posted to the configured URL.

The last three digits of the recipient choose (``cauri.kit.outcomes``): ``…901`` is refused at once (not a
valid number), ``…906`` and ``…907`` are accepted then reported failed, ``…917`` reported delivered twice,
``…918`` reported late, ``…919`` never reported, ``…920`` reported with a status word nobody knows, ``…914`` and
``…916`` answer 503 / 429 first; any other number is delivered.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from cauri.kit.outcomes import Outcome, outcome_for
from cauri.kit.simulation import SimulatorBase, SimulatorSettings
from cauri.notifications.sms.wire import form_of


class Fate(StrEnum):
    """What happens to an accepted message on the simulated network."""

    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"  # reported with a word the connector does not know


FAILING = frozenset({Outcome.PROVIDER_ERROR, Outcome.ACCOUNT_INACTIVE, Outcome.REJECTED_BY_PAYER})


def fate_of(outcome: Outcome) -> Fate:
    if outcome in FAILING:
        return Fate.FAILED
    return Fate.UNKNOWN if outcome is Outcome.UNKNOWN_STATUS else Fate.DELIVERED


def refused_at_once(outcome: Outcome) -> bool:
    return outcome is Outcome.NOT_FOUND


@dataclass
class SimulatedSms:
    id: str
    to: str
    text: str
    sender: str
    outcome: Outcome
    status: str  # in the provider's own words
    extra: dict[str, str] = field(default_factory=dict)


class SmsSimulatorBase(SimulatorBase):
    """A provider's SMS simulator keeps every message it accepted; a test reads them with :meth:`messages_to`."""

    id_prefix = "SIM"

    def __init__(self, settings: SimulatorSettings | None = None) -> None:
        super().__init__(settings)
        self.messages: dict[str, SimulatedSms] = {}
        self.inbound: list[SimulatedSms] = []  # replies posted to the inbound URL

    def messages_to(self, number: str) -> list[SimulatedSms]:
        return [m for m in self.messages.values() if m.to == number]

    def _new_id(self) -> str:
        # Unique across simulator instances too, like a provider's ids (two test runs share one database).
        return f"{self.id_prefix}{uuid.uuid4().hex}"

    def _record(self, to: str, text: str, sender: str, status: str) -> SimulatedSms:
        message = SimulatedSms(self._new_id(), to, text, sender, outcome_for(to), status)
        self.messages[message.id] = message
        return message

    def _report_later(
        self,
        message: SimulatedSms,
        url: str | None,
        body_for: Callable[[SimulatedSms], bytes],
        headers_for: Callable[[str, bytes], Mapping[str, str]],
        final_status: Callable[[Fate], str],
    ) -> None:
        """After ``settle_seconds`` the network decides; then the report is sent (late, twice or never as the
        outcome says). ``headers_for(url, body)`` is called when it leaves (Twilio signs it)."""

        async def report() -> None:
            await asyncio.sleep(self.settings.settle_seconds)
            message.status = final_status(fate_of(message.outcome))
            body = body_for(message)
            await self._deliver(message.outcome, url, body, lambda: headers_for(url or "", body))

        self.tasks.start(report())

    async def send_inbound(self, sender: str, text: str) -> bool:
        """A subscriber's reply posted to the inbound URL; True once the receiver accepted it. Providers without
        inbound SMS (Orange's SMS API here) keep this refusal."""
        raise LookupError(f"{type(self).__name__} has no inbound SMS")

    def _record_inbound(self, sender: str, text: str, to: str) -> SimulatedSms:
        message = SimulatedSms(self._new_id(), to, text, sender, outcome_for(sender), "received")
        self.inbound.append(message)
        return message

    async def _post_inbound(self, url: str | None, body: bytes, headers: Mapping[str, str]) -> bool:
        if not url:
            raise LookupError("this simulator has no inbound URL configured")
        return await self.callbacks.send(url, body, headers)

    # -- simulator control (no provider's API) -------------------------------------------------------------------

    def _control_routes(self) -> list[BaseRoute]:
        return [Route("/simulator/inbound", self._inbound_control, methods=["POST"])]

    async def _inbound_control(self, request: Request) -> Response:
        """``curl -d from=+237670000100 -d text=STOP http://127.0.0.1:8090/simulator/inbound``: a subscriber
        replies, and the simulator posts it to the inbound URL in its provider's words."""
        form = form_of(await request.body(), provider="simulator")
        if not form.get("from"):
            return PlainTextResponse("from is required", status_code=400)
        try:
            delivered = await self.send_inbound(form["from"], form.get("text", "STOP"))
        except LookupError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return JSONResponse({"delivered": delivered})
