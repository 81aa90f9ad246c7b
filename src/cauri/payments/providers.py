"""Which provider carries a payment, and the connector that talks to it.

Automatic choice: the phone number's operator (``phonenumbers`` carrier data) and country give an ordered list
of providers that reach it (the operator's own API first, then aggregators); the first one the organisation can
use wins. An organisation can use a provider it stored credentials for, and, outside production, any provider
with development credentials (the built-in ``sandbox``). When nothing matches, the configured default provider
(``CAURI_DEFAULT_PROVIDER``, ``sandbox`` by default) is used if the organisation can use it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import Capability, PaymentConnector
from cauri.connectors.credentials import ProviderCredential
from cauri.connectors.registry import ConnectorRegistry, registry
from cauri.core.config import Environment, Settings
from cauri.core.errors import ValidationFailed, field_error
from cauri.core.phone import PhoneInfo
from cauri.kit.errors import AuthError, InvalidRequest, Unsupported

# Carrier names of the numbering plan (lower case) -> operator key.
_OPERATOR_NAMES: dict[str, str] = {
    "mtn": "mtn",
    "mtn cameroon": "mtn",
    "areeba": "mtn",  # MTN Guinée
    "orange": "orange",
    "moov": "moov",
    "moov africa": "moov",
    "sotelma": "moov",  # Moov Africa Malitel
    "togo telecom": "togocel",
    "yas": "yas",  # ex-Free Sénégal
    "expresso": "expresso",
    "telecel faso": "telecel",
    "airtel": "airtel",
    "camtel": "camtel",
    "nexttel": "nexttel",
    "celtiis": "celtiis",
}

# (country, operator) -> providers that reach it, preferred first. Names are the connectors' registered names and
# each serves that country (a test holds both): a misspelt name here is silently skipped, which once sent every
# Moov number to an aggregator. Moov's own API ("moov", Flooz) serves Benin and Togo only; elsewhere Moov numbers
# go through aggregators.
_ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("CM", "mtn"): ("mtn_momo", "freemopay"),
    ("CM", "orange"): ("orange_money", "freemopay"),
    ("CI", "mtn"): ("mtn_momo", "fedapay", "cinetpay"),
    ("CI", "orange"): ("orange_money", "cinetpay"),
    ("CI", "moov"): ("fedapay", "cinetpay"),
    ("SN", "orange"): ("orange_money", "wave", "cinetpay"),
    # Free Money (now Yas/Mixx) has no API of its own: FedaPay's `free_sn` mode reaches its wallets, before Wave
    # (which pays a Wave account, whatever the number's carrier).
    ("SN", "yas"): ("fedapay", "wave", "cinetpay"),
    ("SN", "expresso"): ("wave", "cinetpay"),
    ("BJ", "mtn"): ("mtn_momo", "fedapay", "cinetpay"),
    ("BJ", "moov"): ("moov", "fedapay", "cinetpay"),
    ("BJ", "celtiis"): ("fedapay",),
    ("TG", "moov"): ("moov", "fedapay", "cinetpay"),
    ("TG", "togocel"): ("fedapay", "cinetpay"),
    ("BF", "orange"): ("orange_money", "cinetpay"),
    ("BF", "moov"): ("cinetpay",),
    ("ML", "orange"): ("orange_money", "cinetpay"),
    ("ML", "moov"): ("cinetpay",),
    ("NE", "airtel"): ("fedapay", "cinetpay"),
    ("NE", "orange"): ("cinetpay",),  # Zamani Telecom (ex-Orange Niger)
    ("NE", "moov"): ("cinetpay",),
    ("GN", "orange"): ("orange_money", "cinetpay"),
    ("GN", "mtn"): ("mtn_momo", "fedapay", "cinetpay"),
}


def operator_of(carrier: str) -> str:
    """``"MTN Cameroon"`` -> ``"mtn"``; an unknown carrier keeps its own lower-case name; ``""`` when unknown."""
    name = carrier.strip().lower()
    if name in _OPERATOR_NAMES:
        return _OPERATOR_NAMES[name]
    for prefix in ("mtn", "orange", "moov"):
        if name.startswith(prefix):
            return prefix
    return name


def routing_table() -> dict[tuple[str, str], tuple[str, ...]]:
    """(country, operator) -> provider names, preferred first (a copy: for checks and documentation)."""
    return dict(_ROUTES)


def candidates_for(phone: PhoneInfo) -> tuple[str, ...]:
    return _ROUTES.get((phone.region, operator_of(phone.carrier)), ())


async def usable_providers(
    session: AsyncSession, organization_id: uuid.UUID, settings: Settings, connectors: ConnectorRegistry = registry
) -> set[str]:
    """Providers this organisation can use now: stored credentials, or development ones outside production."""
    stored = set(
        (
            await session.execute(
                select(ProviderCredential.provider).where(ProviderCredential.organization_id == organization_id)
            )
        )
        .scalars()
        .all()
    )
    usable = set()
    for name in connectors.names():
        spec = connectors.get(name)
        if name in stored or (spec.dev_credentials is not None and settings.env is not Environment.PRODUCTION):
            usable.add(name)
    return usable


def _not_usable(provider: str) -> ValidationFailed:
    return field_error(
        "provider",
        "provider_not_configured",
        f"Le fournisseur « {provider} » n'est pas configuré pour votre organisation.",
        f"Provider '{provider}' is not configured for your organisation.",
    )


@dataclass(frozen=True)
class RouteOption:
    """One provider considered for a number, and why it can or cannot carry this payment."""

    provider: str
    eligible: bool
    reason: str | None = None  # provider_not_configured, unsupported_operation, invalid_currency, invalid_amount
    message_fr: str | None = None
    message_en: str | None = None


def _ordered_candidates(phone: PhoneInfo, settings: Settings, connectors: ConnectorRegistry) -> list[str]:
    """The operator's own API and its aggregators first, then other providers of the country, the default last."""
    names = [name for name in candidates_for(phone) if name in connectors.names()]
    names += sorted(
        name
        for name in connectors.names()
        if phone.region in connectors.get(name).countries and name not in names and name != settings.default_provider
    )
    if settings.default_provider in connectors.names() and settings.default_provider not in names:
        names.append(settings.default_provider)
    return names


