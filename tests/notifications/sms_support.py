"""SMS tests' harness: a provider's simulator and the API, each served on 127.0.0.1, the API's SMS backend pointed at
the simulator, and the simulator's callbacks pointed at the API's public routes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.db import unit_of_work
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import free_port, serve_app
from cauri.notifications.models import Notification, SmsOptOut
from cauri.notifications.service import queue_message
from cauri.notifications.sms.africastalking.simulator import DEMO_API_KEY, AfricasTalkingSimulator
from cauri.notifications.sms.base import Callback
from cauri.notifications.sms.orange_sms.simulator import DEMO_CLIENT_ID as ORANGE_CLIENT_ID
from cauri.notifications.sms.orange_sms.simulator import DEMO_CLIENT_SECRET as ORANGE_CLIENT_SECRET
from cauri.notifications.sms.orange_sms.simulator import OrangeSmsSimulator
from cauri.notifications.sms.registry import CALLBACK_PREFIX
from cauri.notifications.sms.simulation import SmsSimulatorBase
from cauri.notifications.sms.twilio.simulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, DEMO_NUMBER, TwilioSimulator
from cauri.notifications.sms.twilio.webhooks import SIGNATURE_HEADER, signature
from tests.conftest import make_settings

CALLBACK_TOKEN = "sms-callback-token-of-the-tests"
TIMINGS = SimulatorSettings(settle_seconds=0.05, late_callback_seconds=0.5, callback_attempts=5)


def report_url(base_url: str, provider: str, *, token: str = CALLBACK_TOKEN) -> str:
    return f"{base_url}{CALLBACK_PREFIX}/{provider}/delivery-reports?token={token}"


def inbound_url(base_url: str, provider: str, *, token: str = CALLBACK_TOKEN) -> str:
    return f"{base_url}{CALLBACK_PREFIX}/{provider}/inbound?token={token}"


@dataclass(frozen=True)
class ProviderKit:
    """How the tests run one provider: its simulator and settings, and how a forger would fake its callbacks."""

    build: Callable[[str], tuple[SmsSimulatorBase, Callable[[str], dict[str, Any]]]]
    forge_report: Callable[[str, str], Callback]  # (provider message id, API base URL)
    forge_inbound: Callable[[str, str, str], Callback] | None  # (sender, text, API base URL); None: no inbound
    stop_number: str  # a number of its own for the STOP test (the database is shared by the providers' tests)


def _africastalking(api_url: str) -> tuple[SmsSimulatorBase, Callable[[str], dict[str, Any]]]:
    simulator = AfricasTalkingSimulator(
        TIMINGS,
        delivery_report_url=report_url(api_url, "africastalking"),
        inbound_url=inbound_url(api_url, "africastalking"),
    )

    def settings(simulator_url: str) -> dict[str, Any]:
        return {"africastalking_base_url": simulator_url, "africastalking_api_key": SecretStr(DEMO_API_KEY)}

    return simulator, settings


def _twilio(api_url: str) -> tuple[SmsSimulatorBase, Callable[[str], dict[str, Any]]]:
    simulator = TwilioSimulator(TIMINGS, inbound_url=f"{api_url}{CALLBACK_PREFIX}/twilio/inbound")

    def settings(simulator_url: str) -> dict[str, Any]:
        return {
            "twilio_base_url": simulator_url,
            "twilio_account_sid": DEMO_ACCOUNT_SID,
            "twilio_auth_token": SecretStr(DEMO_AUTH_TOKEN),
            "twilio_from": DEMO_NUMBER,
        }

    return simulator, settings


def _twilio_forged(url: str, fields: dict[str, str]) -> Callback:
    """The right URL and body, signed with a token that is not the account's."""
    body = urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", SIGNATURE_HEADER: signature("guessed", url, body)}
    return Callback(url, headers, body)


def _orange_sms(api_url: str) -> tuple[SmsSimulatorBase, Callable[[str], dict[str, Any]]]:
    simulator = OrangeSmsSimulator(TIMINGS)  # receipts go to each request's notifyURL

    def settings(simulator_url: str) -> dict[str, Any]:
        return {
            "orange_sms_base_url": simulator_url,
            "orange_sms_client_id": ORANGE_CLIENT_ID,
            "orange_sms_client_secret": SecretStr(ORANGE_CLIENT_SECRET),
            "orange_sms_sender_address": "tel:+2250000",
        }

    return simulator, settings


def _orange_forged(message_id: str, api_url: str) -> Callback:
    """A receipt for the right address, without the notify URL's token."""
    del message_id  # Orange's receipts name the address, not the message
    info = {"address": "tel:+221770000919", "deliveryStatus": "DeliveredToTerminal"}
    body = json.dumps({"deliveryInfoNotification": {"callbackData": "", "deliveryInfo": info}}).encode()
    return Callback(report_url(api_url, "orange_sms", token="guessed"), {"Content-Type": "application/json"}, body)


