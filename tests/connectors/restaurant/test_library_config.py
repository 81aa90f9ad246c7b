"""The connectors as a library, configured from a YAML file with secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from cauri.connectors.restaurant.config import ConnectorConfigError, load_connectors
from cauri.connectors.restaurant.pos.square.simulator import SquareSimulator
from cauri.connectors.restaurant.suppliers.simulator import SupplierSimulator
from cauri.kit.testing import serve_app


async def test_yaml_builds_working_connectors(tmp_path: Path) -> None:
    square = SquareSimulator(access_token="EAAA-yaml")
    metro = SupplierSimulator("metro", api_key="metro-yaml")
    metro.add_product("BEU-1", "Beurre doux 1 kg", "kg", "1", 890)
    async with serve_app(square.app) as square_url, serve_app(metro.app) as metro_url:
        config = tmp_path / "restaurant.yaml"
        config.write_text(
            "connectors:\n"
            f"  pos: {{provider: square, base_url: '{square_url}', access_token: '${{SQ_TOKEN}}',"
            " http: {read_timeout: 5}}\n"
            f"  metro: {{provider: metro, base_url: '{metro_url}', api_key: '${{METRO_KEY}}'}}\n",
            encoding="utf-8",
        )
        connectors = load_connectors(config, environ={"SQ_TOKEN": "EAAA-yaml", "METRO_KEY": "metro-yaml"})
        try:
            locations = await connectors["pos"].list_locations()  # type: ignore[attr-defined]
            assert [loc.id for loc in locations] == ["LVM-MAIN"]
            products = await connectors["metro"].search("beurre")  # type: ignore[attr-defined]
            assert [p.sku for p in products] == ["BEU-1"]
        finally:
            for connector in connectors.values():
                await connector.aclose()


def test_bad_configurations_name_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("connectors:\n  pos: {provider: square, access_token: '${MISSING}'}\n", encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match=r"pos\.access_token: environment variable MISSING is not set"):
        load_connectors(config, environ={})
    config.write_text("connectors:\n  pos: {provider: clover}\n", encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match=r"pos\.provider: unknown provider 'clover'"):
        load_connectors(config, environ={})
    config.write_text("connectors:\n  metro: {provider: metro, api_key: k}\n", encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match=r"metro\.base_url is required"):
        load_connectors(config, environ={})
