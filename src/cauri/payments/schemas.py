"""Request and response bodies of the payments API.

Types are checked here; meaning (a positive integer amount, a known currency, a valid phone, an account of the
caller's organisation in the right currency) is checked by the service, which names the field at fault.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from cauri.payments.models import REFERENCE_MAX
from cauri.payments.states import PaymentKind, Status

_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$")
METADATA_MAX_KEYS = 20
METADATA_VALUE_MAX = 500

MetadataValue = Annotated[str, Field(max_length=METADATA_VALUE_MAX)] | StrictInt | StrictFloat | bool | None


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(description="Integer of minor units (XOF/XAF: francs, no decimals)", examples=[5000])
    currency: str = Field(min_length=3, max_length=3, examples=["XAF"])
    phone: str = Field(min_length=3, max_length=32, examples=["+237 6 90 00 00 00"])
    reference: str = Field(
        min_length=1, max_length=REFERENCE_MAX, description="Your own reference, unique per organisation"
    )
    description: str | None = Field(default=None, max_length=160)
    metadata: dict[Annotated[str, Field(max_length=40)], MetadataValue] = Field(default_factory=dict)
    account_id: uuid.UUID | None = Field(
        default=None, description="Ledger account to credit or debit (default: the operating account)"
    )
    provider: str | None = Field(
        default=None, max_length=40, description="Provider to use (default: chosen from the phone's operator)"
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_minor_units(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                "Un nombre entier d'unités mineures est attendu (ex. 5000).|"
                "A whole number of minor units is expected (e.g. 5000)."
            )
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(
                    "Montant fractionnaire refusé : un nombre entier d'unités mineures est attendu "
                    "(XOF et XAF n'ont pas de décimales ; EUR en centimes).|"
                    "Fractional amount refused: a whole number of minor units is expected "
                    "(XOF and XAF have no decimals; EUR in cents)."
                )
            return int(value)
        return value

    @field_validator("reference")
    @classmethod
    def _reference_characters(cls, value: str) -> str:
        if not _REFERENCE.match(value):
            raise ValueError(
                "Référence invalide : lettres, chiffres et . _ : / # - uniquement.|"
                "Invalid reference: letters, digits and . _ : / # - only."
            )
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > METADATA_MAX_KEYS:
            raise ValueError(
                f"Au plus {METADATA_MAX_KEYS} clés de métadonnées.|At most {METADATA_MAX_KEYS} metadata keys."
            )
        return value

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()


class CollectionCreate(PaymentCreate):
    """Ask a payer to pay from their phone."""


class PayoutCreate(PaymentCreate):
    """Send money to a payee's phone."""

    payee_name: str | None = Field(default=None, max_length=100)


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: Status | None
    to_status: Status
    cause: str
    provider_status: str | None
    reason: str | None
    created_at: datetime


class PaymentRead(BaseModel):
    id: uuid.UUID
    object: PaymentKind
    status: Status
    amount: int
    currency: str
    fee: int | None
    phone: str
    operator: str
    provider: str
    reference: str
    description: str | None
    metadata: dict[str, Any]
    account_id: uuid.UUID
    purpose: str | None = Field(description="What the money is for, set by the Cauri module that asked for it")
    owner_id: str | None = Field(description="The id of that module's object the payment belongs to")
    outbound_reference: str = Field(description="The reference Cauri sent to the provider (its idempotency key)")
    provider_reference: str | None = Field(description="The provider's own id for this payment")
    failure_reason: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    expires_at: datetime


class CollectionRead(PaymentRead):
    object: Literal[PaymentKind.COLLECTION] = PaymentKind.COLLECTION
    payment_url: str | None = Field(
        default=None,
        description="Redirect providers (Wave, Orange WebPay, FedaPay, CinetPay): the page where the payer pays; "
        "set once the provider answered, null once the collection is settled",
    )
    payment_url_expires_at: datetime | None = Field(
        default=None,
        description="Until when payment_url works: the provider's own expiry when its API gives one, "
        "else the collection's expiry",
    )


class PayoutRead(PaymentRead):
    object: Literal[PaymentKind.PAYOUT] = PaymentKind.PAYOUT


class CollectionDetail(CollectionRead):
    transitions: list[TransitionRead]


class PayoutDetail(PayoutRead):
    transitions: list[TransitionRead]


# Outbound webhooks -------------------------------------------------------------------------------------------

EVENT_TYPES: tuple[str, ...] = tuple(
    f"{kind.value}.{status.value}" for kind in PaymentKind for status in Status if status is not Status.CREATED
)
# Events of the modules above payments that announce to the same endpoints (bulk.completed…): they name them with
# register_event_types when imported, since payments may not import them.
_MODULE_EVENT_TYPES: set[str] = set()


def register_event_types(*event_types: str) -> None:
    _MODULE_EVENT_TYPES.update(event_types)


def known_event_types() -> frozenset[str]:
    return frozenset(EVENT_TYPES) | _MODULE_EVENT_TYPES


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=500, examples=["https://example.org/cauri/webhooks"])
    description: str | None = Field(default=None, max_length=255)
    event_types: list[str] = Field(default_factory=list, description="Empty: every event")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+[^\s]*$", value):
            raise ValueError("Adresse web invalide (http:// ou https://).|Invalid URL (http:// or https://).")
        return value

    @field_validator("event_types")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - known_event_types())
        if unknown:
            raise ValueError(f"Événements inconnus : {', '.join(unknown)}.|Unknown events: {', '.join(unknown)}.")
        return sorted(set(value))


class WebhookEndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    is_active: bool
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str = Field(description="Shown once: keep it to verify the Cauri-Signature header")


class WebhookAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payment_id: uuid.UUID | None
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    give_up_at: datetime
    replay_of_id: uuid.UUID | None
    created_at: datetime


class WebhookDeliveryDetail(WebhookDeliveryRead):
    payload: dict[str, Any]
    attempt_log: list[WebhookAttemptRead]


# Reconciliation ----------------------------------------------------------------------------------------------


class ReconciliationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    provider: str = Field(min_length=1, max_length=40)


class ReconciliationItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    payment_id: uuid.UUID | None
    reference: str | None
    outbound_reference: str | None
    our_status: str | None
    provider_status: str | None
    our_amount: int | None
    provider_amount: int | None
    currency: str | None


class ReconciliationReport(BaseModel):
    id: uuid.UUID
    date: date
    provider: str
    state: str
    checked: int
    mismatches: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    items: list[ReconciliationItemRead]


class RouteOptionRead(BaseModel):
    provider: str
    eligible: bool
    reason: str | None = None
    message: str | None = None


class ProviderRoute(BaseModel):
    """Which provider would carry a payment to or from this number, and why the others would not."""

    phone: str
    country: str
    operator: str
    provider: str | None
    options: list[RouteOptionRead]
