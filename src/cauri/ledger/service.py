"""The ledger's service API, the only way other modules move money::

    from cauri.ledger import service as ledger

    wallet = await ledger.operating_account(session, organization_id, "XOF")
    clearing = await ledger.clearing_account(session, organization_id, "sandbox", "XOF")
    [transfer] = await ledger.create_transfers(session, [ledger.TransferSpec(
        id=payment_id, debit_account_id=clearing.id, credit_account_id=wallet.id, amount=5000, code="collection")])

Functions take the caller's session and never commit (see ``docs/ledger.md``).
"""

from cauri.ledger.accounts import (
    accounts_page,
    balance,
    bank_deposits_account,
    clearing_account,
    create_account,
    find_account,
    get_account,
    get_or_create_account,
    list_accounts,
    operating_account,
)
from cauri.ledger.deposits import Deposit, fund_operating_account, list_deposits, record_deposit
from cauri.ledger.statements import CurrencyTotals, Statement, StatementLine, statement, statement_lines, trial_balance
from cauri.ledger.transfers import (
    create_transfers,
    expire_pending_transfers,
    get_transfer,
    post_pending,
    void_pending,
)
from cauri.ledger.types import (
    BANK_DEPOSITS,
    OPERATING,
    PROVIDER_CLEARING,
    Account,
    Balance,
    Transfer,
    TransferSpec,
)

__all__ = [
    "BANK_DEPOSITS",
    "OPERATING",
    "PROVIDER_CLEARING",
    "Account",
    "Balance",
    "CurrencyTotals",
    "Deposit",
    "Statement",
    "StatementLine",
    "Transfer",
    "TransferSpec",
    "accounts_page",
    "balance",
    "bank_deposits_account",
    "clearing_account",
    "create_account",
    "create_transfers",
    "expire_pending_transfers",
    "find_account",
    "fund_operating_account",
    "get_account",
    "get_or_create_account",
    "get_transfer",
    "list_accounts",
    "list_deposits",
    "operating_account",
    "post_pending",
    "record_deposit",
    "statement",
    "statement_lines",
    "trial_balance",
    "void_pending",
]
