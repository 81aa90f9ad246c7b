"""The outcome table every provider simulator shares: the last three digits of a number choose what happens.

``+237670000902`` is refused for insufficient funds by every simulator, ``…913`` times out after the provider
accepted, ``…100`` (or any number not listed) succeeds; docs/connectors.md lists them all. A simulator maps each
outcome onto its provider's wire (status words, error codes); the fault injection shared by all of them is in
:class:`cauri.kit.simulation.SimulatorBase`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Outcome(StrEnum):
    SUCCESS = "success"
    NOT_FOUND = "not_found"  # refused at once: no account (payer_not_found / payee_not_found)
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LIMIT_REACHED = "limit_reached"
    NOT_ALLOWED = "not_allowed"
    REJECTED_BY_PAYER = "rejected_by_payer"
    PROVIDER_ERROR = "provider_error"
    ACCOUNT_INACTIVE = "account_inactive"
    PENDING_FOREVER = "pending_forever"
    EXPIRES = "expires"
    SLOW = "slow"
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"
    UNAVAILABLE = "unavailable"  # 503 before processing, `failing_attempts` times
    ERROR_AFTER_PROCESSING = "error_after_processing"  # 500 although the payment was created (first attempt)
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After on the first attempt
    DUPLICATED_CALLBACK = "duplicated_callback"
    LATE_CALLBACK = "late_callback"
    NO_CALLBACK = "no_callback"
    UNKNOWN_STATUS = "unknown_status"  # answers a state the connector does not know, for ever


MAGIC_SUFFIXES: dict[str, Outcome] = {
    "100": Outcome.SUCCESS,
    "901": Outcome.NOT_FOUND,
    "902": Outcome.INSUFFICIENT_FUNDS,
    "903": Outcome.LIMIT_REACHED,
    "904": Outcome.NOT_ALLOWED,
    "905": Outcome.REJECTED_BY_PAYER,
    "906": Outcome.PROVIDER_ERROR,
    "907": Outcome.ACCOUNT_INACTIVE,
    "910": Outcome.PENDING_FOREVER,
    "911": Outcome.EXPIRES,
    "912": Outcome.SLOW,
    "913": Outcome.TIMEOUT_AFTER_ACCEPT,
    "914": Outcome.UNAVAILABLE,
    "915": Outcome.ERROR_AFTER_PROCESSING,
    "916": Outcome.RATE_LIMITED,
    "917": Outcome.DUPLICATED_CALLBACK,
    "918": Outcome.LATE_CALLBACK,
    "919": Outcome.NO_CALLBACK,
    "920": Outcome.UNKNOWN_STATUS,
}
_SUFFIX_OF = {outcome: suffix for suffix, outcome in MAGIC_SUFFIXES.items()}
# Country prefixes whose numbers stay valid mobile numbers with any last three digits.
MAGIC_PREFIXES: dict[str, str] = {"CM": "+237670000", "CI": "+2250700000", "SN": "+221770000"}


def magic_phone(outcome: Outcome, country: str = "CM", *, prefixes: Mapping[str, str] = MAGIC_PREFIXES) -> str:
    """An E.164 number that makes a simulator produce ``outcome`` (e.g. ``+237670000902``); a provider whose
    countries differ passes its own ``prefixes``."""
    return prefixes[country] + _SUFFIX_OF[outcome]


def outcome_for(msisdn: str) -> Outcome:
    return MAGIC_SUFFIXES.get(msisdn[-3:], Outcome.SUCCESS)
