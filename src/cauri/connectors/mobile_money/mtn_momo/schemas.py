"""MTN Mobile Money Open API wire models (collection and disbursement products), typed.

Names follow MTN's JSON (camelCase aliases); unknown fields are kept (``extra="allow"``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Product(StrEnum):
    """MTN sells each API as a product with its own subscription key and its own token."""

    COLLECTION = "collection"
    DISBURSEMENT = "disbursement"


class PayoutOperation(StrEnum):
    """Which disbursement call pays a payee out: ``transfer`` (v1_0) or ``deposit`` (v1_0 or v2_0).

    MTN's specification has both; a deposit's status is read at ``GET /disbursement/v1_0/deposit/{id}`` whatever
    the version that created it. Which one a country's production enables is MTN's choice (setting).
    """

    TRANSFER = "transfer"
    DEPOSIT_V1 = "deposit_v1"
    DEPOSIT_V2 = "deposit_v2"


class AccountHolderIdType(StrEnum):
    """``GET /{product}/v1_0/accountholder/{accountHolderIdType}/{accountHolderId}/active``."""

    MSISDN = "msisdn"
    EMAIL = "email"
    PARTY_CODE = "party_code"


class Party(_Wire):
    party_id_type: str = Field(default="MSISDN", alias="partyIdType")
    party_id: str = Field(alias="partyId")


class RequestToPay(_Wire):
    """``POST /collection/v1_0/requesttopay`` (answered 202 with an empty body)."""

    amount: str
    currency: str
    external_id: str = Field(alias="externalId")
    payer: Party
    payer_message: str = Field(default="", alias="payerMessage", max_length=160)
    payee_note: str = Field(default="", alias="payeeNote", max_length=160)


class Transfer(_Wire):
    """``POST /disbursement/v1_0/transfer`` (answered 202 with an empty body)."""

    amount: str
    currency: str
    external_id: str = Field(alias="externalId")
    payee: Party
    payer_message: str = Field(default="", alias="payerMessage", max_length=160)
    payee_note: str = Field(default="", alias="payeeNote", max_length=160)


class RequestToWithdraw(_Wire):
    """``POST /collection/{v1_0|v2_0}/requesttowithdraw``: a cash-out the payer approves (202, empty body)."""

    amount: str
    currency: str
    external_id: str = Field(alias="externalId")
    payer: Party
    payer_message: str = Field(default="", alias="payerMessage", max_length=160)
    payee_note: str = Field(default="", alias="payeeNote", max_length=160)


class DeliveryNotification(_Wire):
    """``POST /collection/v1_0/requesttopay/{id}/deliverynotification``: a note to the payer (at most 160)."""

    notification_message: str = Field(alias="notificationMessage", min_length=1, max_length=160)


class Refund(_Wire):
    """``POST /disbursement/v1_0/refund`` (answered 202 with an empty body): gives a request to pay's money back."""

    amount: str
    currency: str
    external_id: str = Field(alias="externalId")
    payer_message: str = Field(default="", alias="payerMessage", max_length=160)
    payee_note: str = Field(default="", alias="payeeNote", max_length=160)
    reference_id_to_refund: str = Field(alias="referenceIdToRefund")


class ErrorReason(_Wire):
    """MTN's specification gives ``reason`` as an object ``{code, message}``; the sandbox answers a bare string."""

    code: str | None = None
    message: str | None = None


class TransactionStatus(_Wire):
    """``GET …/requesttopay/{id}`` or ``…/transfer/{id}``, and the callback body (the same JSON)."""

    amount: str | int | float | None = None
    currency: str | None = None
    financial_transaction_id: str | None = Field(default=None, alias="financialTransactionId")
    external_id: str | None = Field(default=None, alias="externalId")
    payer: Party | None = None
    payee: Party | None = None
    payer_message: str | None = Field(default=None, alias="payerMessage")
    payee_note: str | None = Field(default=None, alias="payeeNote")
    status: str
    reason: str | ErrorReason | None = None

    @property
    def reason_code(self) -> str | None:
        if isinstance(self.reason, ErrorReason):
            return self.reason.code
        return self.reason


class AccountBalance(_Wire):
    available_balance: str | int | float = Field(alias="availableBalance")
    currency: str


class ActiveResult(_Wire):
    result: bool


class BasicUserInfo(_Wire):
    """``…/accountholder/msisdn/{n}/basicuserinfo``; which fields a country returns is not public ("?")."""

    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birthdate: str | None = None  # the sandbox also answers these three
    locale: str | None = None
    gender: str | None = None

    @property
    def full_name(self) -> str | None:
        if self.name:
            return self.name
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) or None


class ApiUser(_Wire):
    provider_callback_host: str = Field(alias="providerCallbackHost")
    target_environment: str | None = Field(default=None, alias="targetEnvironment")


class ApiKey(_Wire):
    api_key: str = Field(alias="apiKey")
