"""Job kinds and their handlers: ``@job`` for work enqueued by code, ``@periodic`` for work on a clock.

Handlers are registered when their module is imported. Every process that runs jobs (the API in-process,
``cauri worker``) imports the same modules through :func:`load_job_modules`, so a kind enqueued anywhere
is known everywhere.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets besides its payload.

    ``session`` is the runner's transaction: the handler's writes and the job's "done" mark commit together,
    and roll back together when the handler raises. Work that talks to the outside world (a provider, an SMTP
    server) should use short transactions of its own from ``sessionmaker`` instead of holding ``session``
    open across the call. On SQLite a transaction holds the database's write lock from its first statement, so a
    handler that has used ``session`` must not wait for another transaction of its own.
    """

    session: AsyncSession
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    job_id: uuid.UUID
    kind: str
    attempt: int  # 1 for the first run


JobHandler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    kind: str
    every: timedelta


_handlers: dict[str, JobHandler] = {}
_periodic: dict[str, PeriodicJob] = {}


def _qualified_name(handler: JobHandler) -> str:
    return f"{handler.__module__}.{getattr(handler, '__qualname__', repr(handler))}"


def _register(kind: str, handler: JobHandler) -> None:
    if not kind or len(kind) > 100:
        raise ValueError(f"a job kind is 1 to 100 characters: {kind!r}")
    existing = _handlers.get(kind)
    # Importing the same module twice registers the same function again: harmless. Two functions: a bug.
    if existing is not None and _qualified_name(existing) != _qualified_name(handler):
        raise ValueError(f"job kind {kind!r} already handled by {_qualified_name(existing)}")
    _handlers[kind] = handler


def job(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register ``handler`` for jobs of ``kind`` (``"<module>.<verb>"``, e.g. ``"notifications.deliver"``)."""

    def register(handler: JobHandler) -> JobHandler:
        _register(kind, handler)
        return handler

    return register


def periodic(kind: str, *, every: timedelta) -> Callable[[JobHandler], JobHandler]:
    """Register a handler that the scheduler enqueues once per ``every`` (once per slot, however many schedulers)."""
    if every < timedelta(seconds=1):
        raise ValueError("a periodic job runs at most once per second")

    def register(handler: JobHandler) -> JobHandler:
        _register(kind, handler)
        _periodic[kind] = PeriodicJob(kind=kind, every=every)
        return handler

    return register


def handler_for(kind: str) -> JobHandler | None:
    return _handlers.get(kind)


def registered_kinds() -> list[str]:
    return sorted(_handlers)


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_periodic.values(), key=lambda p: p.kind)


def load_job_modules(extra_modules: Iterable[str] = ()) -> list[str]:
    """Import the built-in jobs, every module's ``jobs.py`` and ``extra_modules``; return the known kinds."""
    from cauri.modules import import_all

    importlib.import_module("cauri.core.jobs.builtin")
    import_all("jobs")
    for name in extra_modules:
        importlib.import_module(name)
    return registered_kinds()
