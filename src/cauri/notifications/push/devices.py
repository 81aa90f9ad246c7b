"""Device tokens (register, remove, drop a dead one) and queueing a push to every device of a user.

A token belongs to one app installation: registering it for a user takes it from whoever had it before (the
phone changed hands, or another account logged in on it). Services never commit: the caller's unit of work does.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.notifications.models import Channel, Notification, PushDevice
from cauri.notifications.push.client import FcmChannel
from cauri.notifications.service import queue_message


class DeviceNotFound(LookupError):
    """No device with that id among the caller's."""


async def register_device(
    session: AsyncSession, *, user_id: uuid.UUID, device_id: str, platform: str, token: str
) -> PushDevice:
    """Upsert the (user, device) row with ``token``; the same call twice leaves one row."""
    await session.execute(
        delete(PushDevice)
        .where(PushDevice.token == token, PushDevice.user_id != user_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(PushDevice)
        .where(PushDevice.token == token, PushDevice.user_id == user_id, PushDevice.device_id != device_id)
        .execution_options(synchronize_session=False)
    )
    device = await session.scalar(
        select(PushDevice).where(PushDevice.user_id == user_id, PushDevice.device_id == device_id)
    )
    if device is None:
        device = PushDevice(id=uuid.uuid4(), user_id=user_id, device_id=device_id, platform=platform, token=token)
        session.add(device)
    else:
        device.platform, device.token = platform, token
    await session.flush()
    return device


async def remove_device(session: AsyncSession, *, user_id: uuid.UUID, device: uuid.UUID) -> None:
    """Forget one of the user's devices; :class:`DeviceNotFound` for another user's (the same answer as none)."""
    removed = await session.execute(
        delete(PushDevice)
        .where(PushDevice.id == device, PushDevice.user_id == user_id)
        .returning(PushDevice.id)
        .execution_options(synchronize_session=False)
    )
    if removed.first() is None:
        raise DeviceNotFound(str(device))


async def drop_token(session: AsyncSession, token: str) -> None:
    """FCM said the token is dead (``UNREGISTERED`` / ``INVALID_ARGUMENT``): no push goes to it again."""
    await session.execute(
        delete(PushDevice).where(PushDevice.token == token).execution_options(synchronize_session=False)
    )


async def queue_push(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    title: str,
    body: str,
    language: str = "fr",
    organization_id: uuid.UUID | None = None,
) -> list[Notification]:
    """One outbox message per registered device of the user (none when they registered none)."""
    tokens = (await session.scalars(select(PushDevice.token).where(PushDevice.user_id == user_id))).all()
    return [
        await queue_message(
            session,
            channel=Channel.PUSH.value,
            recipient=token,
            subject=title,
            body=body,
            language=language,
            organization_id=organization_id,
        )
        for token in tokens
    ]


def fcm_channel(settings: Settings) -> FcmChannel:
    """The FCM channel with the settings' service account; LookupError when it is not configured."""
    if not settings.fcm_project_id or not settings.fcm_client_email or settings.fcm_private_key is None:
        raise LookupError(
            "CAURI_PUSH_BACKEND=fcm needs CAURI_FCM_PROJECT_ID, CAURI_FCM_CLIENT_EMAIL, CAURI_FCM_PRIVATE_KEY"
        )
    return FcmChannel(
        base_url=settings.fcm_base_url,
        project_id=settings.fcm_project_id,
        client_email=settings.fcm_client_email,
        private_key=settings.fcm_private_key,
        token_uri=settings.fcm_token_uri,
    )
