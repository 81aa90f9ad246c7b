"""Streaming HTTP answers shared by the API and the console: a file download and a Server-Sent Events stream.

The content comes from a module's service (bytes, or pydantic models); these only put it on the wire, so an API
client and the console's browser receive exactly the same thing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

SSE_PING_SECONDS = 15
# No caching, and no buffering by a reverse proxy (nginx), or the events would arrive in bursts.
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class Download:
    """A file a service produces (an export), read out while it is sent."""

    filename: str
    media_type: str
    body: AsyncIterator[bytes]


def attachment(download: Download) -> StreamingResponse:
    """The file, which the browser saves under its name, streamed as it is produced."""
    disposition = f'attachment; filename="{download.filename}"'
    return StreamingResponse(
        download.body, media_type=download.media_type, headers={"Content-Disposition": disposition}
    )


def event_stream(updates: AsyncIterator[BaseModel], *, event: str) -> EventSourceResponse:
    """Each model as one event (JSON data, a sequence number as its id); the stream closes when they end."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        sequence = 0
        async for update in updates:
            sequence += 1
            yield ServerSentEvent(data=update.model_dump_json(), event=event, id=str(sequence))

    return EventSourceResponse(events(), ping=SSE_PING_SECONDS, headers=SSE_HEADERS)
