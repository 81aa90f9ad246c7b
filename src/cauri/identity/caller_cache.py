"""Resolved callers kept a short while in each API process, forgotten everywhere the moment they change.

The resolver (``identity.resolver``) answers from a :class:`~cauri.core.cache.NearCache` when it can. Any
committed change that could alter a caller — a user edited or deactivated, a password changed, a login session
revoked (logout), a membership added, changed or removed, an API key revoked, an organisation changed — drops
the cached callers it touches, in this process before the response leaves and in every other process through
Redis pub/sub. The changes are found by an ORM hook on every flush (so no service can forget to call it) and by
:func:`forget` next to the few bulk ``UPDATE`` statements the ORM hook cannot see.

Caching is on only when pub/sub crosses processes (Redis configured): without it a ``cauri`` CLI command in
another process could not reach the API's memory. Every process publishes its changes all the same.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from itertools import chain
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction

from cauri.core.cache import NearCache
from cauri.core.config import Settings
from cauri.core.db import after_commit
from cauri.core.pubsub import PubSub, make_pubsub
from cauri.identity.models import ApiKey, LoginSession, Membership, Organization, User

log = structlog.get_logger(__name__)

CHANNEL = "identity.callers"
_SESSION_INFO_KEY = "cauri.caller_cache"


def user_tag(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


def api_key_tag(api_key_id: uuid.UUID) -> str:
    return f"apikey:{api_key_id}"


def organization_tag(organization_id: uuid.UUID) -> str:
    return f"org:{organization_id}"


def caching_enabled(settings: Settings, pubsub: PubSub) -> bool:
    return settings.principal_cache_seconds > 0 and pubsub.crosses_processes


def attach(sessionmaker: async_sessionmaker[AsyncSession], cache: NearCache) -> None:
    """Sessions of ``sessionmaker`` report their identity changes to ``cache`` (and so to every process); other
    keys of the sessions' ``info`` (e.g. the in-app notifications' pub/sub) are kept."""
    info: dict[str, Any] = dict(sessionmaker.kw.get("info") or {})
    info[_SESSION_INFO_KEY] = cache
    sessionmaker.configure(info=info)


@asynccontextmanager
async def publishing(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """For a process that is not the API (a CLI command): its identity changes reach the API processes too."""
    pubsub = make_pubsub(settings)
    attach(sessionmaker, NearCache(pubsub, CHANNEL))
    try:
        yield
    finally:
        await pubsub.close()


async def start(app: FastAPI) -> None:
    """The application's caller cache: listening for invalidations, and fed by its writing sessions."""
    cache = NearCache(app.state.pubsub, CHANNEL)
    await cache.start()
    attach(app.state.sessionmaker, cache)
    settings: Settings = app.state.settings
    app.state.caller_cache = cache if caching_enabled(settings, app.state.pubsub) else None


def forget(session: AsyncSession | Session, *tags: str) -> None:
    """After this session commits, drop the cached callers carrying ``tags`` everywhere."""
    cache: NearCache | None = session.info.get(_SESSION_INFO_KEY)
    if cache is None or not tags:
        return
    pending = frozenset(tags)

    async def publish() -> None:
        try:
            await cache.invalidate(*pending)
        except Exception:  # the change is committed; other processes' entries still expire with their TTL
            log.exception("caller_cache.invalidation_not_published", tags=sorted(pending))

    after_commit(session, publish)


# A changed row of these types changes the callers carrying this tag (built from that attribute).
_TAG_OF_CHANGED: dict[type, tuple[Callable[[uuid.UUID], str], str]] = {
    User: (user_tag, "id"),
    LoginSession: (user_tag, "user_id"),
    ApiKey: (api_key_tag, "id"),
    Organization: (organization_tag, "id"),
}


def _tags_of(instance: Any, *, created: bool) -> Iterable[str]:
    if isinstance(instance, Membership):
        return (user_tag(instance.user_id),)
    tagging = None if created else _TAG_OF_CHANGED.get(type(instance))
    if tagging is None:  # a new user, login session or key changes no caller resolved so far
        return ()
    make_tag, attribute = tagging
    return (make_tag(getattr(instance, attribute)),)


@event.listens_for(Session, "after_flush")
def _collect_changes(session: Session, _context: UOWTransaction) -> None:
    # after_flush still shows the flushed objects in new / dirty / deleted.
    if _SESSION_INFO_KEY not in session.info:
        return
    tags = set(chain.from_iterable(_tags_of(instance, created=True) for instance in session.new))
    for instance in chain(session.dirty, session.deleted):
        tags.update(_tags_of(instance, created=False))
    forget(session, *tags)
