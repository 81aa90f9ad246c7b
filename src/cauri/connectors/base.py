"""Domain types of the connector framework and the :class:`PaymentConnector` every provider implements.

A connector is a stateless translator (DESIGN.md, convention 7): it turns Cauri's requests into a provider's
wire format and the provider's answers back into Cauri's words. It keeps no database state; the payments
module owns the lifecycle. Money is an integer of minor units; phone numbers are E.164.

Writing a connector: subclass :class:`PaymentConnector`, declare ``name``, ``capabilities``, ``currencies``
(and optionally ``amount_limits``, ``callbacks_signed``, ``idempotent_creates``), then implement the
``_collect``/``_payout``/… hook of every declared capability. The public methods check the capability, the
currency and the amount limits, then call the hook; an undeclared capability raises :class:`Unsupported`.
A capability declared without its hook is refused when the class is defined.
"""

from __future__ import annotations

import re
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from cauri.core.money import CURRENCY_EXPONENTS
from cauri.kit.errors import FailureReason, InvalidRequest, Unsupported

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_REFERENCE_LENGTH = 64


class PaymentStatus(StrEnum):
    """Cauri's view of a payment at a provider; never the provider's own words."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self is not PaymentStatus.PENDING


class PaymentKind(StrEnum):
    COLLECTION = "collection"
    PAYOUT = "payout"


class Capability(StrEnum):
    COLLECT = "collect"
    PAYOUT = "payout"
    COLLECT_STATUS = "collect_status"
    PAYOUT_STATUS = "payout_status"
    BALANCE = "balance"
    ACCOUNT_HOLDER = "account_holder"
    REFUND = "refund"
    REVERSAL = "reversal"  # undo a succeeded payout: the money comes back from the payee
    CALLBACKS = "callbacks"
    BULK_PAYOUT = "bulk_payout"  # many payouts in one call, their results by one status query


# The hook a connector implements for each capability (checked when a subclass is defined).
_HOOKS: dict[Capability, tuple[str, ...]] = {
    Capability.COLLECT: ("_collect",),
    Capability.PAYOUT: ("_payout",),
    Capability.COLLECT_STATUS: ("_collect_status",),
    Capability.PAYOUT_STATUS: ("_payout_status",),
    Capability.BALANCE: ("_balance",),
    Capability.ACCOUNT_HOLDER: ("_account_holder",),
    Capability.REFUND: ("_refund", "_refund_status"),
    Capability.REVERSAL: ("_reverse_payout", "_reversal_status"),
    Capability.CALLBACKS: ("_verify_callback", "_parse_callback"),
    Capability.BULK_PAYOUT: ("_bulk_payout", "_bulk_payout_status"),
}


def _check_reference(reference: str) -> None:
    if not reference or len(reference) > MAX_REFERENCE_LENGTH or not reference.isprintable():
        raise InvalidRequest(
            f"Référence invalide (1 à {MAX_REFERENCE_LENGTH} caractères imprimables).",
            f"Invalid reference (1 to {MAX_REFERENCE_LENGTH} printable characters).",
            code="invalid_reference",
        )


def _check_money(amount: int, currency: str) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidRequest(
            "Le montant doit être un entier strictement positif (unités mineures).",
            "The amount must be a positive integer of minor units.",
            code="invalid_amount",
            reason=FailureReason.INVALID_AMOUNT,
        )
    if currency not in CURRENCY_EXPONENTS:
        raise InvalidRequest(
            f"Devise inconnue : {currency!r}.",
            f"Unknown currency: {currency!r}.",
            code="invalid_currency",
            reason=FailureReason.INVALID_CURRENCY,
        )


def _check_phone(phone: str, what: str) -> None:
    if not _E164.match(phone or ""):
        raise InvalidRequest(
            f"Numéro {what} invalide : format E.164 attendu (+237…).",
            f"Invalid {what} number: E.164 expected (+237…).",
            code="invalid_phone",
        )


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """Ask ``payer_phone`` to pay ``amount`` minor units. ``reference`` is ours, unique, chosen before any call."""

    reference: str
    amount: int
    currency: str
    payer_phone: str
    description: str = ""
    callback_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_reference(self.reference)
        _check_money(self.amount, self.currency)
        _check_phone(self.payer_phone, "payer")


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """Send ``amount`` minor units to ``payee_phone``. ``reference`` is ours, unique, chosen before any call."""

    reference: str
    amount: int
    currency: str
    payee_phone: str
    description: str = ""
    callback_url: str | None = None
    payee_name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_reference(self.reference)
        _check_money(self.amount, self.currency)
        _check_phone(self.payee_phone, "payee")


@dataclass(frozen=True, slots=True)
class BulkPayoutLine:
    """One payout of a bulk. ``reference`` is ours, unique within the bulk and chosen before any call."""

    reference: str
    amount: int
    currency: str
    payee_phone: str
    payee_name: str | None = None

    def __post_init__(self) -> None:
        _check_reference(self.reference)
        _check_money(self.amount, self.currency)
        _check_phone(self.payee_phone, "payee")


def check_bulk_size(provider: str, references: Sequence[str], max_lines: int) -> None:
    """A bulk holds 1 to ``max_lines`` lines, each under a reference of its own."""
    if not 1 <= len(references) <= max_lines:
        raise InvalidRequest(
            f"Un envoi groupé contient de 1 à {max_lines} lignes.",
            f"A bulk holds 1 to {max_lines} lines.",
            provider=provider,
            code="invalid_bulk_size",
        )
    if len(set(references)) != len(references):
        raise InvalidRequest(
            "Référence de ligne en double dans l'envoi groupé.",
            "Duplicate line reference in the bulk.",
            provider=provider,
            code="duplicate_reference",
            reason=FailureReason.DUPLICATE,
        )


@dataclass(frozen=True, slots=True)
class BulkPayoutItem:
    """What the provider says about one line of a bulk, in Cauri's words (matched by our line reference)."""

    reference: str
    status: PaymentStatus
    provider_reference: str | None = None
    provider_status: str | None = None
    failure: FailureReason | None = None


