"""The one state machine every collection and payout follows.

``created → pending → succeeded | failed | expired | cancelled``; later a succeeded collection gives money back:
``succeeded → partially_refunded → … → refunded`` (each refund is a row of its own, see :mod:`.refunds`) or
``succeeded → reversed`` (the provider undid it).
``expired → succeeded`` books a success the provider reported after our expiry.
``created`` may also jump straight to a final status when the provider answers the create call (or a callback
arrives) with the result at once. Every transition is recorded with its cause and the provider's raw status;
anything else is refused with :class:`ImpossibleTransition`.
"""

from __future__ import annotations

from enum import StrEnum

from cauri.core.errors import Conflict


class PaymentKind(StrEnum):
    COLLECTION = "collection"  # money in: the provider debits a payer's phone
    PAYOUT = "payout"  # money out: the provider credits a payee's phone


class Status(StrEnum):
    CREATED = "created"  # saved, not yet (known to be) accepted by the provider
    PENDING = "pending"  # the provider has it; waiting for the payer, the network or a status
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"  # never settled in time
    CANCELLED = "cancelled"
    REVERSED = "reversed"  # a success the provider later undid
    REFUNDED = "refunded"  # a success we gave back in full
    PARTIALLY_REFUNDED = "partially_refunded"  # a success we gave part of back (more refunds may follow)


class Cause(StrEnum):
    """Why a payment changed status: what triggered the transition."""

    API = "api"  # the create request
    SUBMIT = "submit"  # the provider's answer to our create call
    CALLBACK = "callback"  # a provider notification
    POLL = "poll"  # a status query by the poller
    EXPIRY = "expiry"  # the expiry job
    OPERATOR = "operator"  # a person (refresh, cancel)
    RECONCILIATION = "reconciliation"
    REFUND = "refund"  # one of the payment's refunds succeeded


FINAL_STATUSES: frozenset[Status] = frozenset(
    {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.EXPIRED,
        Status.CANCELLED,
        Status.REVERSED,
        Status.REFUNDED,
        Status.PARTIALLY_REFUNDED,
    }
)
# A collection whose money (some of it at least) is still ours to give back.
REFUNDABLE_STATUSES: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.PARTIALLY_REFUNDED})
OPEN_STATUSES: frozenset[Status] = frozenset({Status.CREATED, Status.PENDING})

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.EXPIRED, Status.CANCELLED}),
    Status.PENDING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.EXPIRED, Status.CANCELLED}),
    Status.SUCCEEDED: frozenset({Status.REVERSED, Status.REFUNDED, Status.PARTIALLY_REFUNDED}),
    Status.FAILED: frozenset(),
    # A success the provider reports after our expiry: the money did move, so it is booked late (settlement).
    Status.EXPIRED: frozenset({Status.SUCCEEDED}),
    Status.CANCELLED: frozenset(),
    Status.REVERSED: frozenset(),
    Status.REFUNDED: frozenset(),
    # A further partial refund leaves the status as it is: the refund rows keep the history of each.
    Status.PARTIALLY_REFUNDED: frozenset({Status.REFUNDED, Status.REVERSED}),
}


class ImpossibleTransition(Conflict):
    code = "impossible_transition"

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(
            f"Un paiement « {current.value} » ne peut pas passer à « {target.value} ».",
            f"A '{current.value}' payment cannot become '{target.value}'.",
            extra={"current_status": current.value, "requested_status": target.value},
        )
        self.current = current
        self.target = target


def can_transition(current: Status, target: Status) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def check_transition(current: Status, target: Status) -> None:
    if not can_transition(current, target):
        raise ImpossibleTransition(current, target)


def is_final(status: Status) -> bool:
    return status in FINAL_STATUSES
