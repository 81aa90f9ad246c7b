"""A new batch from an uploaded file: validated as it streams, its valid lines stored in chunks, one transaction.

The request's transaction holds the batch and every stored line: a file refused late (``too_many_lines``, a
mixed encoding found at line 800,000) rolls back with nothing half-written. On PostgreSQL lines go in with
``COPY`` on the request's own connection while the next chunk is being parsed; on SQLite with multi-row inserts.

"Already used in an earlier batch" asks the database for each chunk of caller-chosen transfer ids: a batch that
was ever submitted holds its ids for good; drafts do not (a corrected file may be uploaded next to its draft),
so :func:`cauri.disbursements.service.submit` checks again at submission.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import Capability
from cauri.connectors.credentials import ProviderCredential
from cauri.connectors.registry import registry
from cauri.core.config import Environment, Settings
from cauri.core.db import utcnow
from cauri.core.principal import Principal
from cauri.core.security import Encryptor
from cauri.core.signing import new_secret
from cauri.disbursements.errors import (
    BatchNotFound,
    InvalidBulkFile,
    invalid_callback_url,
    provider_cannot_pay_out,
    provider_not_configured,
)
from cauri.disbursements.ingest.copyrows import CopyRowFormat
from cauri.disbursements.models import (
    LINE_COPY_COLUMNS,
    BatchState,
    BulkBatch,
    BulkLine,
    LineState,
    line_record,
    line_row,
)
from cauri.disbursements.parsing import FileFormat
from cauri.disbursements.payouts import policy_overrides
from cauri.disbursements.validation import ValidatedChunk, ValidationOptions, validate_bulk_file
from cauri.identity.audit import record_audit
from cauri.identity.models import Organization
from cauri.kit.errors import AuthError

CHUNK_SIZE = 2000
# On PostgreSQL each chunk is one COPY statement, its rows written where they were checked: larger chunks spend
# less on statements (a COPY of 8,000 lines is about 1.3 MB).
COPY_CHUNK_SIZE = 8000
HASH_BLOCK = 1 << 20
# From this size on (about 70,000 lines), lines are read and checked by a child process, on another core, while
# this one resolves and stores them: under it, starting a process costs more than it saves.
PROCESS_CHECK_BYTES = 4 << 20
_lines_table = cast(Table, BulkLine.__table__)


@dataclass(frozen=True)
class UploadOptions:
    file_name: str
    provider: str | None = None
    callback_url: str | None = None
    callback_progress: bool = False
    check_payees: bool = False


@dataclass(frozen=True)
class ProviderTerms:
    """What the provider accepts, read from its connector: checked per line at upload, not at payout."""

    currencies: frozenset[str]
    max_amounts: dict[str, int]


@dataclass
class Spooled:
    """The upload's size and digest, and a path to it for a checking process (large files only)."""

    size: int
    sha256: str
    path: str | None = None
    temporary: bool = False

    def discard(self) -> None:
        if self.temporary and self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _spool(upload: IO[bytes], directory: Path) -> Spooled:
    """Hash the upload; when it is large, make sure it has a path (a copy next to the files, if it has none)."""
    upload.seek(0, os.SEEK_END)
    size = upload.tell()
    upload.seek(0)
    name = getattr(upload, "name", None)
    path = name if isinstance(name, str) and os.path.isfile(name) else None
    copy = None
    if size >= PROCESS_CHECK_BYTES and path is None:
        directory.mkdir(parents=True, exist_ok=True)
        copy = tempfile.NamedTemporaryFile(dir=directory, prefix="bulk-", suffix=".upload", delete=False)  # noqa: SIM115
    digest = hashlib.sha256()
    try:
        while block := upload.read(HASH_BLOCK):
            digest.update(block)
            if copy is not None:
                copy.write(block)
    finally:
        if copy is not None:
            copy.close()
        upload.seek(0)
    if copy is not None:
        return Spooled(size, digest.hexdigest(), copy.name, temporary=True)
    return Spooled(size, digest.hexdigest(), path if size >= PROCESS_CHECK_BYTES else None)


def _check_callback_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    if len(url) > 2000 or not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) < 1:
        raise invalid_callback_url()
    return url


