"""The incremental sync engine: per connection and object kind, a checkpoint that survives a crash and resumes.

A run pages through the provider's changes since the checkpoint's ``watermark`` with the provider's cursors
(the same query on every page, as Square requires). The next page is fetched while the current one is written
(sequential cursor paging cannot go faster than pages x latency; this keeps the writes off that path). After each
page, one transaction writes the page's records *and* the checkpoint's cursor: a run that dies (process killed,
provider down) resumes at the first page not written. Each record carries a hash of its content: a re-sync that
finds the same hash writes nothing. Retries of safe calls, ``Retry-After`` and the circuit breaker are the kit's
HTTP layer's. A provider error ends the run with a visible status (checkpoint and connection), never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
import structlog
from prometheus_client import Counter
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.base import Page, PosConnector
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.kit.errors import ConnectorError, InvalidRequest
from cauri.restaurant import connections, errors
from cauri.restaurant.models import RestaurantConnection, SyncCheckpoint, SyncedRecord, SyncStatus
from cauri.restaurant.providers import provider as provider_named

log = structlog.get_logger(__name__)

KINDS = ("sales", "catalog", "stock", "payments")
MAX_SALES_LOCATIONS = 10  # Square searches the orders of at most 10 locations per query
RUN_LEASE = timedelta(minutes=5)  # a run that stops renewing it (a dead process) may be taken over
PREFETCH_PAGES = 2
SYNC_PAGES = Counter("cauri_restaurant_sync_pages_total", "Pages synced", ["provider", "kind"])
SYNC_WRITES = Counter("cauri_restaurant_sync_writes_total", "Records written (new or changed)", ["provider", "kind"])
SYNC_ERRORS = Counter("cauri_restaurant_sync_errors_total", "Sync runs ended by an error", ["provider", "kind", "code"])


@dataclass(frozen=True, slots=True)
class Row:
    """One provider object, unified: its id, when the provider last changed it, its content."""

    external_id: str
    updated_at: datetime | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Written:
    """A record this run inserted (``previous`` None) or changed, for the restaurant logic's hooks."""

    kind: str
    external_id: str
    data: dict[str, Any]
    previous: dict[str, Any] | None


#: Called in the transaction that writes a page, so its effects (stock decremented by a sale) commit with it.
PageHook = Callable[[AsyncSession, RestaurantConnection, list[Written]], Awaitable[None]]


@dataclass
class SyncReport:
    kind: str
    status: str
    pages: int = 0
    seen: int = 0
    written: int = 0
    resumed: bool = False
    error_code: str | None = None
    error_message: str | None = None


def default_hook(kind: str) -> PageHook | None:
    """What the restaurant does with a written page: completed sales take their ingredients out of stock."""
    if kind != "sales":
        return None
    from cauri.restaurant.kitchen import on_sales_page  # the kitchen builds on this module: imported late

    return on_sales_page


_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})
_NOT_DATACLASSES: set[type] = set()


