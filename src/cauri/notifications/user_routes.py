"""Notification routes for a logged-in person: their preferences and quiet hours, and template previews."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Literal

from fastapi import Query
from pydantic import BaseModel, Field

from cauri.core.errors import Forbidden
from cauri.core.i18n import Language, current_language
from cauri.core.principal import CurrentPrincipal, Principal
from cauri.core.routing import SessionDep, api_router
from cauri.notifications import preferences
from cauri.notifications.kinds import kind_named, registered_kinds, render

router = api_router(tags=["notifications"])


class RenderedChannel(BaseModel):
    channel: str
    subject: str
    body: str


class TemplatePreview(BaseModel):
    kind: str
    language: Language
    mandatory: bool
    urgent: bool
    channels: list[RenderedChannel]


@router.get(
    "/notifications/templates/{kind}/preview",
    summary="A notification kind rendered with its sample context, on each of its channels",
)
async def preview_template(
    kind: str,
    principal: CurrentPrincipal,
    language: Language | None = Query(default=None, description="fr or en; else the Accept-Language"),
) -> TemplatePreview:
    definition = kind_named(kind)
    chosen: Language = language or current_language.get()
    return TemplatePreview(
        kind=definition.name,
        language=chosen,
        mandatory=definition.mandatory,
        urgent=definition.urgent,
        channels=[
            RenderedChannel(channel=channel, subject=rendered.subject, body=rendered.body)
            for channel in definition.channels
            for rendered in [render(definition, channel, definition.sample, language=chosen)]
        ],
    )


class ChannelPreference(BaseModel):
    channel: str
    enabled: bool


class KindPreferences(BaseModel):
    kind: str
    mandatory: bool = Field(description="True: cannot be turned off")
    urgent: bool = Field(description="True: sent during quiet hours")
    channels: list[ChannelPreference]


class QuietHoursBody(BaseModel):
    start: time = Field(description="Local time (the recipient's time zone) quiet hours begin, e.g. 22:00")
    end: time = Field(description="Local time they end, e.g. 07:00 (before start: the next day)")


class PreferencesRead(BaseModel):
    kinds: list[KindPreferences]
    quiet_hours: QuietHoursBody | None


class PreferenceChange(BaseModel):
    kind: str = Field(max_length=60)
    channel: Literal["email", "sms", "in_app"]
    enabled: bool


class PreferencesUpdate(BaseModel):
    preferences: list[PreferenceChange] = Field(default_factory=list, max_length=200)
    quiet_hours: QuietHoursBody | None = Field(
        default=None, description="Omitted: unchanged; null: no quiet hours any more"
    )


def person(principal: Principal) -> uuid.UUID:
    """Preferences belong to a person: an API key has none."""
    if principal.user_id is None:
        raise Forbidden(
            "Les préférences de notification appartiennent à une personne connectée, pas à une clé d'API.",
            "Notification preferences belong to a signed-in person, not to an API key.",
            code="person_required",
        )
    return principal.user_id


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


async def _preferences_of(session: SessionDep, user_id: uuid.UUID) -> PreferencesRead:
    choices = await preferences.stored_choices(session, user_id)
    window = await preferences.quiet_window(session, user_id)
    return PreferencesRead(
        kinds=[
            KindPreferences(
                kind=kind.name,
                mandatory=kind.mandatory,
                urgent=kind.urgent,
                channels=[
                    ChannelPreference(channel=channel, enabled=preferences.is_on(kind, channel, choices))
                    for channel in kind.channels
                ],
            )
            for kind in registered_kinds()
        ],
        quiet_hours=QuietHoursBody(start=_time(window.start), end=_time(window.end)) if window else None,
    )


@router.get("/notifications/preferences", summary="My notification preferences: per kind and channel, quiet hours")
async def get_preferences(principal: CurrentPrincipal, session: SessionDep) -> PreferencesRead:
    return await _preferences_of(session, person(principal))


@router.put(
    "/notifications/preferences",
    summary="Turn kinds on or off per channel and set quiet hours (mandatory kinds cannot be turned off)",
)
async def put_preferences(body: PreferencesUpdate, principal: CurrentPrincipal, session: SessionDep) -> PreferencesRead:
    user_id = person(principal)
    await preferences.save_choices(
        session,
        user_id,
        [preferences.Choice(change.kind, change.channel, change.enabled) for change in body.preferences],
    )
    if "quiet_hours" in body.model_fields_set:
        quiet = body.quiet_hours
        window = preferences.Window(_minutes(quiet.start), _minutes(quiet.end)) if quiet else None
        await preferences.save_quiet_hours(session, user_id, window)
    return await _preferences_of(session, user_id)
