"""Moov Money (Flooz) SOAP results, typed.

A SOAP answer's ``<return>`` is a flat set of text elements (``soap.py`` reads it into a dict of strings); these
models say which ones Cauri reads. Element names are Moov's own, lower-cased; unknown ones are kept.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class _Result(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str | None = None
    message: str | None = None


class TransactionResult(_Result):
    """A push, a transfer or a status: ``status`` ``0`` success, ``100`` pending, other codes final."""

    referenceid: str | None = None
    transid: str | None = None
    amount: int | None = None  # whole units; "" reads as absent, "abc" or "1.5" are unreadable
    externaldata1: str | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return None if value == "" else value


class BalanceResult(_Result):
    """``getBalance``: ``balance`` in whole units, possibly with decimals (``"1500.00"``)."""

    balance: str


class AccountResult(_Result):
    """``getMobileAccountStatus``: ``subscriberstatus`` ACTIVE (or absent) for a usable account."""

    subscriberstatus: str = "ACTIVE"
    firstname: str | None = None
    lastname: str | None = None