async def provider_terms(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str, settings: Settings
) -> ProviderTerms:
    """The provider must be known, usable by the organisation and able to pay out; what it accepts."""
    spec = registry.get(provider)  # unknown: 422 naming "provider"
    stored = (
        await session.execute(
            select(ProviderCredential.id).where(
                ProviderCredential.organization_id == organization_id, ProviderCredential.provider == provider
            )
        )
    ).scalar_one_or_none()
    development = spec.dev_credentials is not None and settings.env is not Environment.PRODUCTION
    if stored is None and not development:
        raise provider_not_configured(provider)
    try:
        connector = await registry.connector_for(
            session,
            organization_id=organization_id,
            provider=provider,
            app_settings=settings,
            policy_overrides=policy_overrides(settings, provider),
        )
    except AuthError:
        raise provider_not_configured(provider) from None
    async with connector:  # built only to read what it declares; no call is made
        if not connector.supports(Capability.PAYOUT):
            raise provider_cannot_pay_out(provider)
        maxima = {
            currency: limits.maximum
            for currency, limits in connector.amount_limits.items()
            if limits.maximum is not None
        }
        return ProviderTerms(currencies=frozenset(connector.currencies), max_amounts=maxima)


class LineStore:
    """Writes a batch's valid lines as chunks arrive; COPY on PostgreSQL, multi-row INSERT elsewhere."""

    def __init__(self, session: AsyncSession, *, batch_id: uuid.UUID, organization_id: uuid.UUID) -> None:
        self.session = session
        self.batch_id = batch_id
        self.organization_id = organization_id
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.stored = 0

    async def write(self, chunk: ValidatedChunk, *, chosen_ids: bool) -> None:
        if chunk.copy_rows is not None:  # written as COPY rows where they were checked (stream(copy=…))
            if chunk.valid_count:
                connection = await self.session.connection()
                raw = await connection.get_raw_connection()
                # A memoryview: asyncpg would take bytes for a file name.
                await raw.driver_connection.copy_to_table(  # type: ignore[union-attr]
                    "bulk_lines", source=memoryview(chunk.copy_rows), columns=list(LINE_COPY_COLUMNS), format="binary"
                )
                self.stored += chunk.valid_count
            return
        if not chunk.lines:
            return
        if self.postgres:
            now = utcnow()
            batch_id, organization_id = self.batch_id, self.organization_id
            records = [
                line_record(line, batch_id=batch_id, organization_id=organization_id, now=now, chosen_id=chosen_ids)
                for line in chunk.lines
            ]
            connection = await self.session.connection()
            raw = await connection.get_raw_connection()
            # The request's transaction is already open on this connection (the batch row was flushed first).
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                "bulk_lines", records=records, columns=list(LINE_COPY_COLUMNS)
            )
        else:
            rows = [
                line_row(line, batch_id=self.batch_id, organization_id=self.organization_id, chosen_id=chosen_ids)
                for line in chunk.lines
            ]
            await self.session.execute(insert(_lines_table), rows)
        self.stored += len(chunk.lines)


def _known_ids_hook(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession] | None,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
) -> Any:
    """The validator's ``known_transfer_ids``: ids of this organisation already held by a submitted batch.

    On PostgreSQL it reads on a connection of its own (committed batches only), so the next chunk can be checked
    while the request's connection copies the previous one; SQLite has one writer, so it uses the request's.
    """

    async def known(ids: Sequence[str]) -> Collection[str]:
        query = (
            select(BulkLine.transfer_id)
            .join(BulkBatch, BulkBatch.id == BulkLine.batch_id)
            .where(
                BulkLine.organization_id == organization_id,
                BulkLine.transfer_id.in_(list(ids)),
                BulkLine.chosen_id.is_(True),
                BulkLine.batch_id != batch_id,
                BulkBatch.state != BatchState.DRAFT.value,
            )
        )
        if sessionmaker is None:
            return set((await session.execute(query)).scalars())
        async with sessionmaker() as reader:
            return set((await reader.execute(query)).scalars())

    return known


def _chosen(validation: Any) -> bool:
    """Whether the file chose its transfer ids (standard format), known from its header on."""
    return bool(validation.report.file_format == FileFormat.STANDARD)


