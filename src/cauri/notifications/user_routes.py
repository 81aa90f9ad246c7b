"""Notification routes for a logged-in person: template previews (and, next, their in-app inbox and preferences)."""

from __future__ import annotations

from fastapi import Query
from pydantic import BaseModel

from cauri.core.i18n import Language, current_language
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import api_router
from cauri.notifications.kinds import kind_named, render

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