def _form_callback(url: str, fields: dict[str, str]) -> Callback:
    return Callback(url, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields).encode())


PROVIDERS: dict[str, ProviderKit] = {
    "africastalking": ProviderKit(
        build=_africastalking,
        # The right body, but posted by someone who does not know the URL's token.
        forge_report=lambda message_id, api_url: _form_callback(
            report_url(api_url, "africastalking", token="guessed"), {"id": message_id, "status": "Success"}
        ),
        forge_inbound=lambda sender, text, api_url: _form_callback(
            inbound_url(api_url, "africastalking", token="guessed"), {"from": sender, "text": text, "to": "12345"}
        ),
        stop_number="+2250700000201",
    ),
    "twilio": ProviderKit(
        build=_twilio,
        forge_report=lambda message_id, api_url: _twilio_forged(
            f"{api_url}{CALLBACK_PREFIX}/twilio/delivery-reports",
            {"MessageSid": message_id, "MessageStatus": "delivered", "AccountSid": DEMO_ACCOUNT_SID},
        ),
        forge_inbound=lambda sender, text, api_url: _twilio_forged(
            f"{api_url}{CALLBACK_PREFIX}/twilio/inbound", {"From": sender, "Body": text, "MessageSid": "SMforged"}
        ),
        stop_number="+2250700000202",
    ),
    "orange_sms": ProviderKit(build=_orange_sms, forge_report=_orange_forged, forge_inbound=None, stop_number=""),
}


@dataclass
class SmsWorld:
    provider: str
    kit: ProviderKit
    app: FastAPI
    api_url: str
    simulator: SmsSimulatorBase

    @property
    def maker(self) -> async_sessionmaker[AsyncSession]:
        maker: async_sessionmaker[AsyncSession] = self.app.state.sessionmaker
        return maker

    async def queue_sms(
        self, to: str, body: str = "Cauri : votre cotisation de 10 000 F CFA est due demain."
    ) -> uuid.UUID:
        async with unit_of_work(self.maker) as session:
            notification = await queue_message(session, channel="sms", recipient=to, subject="Rappel", body=body)
        return notification.id

    async def notification(self, notification_id: uuid.UUID) -> Notification:
        async with self.maker() as session:
            found = await session.get(Notification, notification_id)
        assert found is not None
        return found

    async def wait_for(self, notification_id: uuid.UUID, *statuses: str, within: float = 20) -> Notification:
        deadline = time.monotonic() + within
        while (notification := await self.notification(notification_id)).status not in statuses:
            if time.monotonic() > deadline:
                raise AssertionError(f"still {notification.status} after {within} s: {notification.last_error}")
            await asyncio.sleep(0.05)
        return notification

    async def post(self, callback: Callback) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            return await http.post(callback.url, content=callback.body, headers=dict(callback.headers))

    async def opted_out(self, phone: str) -> SmsOptOut | None:
        async with self.maker() as session:
            found: SmsOptOut | None = await session.scalar(select(SmsOptOut).where(SmsOptOut.phone == phone))
        return found

    async def wait_for_reports(self, notification: Notification, count: int, within: float = 10) -> None:
        """Until the simulator has had ``count`` reports about ``notification`` accepted by the API (they quote the
        provider's id, or ours: Orange's ``callbackData``)."""
        quotes = [q.encode() for q in (notification.provider_message_id, str(notification.id)) if q]
        deadline = time.monotonic() + within
        while sum(1 for _url, body in self.simulator.callbacks.delivered if any(q in body for q in quotes)) < count:
            assert time.monotonic() < deadline, f"fewer than {count} reports about {notification.id} accepted"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def sms_world(provider: str, database: str, tmp_path: Path) -> AsyncIterator[SmsWorld]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    simulator, provider_settings = PROVIDERS[provider].build(api_url)
    try:
        async with serve_app(simulator.app) as simulator_url:
            settings = make_settings(
                database,
                tmp_path,
                public_base_url=api_url,
                sms_backend=provider,
                sms_callback_token=SecretStr(CALLBACK_TOKEN),
                job_sweep_seconds=1,
                job_retry_base_seconds=0.1,
                job_lease_seconds=5,
                **provider_settings(simulator_url),
            )
            app = create_app(settings)
            async with serve_app(app, port=port, shutdown_timeout=2):
                yield SmsWorld(provider, PROVIDERS[provider], app, api_url, simulator)
    finally:
        await simulator.aclose()