@dataclass(frozen=True, slots=True)
class BulkPayoutResult:
    """A bulk's lines as the provider knows them now; a line it does not list yet is pending."""

    reference: str
    state: str | None  # the provider's own word for the bulk
    items: tuple[BulkPayoutItem, ...]


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Give back ``amount`` (all or part) of a succeeded collection, or reverse a succeeded payout (``reverse_payout``:
    then ``provider_reference`` is the payout's id). ``reference`` is ours, unique, chosen before any call and sent
    again unchanged on every retry and status query (the provider's idempotency key or reference id).
    ``payer_phone`` is the collection's payer (the refund's recipient), for providers whose refund names it."""

    reference: str  # our reference for the refund (or reversal) itself
    provider_reference: str  # the provider's id of the collection being refunded (the payout being reversed)
    amount: int
    currency: str
    reason: str = ""
    collection_reference: str | None = None  # the reference we sent with the collection, when the provider wants it
    payer_phone: str | None = None

    def __post_init__(self) -> None:
        _check_reference(self.reference)
        _check_money(self.amount, self.currency)


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """What the provider says about one payment, in Cauri's words. ``raw`` is the provider's answer (for audit)."""

    provider_reference: str
    reference: str
    status: PaymentStatus
    amount: int
    currency: str
    kind: PaymentKind = PaymentKind.COLLECTION
    failure: FailureReason | None = None
    fee: int | None = None
    provider_status: str | None = None  # the provider's own word, kept for support
    raw: Mapping[str, Any] = field(default_factory=dict)
    # A per-payment secret the provider issued at creation and will echo in its callbacks (Orange WebPay's
    # ``notif_token``). Store it with the payment: a callback naming no reference is matched by this token, and
    # one whose token matches no payment is refused (``signatures.verify_callback_token``).
    callback_token: str | None = field(default=None, repr=False)
    # Redirect providers (Wave checkout, Orange WebPay, FedaPay, CinetPay): the page the payer opens to pay, and
    # until when it works when the provider's API says so (None: it does not; the payment's own expiry applies).
    payment_url: str | None = None
    payment_url_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available: int  # minor units
    pending: int | None = None


@dataclass(frozen=True, slots=True)
class AccountHolder:
    active: bool
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """One provider notification. ``event_id`` is stable across re-deliveries: store it under a unique key.

    ``signed`` is false for providers that do not sign: such an event is a doorbell, confirm it with a status
    query before crediting anyone (DESIGN.md, convention 8). ``callback_token`` is set by providers whose callbacks
    name the payment only by the token issued at creation (see :attr:`ProviderPayment.callback_token`).
    """

    event_id: str
    provider_reference: str
    reference: str | None
    kind: PaymentKind
    status: PaymentStatus
    amount: int | None
    currency: str | None
    failure: FailureReason | None
    signed: bool
    raw: Mapping[str, Any] = field(default_factory=dict)
    callback_token: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackAck:
    """What to answer the provider once a callback is stored."""

    status_code: int = 200
    body: bytes = b""
    media_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class AmountLimits:
    minimum: int = 1
    maximum: int | None = None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup on any mapping (Starlette, httpx or a plain dict)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


class PaymentConnector(ABC):
    """A payment provider seen through Cauri's eyes. See the module docstring for how to write one."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    currencies: ClassVar[frozenset[str]]
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {}
    # Signed callbacks may be trusted once verified; unsigned ones are confirmed by a status query.
    callbacks_signed: ClassVar[bool] = False
    # True when the provider deduplicates creates by our idempotency key or reference, so a create may be retried
    # after a 5xx or a timeout without paying twice. False: the HTTP layer never retries a create once sent.
    idempotent_creates: ClassVar[bool] = False
    # Whether a status query can find a payment by *our* reference alone (needed after a timeout on create).
    status_by_reference: ClassVar[bool] = False
    # BULK_PAYOUT providers: the most lines one bulk may hold. A bulk is recognised by our reference, so sending
    # the same one again never pays twice.
    max_bulk_lines: ClassVar[int] = 0
    # REFUND providers: whether a refund may give back part of a collection (several refunds, up to its amount).
    partial_refunds: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None) or "capabilities" not in cls.__dict__:
            return
        for capability in cls.capabilities:
            for hook in _HOOKS[capability]:
                if getattr(cls, hook) is getattr(PaymentConnector, hook):
                    raise TypeError(f"{cls.__name__} declares {capability.value} but does not implement {hook}()")

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def aclose(self) -> None:  # noqa: B027 - optional hook: connectors without HTTP have nothing to close
        """Release HTTP connections. Connectors built per call should be closed (``async with``)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- capability checks ---------------------------------------------------------------------------------------

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise Unsupported(self.name, capability.value)

    def check_amount(self, amount: int, currency: str) -> None:
        """Refuse before any call what the provider would refuse: a currency it lacks, an amount out of range."""
        if currency not in self.currencies:
            raise InvalidRequest(
                f"Le fournisseur « {self.name} » n'accepte pas la devise {currency}.",
                f"Provider '{self.name}' does not accept {currency}.",
                provider=self.name,
                code="invalid_currency",
                reason=FailureReason.INVALID_CURRENCY,
            )
        limits = self.amount_limits.get(currency)
        if limits is None:
            return
        if amount < limits.minimum or (limits.maximum is not None and amount > limits.maximum):
            upper = f"{limits.maximum}" if limits.maximum is not None else "∞"
            raise InvalidRequest(
                f"Montant hors limites pour « {self.name} » : de {limits.minimum} à {upper} {currency}.",
                f"Amount out of range for '{self.name}': {limits.minimum} to {upper} {currency}.",
                provider=self.name,
                code="invalid_amount",
                reason=FailureReason.INVALID_AMOUNT,
            )

    # -- public operations (checks, then the connector's hook) -------------------------------------------------

    async def collect(self, request: CollectRequest) -> ProviderPayment:
        """Ask a payer for money. Usually answers *pending*: the payer confirms on the phone later."""
        self.require(Capability.COLLECT)
        self.check_amount(request.amount, request.currency)
        return await self._collect(request)

    async def payout(self, request: PayoutRequest) -> ProviderPayment:
        self.require(Capability.PAYOUT)
        self.check_amount(request.amount, request.currency)
        return await self._payout(request)

    async def collect_status(self, reference: str, provider_reference: str | None = None) -> ProviderPayment:
        """Status by the provider's reference when known, else by ours (``status_by_reference`` providers)."""
        self.require(Capability.COLLECT_STATUS)
        return await self._collect_status(reference, provider_reference)

    async def payout_status(self, reference: str, provider_reference: str | None = None) -> ProviderPayment:
        self.require(Capability.PAYOUT_STATUS)
        return await self._payout_status(reference, provider_reference)

    async def balance(self, currency: str) -> Balance:
        self.require(Capability.BALANCE)
        return await self._balance(currency)

    async def account_holder(self, phone: str) -> AccountHolder:
        self.require(Capability.ACCOUNT_HOLDER)
        _check_phone(phone, "account")
        return await self._account_holder(phone)

    async def refund(self, request: RefundRequest) -> ProviderPayment:
        """Refund a succeeded collection (``kind`` payout: money going back). Often answers *pending*; ask
        :meth:`refund_status` with the same request later. Sending the same reference again never refunds twice."""
        self.require(Capability.REFUND)
        return await self._refund(request)

    async def refund_status(self, request: RefundRequest, provider_reference: str | None = None) -> ProviderPayment:
        """Where the refund sent as ``request`` stands (``provider_reference``: the provider's id of the refund, when
        it gave one). PaymentNotFound when the provider never got it."""
        self.require(Capability.REFUND)
        return await self._refund_status(request, provider_reference)

    async def reverse_payout(self, request: RefundRequest) -> ProviderPayment:
        """Undo a succeeded payout (the payee gives the money back); ``kind`` collection: money coming in. Sending
        the same reference again never reverses twice."""
        self.require(Capability.REVERSAL)
        return await self._reverse_payout(request)

    async def reversal_status(self, request: RefundRequest) -> ProviderPayment:
        self.require(Capability.REVERSAL)
        return await self._reversal_status(request)

    async def bulk_payout(self, reference: str, lines: Sequence[BulkPayoutLine]) -> None:
        """Hand the provider up to :attr:`max_bulk_lines` payouts at once under our ``reference``; returns once
        acknowledged (results by :meth:`bulk_payout_status`). Sending the same bulk again is recognised."""
        self.require(Capability.BULK_PAYOUT)
        _check_reference(reference)
        check_bulk_size(self.name, [line.reference for line in lines], self.max_bulk_lines)
        for line in lines:
            self.check_amount(line.amount, line.currency)
        await self._bulk_payout(reference, lines)

    async def bulk_payout_status(self, reference: str) -> BulkPayoutResult:
        """Each line of the bulk sent under ``reference``; PaymentNotFound when the provider never got it."""
        self.require(Capability.BULK_PAYOUT)
        return await self._bulk_payout_status(reference)

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> None:
        """Check a callback's authenticity over the raw bytes *before* parsing; raises InvalidSignature.

        ``now`` (unix seconds) is injectable so tests can prove the timestamp tolerance.
        """
        self.require(Capability.CALLBACKS)
        self._verify_callback(headers, raw_body, now)

    def parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        """The event in Cauri's words; call only after :meth:`verify_callback` succeeded."""
        self.require(Capability.CALLBACKS)
        return self._parse_callback(headers, raw_body)

    def callback_ack(self, event: CallbackEvent | None = None) -> CallbackAck:
        """What to answer the provider after storing a callback (most want a bare 200)."""
        return CallbackAck()

    # -- hooks: override the ones matching the declared capabilities ---------------------------------------------

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        raise Unsupported(self.name, Capability.COLLECT.value)

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        raise Unsupported(self.name, Capability.PAYOUT.value)

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        raise Unsupported(self.name, Capability.COLLECT_STATUS.value)

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        raise Unsupported(self.name, Capability.PAYOUT_STATUS.value)

    async def _balance(self, currency: str) -> Balance:
        raise Unsupported(self.name, Capability.BALANCE.value)

    async def _account_holder(self, phone: str) -> AccountHolder:
        raise Unsupported(self.name, Capability.ACCOUNT_HOLDER.value)

    async def _refund(self, request: RefundRequest) -> ProviderPayment:
        raise Unsupported(self.name, Capability.REFUND.value)

    async def _refund_status(self, request: RefundRequest, provider_reference: str | None) -> ProviderPayment:
        raise Unsupported(self.name, Capability.REFUND.value)

    async def _reverse_payout(self, request: RefundRequest) -> ProviderPayment:
        raise Unsupported(self.name, Capability.REVERSAL.value)

    async def _reversal_status(self, request: RefundRequest) -> ProviderPayment:
        raise Unsupported(self.name, Capability.REVERSAL.value)

    async def _bulk_payout(self, reference: str, lines: Sequence[BulkPayoutLine]) -> None:
        raise Unsupported(self.name, Capability.BULK_PAYOUT.value)

    async def _bulk_payout_status(self, reference: str) -> BulkPayoutResult:
        raise Unsupported(self.name, Capability.BULK_PAYOUT.value)

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        raise Unsupported(self.name, Capability.CALLBACKS.value)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        raise Unsupported(self.name, Capability.CALLBACKS.value)
