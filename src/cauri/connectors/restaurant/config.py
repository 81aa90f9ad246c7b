"""The connectors as a library, without the server, configured from a YAML file (the seed's
``LightspeedConnector("config/pos.yaml")``)::

    connectors:
      pos:
        provider: square
        base_url: https://connect.squareup.com
        access_token: ${SQUARE_ACCESS_TOKEN}     # secrets come from the environment, never the file
        signature_key: ${SQUARE_SIGNATURE_KEY}
        http: {read_timeout: 20, rate_limit: "10/second"}
      metro:
        provider: metro                          # the generic supplier profile with Metro's paths
        base_url: https://partner.example/metro
        api_key: ${METRO_API_KEY}

    connectors = load_connectors("config/restaurant.yaml")   # {"pos": SquareConnector, "metro": …}
    sales = await connectors["pos"].search_sales(location_ids=[…], updated_since=None)

PyYAML is needed only for :func:`load_connectors`; :func:`connector_from_config` takes a mapping.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cauri.connectors.restaurant.base import RestaurantConnector
from cauri.connectors.restaurant.pos.lightspeed.connector import API_URL as LIGHTSPEED_URL
from cauri.connectors.restaurant.pos.lightspeed.connector import LightspeedRetailConnector
from cauri.connectors.restaurant.pos.lightspeed.kseries import API_URL as LIGHTSPEED_K_URL
from cauri.connectors.restaurant.pos.lightspeed.kseries import KSeriesPaths, LightspeedRestaurantConnector
from cauri.connectors.restaurant.pos.square.connector import PRODUCTION_URL, SquareConnector
from cauri.connectors.restaurant.suppliers.generic import PROFILES, GenericSupplierConnector, SupplierPaths
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy

_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")
SUPPLIER_PROVIDERS = (*PROFILES, "generic_supplier")


class ConnectorConfigError(ValueError):
    """A configuration Cauri cannot build a connector from; the message names the entry and the field."""


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):

        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConnectorConfigError(f"{where}: environment variable {name} is not set")
            return environ[name]

        return _VARIABLE.sub(variable, value)
    if isinstance(value, Mapping):
        return {key: _expand(item, f"{where}.{key}", environ) for key, item in value.items()}
    return value


def _required(config: Mapping[str, Any], field: str, where: str) -> str:
    value = config.get(field)
    if not value:
        raise ConnectorConfigError(f"{where}.{field} is required")
    return str(value)


def connector_from_config(
    config: Mapping[str, Any], *, name: str = "connector", environ: Mapping[str, str] | None = None
) -> RestaurantConnector:
    values = _expand(dict(config), name, os.environ if environ is None else environ)
    provider = _required(values, "provider", name)
    policy = HttpPolicy(**values["http"]) if values.get("http") else None
    if provider == "square":
        keys = [SecretStr(values["signature_key"])] if values.get("signature_key") else []
        return SquareConnector(
            auth=BearerToken(SecretStr(_required(values, "access_token", name))),
            base_url=values.get("base_url") or PRODUCTION_URL,
            signature_keys=keys,
            policy=policy,
        )
    if provider == "lightspeed":  # Retail (R-Series); ``api_prefix: /api/v1`` for the seed's spelling
        secrets = [SecretStr(values["signature_secret"])] if values.get("signature_secret") else []
        return LightspeedRetailConnector(
            auth=BearerToken(SecretStr(_required(values, "access_token", name))),
            account_id=_required(values, "account_id", name),
            base_url=values.get("base_url") or LIGHTSPEED_URL,
            api_prefix=values.get("api_prefix") or "/API/V3",
            currency=values.get("currency") or "EUR",
            signature_secrets=secrets,
            policy=policy,
        )
    if provider == "lightspeed_k":  # Restaurant (K-Series), paths overridable
        return LightspeedRestaurantConnector(
            auth=BearerToken(SecretStr(_required(values, "access_token", name))),
            base_url=values.get("base_url") or LIGHTSPEED_K_URL,
            currency=values.get("currency") or "EUR",
            paths=KSeriesPaths(**values["paths"]) if values.get("paths") else None,
            signature_secrets=[values["signature_secret"]] if values.get("signature_secret") else [],
            policy=policy,
        )
    if provider in SUPPLIER_PROVIDERS:
        paths = SupplierPaths(**values["paths"]) if values.get("paths") else None
        return GenericSupplierConnector(
            provider=str(values.get("name") or provider),
            base_url=_required(values, "base_url", name),
            api_key=SecretStr(_required(values, "api_key", name)),
            paths=paths,
            policy=policy,
        )
    known = ", ".join(("square", "lightspeed", "lightspeed_k", *SUPPLIER_PROVIDERS))
    raise ConnectorConfigError(f"{name}.provider: unknown provider {provider!r} (known: {known})")


def load_connectors(path: str | Path, *, environ: Mapping[str, str] | None = None) -> dict[str, RestaurantConnector]:
    yaml = importlib.import_module("yaml")  # PyYAML: only this entry point needs it (a dev dependency today)
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = document.get("connectors") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConnectorConfigError(f"{path}: expected a 'connectors' mapping")
    return {name: connector_from_config(entry, name=name, environ=environ) for name, entry in entries.items()}
