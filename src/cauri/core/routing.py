"""The request's unit of work.

Every API route uses :class:`UnitOfWorkRoute`: the endpoint's database session is committed **once**, after
the endpoint returned a successful response and together with the stored idempotent answer; any error rolls
everything back. A failed commit becomes a problem response, never a success that was not saved.

A GET or HEAD route reads: its session is read-only (on SQLite a deferred transaction that never waits for the
write lock, see ``core.db``). A read route that must write declares it with :func:`writes_on_read` and gets a
writing session.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import commit, rollback
from cauri.core.errors import Conflict, ServiceUnavailable
from cauri.core.idempotency import Claim, ReplayStoredResponse, complete_claim, release_claim, response_encryptor

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

READ_METHODS = frozenset({"GET", "HEAD"})
_READ_ONLY_SCOPE_KEY = "cauri.read_only"
_WRITES_ON_READ = "__cauri_writes_on_read__"


def writes_on_read(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that writes (rare: prefer a job): it gets a writing session, serialised with the others."""
    setattr(endpoint, _WRITES_ON_READ, True)
    return endpoint


def reads_only(request: Request) -> bool:
    """Whether this request's route only reads (decided by :class:`UnitOfWorkRoute`; unknown routes write)."""
    return bool(request.scope.get(_READ_ONLY_SCOPE_KEY, False))


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use and finished by :class:`UnitOfWorkRoute`."""
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is None:
        state = request.app.state
        maker = state.read_sessionmaker if reads_only(request) else state.sessionmaker
        session = maker()
        request.state.db_session = session
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


# PostgreSQL SQLSTATEs worth a retry by the caller: serialization failure, deadlock, lock timeout.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


def _database_failure(exc: DBAPIError) -> Exception:
    """A database error that escaped the service: a conflict or a retry, never an opaque 500 nor a false success."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(exc, IntegrityError):
        return Conflict(
            "Cette opération entre en conflit avec une autre. Réessayez.",
            "This operation conflicts with another one. Please retry.",
            code="concurrent_update",
        )
    if exc.connection_invalidated or sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig):
        return ServiceUnavailable(
            "Base de données occupée. Réessayez dans un instant.",
            "Database busy. Please retry in a moment.",
            code="database_busy",
            headers={"Retry-After": "1"},
        )
    return exc


def _reads_only(route: APIRoute) -> bool:
    methods = route.methods or set()
    return bool(methods) and methods <= READ_METHODS and not getattr(route.endpoint, _WRITES_ON_READ, False)


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        run_endpoint = super().get_route_handler()
        route_template = self.path_format
        read_only = _reads_only(self)

        async def handle(request: Request) -> Response:
            request.scope["cauri.route"] = route_template
            request.scope[_READ_ONLY_SCOPE_KEY] = read_only
            try:
                response = await run_endpoint(request)
            except ReplayStoredResponse as replay:
                return replay.to_response()
            except DBAPIError as exc:
                await _abandon(request)
                raise _database_failure(exc) from exc
            except BaseException:
                await _abandon(request)
                raise
            if response.status_code >= 400:
                await _abandon(request)
                return response
            try:
                await _finish(request, response)
            except DBAPIError as exc:
                await _abandon(request)
                raise _database_failure(exc) from exc
            except BaseException:
                await _abandon(request)
                raise
            return response

        return handle


async def _finish(request: Request, response: Response) -> None:
    claim: Claim | None = getattr(request.state, "idempotency_claim", None)
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is None and claim is None:
        return
    if session is None:
        session = await get_session(request)
    try:
        if claim is not None:
            await complete_claim(session, claim, response, response_encryptor(request))
        await commit(session)
    finally:
        await session.close()
        request.state.db_session = None


async def _abandon(request: Request) -> None:
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if session is not None:
        try:
            await rollback(session)
        finally:
            await session.close()
            request.state.db_session = None
    claim: Claim | None = getattr(request.state, "idempotency_claim", None)
    if claim is not None:
        request.state.idempotency_claim = None
        await release_claim(request.app.state.sessionmaker, claim)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes run in a unit of work. Modules build their routers with this."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)
