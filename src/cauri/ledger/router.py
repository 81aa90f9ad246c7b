"""HTTP routes of the ledger: the caller's accounts and statements, the trial balance, bank deposits.

Everything is scoped to the organisation the caller acts for (another organisation's account is a 404); a platform
admin acting for no organisation reads across the platform and is the only one who records deposits.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.errors import NotFound, field_error
from cauri.core.money import Money, parse_amount
from cauri.core.pagination import Page, PageParams, page_params
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.audit import record_audit
from cauri.identity.deps import client_ip
from cauri.identity.permissions import Perm, require, require_org
from cauri.ledger import accounts as account_service
from cauri.ledger import deposits as deposit_service
from cauri.ledger import statements as statement_service
from cauri.ledger.schemas import (
    AccountRead,
    CurrencyTotalsRead,
    DepositCreate,
    DepositRead,
    StatementPage,
    TrialBalanceRead,
)
from cauri.ledger.statements import StatementLine
from cauri.ledger.types import Account

router = api_router(prefix="/ledger", tags=["ledger"])

LedgerReader = Annotated[Principal, Depends(require(Perm.LEDGER_READ))]
PlatformAdmin = Annotated[Principal, Depends(require(Perm.PLATFORM_ADMIN))]
# Spreadsheets run cells that start like a formula: such cells get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _scope(principal: Principal) -> uuid.UUID | None:
    """The organisation whose books the caller reads; None for a platform admin acting for no organisation."""
    if principal.is_platform_admin and principal.organization_id is None:
        return None
    return require_org(principal)


def _utc(value: datetime | None) -> datetime | None:
    """Query datetimes without an offset are read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and since >= until:
        raise field_error(
            "until",
            "invalid_period",
            "La fin de la période doit suivre son début.",
            "The end of the period must come after its start.",
        )
    return since, until


