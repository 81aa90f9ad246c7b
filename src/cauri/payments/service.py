"""Creating and reading collections and payouts (no HTTP here; the caller's transaction, never a commit).

Creating a payment writes, in the request's one transaction: the payment (``created``, with the reference we
will send to the provider), its first transition, the payout's ledger reservation, the audit event and the
``payments.submit`` job. Nothing is sent to the provider before that commit; see :mod:`.submission`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import Capability
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import ValidationFailed, field_error
from cauri.core.jobs import enqueue
from cauri.core.money import currency_exponent
from cauri.core.pagination import PageParams, paginate
from cauri.core.phone import parse_phone
from cauri.core.principal import Principal
from cauri.identity.audit import record_audit
from cauri.identity.models import Organization
from cauri.kit.errors import AuthError, InvalidRequest, Unsupported
from cauri.ledger import service as ledger
from cauri.ledger.errors import AccountNotFound, InsufficientFunds
from cauri.payments import providers
from cauri.payments.errors import PaymentNotFound, duplicate_reference
from cauri.payments.models import Payment, PaymentTransition
from cauri.payments.schemas import PaymentCreate, PayoutCreate
from cauri.payments.settlement import reserve_payout
from cauri.payments.states import PaymentKind, Status
from cauri.payments.submission import SUBMIT_JOB, record_created

# Accounts a payment may not credit or debit directly: they are the other side of every payment.
_RESERVED_ACCOUNT_CODES = frozenset({ledger.PROVIDER_CLEARING, ledger.BANK_DEPOSITS})


def _amount(body: PaymentCreate) -> int:
    """A positive amount of a known currency (the schema already made it a whole number), or a 422 naming the field."""
    currency_exponent(body.currency, field="currency")
    if body.amount <= 0:
        raise field_error(
            "amount",
            "amount_not_positive",
            "Le montant doit être supérieur à zéro.",
            "The amount must be greater than zero.",
        )
    if body.amount > 2**53:
        raise field_error("amount", "amount_too_large", "Montant trop grand.", "Amount too large.")
    return body.amount


async def _account(session: AsyncSession, organization_id: uuid.UUID, body: PaymentCreate) -> uuid.UUID:
    if body.account_id is None:
        return (await ledger.operating_account(session, organization_id, body.currency)).id
    try:
        account = await ledger.get_account(session, body.account_id, organization_id=organization_id)
    except AccountNotFound:
        raise field_error(
            "account_id",
            "account_not_found",
            "Compte introuvable dans votre organisation.",
            "Account not found in your organisation.",
        ) from None
    if account.currency != body.currency:
        raise field_error(
            "account_id",
            "account_currency_mismatch",
            f"Ce compte est en {account.currency}, le paiement en {body.currency}.",
            f"This account is in {account.currency}, the payment in {body.currency}.",
        )
    if account.code in _RESERVED_ACCOUNT_CODES:
        raise field_error(
            "account_id",
            "account_not_allowed",
            "Ce compte technique ne peut pas recevoir ni financer un paiement.",
            "This technical account cannot receive or fund a payment.",
        )
    return account.id


async def _check_provider_accepts(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    provider: str,
    kind: PaymentKind,
    amount: int,
    currency: str,
    settings: Settings,
) -> None:
    """Refuse now, naming the field, what the provider would refuse anyway (a currency, an amount out of range)."""
    try:
        connector = await providers.connector_for(
            session, organization_id=organization_id, provider=provider, settings=settings
        )
    except AuthError:
        raise field_error(
            "provider",
            "provider_not_configured",
            f"Le fournisseur « {provider} » n'est pas configuré pour votre organisation.",
            f"Provider '{provider}' is not configured for your organisation.",
        ) from None
    async with connector:
        try:
            connector.require(Capability.COLLECT if kind is PaymentKind.COLLECTION else Capability.PAYOUT)
            connector.check_amount(amount, currency)
        except Unsupported as exc:
            raise field_error("provider", exc.code, exc.message_fr, exc.message_en) from None
        except InvalidRequest as exc:
            field = "currency" if exc.code == "invalid_currency" else "amount"
            raise field_error(field, exc.code, exc.message_fr, exc.message_en) from None


def _insufficient_funds() -> ValidationFailed:
    return field_error(
        "account_id",
        "insufficient_funds",
        "Solde disponible insuffisant pour ce paiement.",
        "Insufficient available balance for this payout.",
    )


@dataclass(frozen=True)
class ModuleOrigin:
    """Who asked through the public API (:mod:`cauri.payments.public`), and the key that makes the call idempotent."""

    purpose: str
    owner_id: str | None
    idempotency_key: str
    request_hash: str


async def create_payment(
    session: AsyncSession,
    *,
    kind: PaymentKind,
    body: PaymentCreate,
    principal: Principal | None,
    organization_id: uuid.UUID,
    settings: Settings,
    ip: str | None = None,
    origin: ModuleOrigin | None = None,
) -> Payment:
    """The one way a payment is created: the HTTP routes and the modules' public API both come here.

    ``principal`` is the HTTP caller (``None`` for a module's call, which brings ``origin`` instead).
    """
    amount = _amount(body)
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise PaymentNotFound()
    phone = parse_phone(body.phone, organization.default_region or settings.default_region, field="phone")
    provider = await providers.choose_provider(
        session,
        organization_id=organization_id,
        phone=phone,
        requested=body.provider,
        amount=amount,
        currency=body.currency,
        capability=Capability.COLLECT if kind is PaymentKind.COLLECTION else Capability.PAYOUT,
        settings=settings,
    )
    await _check_provider_accepts(
        session,
        organization_id=organization_id,
        provider=provider,
        kind=kind,
        amount=amount,
        currency=body.currency,
        settings=settings,
    )
    existing = (
        await session.execute(
            select(Payment.id).where(
                Payment.organization_id == organization_id,
                Payment.kind == kind.value,
                Payment.reference == body.reference,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise duplicate_reference(body.reference, str(existing))
    account_id = await _account(session, organization_id, body)
    extra: dict[str, Any] = dict(body.metadata)
    if isinstance(body, PayoutCreate) and body.payee_name:
        extra["payee_name"] = body.payee_name
    now = utcnow()
    payment = Payment(
        id=uuid.uuid4(),
        organization_id=organization_id,
        kind=kind.value,
        amount=amount,
        currency=body.currency,
        phone=phone.e164,
        phone_region=phone.region,
        phone_operator=phone.carrier[:40],
        provider=provider,
        reference=body.reference,
        description=body.description,
        extra=extra,
        account_id=account_id,
        purpose=origin.purpose if origin else None,
        owner_id=origin.owner_id if origin else None,
        idempotency_key=origin.idempotency_key if origin else None,
        request_hash=origin.request_hash if origin else None,
        outbound_reference=uuid.uuid4().hex,
        submit_attempts=0,
        poll_attempts=0,
        expires_at=now + timedelta(seconds=settings.payments_expiry_seconds),
        created_by_user_id=principal.user_id if principal else None,
        created_by_api_key_id=principal.api_key_id if principal else None,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    await record_created(session, payment)
    await session.flush()
    if kind is PaymentKind.PAYOUT:
        try:
            await reserve_payout(session, payment)
        except InsufficientFunds:
            raise _insufficient_funds() from None
    await record_audit(
        session,
        action=f"payments.{kind.value}.create",
        organization_id=organization_id,
        actor=principal,
        target_type=kind.value,
        target_id=str(payment.id),
        changes={
            "amount": amount,
            "currency": body.currency,
            "provider": provider,
            "reference": body.reference,
            **({"purpose": origin.purpose, "owner_id": origin.owner_id} if origin else {}),
        },
        ip=ip,
    )
    await enqueue(session, SUBMIT_JOB, {"payment_id": str(payment.id)}, dedupe_key=f"{SUBMIT_JOB}:{payment.id}")
    return payment


async def get_payment(
    session: AsyncSession, *, organization_id: uuid.UUID, kind: PaymentKind, payment_id: uuid.UUID
) -> Payment:
    payment = (
        await session.execute(
            select(Payment).where(
                Payment.id == payment_id, Payment.organization_id == organization_id, Payment.kind == kind.value
            )
        )
    ).scalar_one_or_none()
    if payment is None:
        raise PaymentNotFound()
    return payment


async def transitions_of(session: AsyncSession, payment_id: uuid.UUID) -> list[PaymentTransition]:
    rows = await session.execute(
        select(PaymentTransition)
        .where(PaymentTransition.payment_id == payment_id)
        .order_by(PaymentTransition.created_at, PaymentTransition.id)
    )
    return list(rows.scalars().all())


@dataclass(frozen=True)
class PaymentFilters:
    status: Status | None = None
    reference: str | None = None
    provider: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


# What a list shows (views._fields), selected as columns: a hot list loads no ORM objects.
LIST_COLUMNS = tuple(
    getattr(Payment, name)
    for name in (
        "id", "kind", "status", "amount", "currency", "fee", "phone", "phone_operator", "provider", "reference",
        "description", "extra", "account_id", "purpose", "owner_id", "outbound_reference", "provider_reference",
        "failure_reason", "payment_url", "payment_url_expires_at", "created_at", "updated_at", "completed_at",
        "expires_at",
    )
)  # fmt: skip


async def list_payments(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    kind: PaymentKind,
    filters: PaymentFilters,
    params: PageParams,
) -> tuple[list[Row[Any]], str | None]:
    """A page of payments as rows of the listed columns (views.payment_read reads them like ORM objects)."""
    statement: Select[Any] = select(*LIST_COLUMNS).where(
        Payment.organization_id == organization_id, Payment.kind == kind.value
    )
    if filters.status is not None:
        statement = statement.where(Payment.status == filters.status.value)
    if filters.reference is not None:
        statement = statement.where(Payment.reference == filters.reference)
    if filters.provider is not None:
        statement = statement.where(Payment.provider == filters.provider)
    if filters.created_from is not None:
        statement = statement.where(Payment.created_at >= filters.created_from)
    if filters.created_to is not None:
        statement = statement.where(Payment.created_at < filters.created_to)
    return await paginate(session, statement, params, created_at=Payment.created_at, row_id=Payment.id)
