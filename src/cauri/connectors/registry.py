"""Providers by name: how to build each connector from credentials and settings, and its simulator.

A provider package exposes ``PROVIDER: ProviderSpec``; listing the package in :data:`BUILTIN_PROVIDERS` (one
line) makes it available everywhere: the registry, credential validation, ``cauri simulate`` and the payments
module's choice of provider.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.core.config import Environment, Settings
from cauri.core.errors import FieldError, ValidationFailed
from cauri.kit.errors import AuthError
from cauri.kit.http import HttpPolicy
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# Packages whose ``PROVIDER`` is registered by default. Issue 4 adds one line per provider.
BUILTIN_PROVIDERS: tuple[str, ...] = (
    "cauri.connectors.mobile_money.sandbox",
    "cauri.connectors.mobile_money.moov",
    "cauri.connectors.mobile_money.cinetpay",
    "cauri.connectors.mobile_money.fedapay",
    "cauri.connectors.mobile_money.freemopay",
    "cauri.connectors.mobile_money.mojaloop",
    "cauri.connectors.mobile_money.mtn_momo",
    "cauri.connectors.mobile_money.orange_money",
    "cauri.connectors.mobile_money.wave",
)


@dataclass(frozen=True)
class CredentialField:
    name: str
    label_fr: str
    label_en: str
    secret: bool = True
    required: bool = True


@dataclass(frozen=True)
class ConnectorConfig:
    """Everything needed to build one connector: decrypted credentials, plain settings, HTTP policy."""

    provider: str
    credentials: Mapping[str, SecretStr]
    settings: Mapping[str, str] = field(default_factory=dict)
    policy: HttpPolicy | None = None  # replaces the connector's default policy entirely (tests)
    policy_overrides: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"read_timeout": 10.0}

    def http_policy(self, default: HttpPolicy) -> HttpPolicy:
        """The connector's own policy (its provider's limits) with the configured changes applied."""
        return (self.policy or default).with_overrides(**self.policy_overrides)

    def secret(self, name: str) -> SecretStr:
        value = self.credentials.get(name)
        if value is None or not value.get_secret_value():
            raise AuthError(
                f"Identifiant manquant pour « {self.provider} » : {name}.",
                f"Missing credential for '{self.provider}': {name}.",
                provider=self.provider,
                code="connector_credentials_missing",
            )
        return value

    def optional_secret(self, name: str) -> SecretStr | None:
        value = self.credentials.get(name)
        return value if value is not None and value.get_secret_value() else None

    def plain(self, name: str) -> str | None:
        """A non-secret credential field (e.g. a client id), in clear."""
        value = self.optional_secret(name)
        return value.get_secret_value() if value is not None else None

    def setting(self, name: str, default: str | None = None) -> str | None:
        return self.settings.get(name, default)

    def require_setting(self, name: str) -> str:
        value = self.settings.get(name)
        if not value:
            raise AuthError(
                f"Paramètre manquant pour « {self.provider} » : {name}.",
                f"Missing setting for '{self.provider}': {name}.",
                provider=self.provider,
                code="connector_setting_missing",
            )
        return value


SimulatorFactory = Callable[[SimulatorSettings, ConnectorConfig], SimulatedProvider]


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    display_name: str
    build: Callable[[ConnectorConfig], PaymentConnector]
    credential_fields: tuple[CredentialField, ...] = ()
    setting_names: tuple[str, ...] = ()  # accepted non-secret settings (base_url, environment, …)
    countries: frozenset[str] = frozenset()
    # Settings derived from the application's (e.g. the sandbox URL), under the organisation's own.
    app_settings: Callable[[Settings], Mapping[str, str]] | None = None
    # Credentials used when an organisation stored none; only outside production (the sandbox).
    dev_credentials: Callable[[Settings], Mapping[str, SecretStr]] | None = None
    simulator: SimulatorFactory | None = None

    def validate(self, credentials: Mapping[str, object], settings: Mapping[str, str]) -> None:
        """Refuse unknown or missing fields, naming each one (422)."""
        known = {f.name for f in self.credential_fields}
        problems: list[FieldError] = []
        for name in credentials:
            if name not in known:
                problems.append(
                    FieldError(
                        f"credentials.{name}",
                        "unknown_field",
                        f"Champ inconnu pour « {self.name} ».",
                        f"Unknown field for '{self.name}'.",
                    )
                )
        for spec_field in self.credential_fields:
            if spec_field.required and not credentials.get(spec_field.name):
                problems.append(
                    FieldError(
                        f"credentials.{spec_field.name}",
                        "missing",
                        f"{spec_field.label_fr} : champ obligatoire.",
                        f"{spec_field.label_en}: required field.",
                    )
                )
        for name in settings:
            if name not in self.setting_names:
                problems.append(
                    FieldError(
                        f"settings.{name}",
                        "unknown_field",
                        f"Paramètre inconnu pour « {self.name} ».",
                        f"Unknown setting for '{self.name}'.",
                    )
                )
        if problems:
            raise ValidationFailed(problems[0].message_fr, problems[0].message_en, errors=problems)


class UnknownProvider(ValidationFailed):
    code = "unknown_provider"

    def __init__(self, name: str, known: Iterable[str]) -> None:
        listed = ", ".join(sorted(known))
        fr, en = (
            f"Fournisseur inconnu : {name!r} (connus : {listed}).",
            f"Unknown provider: {name!r} (known: {listed}).",
        )
        super().__init__(fr, en, field="provider", errors=[FieldError("provider", "unknown_provider", fr, en)])


class ConnectorRegistry:
    def __init__(self, builtins: Iterable[str] = BUILTIN_PROVIDERS) -> None:
        self._specs: dict[str, ProviderSpec] = {}
        self._builtins = tuple(builtins)
        self._loaded = False
        self._lock = threading.Lock()

    def _load_builtins(self) -> None:
        with self._lock:
            if self._loaded:
                return
            for package in self._builtins:
                spec: ProviderSpec = importlib.import_module(package).PROVIDER
                self._specs.setdefault(spec.name, spec)
            self._loaded = True

    def register(self, spec: ProviderSpec, *, replace: bool = False) -> None:
        self._load_builtins()
        if spec.name in self._specs and not replace:
            raise ValueError(f"provider {spec.name!r} is already registered")
        self._specs[spec.name] = spec

    def get(self, name: str) -> ProviderSpec:
        self._load_builtins()
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownProvider(name, self._specs) from None

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._specs)

    def build(self, config: ConnectorConfig) -> PaymentConnector:
        return self.get(config.provider).build(config)

    def config_for(
        self,
        provider: str,
        *,
        app_settings: Settings,
        credentials: Mapping[str, SecretStr] | None,
        settings: Mapping[str, str] | None = None,
        policy: HttpPolicy | None = None,
        policy_overrides: Mapping[str, Any] | None = None,
    ) -> ConnectorConfig:
        """Merge application defaults, the organisation's settings and its credentials (or dev ones)."""
        spec = self.get(provider)
        merged: dict[str, str] = dict(spec.app_settings(app_settings)) if spec.app_settings else {}
        merged.update(settings or {})
        if credentials is None:
            if spec.dev_credentials is None or app_settings.env is Environment.PRODUCTION:
                raise AuthError(
                    f"Aucun identifiant enregistré pour « {provider} » dans cette organisation.",
                    f"No credentials stored for '{provider}' in this organisation.",
                    provider=provider,
                    code="connector_not_configured",
                )
            credentials = spec.dev_credentials(app_settings)
        return ConnectorConfig(
            provider=provider,
            credentials=dict(credentials),
            settings=merged,
            policy=policy,
            policy_overrides=dict(policy_overrides or {}),
        )

    async def connector_for(
        self,
        session: AsyncSession,
        *,
        organization_id: uuid.UUID,
        provider: str,
        app_settings: Settings,
        policy: HttpPolicy | None = None,
        policy_overrides: Mapping[str, Any] | None = None,
    ) -> PaymentConnector:
        """The connector an organisation uses for ``provider``, from its stored, encrypted credentials."""
        from cauri.connectors.credentials import encryptor_for, load_credentials

        stored = await load_credentials(
            session, encryptor=encryptor_for(app_settings), organization_id=organization_id, provider=provider
        )
        config = self.config_for(
            provider,
            app_settings=app_settings,
            credentials=stored.credentials if stored else None,
            settings=stored.settings if stored else None,
            policy=policy,
            policy_overrides=policy_overrides,
        )
        return self.build(config)


registry = ConnectorRegistry()
