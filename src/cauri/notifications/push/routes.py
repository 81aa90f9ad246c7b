"""``POST /api/v1/notifications/devices`` (register a device token) and ``DELETE …/devices/{id}``: login required,
a user manages only their own devices (another user's device answers 404, as one that does not exist)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Response, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from cauri.core.deps import CurrentPrincipal
from cauri.core.errors import Forbidden, NotFound
from cauri.core.routing import SessionDep, api_router
from cauri.notifications.push import devices

router = api_router(prefix="/notifications/devices", tags=["notifications"])

# FCM registration tokens are about 160 characters today; 1024 leaves room and fits a PostgreSQL unique index.
DeviceToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=20, max_length=1024, pattern=r"^\S+$")]
DeviceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: DeviceToken
    platform: Literal["android", "ios", "web"]
    device_id: DeviceId


class DeviceOut(BaseModel):
    """The token is not echoed back: the app has it, and it addresses this person's phone."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    device_id: str
    platform: str
    created_at: datetime
    updated_at: datetime


def _user_of(principal: CurrentPrincipal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden(
            "Seul un utilisateur connecté enregistre ses appareils (pas une clé d'API).",
            "Only a signed-in user registers their devices (not an API key).",
            code="push_devices_need_a_user",
        )
    return principal.user_id


@router.post("", status_code=status.HTTP_201_CREATED, summary="Register this device for push notifications")
async def register_device(body: DeviceIn, principal: CurrentPrincipal, session: SessionDep) -> DeviceOut:
    device = await devices.register_device(
        session, user_id=_user_of(principal), device_id=body.device_id, platform=body.platform, token=body.token
    )
    return DeviceOut.model_validate(device)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Stop push notifications to a device")
async def remove_device(device_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    try:
        await devices.remove_device(session, user_id=_user_of(principal), device=device_id)
    except devices.DeviceNotFound:
        raise NotFound("Appareil introuvable.", "Device not found.", code="push_device_not_found") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