async def _store(
    validation: Any, store: LineStore, *, pipelined: bool, path: str | None, copy: CopyRowFormat | None
) -> None:
    """Parse (in a worker thread, or a child process for a large file) and store; pipelined, the next chunk is
    read while the previous one is written. With ``copy`` (PostgreSQL), lines that need no database check come
    already written as COPY rows by whoever checked them."""
    if not pipelined:
        async for chunk in validation.stream(process_path=path, copy=copy):
            await store.write(chunk, chosen_ids=_chosen(validation))
        return
    queue: asyncio.Queue[ValidatedChunk | None] = asyncio.Queue(maxsize=4)

    async def produce() -> None:
        try:
            async for chunk in validation.stream(process_path=path, copy=copy):
                await queue.put(chunk)
        finally:
            await queue.put(None)

    producer = asyncio.create_task(produce())
    try:
        while (chunk := await queue.get()) is not None:
            await store.write(chunk, chosen_ids=_chosen(validation))
    except BaseException:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
        raise
    await producer  # re-raises what the parser raised


async def create_batch(
    session: AsyncSession,
    *,
    upload: IO[bytes],
    options: UploadOptions,
    principal: Principal,
    organization_id: uuid.UUID,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ip: str | None = None,
) -> tuple[BulkBatch, str | None]:
    """Validate and store an uploaded file as a DRAFT batch; the batch and, once, its callback secret.

    A file that cannot be read as a payment list is a 422 ``invalid_bulk_file`` carrying the report; nothing is
    stored. Lines with errors are reported (first 1000 in detail, all counted) and not stored.
    """
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise BatchNotFound()
    provider = options.provider or settings.default_provider
    callback_url = _check_callback_url(options.callback_url)
    terms = await provider_terms(session, organization_id=organization_id, provider=provider, settings=settings)
    spooled = await asyncio.to_thread(_spool, upload, Path(settings.files_dir) / "uploads")
    size, sha256 = spooled.size, spooled.sha256
    secret = new_secret() if callback_url else None
    batch = BulkBatch(
        id=uuid.uuid4(),
        organization_id=organization_id,
        created_by=principal.user_id,
        created_by_api_key_id=principal.api_key_id,
        state=BatchState.DRAFT.value,
        provider=provider,
        callback_url=callback_url,
        callback_secret_encrypted=Encryptor(settings.encryption_key_list).encrypt(secret) if secret else None,
        callback_progress=options.callback_progress and callback_url is not None,
        file_name=(options.file_name or "upload")[:255],
        file_size=size,
        file_sha256=sha256,
    )
    session.add(batch)
    await session.flush()  # opens the transaction the COPYs join
    postgres = session.get_bind().dialect.name == "postgresql"
    validation = validate_bulk_file(
        upload,
        ValidationOptions(
            batch_id=batch.id,
            default_region=organization.default_region or settings.default_region,
            accepted_currencies=terms.currencies,
            max_amounts=terms.max_amounts,
            chunk_size=COPY_CHUNK_SIZE if postgres else CHUNK_SIZE,
        ),
        known_transfer_ids=_known_ids_hook(session, sessionmaker if postgres else None, organization_id, batch.id),
    )
    store = LineStore(session, batch_id=batch.id, organization_id=organization_id)
    try:
        copy = CopyRowFormat(batch.id, organization_id, LineState.PENDING.value, utcnow()) if postgres else None
        await _store(validation, store, pipelined=postgres and sessionmaker is not None, path=spooled.path, copy=copy)
    finally:
        await asyncio.to_thread(spooled.discard)
    report = validation.report
    if not report.accepted:
        raise InvalidBulkFile(report.to_dict())
    batch.record_validation(report)
    await record_audit(
        session,
        action="bulk.create",
        organization_id=organization_id,
        actor=principal,
        target_type="bulk_batch",
        target_id=str(batch.id),
        changes={
            "file_name": batch.file_name,
            "file_sha256": sha256,
            "provider": provider,
            "valid_lines": report.valid_lines,
            "invalid_lines": report.invalid_lines,
            "total_amount": batch.total_amount,
            "currency": report.currency,
        },
        ip=ip,
    )
    if options.check_payees and report.valid_lines:
        from cauri.disbursements.payees import start_payee_check

        await start_payee_check(session, batch)
    return batch, secret
