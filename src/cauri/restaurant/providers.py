"""The restaurant providers Cauri connects to, and how to build each one's OAuth client and connector from the
application's settings and a connection's access token. Replacing Square by Lightspeed is a line here and a
connection, not a change to the sync or the restaurant logic (they speak :class:`PosConnector`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import SecretStr

from cauri.connectors.restaurant.base import ConnectorKind, PosConnector
from cauri.connectors.restaurant.pos.lightspeed import connector as lightspeed
from cauri.connectors.restaurant.pos.square.connector import DEFAULT_SCOPES, SquareConnector, SquareOAuth
from cauri.core.config import Settings
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy
from cauri.restaurant import errors


class ProviderToken(Protocol):
    @property
    def access_token(self) -> SecretStr: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def refresh_token(self) -> SecretStr | None: ...
    @property
    def merchant_id(self) -> str | None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...


class ProviderOAuth(Protocol):
    """What a connection needs of a provider's OAuth (Square's, Lightspeed's)."""

    def authorize_url(
        self, *, state: str, scopes: Sequence[str], redirect_uri: str | None, code_challenge: str | None
    ) -> str: ...

    async def exchange_code(
        self, code: str, *, redirect_uri: str | None, code_verifier: str | None, scopes: Sequence[str] = ()
    ) -> ProviderToken: ...

    async def refresh(self, refresh_token: SecretStr, *, pkce: bool, scopes: Sequence[str] = ()) -> ProviderToken: ...

    async def revoke(self, access_token: SecretStr) -> None: ...

    async def aclose(self) -> None: ...


#: Builds a connection's POS connector: settings, access token, HTTP policy, the connection's merchant (account).
PosFactory = Callable[[Settings, SecretStr, HttpPolicy | None, str | None], PosConnector]


@dataclass(frozen=True)
class RestaurantProvider:
    name: str
    display_name: str
    kind: ConnectorKind
    scopes: Sequence[str]
    oauth: Callable[[Settings], ProviderOAuth]
    pos: PosFactory
    #: How long before its expiry a token is refreshed (Square: the setting, 23 of 30 days; Lightspeed: 1-hour tokens).
    refresh_margin: Callable[[Settings], timedelta] = lambda settings: timedelta(
        seconds=settings.restaurant_token_refresh_margin_seconds
    )


def _square_oauth(settings: Settings) -> ProviderOAuth:
    if not settings.restaurant_square_client_id:
        raise errors.provider_not_configured("square")
    return SquareOAuth(
        client_id=settings.restaurant_square_client_id,
        client_secret=settings.restaurant_square_client_secret,
        base_url=settings.restaurant_square_url,
    )


def _square_pos(settings: Settings, token: SecretStr, policy: HttpPolicy | None, _merchant: str | None) -> PosConnector:
    keys = [settings.restaurant_square_signature_key] if settings.restaurant_square_signature_key else []
    return SquareConnector(
        auth=BearerToken(token), base_url=settings.restaurant_square_url, signature_keys=keys, policy=policy
    )


def _lightspeed_oauth(settings: Settings) -> ProviderOAuth:
    if not settings.restaurant_lightspeed_client_id or settings.restaurant_lightspeed_client_secret is None:
        raise errors.provider_not_configured("lightspeed")
    return lightspeed.LightspeedOAuth(
        client_id=settings.restaurant_lightspeed_client_id,
        client_secret=settings.restaurant_lightspeed_client_secret,
        base_url=settings.restaurant_lightspeed_oauth_url,
        api_url=settings.restaurant_lightspeed_url,
    )


def _lightspeed_pos(
    settings: Settings, token: SecretStr, policy: HttpPolicy | None, account: str | None
) -> PosConnector:
    secret = settings.restaurant_lightspeed_signature_secret
    return lightspeed.LightspeedRetailConnector(
        auth=BearerToken(token),
        account_id=account or "0",  # no account: only a notification's signature is checked (no URL is built)
        base_url=settings.restaurant_lightspeed_url,
        signature_secrets=[secret] if secret else [],
        policy=policy,
    )


PROVIDERS: dict[str, RestaurantProvider] = {
    "square": RestaurantProvider("square", "Square", ConnectorKind.POS, DEFAULT_SCOPES, _square_oauth, _square_pos),
    "lightspeed": RestaurantProvider(
        "lightspeed",
        "Lightspeed Retail",
        ConnectorKind.POS,
        lightspeed.DEFAULT_SCOPES,
        _lightspeed_oauth,
        _lightspeed_pos,
    ),
}


def provider(name: str) -> RestaurantProvider:
    found = PROVIDERS.get(name)
    if found is None:
        raise errors.unknown_provider(name)
    return found
