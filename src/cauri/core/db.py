"""Database: one declarative base, a constraint naming convention and the async engine.

Services never commit: the request's unit of work (``core.routing``) or the job runner commits once.
On SQLite a writing transaction starts with ``BEGIN IMMEDIATE`` so writes are serialised and a read that later
writes never fails with a lock upgrade error. A session of :func:`make_read_sessionmaker` starts a deferred
``BEGIN`` instead: with WAL it reads a snapshot while another connection holds the write lock, and it refuses
to write (the refusal is an error at once, not a lock upgrade that fails under load). On PostgreSQL,
concurrency is handled by row locks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from sqlalchemy import DateTime, MetaData, String, TypeDecorator, Uuid, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), uuid.UUID: Uuid(), str: String()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reader takes no lock until it reads, and then only a snapshot: it never waits for the writer.
        deferred = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


# Execution option of the engine behind read-only sessions (see make_read_sessionmaker).
READ_ONLY_OPTION = "cauri_read_only"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    # JSON columns read through orjson (written by the json module, as before): a list page decodes one per row.
    json_options: dict[str, Any] = {"json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, **json_options)
        _configure_sqlite(engine)
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout, i.e. on every request. A connection the server
    # closed fails its first statement instead; the unit of work answers that with a retryable 503
    # (connection_invalidated) and the pool replaces it. pool_recycle retires connections before idle timeouts.
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, **json_options
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that may write: on SQLite each transaction takes the write lock when it begins."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


class ReadOnlyTransactionWrote(RuntimeError):
    """A read-only session (a GET request's) tried to write: a programming error, the route must declare it."""


class _ReadOnlySession(Session):
    """The synchronous half of a read-only session; its events refuse every write."""


def _refuse_flush(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyTransactionWrote(
            "a read-only session tried to write; mark the route with @writes_on_read or take a writing session"
        )


def _refuse_bulk_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyTransactionWrote("a read-only session tried to run an INSERT, UPDATE or DELETE")
    # A row lock announces a write; without a transaction (PostgreSQL readers) it would not even hold.
    if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
        raise ReadOnlyTransactionWrote("a read-only session tried to lock rows (SELECT … FOR UPDATE)")


event.listen(_ReadOnlySession, "before_flush", _refuse_flush)
event.listen(_ReadOnlySession, "do_orm_execute", _refuse_bulk_write)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read: a deferred transaction on SQLite, so readers never queue behind the writer."""
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        # No BEGIN / COMMIT round trips around a read: each statement sees what is committed when it runs
        # (a read request's few queries need no common snapshot; one that does opens its own transaction).
        options["isolation_level"] = "AUTOCOMMIT"
    reader = engine.execution_options(**options)
    return async_sessionmaker(reader, expire_on_commit=False, autoflush=True, sync_session_class=_ReadOnlySession)


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession | Session, callback: AfterCommit) -> None:
    """Run ``callback`` once this session's transaction has committed (e.g. ring the job doorbell).

    Also callable from a synchronous ORM event: the async session and its synchronous half share ``info``."""
    session.info.setdefault("after_commit", []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after-commit callbacks. The only way units of work commit."""
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


async def rollback(session: AsyncSession) -> None:
    session.info.pop("after_commit", None)
    await session.rollback()


@asynccontextmanager
async def unit_of_work(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction outside a request (CLI, jobs, scripts): commit on success, roll back on error."""
    async with sessionmaker() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            await rollback(session)
            raise
