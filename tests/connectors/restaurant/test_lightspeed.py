"""Lightspeed beyond the contract: the leaky bucket honoured, legacy offset paging, OAuth with rotating refresh
tokens, the seed's path spelling from YAML, the K-Series profile, and ``cauri simulate lightspeed``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.restaurant.base import SaleState
from cauri.connectors.restaurant.config import load_connectors
from cauri.connectors.restaurant.pos.lightspeed.connector import LightspeedOAuth, LightspeedRetailConnector
from cauri.connectors.restaurant.pos.lightspeed.kseries import LightspeedRestaurantConnector
from cauri.connectors.restaurant.pos.lightspeed.simulator import (
    ACCOUNT_ID,
    DEMO_ACCESS_TOKEN,
    LightspeedSimSettings,
    LightspeedSimulator,
)
from cauri.kit.auth import BearerToken
from cauri.kit.errors import ConnectorError, Unsupported
from cauri.kit.http import ProviderHttpClient
from cauri.kit.testing import serve_app

TOKEN = "ls-token"


def _retail(url: str, **kw: object) -> LightspeedRetailConnector:
    return LightspeedRetailConnector(auth=BearerToken(SecretStr(TOKEN)), account_id=ACCOUNT_ID, base_url=url, **kw)  # type: ignore[arg-type]


async def test_the_leaky_bucket_headers_are_honoured_so_the_provider_never_answers_429() -> None:
    simulator = LightspeedSimulator(LightspeedSimSettings(bucket_size=5, drip_rate=10), access_token=TOKEN)
    async with serve_app(simulator.app) as url:
        connector = _retail(url)
        try:
            await connector.list_locations()  # learns the bucket's size
            await asyncio.gather(*(connector.list_locations() for _ in range(15)))
        finally:
            await connector.aclose()
    assert simulator.rate_limited_answers == 0
    assert connector.bucket.waited > 0  # it did slow down to the drip rate
    assert connector.bucket.size == 5


async def test_legacy_offset_paging_and_single_records() -> None:
    simulator = LightspeedSimulator(LightspeedSimSettings(legacy_offset=True), access_token=TOKEN)
    ids = {simulator.add_item(f"Plat {n}", 1000 + n) for n in range(150)}
    async with serve_app(simulator.app) as url:
        connector = _retail(url)
        try:
            seen: list[str] = []
            cursor: str | None = None
            while True:
                page = await connector.list_catalog(cursor=cursor)
                seen += [o.id for o in page.items]
                if (cursor := page.cursor) is None:
                    break
            assert sorted(seen) == sorted(ids)
            only = next(iter(ids))
            counts = await connector.stock_counts(item_ids=[only])  # one row: an object, and shop 0 skipped
            assert [(c.item_id, c.location_id) for c in counts.items] == [(only, "1")]
        finally:
            await connector.aclose()


async def test_oauth_code_exchange_and_rotating_refresh() -> None:
    simulator = LightspeedSimulator(client_id="cid", client_secret="csecret", access_token=None)
    async with serve_app(simulator.app) as url:
        oauth = LightspeedOAuth(client_id="cid", client_secret=SecretStr("csecret"), base_url=url, api_url=url)
        try:
            authorize = oauth.authorize_url(state="s-1", scopes=["employee:all"], redirect_uri="https://cauri/cb")
            async with httpx.AsyncClient() as http:
                redirect = await http.get(authorize)
            query = parse_qs(urlsplit(redirect.headers["location"]).query)
            assert query["state"] == ["s-1"]
            token = await oauth.exchange_code(query["code"][0], redirect_uri="https://cauri/cb")
            assert token.refresh_token is not None
            assert token.expires_at - datetime.now(UTC) <= timedelta(hours=1)
            assert token.merchant_id == ACCOUNT_ID  # the account read with the new token
            http_client = ProviderHttpClient(provider="lightspeed", base_url=url, auth=BearerToken(token.access_token))
            assert await LightspeedRetailConnector.account_id_for(http_client) == ACCOUNT_ID
            await http_client.aclose()
            renewed = await oauth.refresh(token.refresh_token)
            assert renewed.refresh_token is not None and renewed.refresh_token != token.refresh_token
            with pytest.raises(ConnectorError):
                await oauth.refresh(token.refresh_token)  # rotated: the old one is spent
            with pytest.raises(ConnectorError):
                await oauth.exchange_code(query["code"][0], redirect_uri="https://cauri/cb")  # codes are single use
        finally:
            await oauth.aclose()


async def test_the_seeds_path_spelling_from_yaml(tmp_path: Path) -> None:
    simulator = LightspeedSimulator(access_token=TOKEN)
    dish = simulator.add_item("Cassoulet", 1900)
    simulator.add_order([(dish, 2)])
    async with serve_app(simulator.app) as url:
        config = tmp_path / "pos.yaml"
        config.write_text(
            "connectors:\n"
            f"  pos: {{provider: lightspeed, base_url: '{url}', api_prefix: /api/v1, account_id: '{ACCOUNT_ID}',"
            " access_token: '${LS_TOKEN}'}\n",
            encoding="utf-8",
        )
        connector = load_connectors(config, environ={"LS_TOKEN": TOKEN})["pos"]
        assert isinstance(connector, LightspeedRetailConnector)
        try:
            page = await connector.search_sales(location_ids=["1"], updated_since=None)
        finally:
            await connector.aclose()
    assert [(s.total, s.state) for s in page.items] == [(3800, SaleState.COMPLETED)]
    assert simulator.requests[f"/api/v1/Account/{ACCOUNT_ID}/Sale.json"] == 1


async def test_k_series_profile_reads_sales_and_items() -> None:
    simulator = LightspeedSimulator(access_token=TOKEN)
    dish = simulator.add_item("Magret", 2250)
    start = datetime.now(UTC) - timedelta(hours=1)
    ids = [simulator.add_order([(dish, 1)], at=start + timedelta(seconds=n)) for n in range(130)]
    simulator.update_order(ids[0], state="CANCELED")
    async with serve_app(simulator.app) as url:
        connector = LightspeedRestaurantConnector(auth=BearerToken(SecretStr(TOKEN)), base_url=url)
        try:
            assert [loc.id for loc in await connector.list_locations()] == ["1"]
            seen = []
            cursor: str | None = None
            while True:
                page = await connector.search_sales(location_ids=["1"], updated_since=start, cursor=cursor)
                seen += page.items
                if (cursor := page.cursor) is None:
                    break
            assert len(seen) == 130 and seen[-1].id == ids[0] and seen[-1].state is SaleState.CANCELLED
            assert seen[0].total == 2250 and seen[0].state is SaleState.COMPLETED
            items = await connector.list_catalog()
            assert [(o.id, o.price) for o in items.items] == [(dish, 2250)]
            with pytest.raises(Unsupported):
                await connector.stock_counts(item_ids=[dish])
        finally:
            await connector.aclose()


def test_cauri_simulate_lightspeed_is_registered() -> None:
    from starlette.testclient import TestClient

    from cauri.connectors.restaurant.simulators import RESTAURANT_SIMULATORS
    from cauri.kit.simulation import SimulatorSettings

    app = RESTAURANT_SIMULATORS["lightspeed"].build(SimulatorSettings(), {})
    with TestClient(app) as http:
        path = f"/API/V3/Account/{ACCOUNT_ID}/Item.json"
        answer = http.get(path, headers={"Authorization": f"Bearer {DEMO_ACCESS_TOKEN}"})
        assert len(answer.json()["Item"]) == 3
        assert answer.headers["X-LS-API-Bucket-Level"].endswith("/60")
        assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
