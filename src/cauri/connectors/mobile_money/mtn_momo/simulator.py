"""An MTN MoMo Open API simulator: MTN's paths, per-product keys and tokens, headers, 202/409 semantics, callbacks.

* provisioning: ``POST /v1_0/apiuser`` (``X-Reference-Id``, ``{providerCallbackHost}``) -> 201,
  ``GET /v1_0/apiuser/{id}``, ``POST /v1_0/apiuser/{id}/apikey`` -> 201 ``{apiKey}``
* ``POST /{collection|disbursement}/token/`` (Basic ``apiUser:apiKey`` + the product's
  ``Ocp-Apim-Subscription-Key``) -> ``{access_token, token_type, expires_in}``; a token serves its product only
* ``POST /collection/v1_0/requesttopay`` / ``POST /disbursement/v1_0/transfer`` -> **202, empty body**; the same
  ``X-Reference-Id`` again -> ``409 {code: "RESOURCE_ALREADY_EXIST"}``; ``X-Callback-Url`` must be on the API
  user's ``providerCallbackHost`` (else ``400 INVALID_CALLBACK_URL_HOST``)
* ``GET …/requesttopay/{id}`` / ``…/transfer/{id}`` -> the transaction (unknown id: ``404 RESOURCE_NOT_FOUND``)
* ``POST /disbursement/{v1_0|v2_0}/refund`` (``X-Reference-Id``; ``{amount, currency, externalId, payerMessage,
  payeeNote, referenceIdToRefund}``) -> **202, empty body**; the same id again -> 409 ``RESOURCE_ALREADY_EXIST``;
  ``GET /disbursement/{v1_0|v2_0}/refund/{id}`` -> the refund (``payee``: the collection's payer). A refund of an
  unknown or unsuccessful request to pay, in another currency, or for more than remains refundable (partial
  refunds add up) is accepted and reads ``FAILED`` with reason ``COULD_NOT_PERFORM_TRANSACTION`` (MTN's 202-then-
  status model; the exact reason MTN gives is not public, "?"). The money leaves the disbursement account.
* ``POST /disbursement/{v1_0|v2_0}/deposit`` (``payee``, like a transfer) -> 202;
  ``GET /disbursement/v1_0/deposit/{id}`` reads a deposit of either version
* ``POST /collection/{v1_0|v2_0}/requesttowithdraw`` (``payer``, like a request to pay: the payer approves a cash-out)
  -> 202; ``GET /collection/v1_0/requesttowithdraw/{id}`` reads either version
* ``POST /collection/v1_0/requesttopay/{id}/deliverynotification`` (``notificationMessage`` as a header and/or the JSON
  body, at most 160 characters; optional ``Language``) -> 200, or 404 for an unknown request to pay
* ``GET /{product}/v1_0/account/balance`` and ``…/account/balance/{currency}``;
  ``…/accountholder/{msisdn|email|party_code}/{id}/active`` and ``…/accountholder/msisdn/{n}/basicuserinfo``
* every product call needs ``Authorization: Bearer``, the product's subscription key and an ``X-Target-Environment``
  the simulator serves (``environments``: ``{"sandbox": "EUR"}`` by default, as MTN's sandbox: EUR only)
* callbacks: the transaction's JSON, unsigned, sent **once** (``callback_method``: PUT by default) to the
  ``X-Callback-Url``
* a failure ``reason`` is the bare string MTN's sandbox answers (``reason_format="string"``, default) or the
  ``{code, message}`` object of MTN's OpenAPI specification (``reason_format="object"``)

Outcomes: MTN's own sandbox numbers ``46733123450`` to ``…454`` behave as integrators measured them
(``sandbox_behaviour="measured"``: 450/451/452 fail, 453 stays PENDING for ever, 454 answers CREATED then
SUCCESSFUL after ``delayed_success_seconds``) or as MTN documents them (``"documented"``: failed, rejected,
expired, ongoing, pending). Every other outcome comes from the last three digits, as on the sandbox provider
(``+46733123902`` fails with NOT_ENOUGH_FUNDS…); any other number succeeds. ``docs/providers/mtn_momo.md``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.mobile_money.mtn_momo import webhooks
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.core.security import constant_time_equal
from cauri.kit.amounts import positive_minor_units, to_major_units
from cauri.kit.outcomes import MAGIC_SUFFIXES, Outcome, outcome_for
from cauri.kit.simulation import CallbackSender, Fault, SimulatorBase, SimulatorSettings, basic_credentials, json_object

DEFAULT_API_USER = "c2a4e1b0-3d5f-4a6b-8c9d-0e1f2a3b4c5d"
# Demo credentials shaped like MTN's: API keys and APIM subscription keys are 32 hexadecimal digits.
DEFAULT_API_KEY = "5d2c4f1e8a9b4c3d9e0f1a2b3c4d5e6f"
DEFAULT_COLLECTION_KEY = "c01ec7104d3b4a5f9e8d7c6b5a493827"
DEFAULT_DISBURSEMENT_KEY = "d15b0e5e4d3c4b2a8f9e0d1c2b3a4958"
MTN_SANDBOX_PREFIX = "+46733123"  # MTN's sandbox numbers, and Cauri's outcome suffixes on the same prefix
MERCHANT_FLOAT = 1_000_000_000
PRODUCTS = ("collection", "disbursement")
# The kinds of transactions the simulator keeps, and the product (subscription key and token) each belongs to.
KIND_PRODUCT = {
    "collection": "collection",  # request to pay
    "withdrawal": "collection",  # request to withdraw
    "disbursement": "disbursement",  # transfer
    "deposit": "disbursement",
    "refund": "disbursement",
}
INBOUND = frozenset({"collection", "withdrawal"})  # the party is the payer, money comes in
CREATE_LABELS = {
    "collection": "POST /collection/v1_0/requesttopay",
    "withdrawal": "POST /collection/requesttowithdraw",
    "disbursement": "POST /disbursement/v1_0/transfer",
    "deposit": "POST /disbursement/deposit",
}
STATUS_PATHS = {
    "/collection/v1_0/requesttopay/": "collection",
    "/collection/v1_0/requesttowithdraw/": "withdrawal",
    "/disbursement/v1_0/transfer/": "disbursement",
    "/disbursement/v1_0/deposit/": "deposit",
}
ACCOUNT_HOLDER_ID_TYPES = ("msisdn", "email", "party_code")
MAX_NOTIFICATION = 160
UNKNOWN_STATUS = "IN_REVIEW"  # a word the connector does not know: must read as pending

INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
)


class ReasonFormat(StrEnum):
    STRING = "string"  # "reason": "APPROVAL_REJECTED", as MTN's sandbox answers
    OBJECT = "object"  # "reason": {"code": "APPROVAL_REJECTED", "message": "…"}, as MTN's OpenAPI specification


REASON_MESSAGES = {
    "PAYER_NOT_FOUND": "Payer does not exist",
    "PAYEE_NOT_FOUND": "Payee does not exist",
    "NOT_ENOUGH_FUNDS": "The payer does not have enough funds",
    "PAYER_LIMIT_REACHED": "The payer's limit has been breached",
    "NOT_ALLOWED": "Authorization failed. User does not have permission",
    "PAYEE_NOT_ALLOWED_TO_RECEIVE": "The payee is not allowed to receive",
    "APPROVAL_REJECTED": "The payer rejected the transaction",
    "EXPIRED": "The transaction expired",
    "INTERNAL_PROCESSING_ERROR": "An internal error occurred",
    "COULD_NOT_PERFORM_TRANSACTION": "The transaction could not be performed",
}


class SandboxBehaviour(StrEnum):
    MEASURED = "measured"  # what integrators observed on MTN's sandbox
    DOCUMENTED = "documented"  # what MTN's documentation says


class SandboxNumber(StrEnum):
    FAILED = "46733123450"
    REJECTED = "46733123451"
    TIMEOUT = "46733123452"
    ONGOING = "46733123453"
    PENDING = "46733123454"


# (status, reason) each sandbox number settles to; None: it stays as it is (PENDING/ONGOING for ever).
_MEASURED: dict[SandboxNumber, tuple[str, str | None] | None] = {
    SandboxNumber.FAILED: ("FAILED", "PAYER_FAILED"),
    SandboxNumber.REJECTED: ("FAILED", "APPROVAL_REJECTED"),
    SandboxNumber.TIMEOUT: ("FAILED", "EXPIRED"),
    SandboxNumber.ONGOING: None,
    SandboxNumber.PENDING: ("SUCCESSFUL", None),  # after CREATED, delayed_success_seconds later
}
_DOCUMENTED: dict[SandboxNumber, tuple[str, str | None] | None] = {
    SandboxNumber.FAILED: ("FAILED", "PAYER_FAILED"),
    SandboxNumber.REJECTED: ("REJECTED", "APPROVAL_REJECTED"),
    SandboxNumber.TIMEOUT: ("EXPIRED", "EXPIRED"),
    SandboxNumber.ONGOING: None,
    SandboxNumber.PENDING: None,
}
_DOCUMENTED_WAITING = {
    SandboxNumber.ONGOING: ("ONGOING", "PAYER_ONGOING"),
    SandboxNumber.PENDING: ("PENDING", "PAYER_DELAYED"),
}

# MTN's failure codes for Cauri's magic outcomes (collection, disbursement).
FAILURE_CODES: dict[Outcome, tuple[str, str]] = {
    Outcome.NOT_FOUND: ("PAYER_NOT_FOUND", "PAYEE_NOT_FOUND"),
    Outcome.INSUFFICIENT_FUNDS: ("NOT_ENOUGH_FUNDS", "NOT_ENOUGH_FUNDS"),
    Outcome.LIMIT_REACHED: ("PAYER_LIMIT_REACHED", "PAYER_LIMIT_REACHED"),
    Outcome.NOT_ALLOWED: ("NOT_ALLOWED", "PAYEE_NOT_ALLOWED_TO_RECEIVE"),
    Outcome.REJECTED_BY_PAYER: ("APPROVAL_REJECTED", "APPROVAL_REJECTED"),
    Outcome.PROVIDER_ERROR: ("INTERNAL_PROCESSING_ERROR", "INTERNAL_PROCESSING_ERROR"),
    Outcome.ACCOUNT_INACTIVE: ("COULD_NOT_PERFORM_TRANSACTION", "COULD_NOT_PERFORM_TRANSACTION"),
}
_SUFFIX_OF = {outcome: suffix for suffix, outcome in MAGIC_SUFFIXES.items()}


def mtn_phone(outcome: Outcome | SandboxNumber) -> str:
    """An E.164 number producing ``outcome`` on this simulator (MTN's own number for a :class:`SandboxNumber`)."""
    if isinstance(outcome, SandboxNumber):
        return "+" + outcome.value
    return MTN_SANDBOX_PREFIX + _SUFFIX_OF[outcome]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _major(amount: int, currency: str) -> str:
    return to_major_units(amount, currency, trim=True)


@dataclass
class ApiUser:
    api_key: str | None
    callback_host: str | None
    target_environment: str = "sandbox"


@dataclass
class SimTransaction:
    product: str
    reference_id: str
    external_id: str
    msisdn: str
    party_type: str
    amount: int
    currency: str
    environment: str
    callback_url: str | None
    payer_message: str
    payee_note: str
    outcome: Outcome
    sandbox_number: SandboxNumber | None
    status: str = "PENDING"
    reason: str | None = None
    financial_transaction_id: str | None = None
    created_at: float = field(default_factory=time.time)
    refund_of: str | None = None  # a refund's ``referenceIdToRefund``
    version: str = "v1_0"  # the API version that created it (deposits and requests to withdraw have two)
    reason_format: ReasonFormat = ReasonFormat.STRING

    @property
    def inbound(self) -> bool:
        return self.product in INBOUND

    def wire_reason(self) -> str | dict[str, str] | None:
        if not self.reason or self.reason_format is ReasonFormat.STRING:
            return self.reason
        return {"code": self.reason, "message": REASON_MESSAGES.get(self.reason, self.reason.replace("_", " ").lower())}

    def to_wire(self) -> dict[str, Any]:
        party = {"partyIdType": self.party_type, "partyId": self.msisdn}
        body: dict[str, Any] = {
            "amount": _major(self.amount, self.currency),
            "currency": self.currency,
            "externalId": self.external_id,
            "payer" if self.inbound else "payee": party,
            "payerMessage": self.payer_message,
            "payeeNote": self.payee_note,
            "status": self.status,
        }
        if self.financial_transaction_id:
            body["financialTransactionId"] = self.financial_transaction_id
        if self.reason:
            body["reason"] = self.wire_reason()
        if self.refund_of:
            body["referenceIdToRefund"] = self.refund_of
        return body


class MtnMomoSimulator(SimulatorBase):
    """One MTN MoMo merchant (a collection and a disbursement account). The methods below are the test interface."""

    def __init__(
        self,
        *,
        api_user: str = DEFAULT_API_USER,
        api_key: str = DEFAULT_API_KEY,
        collection_key: str = DEFAULT_COLLECTION_KEY,
        disbursement_key: str = DEFAULT_DISBURSEMENT_KEY,
        callback_host: str | None = None,
        environments: Mapping[str, str] | None = None,
        settings: SimulatorSettings | None = None,
        sandbox_behaviour: SandboxBehaviour | str = SandboxBehaviour.MEASURED,
        delayed_success_seconds: float = 25.0,
        callback_method: str = "PUT",
        reason_format: ReasonFormat | str = ReasonFormat.STRING,
    ) -> None:
        super().__init__(settings)
        self.keys = {"collection": collection_key, "disbursement": disbursement_key}
        self.environments = dict(environments or {"sandbox": "EUR"})
        self.users: dict[str, ApiUser] = {api_user: ApiUser(api_key, callback_host, next(iter(self.environments)))}
        self.sandbox_behaviour = SandboxBehaviour(sandbox_behaviour)
        self.delayed_success_seconds = delayed_success_seconds
        self.callback_method = callback_method.upper()
        self.reason_format = ReasonFormat(reason_format)
        # (request to pay X-Reference-Id, notificationMessage, Language) in the order received
        self.notifications: list[tuple[str, str, str | None]] = []
        self.transactions: dict[tuple[str, str], SimTransaction] = {}  # (product, X-Reference-Id) -> transaction
        self.tokens: dict[str, tuple[str, float, str]] = {}  # token -> (product, expiry, API user)
        self.token_requests: Counter[str] = Counter()  # product -> token requests
        # MTN sends a callback once and never retries it.
        self.callbacks = CallbackSender(replace(self.settings, callback_attempts=1))
        self._app = Starlette(routes=self._routes())

    # -- test interface (SimulatedProvider) ------------------------------------------------------------------

    def _of(self, reference: str, product: str | None = None) -> list[SimTransaction]:
        return [
            t
            for t in self.transactions.values()
            if t.external_id == reference and (product is None or t.product == product)
        ]

    def created(self, reference: str) -> int:
        return len(self._of(reference))

    def collected(self, reference: str) -> int:
        """Requests to pay and requests to withdraw under ``externalId`` ``reference``."""
        return sum(
            self.accounts.moved(f"{t.product}:{t.reference_id}", debit=t.msisdn)
            for t in self._of(reference)
            if t.product in INBOUND
        )

    def paid_out(self, reference: str) -> int:
        """Transfers and deposits under ``externalId`` ``reference``."""
        return sum(
            self.accounts.moved(f"{t.product}:{t.reference_id}", credit=t.msisdn)
            for t in self._of(reference)
            if t.product in ("disbursement", "deposit")
        )

    def refunded(self, reference: str) -> int:
        """What went back to the payer of the collection sent with ``externalId`` ``reference``."""
        originals = {t.reference_id for t in self._of(reference, "collection")}
        return sum(
            self.accounts.moved(f"refund:{t.reference_id}", credit=t.msisdn)
            for t in self.transactions.values()
            if t.product == "refund" and t.refund_of in originals
        )

    def merchant_balance(self, currency: str) -> int:
        """The disbursement account: what payouts draw from (collections land in :meth:`collection_balance`)."""
        return self.accounts.balance("disbursement", currency)

    def collection_balance(self, currency: str) -> int:
        return self.accounts.balance("collection", currency)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _house_balance(self, owner: str) -> int | None:
        return MERCHANT_FLOAT if owner in PRODUCTS else None

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/v1_0/apiuser", self._create_user, methods=["POST"]),
            Route("/v1_0/apiuser/{user_id}", self._get_user, methods=["GET"]),
            Route("/v1_0/apiuser/{user_id}/apikey", self._create_key, methods=["POST"]),
            Route("/{product}/token/", self._token, methods=["POST"]),
            Route("/collection/v1_0/requesttopay", self._request_to_pay, methods=["POST"]),
            Route("/collection/v1_0/requesttopay/{reference_id}", self._get_transaction, methods=["GET"]),
            Route(
                "/collection/v1_0/requesttopay/{reference_id}/deliverynotification",
                self._delivery_notification,
                methods=["POST"],
            ),
            Route("/collection/{version:str}/requesttowithdraw", self._request_to_withdraw, methods=["POST"]),
            Route("/collection/v1_0/requesttowithdraw/{reference_id}", self._get_transaction, methods=["GET"]),
            Route("/disbursement/v1_0/transfer", self._transfer, methods=["POST"]),
            Route("/disbursement/v1_0/transfer/{reference_id}", self._get_transaction, methods=["GET"]),
            Route("/disbursement/{version:str}/deposit", self._deposit, methods=["POST"]),
            Route("/disbursement/v1_0/deposit/{reference_id}", self._get_transaction, methods=["GET"]),
            Route("/disbursement/{version:str}/refund", self._refund, methods=["POST"]),
            Route("/disbursement/{version:str}/refund/{reference_id}", self._get_refund, methods=["GET"]),
            Route("/{product}/v1_0/account/balance", self._balance, methods=["GET"]),
            Route("/{product}/v1_0/account/balance/{currency}", self._balance, methods=["GET"]),
            Route("/{product}/v1_0/accountholder/{id_type}/{holder_id}/active", self._active, methods=["GET"]),
            Route("/{product}/v1_0/accountholder/msisdn/{msisdn}/basicuserinfo", self._user_info, methods=["GET"]),
            Route("/_sim/state", self._state, methods=["GET"]),
        ]

    def _subscribed(self, request: Request, product: str) -> bool:
        key = request.headers.get("ocp-apim-subscription-key", "")
        return product in self.keys and constant_time_equal(key, self.keys[product])

    def _any_subscription(self, request: Request) -> bool:
        return any(self._subscribed(request, product) for product in PRODUCTS)

    def _authorize(self, request: Request, product: str) -> Response | None:
        """APIM's key check, the product's bearer token, then the target environment."""
        if not self._subscribed(request, product):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY_MESSAGE}, status_code=401)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if issued is None or issued[0] != product or issued[1] <= time.time():
            return JSONResponse(
                {"statusCode": 401, "message": "Access denied due to an invalid or expired access token."},
                status_code=401,
            )
        if request.headers.get("x-target-environment") not in self.environments:
            return _error(403, "NOT_ALLOWED_TARGET_ENVIRONMENT", "Access to target environment is forbidden.")
        return None

    # -- provisioning ----------------------------------------------------------------------------------------

    async def _create_user(self, request: Request) -> Response:
        self.requests["POST /v1_0/apiuser"] += 1
        if not self._any_subscription(request):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY_MESSAGE}, status_code=401)
        user_id = request.headers.get("x-reference-id", "")
        if not _is_uuid(user_id):
            return _error(400, "BAD_REQUEST", "X-Reference-Id must be a UUID.")
        body = json_object(await request.body()) or {}
        host = body.get("providerCallbackHost")
        if not isinstance(host, str) or not host:
            return _error(400, "BAD_REQUEST", "providerCallbackHost is required.")
        if user_id in self.users:
            return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
        self.users[user_id] = ApiUser(None, host, next(iter(self.environments)))
        return Response(status_code=201)

    async def _get_user(self, request: Request) -> Response:
        if not self._any_subscription(request):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY_MESSAGE}, status_code=401)
        user = self.users.get(request.path_params["user_id"])
        if user is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return JSONResponse({"providerCallbackHost": user.callback_host, "targetEnvironment": user.target_environment})

    async def _create_key(self, request: Request) -> Response:
        if not self._any_subscription(request):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY_MESSAGE}, status_code=401)
        user = self.users.get(request.path_params["user_id"])
        if user is None:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        user.api_key = secrets.token_hex(16)
        return JSONResponse({"apiKey": user.api_key}, status_code=201)

    async def _token(self, request: Request) -> Response:
        product = request.path_params["product"]
        self.requests[f"POST /{product}/token/"] += 1
        self.token_requests[product] += 1
        if self.settings.token_latency_seconds > 0:
            await asyncio.sleep(self.settings.token_latency_seconds)
        if product not in PRODUCTS or not self._subscribed(request, product):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY_MESSAGE}, status_code=401)
        user_id, api_key = basic_credentials(request.headers.get("authorization", ""))
        user = self.users.get(user_id)
        if user is None or user.api_key is None or not constant_time_equal(api_key, user.api_key):
            return JSONResponse({"error": "login_failed"}, status_code=401)
        token = secrets.token_urlsafe(32)
        lifetime = self.settings.token_lifetime_seconds
        self.tokens[token] = (product, time.time() + lifetime, user_id)
        return JSONResponse({"access_token": token, "token_type": "access_token", "expires_in": lifetime})

    # -- payments --------------------------------------------------------------------------------------------

    async def _request_to_pay(self, request: Request) -> Response:
        return await self._create(request, "collection")

    async def _transfer(self, request: Request) -> Response:
        return await self._create(request, "disbursement")

    async def _deposit(self, request: Request) -> Response:
        return await self._create(request, "deposit")

    async def _request_to_withdraw(self, request: Request) -> Response:
        return await self._create(request, "withdrawal")

    def _sandbox_number(self, msisdn: str) -> SandboxNumber | None:
        try:
            return SandboxNumber(msisdn)
        except ValueError:
            return None

    async def _create(self, request: Request, product: str) -> Response:  # noqa: PLR0911 - one answer per case
        """A request to pay, transfer, deposit or request to withdraw (``product`` is the transaction kind)."""
        await self._enter(CREATE_LABELS[product])
        version = request.path_params.get("version", "v1_0")
        if version not in ("v1_0", "v2_0"):
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        refusal = self._authorize(request, KIND_PRODUCT[product])
        if refusal is not None:
            return refusal
        reference_id = request.headers.get("x-reference-id", "")
        if not _is_uuid(reference_id):
            return _error(400, "BAD_REQUEST", "X-Reference-Id must be a UUID.")
        body = json_object(await request.body())
        parsed = self._parse_transaction(body, product)
        if isinstance(parsed, Response):
            return parsed
        external_id, msisdn, party_type, amount_text, currency = parsed
        assert body is not None
        attempt = self._attempt(external_id)
        sandbox_number = self._sandbox_number(msisdn)
        outcome = Outcome.SUCCESS if sandbox_number else outcome_for(msisdn)
        fault = self._refusal(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        environment = request.headers["x-target-environment"]
        if currency != self.environments[environment]:
            return _error(400, "INVALID_CURRENCY", f"Currency {currency} is not supported in {environment}.")
        amount = positive_minor_units(amount_text, currency)
        if amount is None:
            return _error(400, "BAD_REQUEST", "amount must be a positive number in the currency's units.")
        callback_url = request.headers.get("x-callback-url")
        user = self._user_of(request)
        if (
            callback_url
            and user is not None
            and user.callback_host
            and urlsplit(callback_url).hostname != user.callback_host
        ):
            return _error(400, "INVALID_CALLBACK_URL_HOST", "Callback URL host does not match providerCallbackHost.")
        if (product, reference_id) in self.transactions:
            if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
                await asyncio.sleep(self.settings.hang_seconds)
            return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
        await self._take_time(outcome)
        transaction = SimTransaction(
            product=product,
            reference_id=reference_id,
            external_id=external_id,
            msisdn=msisdn,
            party_type=party_type,
            amount=amount,
            currency=currency,
            environment=environment,
            callback_url=callback_url,
            payer_message=str(body.get("payerMessage", "")),
            payee_note=str(body.get("payeeNote", "")),
            outcome=outcome,
            sandbox_number=sandbox_number,
            version=version,
            reason_format=self.reason_format,
        )
        self.transactions[(product, reference_id)] = transaction
        self._start(transaction)
        fault = await self._after_accepting(outcome, attempt)
        if fault is not None:
            return self._fault(fault)
        return Response(status_code=202)

    # -- refunds ---------------------------------------------------------------------------------------------

    async def _refund(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per documented case
        self.requests["POST /disbursement/refund"] += 1
        await self._pause()
        if request.path_params["version"] not in ("v1_0", "v2_0"):
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        refusal = self._authorize(request, "disbursement")
        if refusal is not None:
            return refusal
        reference_id = request.headers.get("x-reference-id", "")
        body = json_object(await request.body())
        original_id = str((body or {}).get("referenceIdToRefund", ""))
        if not _is_uuid(reference_id) or not _is_uuid(original_id):
            return _error(400, "BAD_REQUEST", "X-Reference-Id and referenceIdToRefund must be UUIDs.")
        assert body is not None
        external_id, currency, amount_text = (
            str(body.get("externalId", "")),
            str(body.get("currency", "")),
            body.get("amount"),
        )
        amount = (
            positive_minor_units(amount_text, currency)
            if isinstance(amount_text, str) and currency in CURRENCY_EXPONENTS
            else None
        )
        if not external_id or amount is None:
            return _error(400, "BAD_REQUEST", "amount (a string), currency and externalId are required.")
        if ("refund", reference_id) in self.transactions:
            return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id. Creation of resource failed.")
        original = self.transactions.get(("collection", original_id))
        refund = SimTransaction(
            product="refund",
            reference_id=reference_id,
            external_id=external_id,
            msisdn=original.msisdn if original else "",
            party_type="MSISDN",
            amount=amount,
            currency=currency,
            environment=request.headers["x-target-environment"],
            callback_url=request.headers.get("x-callback-url"),
            payer_message=str(body.get("payerMessage", "")),
            payee_note=str(body.get("payeeNote", "")),
            outcome=Outcome.SUCCESS,
            sandbox_number=None,
            refund_of=original_id,
            version=request.path_params["version"],
            reason_format=self.reason_format,
        )
        if original is None or not self._refundable(original, refund):
            refund.status, refund.reason = "FAILED", "COULD_NOT_PERFORM_TRANSACTION"
            self.transactions[("refund", reference_id)] = refund
            return Response(status_code=202)
        self.transactions[("refund", reference_id)] = refund
        self.tasks.start(self._settle(refund))
        return Response(status_code=202)

    def _refundable(self, original: SimTransaction, refund: SimTransaction) -> bool:
        """A successful request to pay, same currency, and no more than what its refunds left of it."""
        taken = sum(
            t.amount
            for t in self.transactions.values()
            if t.product == "refund" and t.refund_of == original.reference_id and t.status in ("PENDING", "SUCCESSFUL")
        )
        return (
            original.status == "SUCCESSFUL"
            and original.currency == refund.currency
            and refund.amount <= original.amount - taken
        )

    async def _get_refund(self, request: Request) -> Response:
        self.requests["GET /disbursement/refund"] += 1
        await self._pause()
        refusal = self._authorize(request, "disbursement")
        if refusal is not None:
            return refusal
        refund = self.transactions.get(("refund", request.path_params["reference_id"]))
        if refund is None or refund.environment != request.headers["x-target-environment"]:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return JSONResponse(refund.to_wire())

    def _fault(self, fault: Fault) -> JSONResponse:
        if fault is Fault.RATE_LIMITED:
            return _error(429, "TOO_MANY_REQUESTS", "Rate limit exceeded.", headers=self._retry_after())
        if fault is Fault.UNAVAILABLE:
            return _error(503, "SERVICE_UNAVAILABLE", "Service unavailable, try again later.")
        return _error(500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred.")

    def _parse_transaction(
        self, body: dict[str, Any] | None, product: str
    ) -> tuple[str, str, str, str, str] | Response:
        party_field = "payer" if product in INBOUND else "payee"
        party = body.get(party_field) if body else None
        if body is None or not isinstance(party, dict):
            return _error(400, "BAD_REQUEST", f"amount, currency, externalId and {party_field} are required.")
        external_id, currency = str(body.get("externalId", "")), str(body.get("currency", ""))
        amount_text, msisdn = body.get("amount"), str(party.get("partyId", ""))
        party_type = str(party.get("partyIdType", ""))
        if (
            not external_id
            or not isinstance(amount_text, str)
            or not msisdn
            or party_type not in ("MSISDN", "EMAIL", "PARTY_CODE")
        ):
            return _error(
                400, "BAD_REQUEST", f"amount (a string), currency, externalId and {party_field} are required."
            )
        for name in ("payerMessage", "payeeNote"):
            if len(str(body.get(name, ""))) > 160:
                return _error(400, "BAD_REQUEST", f"{name} is at most 160 characters.")
        if currency not in CURRENCY_EXPONENTS:
            return _error(400, "INVALID_CURRENCY", f"Currency {currency} is not supported.")
        return external_id, msisdn, party_type, amount_text, currency

    def _user_of(self, request: Request) -> ApiUser | None:
        """The API user whose token authenticated the request (its providerCallbackHost binds callbacks)."""
        token = request.headers.get("authorization", "").partition(" ")[2]
        issued = self.tokens.get(token)
        return self.users.get(issued[2]) if issued else None

    def _start(self, transaction: SimTransaction) -> None:
        number = transaction.sandbox_number
        if number is not None:
            if self.sandbox_behaviour is SandboxBehaviour.DOCUMENTED and number in _DOCUMENTED_WAITING:
                transaction.status, transaction.reason = _DOCUMENTED_WAITING[number]
                return
            if number is SandboxNumber.PENDING:
                transaction.status = "CREATED"
            if number is SandboxNumber.ONGOING:
                return
            self.tasks.start(self._settle_sandbox_number(transaction, number))
            return
        if transaction.outcome is Outcome.UNKNOWN_STATUS:
            transaction.status = UNKNOWN_STATUS
        elif transaction.outcome is not Outcome.PENDING_FOREVER:
            self.tasks.start(self._settle(transaction))

    async def _settle_sandbox_number(self, transaction: SimTransaction, number: SandboxNumber) -> None:
        table = _MEASURED if self.sandbox_behaviour is SandboxBehaviour.MEASURED else _DOCUMENTED
        final = table[number]
        if final is None:
            return
        delay = self.delayed_success_seconds if number is SandboxNumber.PENDING else self.settings.settle_seconds
        await asyncio.sleep(delay)
        status, reason = final
        if status == "SUCCESSFUL":
            self._move(transaction)
        else:
            transaction.status, transaction.reason = status, reason
        await self._notify(transaction)

    async def _settle(self, transaction: SimTransaction) -> None:
        def settle() -> None:
            codes = FAILURE_CODES.get(transaction.outcome)
            if codes is not None:
                transaction.status = "FAILED"
                transaction.reason = codes[0] if transaction.inbound else codes[1]
            else:
                self._move(transaction)

        def expire() -> None:
            transaction.status, transaction.reason = "EXPIRED", "EXPIRED"

        await self._settle_later(transaction.outcome, settle=settle, expire=expire)
        await self._notify(transaction)

    def _move(self, transaction: SimTransaction) -> None:
        memo = f"{transaction.product}:{transaction.reference_id}"
        if transaction.inbound:
            payer, payee = transaction.msisdn, "collection"
        else:
            payer, payee = "disbursement", transaction.msisdn
        if not self.accounts.can_pay(payer, transaction.currency, transaction.amount):
            transaction.status, transaction.reason = "FAILED", "NOT_ENOUGH_FUNDS"
            return
        self.accounts.move(payer, payee, transaction.currency, transaction.amount, memo)
        transaction.status, transaction.reason = "SUCCESSFUL", None
        transaction.financial_transaction_id = str(secrets.randbelow(10**9)).zfill(9)

    async def _notify(self, transaction: SimTransaction) -> None:
        body = json.dumps(transaction.to_wire()).encode()
        await self._deliver(
            transaction.outcome, transaction.callback_url, body, webhooks.CALLBACK_HEADERS, method=self.callback_method
        )

    async def _get_transaction(self, request: Request) -> Response:
        path = request.url.path
        product = next(kind for prefix, kind in STATUS_PATHS.items() if path.startswith(prefix))
        await self._enter(f"GET /{product}/status")
        refusal = self._authorize(request, KIND_PRODUCT[product])
        if refusal is not None:
            return refusal
        transaction = self.transactions.get((product, request.path_params["reference_id"]))
        if transaction is None or transaction.environment != request.headers["x-target-environment"]:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        return JSONResponse(transaction.to_wire())

    # -- account ---------------------------------------------------------------------------------------------

    async def _balance(self, request: Request) -> Response:
        """``…/account/balance`` (the environment's currency) or ``…/account/balance/{currency}``."""
        product = request.path_params["product"]
        wanted = request.path_params.get("currency")
        await self._enter(f"GET /{product}/v1_0/account/balance" + ("/{currency}" if wanted else ""))
        refusal = self._authorize(request, product) if product in PRODUCTS else _error(404, "RESOURCE_NOT_FOUND", "")
        if refusal is not None:
            return refusal
        currency = self.environments[request.headers["x-target-environment"]]
        if wanted is not None and wanted != currency:
            # "?": MTN does not publish the answer for a currency the account does not hold.
            return _error(400, "INVALID_CURRENCY", f"Currency {wanted} is not supported.")
        available = self.accounts.balance(product, currency)
        return JSONResponse({"availableBalance": _major(available, currency), "currency": currency})

    async def _active(self, request: Request) -> Response:
        """Registered and active? By ``msisdn`` (digits), ``email`` or ``party_code``; any other type is refused.

        Which holders are inactive: a number, e-mail or party code whose last three digits are an outcome suffix
        ``901`` (no such account) or ``907`` (inactive), e.g. ``46733123901`` or ``client907@example.com``;
        ``914`` makes the check answer 503 every time.
        """
        product = request.path_params["product"]
        await self._enter(f"GET /{product}/v1_0/accountholder/active")
        refusal = self._authorize(request, product) if product in PRODUCTS else _error(404, "RESOURCE_NOT_FOUND", "")
        if refusal is not None:
            return refusal
        id_type, holder = request.path_params["id_type"].lower(), request.path_params["holder_id"]
        valid = {
            "msisdn": holder.isdigit(),
            "email": "@" in holder.strip("@"),
            "party_code": bool(holder.strip()),
        }
        if not valid.get(id_type, False):
            return _error(400, "BAD_REQUEST", f"Invalid accountHolderIdType or accountHolderId ({id_type}).")
        digits = "".join(c for c in holder if c.isdigit())
        outcome = outcome_for(digits) if len(digits) >= 3 else Outcome.SUCCESS
        if outcome is Outcome.UNAVAILABLE:  # ``…914``: the check itself keeps failing (503), every time
            return self._fault(Fault.UNAVAILABLE)
        return JSONResponse({"result": outcome not in (Outcome.NOT_FOUND, Outcome.ACCOUNT_INACTIVE)})

    async def _delivery_notification(self, request: Request) -> Response:
        """A note shown to the payer of a request to pay (MTN's ``deliverynotification``): recorded, 200."""
        await self._enter("POST /collection/v1_0/requesttopay/deliverynotification")
        refusal = self._authorize(request, "collection")
        if refusal is not None:
            return refusal
        reference_id = request.path_params["reference_id"]
        raw = await request.body()
        body = (json_object(raw) if raw else None) or {}
        # MTN's SDKs send the message twice, as a header and in the body; either is enough here.
        message = body.get("notificationMessage") or request.headers.get("notificationmessage")
        if not isinstance(message, str) or not message.strip() or len(message) > MAX_NOTIFICATION:
            return _error(400, "BAD_REQUEST", "notificationMessage is required, at most 160 characters.")
        transaction = self.transactions.get(("collection", reference_id))
        if transaction is None or transaction.environment != request.headers["x-target-environment"]:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        self.notifications.append((reference_id, message, request.headers.get("language")))
        return Response(status_code=200)

    async def _user_info(self, request: Request) -> Response:
        product = request.path_params["product"]
        await self._pause()
        refusal = self._authorize(request, product) if product in PRODUCTS else _error(404, "RESOURCE_NOT_FOUND", "")
        if refusal is not None:
            return refusal
        msisdn = request.path_params["msisdn"]
        if outcome_for(msisdn) is Outcome.NOT_FOUND:
            return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
        # The fields MTN's sandbox answers (given_name, family_name, birthdate, locale, gender), with our names.
        return JSONResponse(
            {
                "given_name": "Awa",
                "family_name": f"Abonnée {msisdn[-3:]}",
                "birthdate": "1990-01-01",
                "locale": "fr_CI",
                "gender": "FEMALE",
            }
        )

    async def _state(self, request: Request) -> Response:
        if not self._any_subscription(request):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY_MESSAGE}, status_code=401)
        return JSONResponse(
            {
                "balances": self.accounts.snapshot(),
                "transactions": [
                    t.to_wire() | {"product": t.product, "referenceId": t.reference_id}
                    for t in self.transactions.values()
                ],
                "token_requests": dict(self.token_requests),
            }
        )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