@router.get("/accounts", summary="The organisation's ledger accounts and their balances")
async def list_accounts(
    session: SessionDep,
    principal: LedgerReader,
    params: Annotated[PageParams, Depends(page_params)],
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> Page[AccountRead]:
    found, cursor = await account_service.accounts_page(
        session, organization_id=require_org(principal), params=params, currency=currency
    )
    return Page[AccountRead](items=[AccountRead.of(account) for account in found], next_cursor=cursor)


@router.get("/accounts/{account_id}", summary="One account: posted, pending and available balances")
async def get_account(account_id: uuid.UUID, session: SessionDep, principal: LedgerReader) -> AccountRead:
    return AccountRead.of(await account_service.get_account(session, account_id, organization_id=_scope(principal)))


@router.get(
    "/accounts/{account_id}/statement",
    response_model=StatementPage,
    summary="An account's statement with running balance (JSON pages, or the whole period as CSV)",
    responses={200: {"content": {"text/csv": {}}, "description": "JSON page, or CSV with `format=csv`"}},
)
async def account_statement(
    request: Request,
    account_id: uuid.UUID,
    *,
    session: SessionDep,
    principal: LedgerReader,
    params: Annotated[PageParams, Depends(page_params)],
    since: Annotated[datetime | None, Query(description="From this instant (included); UTC if no offset")] = None,
    until: Annotated[datetime | None, Query(description="Up to this instant (excluded); UTC if no offset")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> StatementPage | Response:
    start, end = _period(since, until)
    if format == "csv":
        account = await account_service.get_account(session, account_id, organization_id=_scope(principal))
        return _csv_response(request.app.state.sessionmaker, account, start, end)
    statement = await statement_service.statement(
        session,
        account_id,
        organization_id=_scope(principal),
        limit=params.limit,
        cursor=params.cursor,
        since=start,
        until=end,
    )
    return StatementPage.of(statement)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_row(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(value) for value in values])
    return buffer.getvalue()


CSV_HEADER = [
    "date",
    "transfer_id",
    "code",
    "kind",
    "counterparty_account_id",
    "description",
    "debit",
    "credit",
    "balance",
    "balance_side",
    "currency",
    "metadata",
]


def _description(metadata: dict[str, object]) -> str:
    """The human label a caller left in the transfer's metadata, if any."""
    for key in ("description", "reference", "bank_reference"):
        value = metadata.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return ""


def _csv_line(line: StatementLine, account: Account) -> list[object]:
    def amount(value: int) -> str:
        return str(Money(value, account.currency).to_decimal()) if value else ""

    # A balance below zero is written as its size and the side it stands on, so that no cell starts with "-".
    normal_side = "debit" if account.debit_normal else "credit"
    opposite = "credit" if account.debit_normal else "debit"
    return [
        line.created_at.isoformat(),
        line.transfer_id,
        line.code,
        line.kind,
        line.counterparty_account_id,
        _description(line.metadata),
        amount(line.debit),
        amount(line.credit),
        str(Money(abs(line.balance), account.currency).to_decimal()),
        normal_side if line.balance >= 0 else opposite,
        account.currency,
        json.dumps(line.metadata, ensure_ascii=False, sort_keys=True) if line.metadata else "",
    ]


def _csv_response(
    sessionmaker: async_sessionmaker[AsyncSession], account: Account, since: datetime | None, until: datetime | None
) -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        yield "\ufeff" + _csv_row(list(CSV_HEADER))  # BOM: spreadsheets then read the file as UTF-8
        # The request's unit of work is over once the response starts: the export reads in sessions of its own.
        async for line in statement_service.statement_lines(sessionmaker, account, since=since, until=until):
            yield _csv_row(_csv_line(line, account))

    owner = f"-{account.owner_ref}" if account.owner_ref else ""
    name = f"releve-{account.code}{owner}-{account.currency}.csv".replace('"', "")
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/trial-balance", summary="Per currency, debits against credits: the books sum to zero")
async def trial_balance(
    session: SessionDep,
    principal: LedgerReader,
    organization_id: Annotated[uuid.UUID | None, Query(description="Platform admins: one organisation")] = None,
) -> TrialBalanceRead:
    scope = _scope(principal)
    if scope is not None and organization_id not in (None, scope):
        raise NotFound(field="organization_id")
    target = organization_id or scope
    totals = await statement_service.trial_balance(session, organization_id=target)
    found: list[Account] = []
    if target is not None:
        found = list(await account_service.list_accounts(session, organization_id=target))
    return TrialBalanceRead(
        scope="platform" if target is None else "organization",
        organization_id=target,
        balanced=all(t.balanced for t in totals),
        currencies=[CurrencyTotalsRead.of(t) for t in totals],
        accounts=[AccountRead.of(account) for account in found],
    )


@router.post(
    "/deposits",
    status_code=status.HTTP_201_CREATED,
    summary="Record a deposit received by bank transfer (platform admins)",
    responses={200: {"description": "This bank reference was already recorded with the same values"}},
)
async def record_deposit(
    body: DepositCreate, request: Request, response: Response, session: SessionDep, principal: PlatformAdmin
) -> DepositRead:
    amount = parse_amount(body.amount, body.currency, field="amount")
    deposit, created = await deposit_service.record_deposit(
        session,
        organization_id=body.organization_id,
        amount=amount,
        currency=body.currency,
        bank_reference=body.bank_reference,
        proof_file_name=body.proof_file_name,
        recorded_by=principal.user_id,
    )
    if created:
        await record_audit(
            session,
            action="ledger.deposit_recorded",
            organization_id=deposit.organization_id,
            actor=principal,
            target_type="ledger_deposit",
            target_id=str(deposit.id),
            changes={
                "amount": deposit.amount,
                "currency": deposit.currency,
                "bank_reference": deposit.bank_reference,
                "proof_file_name": deposit.proof_file_name,
                "transfer_id": str(deposit.transfer_id),
            },
            ip=client_ip(request),
        )
    else:
        response.status_code = status.HTTP_200_OK
    return DepositRead.of(deposit)


@router.get("/deposits", summary="Deposits received by bank transfer, newest first")
async def list_deposits(
    session: SessionDep,
    principal: LedgerReader,
    params: Annotated[PageParams, Depends(page_params)],
    organization_id: Annotated[uuid.UUID | None, Query(description="Platform admins: one organisation")] = None,
) -> Page[DepositRead]:
    scope = _scope(principal)
    if scope is not None and organization_id not in (None, scope):
        raise NotFound(field="organization_id")
    found, cursor = await deposit_service.list_deposits(
        session, organization_id=organization_id or scope, params=params
    )
    return Page[DepositRead](items=[DepositRead.of(deposit) for deposit in found], next_cursor=cursor)
