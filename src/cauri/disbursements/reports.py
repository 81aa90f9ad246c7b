"""Reading a batch's progress and results: per-state counts, pages of lines, and exports streamed page by page."""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.errors import field_error
from cauri.core.i18n import Language, pick
from cauri.core.responses import Download
from cauri.disbursements.exports import Cell, aiter_csv, aiter_xlsx, issue_table, result_header, result_row
from cauri.disbursements.ingest.messages import Issue
from cauri.disbursements.models import FINAL_BATCH_STATES, BulkBatch, BulkLine, LineState, PayeeCheck, PayeeStatus
from cauri.disbursements.payees import FLAGGED
from cauri.disbursements.schemas import BulkProgress, progress_of
from cauri.payments.outcomes import failure_message

EXPORT_PAGE = 5000


@dataclass(frozen=True)
class LineFilter:
    state: LineState | None = None
    payee_flagged: bool = False
    review: bool = False  # only lines flagged for review at validation


async def counts_by_state(session: AsyncSession, batch_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(BulkLine.state, func.count()).where(BulkLine.batch_id == batch_id).group_by(BulkLine.state)
    )
    counts = {state.value: 0 for state in LineState}
    for state, count in rows.all():
        counts[str(state)] = int(count)
    return counts


def encode_line_cursor(line_number: int) -> str:
    return base64.urlsafe_b64encode(f"line:{line_number}".encode()).decode().rstrip("=")


def decode_line_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "line":
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_error(
            "cursor", "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
        ) from None


def _filtered(statement: Select[Any], batch_id: uuid.UUID, filters: LineFilter) -> Select[Any]:
    statement = statement.where(BulkLine.batch_id == batch_id)
    if filters.state is not None:
        statement = statement.where(BulkLine.state == filters.state.value)
    if filters.payee_flagged:
        statement = statement.where(BulkLine.payee_status.in_(FLAGGED))
    if filters.review:
        statement = statement.where(BulkLine.review.is_not(None))
    return statement


async def lines_page(
    session: AsyncSession, batch_id: uuid.UUID, filters: LineFilter, *, limit: int, cursor: str | None
) -> tuple[list[BulkLine], str | None]:
    """Lines in file order, ``limit`` at a time (keyset on the line number)."""
    statement = _filtered(select(BulkLine), batch_id, filters)
    if cursor:
        statement = statement.where(BulkLine.line_number > decode_line_cursor(cursor))
    rows = list((await session.execute(statement.order_by(BulkLine.line_number).limit(limit + 1))).scalars())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_line_cursor(rows[-1].line_number)
    return rows, None


async def result_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    batch: BulkBatch,
    filters: LineFilter,
    language: Language | None,
) -> AsyncIterator[list[Cell]]:
    """Every line of the batch as a results row, read a page at a time in short transactions."""
    after = 0
    columns = (
        BulkLine.line_number,
        BulkLine.transfer_id,
        BulkLine.payee_name,
        BulkLine.party_id_type,
        BulkLine.party_identifier,
        BulkLine.amount,
        BulkLine.currency,
        BulkLine.state,
        BulkLine.failure_reason,
        BulkLine.attempts,
        BulkLine.provider_payment_id,
        BulkLine.completed_at,
    )
    while True:
        async with sessionmaker() as session:
            query = cast("Select[Any]", select(*columns))
            statement = _filtered(query, batch.id, filters).where(BulkLine.line_number > after)
            rows = (await session.execute(statement.order_by(BulkLine.line_number).limit(EXPORT_PAGE))).all()
            await session.rollback()
        if not rows:
            return
        for row in rows:
            yield result_row(
                line_number=row.line_number,
                transfer_id=row.transfer_id,
                payee_name=row.payee_name,
                party_id_type=row.party_id_type,
                party_identifier=row.party_identifier,
                amount=row.amount,
                currency=row.currency,
                state=row.state,
                failure_reason=row.failure_reason,
                failure_message=failure_message(row.failure_reason, language),
                attempts=row.attempts,
                provider_payment_id=row.provider_payment_id,
                completed_at=row.completed_at,
                language=language,
            )
        after = rows[-1].line_number


async def unsupported_payees(session: AsyncSession, batch: BulkBatch) -> int:
    """Lines the provider could not check (it has no account-holder lookup): the answer to a payee check asked of
    such a provider."""
    if batch.payee_check == PayeeCheck.NOT_REQUESTED or batch.payees_checked == 0:
        return 0
    counted = await session.execute(
        select(func.count()).where(
            BulkLine.batch_id == batch.id, BulkLine.payee_status == PayeeStatus.UNSUPPORTED.value
        )
    )
    return int(counted.scalar_one())


async def progress_updates(
    sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID, *, interval: float
) -> AsyncIterator[BulkProgress]:
    """The batch's progress every ``interval`` seconds, each read in its own short transaction (any API process
    can serve it), until the one that shows the batch ended (or the batch is gone)."""
    while True:
        async with sessionmaker() as reader:
            batch = await reader.get(BulkBatch, batch_id)
            progress = progress_of(batch) if batch is not None else None
            await reader.rollback()
        if progress is None:
            return
        yield progress
        if progress.state in FINAL_BATCH_STATES:
            return
        await asyncio.sleep(interval)


ExportFormat = Literal["csv", "xlsx"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def _download(
    header: list[str], rows: AsyncIterator[list[Cell]], stem: str, format: ExportFormat, delimiter: str
) -> Download:
    if format == "xlsx":
        return Download(f"{stem}.xlsx", XLSX_MEDIA_TYPE, aiter_xlsx(header, rows))
    return Download(f"{stem}.csv", CSV_MEDIA_TYPE, aiter_csv(header, rows, delimiter=delimiter))


def results_export(
    sessionmaker: async_sessionmaker[AsyncSession],
    batch: BulkBatch,
    filters: LineFilter,
    *,
    language: Language,
    format: ExportFormat,
    delimiter: str,
) -> Download:
    """The results file of a batch (one row per line), read page by page while it is sent."""
    rows = result_rows(sessionmaker, batch, filters, language)
    stem = pick("resultats", "results", language) + f"-{batch.id}"
    return _download(result_header(language), rows, stem, format, delimiter)


def issues_export(batch: BulkBatch, *, language: Language, format: ExportFormat, delimiter: str) -> Download:
    """The validation report's issues (file-wide ones first), to fix the file from."""
    report = batch.report or {}
    issues = [Issue.from_dict(item) for item in (report.get("file_issues") or []) + (report.get("issues") or [])]
    header, rows = issue_table(issues, language)

    async def all_rows() -> AsyncIterator[list[Cell]]:
        for row in rows:
            yield row

    stem = pick("anomalies", "issues", language) + f"-{batch.id}"
    return _download(header, all_rows(), stem, format, delimiter)