async def _option(
    session: AsyncSession,
    name: str,
    *,
    usable: set[str],
    organization_id: uuid.UUID,
    capability: Capability,
    amount: int,
    currency: str,
    settings: Settings,
) -> RouteOption:
    if name not in usable:
        return RouteOption(
            name,
            False,
            "provider_not_configured",
            "Pas de connecteur configuré pour ce fournisseur.",
            "No connector configured for this provider.",
        )
    try:
        connector = await connector_for(session, organization_id=organization_id, provider=name, settings=settings)
    except AuthError:
        return RouteOption(
            name, False, "provider_not_configured", "Identifiants incomplets.", "Incomplete credentials."
        )
    async with connector:
        try:
            connector.require(capability)
            connector.check_amount(amount, currency)
        except (Unsupported, InvalidRequest) as refusal:
            return RouteOption(name, False, refusal.code, refusal.message_fr, refusal.message_en)
    return RouteOption(name, True)


async def route_payment(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    phone: PhoneInfo,
    amount: int,
    currency: str,
    capability: Capability,
    settings: Settings,
    connectors: ConnectorRegistry = registry,
) -> tuple[str | None, list[RouteOption]]:
    """The provider for a payment to or from ``phone``: the first candidate the organisation has configured and
    whose currencies, amount limits and operations fit; every candidate is returned with its verdict."""
    usable = await usable_providers(session, organization_id, settings, connectors)
    options = [
        await _option(
            session,
            name,
            usable=usable,
            organization_id=organization_id,
            capability=capability,
            amount=amount,
            currency=currency,
            settings=settings,
        )
        for name in _ordered_candidates(phone, settings, connectors)
    ]
    chosen = next((option.provider for option in options if option.eligible), None)
    return chosen, options


_REFUSED_FIELD = {"invalid_currency": "currency", "invalid_amount": "amount", "unsupported_operation": "provider"}


def no_provider_for(phone: PhoneInfo, options: list[RouteOption]) -> ValidationFailed:
    """Name what to change: the amount or currency when every configured provider refuses it, else the number."""
    refusals = [o for o in options if o.reason != "provider_not_configured"]
    reasons = {o.reason for o in refusals}
    if len(reasons) == 1 and (reason := reasons.pop()) in _REFUSED_FIELD and refusals[0].message_fr:
        refusal = field_error(
            _REFUSED_FIELD[reason], reason, refusals[0].message_fr, refusals[0].message_en or refusals[0].message_fr
        )
    else:
        refusal = field_error(
            "phone",
            "no_provider_for_phone",
            "Aucun fournisseur configuré ne dessert ce numéro pour ce montant et cette devise ; "
            "indiquez « provider » ou configurez un connecteur.",
            "No configured provider serves this number for this amount and currency; "
            "set 'provider' or configure a connector.",
        )
    refusal.extra = {"candidates": [{"provider": o.provider, "reason": o.reason} for o in options]}
    return refusal


async def choose_provider(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    phone: PhoneInfo,
    requested: str | None,
    amount: int,
    currency: str,
    capability: Capability,
    settings: Settings,
    connectors: ConnectorRegistry = registry,
) -> str:
    """The provider for this payment: the requested one (known and usable), else the automatic route."""
    if requested is not None:
        connectors.get(requested)  # unknown: 422 naming "provider"
        if requested not in await usable_providers(session, organization_id, settings, connectors):
            raise _not_usable(requested)
        return requested
    chosen, options = await route_payment(
        session,
        organization_id=organization_id,
        phone=phone,
        amount=amount,
        currency=currency,
        capability=capability,
        settings=settings,
        connectors=connectors,
    )
    if chosen is None:
        raise no_provider_for(phone, options)
    return chosen


def callback_url(settings: Settings, provider: str, organization_id: uuid.UUID) -> str:
    """Where the provider sends its callbacks. The organisation picks which credentials verify the signature."""
    return f"{settings.public_base_url.rstrip('/')}/api/v1/webhooks/{provider}?org={organization_id}"


async def connector_for(
    session: AsyncSession, *, organization_id: uuid.UUID | None, provider: str, settings: Settings
) -> PaymentConnector:
    """The organisation's connector; without an organisation, the application-level (development) one."""
    overrides: dict[str, float] = {}
    if settings.payments_provider_read_timeout_seconds is not None:
        overrides["read_timeout"] = settings.payments_provider_read_timeout_seconds
    if organization_id is not None:
        return await registry.connector_for(
            session,
            organization_id=organization_id,
            provider=provider,
            app_settings=settings,
            policy_overrides=overrides,
        )
    return registry.build(
        registry.config_for(provider, app_settings=settings, credentials=None, policy_overrides=overrides)
    )