def plain(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """A unified model as JSON-ready data (Decimal and datetime as text). Whether a class is a dataclass, and its
    field names, are cached per class: ``dataclasses.asdict``, ``fields()`` and ``is_dataclass`` cost more than the
    rest of a 1,000-sale page."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _FIELDS.get(kind)
    if names is None and kind not in _NOT_DATACLASSES:
        if dataclasses.is_dataclass(kind):
            names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
        else:
            _NOT_DATACLASSES.add(kind)
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def content_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the record as canonical JSON (sorted keys, no spaces, non-ASCII escaped). orjson writes the same
    bytes as ``json.dumps(sort_keys=True, separators=(",", ":"))`` for printable ASCII text, eight times faster; text
    with other characters (accents, DEL) goes through ``json`` so that every stored hash stays what it was. Records
    hold no floats (quantities are Decimal text), where the two would differ."""
    try:
        encoded = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a lone surrogate, which json escapes
        encoded = b"\x80"
    if not encoded.isascii() or b"\x7f" in encoded:  # json escapes DEL too, orjson does not
        encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


Fetch = Callable[[datetime | None, str | None], Awaitable[tuple[list[Row], str | None]]]


def _rows(items: Iterable[Any], key: Callable[[Any], str], moment: Callable[[Any], datetime | None]) -> list[Row]:
    return [Row(key(item), moment(item), plain(item)) for item in items]


async def fetcher_for(connector: PosConnector, kind: str, connection: RestaurantConnection) -> Fetch:
    """How to read one page of ``kind`` changed since a moment, from a POS connector."""
    if kind == "sales":
        configured = connection.settings.get("location_ids") if connection.settings else None
        locations = list(configured or [loc.id for loc in await connector.list_locations() if loc.active])
        if len(locations) > MAX_SALES_LOCATIONS:
            # Never a silent subset: the restaurant chooses which locations this connection syncs.
            raise InvalidRequest(
                f"Plus de {MAX_SALES_LOCATIONS} établissements : choisissez-les (réglage location_ids).",
                f"More than {MAX_SALES_LOCATIONS} locations: choose them (setting location_ids).",
                provider=connection.provider,
                code="restaurant_too_many_locations",
            )

        async def sales(since: datetime | None, cursor: str | None) -> tuple[list[Row], str | None]:
            page = await connector.search_sales(location_ids=locations, updated_since=since, cursor=cursor)
            return _rows(page.items, lambda s: s.id, lambda s: s.updated_at), page.cursor

        return sales
    if kind == "catalog":

        async def catalog(since: datetime | None, cursor: str | None) -> tuple[list[Row], str | None]:
            page = await connector.search_catalog(changed_since=since, cursor=cursor)
            return _rows(page.items, lambda o: o.id, lambda o: o.updated_at), page.cursor

        return catalog
    if kind == "stock":

        async def stock(since: datetime | None, cursor: str | None) -> tuple[list[Row], str | None]:
            page = await connector.stock_counts(updated_since=since, cursor=cursor)
            key: Callable[[Any], str] = lambda c: f"{c.item_id}:{c.location_id}:{c.state}"  # noqa: E731
            return _rows(page.items, key, lambda c: c.calculated_at), page.cursor

        return stock
    if kind == "payments":

        async def payments(since: datetime | None, cursor: str | None) -> tuple[list[Row], str | None]:
            page: Page[Any] = await connector.list_payments(begin_time=since, cursor=cursor)
            return _rows(page.items, lambda p: p.id, lambda p: p.updated_at), page.cursor

        return payments
    raise errors.unknown_sync_kind(kind, list(KINDS))


async def write_rows(session: AsyncSession, connection_id: uuid.UUID, kind: str, rows: Sequence[Row]) -> list[Written]:
    """Insert new records, update changed ones, leave the same ones alone; return what was written."""
    latest: dict[str, Row] = {row.external_id: row for row in rows}  # a page may name an object twice
    if not latest:
        return []
    existing = {
        external_id: (record_id, digest, data)
        for external_id, record_id, digest, data in await session.execute(
            select(SyncedRecord.external_id, SyncedRecord.id, SyncedRecord.content_hash, SyncedRecord.data).where(
                SyncedRecord.connection_id == connection_id,
                SyncedRecord.kind == kind,
                SyncedRecord.external_id.in_(list(latest)),
            )
        )
    }
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    written: list[Written] = []
    for external_id, row in latest.items():
        digest = content_hash(row.data)
        found = existing.get(external_id)
        if found is None:
            inserts.append(
                {
                    "id": uuid.uuid4(),
                    "connection_id": connection_id,
                    "kind": kind,
                    "external_id": external_id,
                    "content_hash": digest,
                    "data": row.data,
                    "source_updated_at": row.updated_at,
                    "synced_at": now,
                }
            )
            written.append(Written(kind, external_id, row.data, None))
        elif found[1] != digest:
            updates.append(
                {"id": found[0], "content_hash": digest, "data": row.data, "source_updated_at": row.updated_at}
                | {"synced_at": now}
            )
            written.append(Written(kind, external_id, row.data, found[2]))
    if inserts:
        await session.execute(insert(SyncedRecord), inserts)
    if updates:
        await session.execute(update(SyncedRecord), updates)
    return written


async def locked_checkpoint(session: AsyncSession, connection_id: uuid.UUID, kind: str) -> SyncCheckpoint:
    """The connection's checkpoint of this kind, row-locked until the transaction ends; a new one if it has none.
    Two first runs at once both insert: one fails on the unique key (``IntegrityError`` at flush or commit) and,
    rolled back, reads as a run in progress."""
    checkpoint = (
        await session.execute(
            select(SyncCheckpoint)
            .where(SyncCheckpoint.connection_id == connection_id, SyncCheckpoint.kind == kind)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if checkpoint is None:
        checkpoint = SyncCheckpoint(connection_id=connection_id, kind=kind, pages=0, seen=0, written=0)
        session.add(checkpoint)
        await session.flush()
    return checkpoint


def lease_held(checkpoint: SyncCheckpoint, now: datetime) -> bool:
    """A live run holds the checkpoint; a run whose lease lapsed died and may be taken over."""
    return bool(
        checkpoint.status == SyncStatus.RUNNING.value and checkpoint.lease_until and checkpoint.lease_until > now
    )


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], connection_id: uuid.UUID, kind: str
) -> tuple[SyncCheckpoint, bool]:
    """Take the checkpoint's run lease (committed); resume a run a dead process left, or start a new one."""
    try:
        async with unit_of_work(sessionmaker) as session:
            checkpoint = await locked_checkpoint(session, connection_id, kind)
            now = utcnow()
            if lease_held(checkpoint, now):
                raise errors.sync_running(kind)
            resumed = checkpoint.cursor is not None
            if not resumed:
                checkpoint.run_since = checkpoint.watermark
                checkpoint.run_high_water = checkpoint.watermark
                checkpoint.pages = checkpoint.seen = checkpoint.written = 0
                checkpoint.run_started_at = now
            checkpoint.status = SyncStatus.RUNNING.value
            checkpoint.lease_until = now + RUN_LEASE
            await session.flush()
            session.expunge(checkpoint)
    except IntegrityError:  # another run created the checkpoint at the same moment: it holds the lease
        raise errors.sync_running(kind) from None
    return checkpoint, resumed


async def _fail(
    sessionmaker: async_sessionmaker[AsyncSession],
    checkpoint_id: uuid.UUID,
    connection_id: uuid.UUID,
    error: ConnectorError,
    *,
    forget_cursor: bool = False,
) -> None:
    async with unit_of_work(sessionmaker) as session:
        checkpoint = await session.get(SyncCheckpoint, checkpoint_id, populate_existing=True)
        if checkpoint is not None:
            checkpoint.status = SyncStatus.ERROR.value
            checkpoint.lease_until = None
            checkpoint.last_error_at = utcnow()
            checkpoint.last_error_code = error.code[:60]
            checkpoint.last_error_message = error.message_en[:500]
            if forget_cursor:
                checkpoint.cursor = None
    await connections.record_failure(sessionmaker, connection_id, error)


async def run_sync(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    connection_id: uuid.UUID,
    kind: str,
    connector: PosConnector | None = None,
    on_page: PageHook | None = None,
) -> SyncReport:
    """One run of ``kind`` for a connection: from the checkpoint to the provider's latest change."""
    if kind not in KINDS:
        raise errors.unknown_sync_kind(kind, list(KINDS))
    on_page = on_page or default_hook(kind)
    async with sessionmaker() as session:
        connection = await session.get(RestaurantConnection, connection_id)
        if connection is None:
            raise errors.not_connected("?")
        session.expunge(connection)
    checkpoint, resumed = await _claim(sessionmaker, connection_id, kind)
    report = SyncReport(kind, SyncStatus.RUNNING.value, checkpoint.pages, checkpoint.seen, checkpoint.written, resumed)
    own = connector is None
    try:
        if connector is None:
            token = await connections.access_token(sessionmaker, settings, connection_id)
            connector = provider_named(connection.provider).pos(settings, token, None, connection.merchant_id)
        fetch = await fetcher_for(connector, kind, connection)
        try:
            await _pages(
                sessionmaker, connection=connection, checkpoint=checkpoint, fetch=fetch, report=report, on_page=on_page
            )
        except ConnectorError as exc:
            if not (resumed and exc.provider_code == "INVALID_CURSOR"):
                raise
            # The provider no longer honours the saved cursor (they expire): run the same query again from its start.
            log.info("restaurant_sync_cursor_expired", kind=kind)
            checkpoint.cursor = None
            await _pages(
                sessionmaker, connection=connection, checkpoint=checkpoint, fetch=fetch, report=report, on_page=on_page
            )
    except ConnectorError as exc:
        SYNC_ERRORS.labels(connection.provider, kind, exc.code).inc()
        log.warning("restaurant_sync_failed", provider=connection.provider, kind=kind, code=exc.code)
        await _fail(sessionmaker, checkpoint.id, connection_id, exc)
        report.status, report.error_code, report.error_message = SyncStatus.ERROR.value, exc.code, exc.message_en
        return report
    except BaseException:
        async with unit_of_work(sessionmaker) as session:  # cancelled or crashed: free the lease, keep the cursor
            await session.execute(
                update(SyncCheckpoint).where(SyncCheckpoint.id == checkpoint.id).values(lease_until=None)
            )
        raise
    finally:
        if own and connector is not None:
            await connector.aclose()
    report.status = SyncStatus.IDLE.value
    return report


async def _pages(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    connection: RestaurantConnection,
    checkpoint: SyncCheckpoint,
    fetch: Fetch,
    report: SyncReport,
    on_page: PageHook | None,
) -> None:
    since = checkpoint.run_since
    queue: asyncio.Queue[tuple[list[Row], str | None] | BaseException] = asyncio.Queue(maxsize=PREFETCH_PAGES)

    async def produce() -> None:
        cursor = checkpoint.cursor
        try:
            while True:
                rows, cursor = await fetch(since, cursor)
                await queue.put((rows, cursor))
                if cursor is None:
                    return
        except BaseException as exc:  # handed to the writer, which stops at it
            await queue.put(exc)

    producer = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            rows, cursor = item
            await _write_page(
                sessionmaker,
                connection=connection,
                checkpoint=checkpoint,
                rows=rows,
                next_cursor=cursor,
                report=report,
                on_page=on_page,
            )
            if cursor is None:
                break
    finally:
        if not producer.done():
            producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer


async def _write_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    connection: RestaurantConnection,
    checkpoint: SyncCheckpoint,
    rows: list[Row],
    next_cursor: str | None,
    report: SyncReport,
    on_page: PageHook | None,
) -> None:
    kind = checkpoint.kind
    async with unit_of_work(sessionmaker) as session:
        written = await write_rows(session, connection.id, kind, rows)
        if written and on_page is not None:
            await on_page(session, connection, written)
        moments = [row.updated_at for row in rows if row.updated_at is not None]
        high = max([*moments, *([checkpoint.run_high_water] if checkpoint.run_high_water else [])], default=None)
        now = utcnow()
        values: dict[str, Any] = {
            "cursor": next_cursor,
            "run_high_water": high,
            "pages": SyncCheckpoint.pages + 1,
            "seen": SyncCheckpoint.seen + len(rows),
            "written": SyncCheckpoint.written + len(written),
            "lease_until": now + RUN_LEASE,
        }
        if next_cursor is None:  # the run is complete: everything up to ``high`` is stored
            values |= {
                "watermark": high,
                "run_since": None,
                "status": SyncStatus.IDLE.value,
                "lease_until": None,
                "last_success_at": now,
                "last_error_code": None,
                "last_error_message": None,
            }
        await session.execute(update(SyncCheckpoint).where(SyncCheckpoint.id == checkpoint.id).values(**values))
        if next_cursor is None:
            stored = await session.get(RestaurantConnection, connection.id)
            if stored is not None:
                await connections.record_success(session, stored)
    checkpoint.cursor = next_cursor
    checkpoint.run_high_water = high
    report.pages += 1
    report.seen += len(rows)
    report.written += len(written)
    SYNC_PAGES.labels(connection.provider, kind).inc()
    if written:
        SYNC_WRITES.labels(connection.provider, kind).inc(len(written))


async def sync_objects(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: RestaurantConnection,
    kind: str,
    rows: Sequence[Row],
    on_page: PageHook | None = None,
) -> int:
    """A targeted sync (a webhook named these objects): write them like a page, without touching the checkpoint."""
    on_page = on_page or default_hook(kind)
    async with unit_of_work(sessionmaker) as session:
        written = await write_rows(session, connection.id, kind, rows)
        if written and on_page is not None:
            await on_page(session, connection, written)
    return len(written)


async def checkpoints(session: AsyncSession, connection_id: uuid.UUID) -> list[SyncCheckpoint]:
    rows = await session.execute(
        select(SyncCheckpoint).where(SyncCheckpoint.connection_id == connection_id).order_by(SyncCheckpoint.kind)
    )
    return list(rows.scalars())
