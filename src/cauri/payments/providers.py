"""Which provider carries a payment, and the connector that talks to it.

Automatic choice: the phone number's operator (``phonenumbers`` carrier data) and country give an ordered list
of providers that reach it (the operator's own API first, then aggregators); the first one the organisation can
use wins. An organisation can use a provider it stored credentials for, and, outside production, any provider
with development credentials (the built-in ``sandbox``). When nothing matches, the configured default provider
(``CAURI_DEFAULT_PROVIDER``, ``sandbox`` by default) is used if the organisation can use it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.connectors.base import PaymentConnector
from cauri.connectors.credentials import ProviderCredential
from cauri.connectors.registry import ConnectorRegistry, registry
from cauri.core.config import Environment, Settings
from cauri.core.errors import ValidationFailed, field_error
from cauri.core.phone import PhoneInfo

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

# (country, operator) -> providers that reach it, preferred first. Names are registry names; a provider that is
# not (yet) registered is skipped, so this table can name the connectors of issue 4 before they land.
_ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("CM", "mtn"): ("mtn_momo", "freemopay"),
    ("CM", "orange"): ("orange_money", "freemopay"),
    ("CI", "mtn"): ("mtn_momo", "fedapay", "cinetpay"),
    ("CI", "orange"): ("orange_money", "cinetpay"),
    ("CI", "moov"): ("moov_money", "fedapay", "cinetpay"),
    ("SN", "orange"): ("orange_money", "wave", "cinetpay"),
    ("SN", "yas"): ("wave", "cinetpay"),
    ("SN", "expresso"): ("wave", "cinetpay"),
    ("BJ", "mtn"): ("mtn_momo", "fedapay", "cinetpay"),
    ("BJ", "moov"): ("moov_money", "fedapay", "cinetpay"),
    ("BJ", "celtiis"): ("fedapay",),
    ("TG", "moov"): ("moov_money", "fedapay", "cinetpay"),
    ("TG", "togocel"): ("fedapay", "cinetpay"),
    ("BF", "orange"): ("orange_money", "cinetpay"),
    ("BF", "moov"): ("moov_money", "cinetpay"),
    ("ML", "orange"): ("orange_money", "cinetpay"),
    ("ML", "moov"): ("moov_money", "cinetpay"),
    ("NE", "airtel"): ("cinetpay",),
    ("NE", "orange"): ("cinetpay",),  # Zamani Telecom (ex-Orange Niger)
    ("NE", "moov"): ("moov_money",),
    ("GN", "orange"): ("orange_money", "cinetpay"),
    ("GN", "mtn"): ("mtn_momo", "cinetpay"),
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


async def choose_provider(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    phone: PhoneInfo,
    requested: str | None,
    settings: Settings,
    connectors: ConnectorRegistry = registry,
) -> str:
    """The provider for this payment: the requested one (known and usable), else the automatic choice."""
    usable = await usable_providers(session, organization_id, settings, connectors)
    if requested is not None:
        connectors.get(requested)  # unknown: 422 naming "provider"
        if requested not in usable:
            raise _not_usable(requested)
        return requested
    for name in candidates_for(phone):
        if name in usable:
            return name
    by_country = sorted(
        name for name in usable if phone.region in connectors.get(name).countries and name != settings.default_provider
    )
    if by_country:
        return by_country[0]
    if settings.default_provider in usable:
        return settings.default_provider
    raise field_error(
        "phone",
        "no_provider_for_phone",
        "Aucun fournisseur configuré ne dessert ce numéro ; indiquez « provider » ou configurez un connecteur.",
        "No configured provider serves this number; set 'provider' or configure a connector.",
    )


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
