"""The MTN Mobile Money Open API connector: collection (request to pay) and disbursement (transfer).

* One token per product (``POST /{product}/token/``, Basic ``apiUser:apiKey`` + that product's subscription key),
  cached until it expires and shared by every connector built with the same credentials.
* ``X-Reference-Id`` is derived from our reference (:func:`transformers.reference_id`): creates are retried safely
  (``idempotent_creates``) and **a 409 RESOURCE_ALREADY_EXIST means "already have it"**: the connector reads the
  existing payment (checking it is the same one) instead of failing or creating another; a status query needs
  only our reference (``status_by_reference``).
* ``X-Target-Environment``: setting ``target_environment`` (``sandbox`` by default), optionally per country
  (``target_environments="CM=mtncameroon,CI=mtnivorycoast"``, by the payer's number); a currency the environment
  does not use is refused before any call (MTN's sandbox: EUR only).
* Callbacks (PUT or POST, once, unsigned) carry our reference as ``externalId``; the callback URL also gets
  ``reference=<ours>``. Every callback is confirmed by a status query (``callbacks_signed = False``).
* Refunds (``POST /disbursement/v1_0/refund`` with ``referenceIdToRefund`` = the request to pay's
  ``X-Reference-Id``; partial refunds allowed): 202 then a status at ``GET …/refund/{X-Reference-Id}``, so a
  refund answers *pending* and settles by :meth:`refund_status`. They need the disbursement subscription key.
* Balance (``balance_product``: disbursement by default, what payouts draw from; ``balance_by_currency``: ask
  ``…/account/balance/{currency}`` instead of the account's default currency) and account-holder check
  (``…/active``, plus the name from ``…/basicuserinfo`` where the country offers it).
* Payouts are ``transfer`` calls by default; ``payout_operation="deposit_v1"`` or ``"deposit_v2"`` uses MTN's
  ``deposit`` instead (status at ``GET /disbursement/v1_0/deposit/{id}``; a status query falls back to the other
  operation's path, so a payout made before the setting changed is still found). Change it only while no payout
  create is in doubt: MTN does not say whether a deposit refuses the ``X-Reference-Id`` of an earlier transfer
  (409) -- if it does not, re-sending an in-doubt transfer as a deposit would pay twice. ``check_payee=True`` asks
  ``…/accountholder/msisdn/{n}/active`` before a payout and declines it (``payee_not_found``) when MTN says the
  account is not active -- unless MTN already holds a payout under our ``X-Reference-Id`` (a retry), which is
  then read instead. A failed check (timeout, 5xx) does not block the payout: MTN refuses an inactive payee anyway.

Not public, hence configurable ("?" in providers.md): the production base URL (setting ``base_url``, default
``https://proxy.momoapi.mtn.com`` for a non-sandbox environment), environment names beyond those listed, which
``basicuserinfo`` fields a country returns (``name`` or ``given_name``/``family_name``), amount limits (Cauri's
defaults per currency below).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar

import httpx
import phonenumbers
import structlog
from pydantic import SecretStr

from cauri.connectors.base import (
    AccountHolder,
    AmountLimits,
    Balance,
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.connectors.mobile_money.mtn_momo import transformers, webhooks
from cauri.connectors.mobile_money.mtn_momo.client import PAYOUT_PATHS, SANDBOX_URL, MtnMomoHttp
from cauri.connectors.mobile_money.mtn_momo.schemas import (
    ActiveResult,
    BasicUserInfo,
    PayoutOperation,
    Product,
    RequestToPay,
    Transfer,
)
from cauri.kit.errors import ConnectorError, Declined, FailureReason, InvalidRequest, PaymentNotFound
from cauri.kit.http import HttpPolicy

log = structlog.get_logger(__name__)

# Target environments named in MTN's documentation and the currency each uses.
ENVIRONMENT_CURRENCIES: dict[str, str] = {
    "sandbox": "EUR",
    "mtncameroon": "XAF",
    "mtnivorycoast": "XOF",
    "mtnbenin": "XOF",
    "mtncongo": "XAF",
}
# Cauri's defaults (minor units); MTN's limits depend on the country and the customer's KYC level.
MTN_LIMITS: dict[str, tuple[int, int]] = {
    "EUR": (1, 1_000_000),
    "XAF": (100, 1_000_000),
    "XOF": (100, 1_000_000),
    "GNF": (1_000, 20_000_000),
}
_KIND_PRODUCT = {PaymentKind.COLLECTION: Product.COLLECTION, PaymentKind.PAYOUT: Product.DISBURSEMENT}


def parse_environments(text: str | None) -> dict[str, str]:
    """``"CM=mtncameroon, CI=mtnivorycoast"`` -> ``{"CM": "mtncameroon", "CI": "mtnivorycoast"}``."""
    table: dict[str, str] = {}
    for item in (text or "").split(","):
        country, _, environment = item.partition("=")
        if country.strip() and environment.strip():
            table[country.strip().upper()] = environment.strip()
    return table


class MtnMomoConnector(PaymentConnector):
    name = "mtn_momo"
    capabilities = frozenset(
        {
            Capability.COLLECT,
            Capability.PAYOUT,
            Capability.COLLECT_STATUS,
            Capability.PAYOUT_STATUS,
            Capability.BALANCE,
            Capability.ACCOUNT_HOLDER,
            Capability.CALLBACKS,
            Capability.REFUND,
        }
    )
    currencies = frozenset(MTN_LIMITS)
    amount_limits: ClassVar[Mapping[str, AmountLimits]] = {
        currency: AmountLimits(low, high) for currency, (low, high) in MTN_LIMITS.items()
    }
    callbacks_signed = False
    idempotent_creates = True
    status_by_reference = True

    def __init__(
        self,
        *,
        api_user: str,
        api_key: SecretStr,
        collection_key: SecretStr | None = None,
        disbursement_key: SecretStr | None = None,
        base_url: str = SANDBOX_URL,
        target_environment: str = "sandbox",
        target_environments: Mapping[str, str] | None = None,
        balance_product: Product | str = Product.DISBURSEMENT,
        policy: HttpPolicy | None = None,
        payout_operation: PayoutOperation | str = PayoutOperation.TRANSFER,
        check_payee: bool = False,
        balance_by_currency: bool = False,
    ) -> None:
        keys = {
            product: key
            for product, key in ((Product.COLLECTION, collection_key), (Product.DISBURSEMENT, disbursement_key))
            if key is not None and key.get_secret_value()
        }
        self.client = MtnMomoHttp(
            base_url=base_url, api_user=api_user, api_key=api_key, subscription_keys=keys, policy=policy
        )
        self.target_environment = target_environment
        self.target_environments = {k.upper(): v for k, v in (target_environments or {}).items()}
        self.balance_product = Product(balance_product)
        self.payout_operation = PayoutOperation(payout_operation)
        self.check_payee = check_payee
        self.balance_by_currency = balance_by_currency

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- environments ----------------------------------------------------------------------------------------

    def environment_for(self, phone: str) -> str:
        """The ``X-Target-Environment`` for a number: its country's when configured, else the default one."""
        if self.target_environments:
            try:
                region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
            except phonenumbers.NumberParseException:
                region = None
            if region and region in self.target_environments:
                return self.target_environments[region]
        return self.target_environment

    def _environments(self) -> Iterator[str]:
        seen = {self.target_environment}
        yield self.target_environment
        for environment in self.target_environments.values():
            if environment not in seen:
                seen.add(environment)
                yield environment

    def _environment_for_currency(self, currency: str) -> str:
        for environment in self._environments():
            if ENVIRONMENT_CURRENCIES.get(environment) == currency:
                return environment
        return self.target_environment

    def _check_currency(self, environment: str, currency: str) -> None:
        expected = ENVIRONMENT_CURRENCIES.get(environment)
        if expected is not None and expected != currency:
            raise InvalidRequest(
                f"MTN « {environment} » n'accepte que {expected}, pas {currency}.",
                f"MTN '{environment}' only accepts {expected}, not {currency}.",
                provider=self.name,
                code="invalid_currency",
                reason=FailureReason.INVALID_CURRENCY,
            )

    # -- creates ---------------------------------------------------------------------------------------------

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        environment = self.environment_for(request.payer_phone)
        self._check_currency(environment, request.currency)
        return await self._create(
            PaymentKind.COLLECTION,
            transformers.request_to_pay_to_wire(request),
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
            environment=environment,
            callback_url=request.callback_url,
        )

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        environment = self.environment_for(request.payee_phone)
        self._check_currency(environment, request.currency)
        if self.check_payee:
            existing = await self._check_payee(request, environment)
            if existing is not None:
                return existing
        return await self._create(
            PaymentKind.PAYOUT,
            transformers.transfer_to_wire(request),
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
            environment=environment,
            callback_url=request.callback_url,
            path=PAYOUT_PATHS[self.payout_operation][0],
        )

    async def _check_payee(self, request: PayoutRequest, environment: str) -> ProviderPayment | None:
        """The account-holder check before a payout: raise Declined for an inactive payee, never block on a glitch.

        Returns the payout MTN already holds under our ``X-Reference-Id`` (an earlier attempt got through, then the
        payee's account closed): that payout is the truth, declining it here would hide money that moved.
        """
        msisdn = transformers.msisdn_to_wire(request.payee_phone)
        try:
            raw = await self.client.account_active(Product.DISBURSEMENT, msisdn, environment=environment)
        except ConnectorError as exc:
            log.warning("mtn_payee_check_unavailable", code=exc.code)
            return None
        if raw is not None and ActiveResult.model_validate(raw).result:
            return None
        try:
            return await self._payout_status(request.reference, None)
        except PaymentNotFound:
            pass
        raise Declined(FailureReason.PAYEE_NOT_FOUND, provider=self.name, provider_code="ACCOUNT_HOLDER_NOT_ACTIVE")

    async def _create(
        self,
        kind: PaymentKind,
        body: RequestToPay | Transfer,
        *,
        reference: str,
        amount: int,
        currency: str,
        environment: str,
        callback_url: str | None,
        path: str | None = None,
    ) -> ProviderPayment:
        product = _KIND_PRODUCT[kind]
        reference_id = transformers.reference_id(kind, reference)
        response = await self.client.create(
            product,
            transformers.wire_json(body),
            reference_id=reference_id,
            environment=environment,
            callback_url=webhooks.callback_url_with_reference(callback_url, reference) if callback_url else None,
            path=path,
        )
        if response.status_code == 409:
            return await self._already_there(
                response, kind=kind, body=body, reference=reference, reference_id=reference_id, environment=environment
            )
        return ProviderPayment(
            provider_reference=reference_id,
            reference=reference,
            status=PaymentStatus.PENDING,  # 202: accepted, the payer has not confirmed yet
            amount=amount,
            currency=currency,
            kind=kind,
            provider_status=None,
            raw={"http_status": response.status_code, "X-Reference-Id": reference_id},
        )

    async def _already_there(
        self,
        response: httpx.Response,
        *,
        kind: PaymentKind,
        body: RequestToPay | Transfer,
        reference: str,
        reference_id: str,
        environment: str,
    ) -> ProviderPayment:
        """409: our own earlier attempt got through (e.g. before a timeout). Read it; never create another."""
        if transformers.error_code(response) != transformers.ALREADY_EXISTS:
            raise transformers.error_from_response(response) or InvalidRequest(provider=self.name)
        raw = await self.client.status(
            _KIND_PRODUCT[kind], reference_id, environment=environment, path=self._status_paths(kind)[0]
        )
        wire = transformers.status_from_json(raw)
        if not transformers.same_payment(wire, body):
            raise InvalidRequest(
                "MTN connaît déjà cette référence pour un autre paiement.",
                "MTN already holds this reference for another payment.",
                provider=self.name,
                code="duplicate_reference",
                reason=FailureReason.DUPLICATE,
            )
        log.info("mtn_create_already_exists", reference_id=reference_id, status=wire.status)
        return transformers.payment_from_status(
            wire, kind=kind, reference=reference, provider_reference=reference_id, raw=raw
        )

    # -- status ----------------------------------------------------------------------------------------------

    async def _find(self, fetch: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """The first environment that knows the transaction (the payer's country chose it); else PaymentNotFound."""
        missing: PaymentNotFound | None = None
        for environment in self._environments():
            try:
                return await fetch(environment)
            except PaymentNotFound as exc:
                missing = exc
        assert missing is not None
        raise missing

    def _status_paths(self, kind: PaymentKind) -> list[str | None]:
        """Where a payment's status is read: a payout first under the configured operation, then the other one."""
        if kind is PaymentKind.COLLECTION:
            return [None]
        first = PAYOUT_PATHS[self.payout_operation][1]
        other = (
            PayoutOperation.DEPOSIT_V1
            if self.payout_operation is PayoutOperation.TRANSFER
            else PayoutOperation.TRANSFER
        )
        return [first, PAYOUT_PATHS[other][1]]

    async def _find_on_paths(self, product: Product, reference_id: str, paths: list[str | None]) -> dict[str, Any]:
        """The first status path (then environment) that knows the transaction; else PaymentNotFound."""
        missing: PaymentNotFound | None = None
        for path in paths:

            async def fetch(environment: str, path: str | None = path) -> dict[str, Any]:
                return await self.client.status(product, reference_id, environment=environment, path=path)

            try:
                return await self._find(fetch)
            except PaymentNotFound as exc:
                missing = exc
        assert missing is not None
        raise missing

    async def _status(self, kind: PaymentKind, reference: str, provider_reference: str | None) -> ProviderPayment:
        reference_id = provider_reference or transformers.reference_id(kind, reference)
        product = _KIND_PRODUCT[kind]
        raw = await self._find_on_paths(product, reference_id, self._status_paths(kind))
        return transformers.payment_from_status(
            transformers.status_from_json(raw), kind=kind, reference=reference, provider_reference=reference_id, raw=raw
        )

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._status(PaymentKind.COLLECTION, reference, provider_reference)

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return await self._status(PaymentKind.PAYOUT, reference, provider_reference)

    # -- refunds ---------------------------------------------------------------------------------------------

    async def _refund(self, request: RefundRequest) -> ProviderPayment:
        environment = self.environment_for(request.payer_phone) if request.payer_phone else self.target_environment
        self._check_currency(environment, request.currency)
        reference_id = transformers.reference_id("refund", request.reference)
        body = transformers.refund_to_wire(request)
        response = await self.client.refund(
            transformers.wire_json(body), reference_id=reference_id, environment=environment
        )
        if response.status_code == 409:
            # Our own earlier attempt got through: read that refund, never create another.
            if transformers.error_code(response) != transformers.ALREADY_EXISTS:
                raise transformers.error_from_response(response) or InvalidRequest(provider=self.name)
            known = await self._refund_status(request, reference_id)
            if (known.amount, known.currency) != (request.amount, request.currency):
                raise InvalidRequest(
                    "MTN connaît déjà cette référence pour un autre remboursement.",
                    "MTN already holds this reference for another refund.",
                    provider=self.name,
                    code="duplicate_reference",
                    reason=FailureReason.DUPLICATE,
                )
            return known
        return ProviderPayment(
            provider_reference=reference_id,
            reference=request.reference,
            status=PaymentStatus.PENDING,  # 202: accepted; the outcome is read at GET …/refund/{id}
            amount=request.amount,
            currency=request.currency,
            kind=PaymentKind.PAYOUT,
            raw={"http_status": response.status_code, "X-Reference-Id": reference_id},
        )

    async def _refund_status(self, request: RefundRequest, provider_reference: str | None) -> ProviderPayment:
        reference_id = provider_reference or transformers.reference_id("refund", request.reference)
        raw = await self._find(lambda environment: self.client.refund_status(reference_id, environment=environment))
        return transformers.payment_from_status(
            transformers.status_from_json(raw),
            kind=PaymentKind.PAYOUT,
            reference=request.reference,
            provider_reference=reference_id,
            raw=raw,
        )

    # -- account ---------------------------------------------------------------------------------------------

    def _account_product(self, preferred: Product) -> Product:
        if self.client.has(preferred):
            return preferred
        return Product.COLLECTION if preferred is Product.DISBURSEMENT else Product.DISBURSEMENT

    async def _balance(self, currency: str) -> Balance:
        environment = self._environment_for_currency(currency)
        self._check_currency(environment, currency)
        product = self._account_product(self.balance_product)
        wire = transformers.balance_from_json(
            await self.client.balance(
                product, environment=environment, currency=currency if self.balance_by_currency else None
            )
        )
        if wire.currency != currency:
            raise InvalidRequest(
                f"Le compte MTN est en {wire.currency}, pas en {currency}.",
                f"The MTN account is in {wire.currency}, not {currency}.",
                provider=self.name,
                code="invalid_currency",
                reason=FailureReason.INVALID_CURRENCY,
            )
        available = transformers.amount_from_wire(wire.available_balance, currency)
        return Balance(currency=currency, available=available or 0)

    async def _account_holder(self, phone: str) -> AccountHolder:
        environment = self.environment_for(phone)
        product = self._account_product(Product.COLLECTION)
        msisdn = transformers.msisdn_to_wire(phone)
        raw = await self.client.account_active(product, msisdn, environment=environment)
        if raw is None or not ActiveResult.model_validate(raw).result:
            return AccountHolder(active=False)
        return AccountHolder(active=True, name=await self._holder_name(product, msisdn, environment))

    async def _holder_name(self, product: Product, msisdn: str, environment: str) -> str | None:
        """Best effort: the name is a convenience; an answer without it must not fail the account check."""
        try:
            info: dict[str, Any] | None = await self.client.basic_user_info(product, msisdn, environment=environment)
        except ConnectorError as exc:
            log.warning("mtn_basic_user_info_unavailable", code=exc.code)
            return None
        return BasicUserInfo.model_validate(info).full_name if info else None

    # -- callbacks -------------------------------------------------------------------------------------------

    def _verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None) -> None:
        webhooks.check_confirmable(raw_body)

    def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return transformers.event_from_wire(raw_body)
