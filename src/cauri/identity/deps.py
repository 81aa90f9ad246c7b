"""Small request helpers shared by the identity routes (the address and settings are core.deps' own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import commit, rollback
from cauri.core.deps import client_address as client_ip
from cauri.core.deps import settings_of
from cauri.core.errors import AppError

__all__ = ["client_ip", "settings_of", "transaction_kept_on_refusal", "user_agent"]


def user_agent(request: Request) -> str | None:
    agent = request.headers.get("User-Agent")
    return agent[:300] if agent else None


@asynccontextmanager
async def transaction_kept_on_refusal(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction of its own that is committed even when the endpoint then refuses (an ``AppError``).

    Credential checks must remember their refusals: a failed login in the audit trail, one more wrong try on
    a code, a token family revoked because a stolen refresh token was replayed. The request's own unit of work
    rolls back on any error, so these endpoints use this instead, and the functions they call only write what
    must be kept before raising. Any other exception rolls everything back.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except AppError:
            await commit(session)
            raise
        except BaseException:
            await rollback(session)
            raise
        await commit(session)
