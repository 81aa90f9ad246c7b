"""An RSA service-account key made for the test (never committed), the FCM simulator served on 127.0.0.1 and
the API with in-process jobs configured to push through it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy import select

from cauri.app import create_app
from cauri.core.db import unit_of_work
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app
from cauri.notifications.models import Notification, PushDevice
from cauri.notifications.push.devices import queue_push
from cauri.notifications.push.simulator import DEMO_CLIENT_EMAIL, DEMO_PROJECT_ID, FcmSimulator
from tests.conftest import make_settings
from tests.identity.conftest import random_address
from tests.support.identity import Actor, register
from tests.support.waiting import until


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def device_token(prefix: str = "fcm") -> str:
    """A token as unique as FCM's (the simulator's magic prefixes choose its answer)."""
    return f"{prefix}-{secrets.token_urlsafe(40)}"


@dataclass
class PushWorld:
    app: FastAPI
    simulator: FcmSimulator
    http: httpx.AsyncClient

    async def user_with_device(self, token: str) -> tuple[Actor, uuid.UUID]:
        actor = await register(self.http)
        answer = await self.http.post(
            "/api/v1/notifications/devices",
            json={"token": token, "platform": "android", "device_id": f"pixel-{uuid.uuid4().hex[:6]}"},
            headers=actor.headers,
        )
        assert answer.status_code == 201, answer.text
        return actor, uuid.UUID(answer.json()["id"])

    async def push(self, user_id: uuid.UUID, title: str = "Cotisation reçue", body: str = "10 000 F CFA") -> uuid.UUID:
        async with unit_of_work(self.app.state.sessionmaker) as session:
            (notification,) = await queue_push(session, user_id=user_id, title=title, body=body)
        return notification.id

    async def notification(self, notification_id: uuid.UUID) -> Notification:
        async with self.app.state.sessionmaker() as session:
            found = await session.get(Notification, notification_id)
        assert found is not None
        return found

    async def settled(self, notification_id: uuid.UUID) -> Notification:
        """The message once sent or failed for good."""

        async def done() -> bool:
            return (await self.notification(notification_id)).status in ("sent", "failed")

        await until(done, f"push {notification_id} sent or failed", within=20)
        return await self.notification(notification_id)

    async def device_tokens(self, user_id: uuid.UUID) -> list[str]:
        async with self.app.state.sessionmaker() as session:
            return list((await session.scalars(select(PushDevice.token).where(PushDevice.user_id == user_id))).all())


@asynccontextmanager
async def push_world(database: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[PushWorld]:
    key = new_rsa_key()
    simulator = FcmSimulator(SimulatorSettings(retry_after_seconds=1, failing_attempts=2), public_key=key.public_key())
    async with serve_app(simulator.app) as simulator_url:
        settings = make_settings(
            database,
            tmp_path,
            job_sweep_seconds=1,
            job_retry_base_seconds=0.1,
            job_lease_seconds=5,
            push_backend="fcm",
            fcm_project_id=DEMO_PROJECT_ID,
            fcm_client_email=DEMO_CLIENT_EMAIL,
            fcm_private_key=pem_of(key),
            fcm_token_uri=f"{simulator_url}/token",
            fcm_base_url=simulator_url,
            **overrides,
        )
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(random_address(), 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield PushWorld(app, simulator, http)
        await simulator.aclose()
