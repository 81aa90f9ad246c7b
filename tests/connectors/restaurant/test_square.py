"""Square beyond the POS contract: its official SDK against the simulator, OAuth with PKCE, Square's own rules
(query-bound cursors, page limits, idempotency keys reused with another body)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.restaurant.base import StockChange
from cauri.connectors.restaurant.pos.square.connector import PkcePair, SquareConnector, SquareOAuth
from cauri.connectors.restaurant.pos.square.simulator import SquareSimSettings, SquareSimulator
from cauri.kit.auth import BearerToken
from cauri.kit.errors import AuthError, InvalidRequest
from cauri.kit.testing import serve_app, serve_app_in_thread

TOKEN = "EAAA-square-tests"
REDIRECT = "https://cauri.example/restaurant/connections/square/callback"


def test_official_sdk_requests_are_accepted() -> None:
    """``squareup`` (Square's SDK) lists the catalogue, searches orders by updated_at with its cursor, and
    batch-creates inventory changes against the simulator, exactly as it would against Square."""
    square = pytest.importorskip("square")
    simulator = SquareSimulator(access_token=TOKEN)
    dishes = [simulator.add_item(f"Plat {n}", 1200 + n) for n in range(130)]
    start = datetime.now(UTC) - timedelta(hours=1)
    orders = [simulator.add_order([(dishes[n], 2)], at=start + timedelta(seconds=n)) for n in range(7)]
    simulator.set_count(dishes[0], 10)
    with serve_app_in_thread(simulator.app) as base_url:
        client = square.Square(token=TOKEN, base_url=base_url)
        listed = [obj.id for obj in client.catalog.list(types="ITEM")]  # the SDK's pager follows cursors
        assert len(listed) == 130
        seen: list[str] = []
        cursor = None
        while True:
            answer = client.orders.search(
                location_ids=["LVM-MAIN"],
                query={
                    "filter": {"date_time_filter": {"updated_at": {"start_at": start.isoformat()}}},
                    "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
                },
                limit=3,
                **({"cursor": cursor} if cursor else {}),
            )
            seen.extend(order.id for order in answer.orders or [])
            cursor = answer.cursor
            if not cursor:
                break
        assert seen == orders
        changed = client.inventory.batch_create_changes(
            idempotency_key="sdk-1",
            changes=[
                {
                    "type": "ADJUSTMENT",
                    "adjustment": {
                        "catalog_object_id": dishes[0],
                        "location_id": "LVM-MAIN",
                        "from_state": "IN_STOCK",
                        "to_state": "WASTE",
                        "quantity": "1.5",
                        "occurred_at": datetime.now(UTC).isoformat(),
                    },
                }
            ],
        )
        assert any(c.state == "IN_STOCK" and c.quantity == "8.5" for c in changed.counts or [])
        counts = client.inventory.batch_get_counts(catalog_object_ids=[dishes[0]], location_ids=["LVM-MAIN"])
        assert [c.quantity for c in counts] == ["8.5"]
        payments = list(client.payments.list(begin_time=start.isoformat()))
        assert len(payments) == 7
    assert simulator.requests["/v2/orders/search"] == 3


async def test_oauth_code_flow_with_pkce_and_refresh() -> None:
    simulator = SquareSimulator(access_token=None)
    async with serve_app(simulator.app) as base_url:
        oauth = SquareOAuth(client_id=simulator.client_id, client_secret=None, base_url=base_url)
        pkce = PkcePair.new()
        url = oauth.authorize_url(
            state="st-1", scopes=["ORDERS_READ", "ITEMS_READ"], redirect_uri=REDIRECT, code_challenge=pkce.challenge
        )
        async with httpx.AsyncClient() as http:
            redirect = await http.get(url)
        assert redirect.status_code == 302
        query = parse_qs(urlsplit(redirect.headers["location"]).query)
        assert query["state"] == ["st-1"]
        code = query["code"][0]
        with pytest.raises(AuthError):  # the verifier must match the challenge
            await oauth.exchange_code(code, redirect_uri=REDIRECT, code_verifier="not-the-verifier")
        token = await oauth.exchange_code(code, redirect_uri=REDIRECT, code_verifier=pkce.verifier)
        assert token.refresh_token is not None
        assert token.expires_at > datetime.now(UTC) + timedelta(days=29)
        with pytest.raises(AuthError):  # single use
            await oauth.exchange_code(code, redirect_uri=REDIRECT, code_verifier=pkce.verifier)
        refreshed = await oauth.refresh(token.refresh_token, pkce=True)
        assert refreshed.refresh_token is not None
        assert refreshed.refresh_token.get_secret_value() != token.refresh_token.get_secret_value()  # PKCE: new one
        connector = SquareConnector(auth=BearerToken(refreshed.access_token), base_url=base_url)
        try:
            assert await connector.search_sales(location_ids=["LVM-MAIN"], updated_since=None) is not None
            with pytest.raises(AuthError):  # not granted: ITEMS_WRITE/INVENTORY_WRITE
                await connector.change_stock(
                    [StockChange("X", "LVM-MAIN", Decimal(1), datetime.now(UTC))], idempotency_key="k"
                )
        finally:
            await connector.aclose()
            await oauth.aclose()


async def test_code_flow_refresh_keeps_the_refresh_token_and_revocation_ends_access() -> None:
    simulator = SquareSimulator(access_token=None)
    async with serve_app(simulator.app) as base_url:
        oauth = SquareOAuth(
            client_id=simulator.client_id, client_secret=SecretStr(simulator.client_secret), base_url=base_url
        )
        async with httpx.AsyncClient() as http:
            redirect = await http.get(
                oauth.authorize_url(state="s", scopes=["ORDERS_READ"], redirect_uri=REDIRECT, code_challenge=None)
            )
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        token = await oauth.exchange_code(code, redirect_uri=REDIRECT, code_verifier=None)
        assert token.refresh_token is not None
        refreshed = await oauth.refresh(token.refresh_token, pkce=False)
        assert refreshed.refresh_token is not None
        assert refreshed.refresh_token.get_secret_value() == token.refresh_token.get_secret_value()
        await oauth.revoke(refreshed.access_token)
        connector = SquareConnector(auth=BearerToken(refreshed.access_token), base_url=base_url)
        try:
            with pytest.raises(AuthError):
                await connector.search_sales(location_ids=["LVM-MAIN"], updated_since=None)
        finally:
            await connector.aclose()
            await oauth.aclose()


async def test_square_rules_cursor_bound_to_query_limits_and_reused_keys() -> None:
    simulator = SquareSimulator(SquareSimSettings(), access_token=TOKEN)
    dish = simulator.add_item("Bœuf", 2000)
    for _ in range(5):
        simulator.add_order([(dish, 1)])
    async with serve_app(simulator.app) as base_url:
        connector = SquareConnector(auth=BearerToken(SecretStr(TOKEN)), base_url=base_url)
        try:
            page = await connector.search_sales(location_ids=["LVM-MAIN"], updated_since=None, limit=2)
            assert page.cursor
            with pytest.raises(InvalidRequest) as caught:  # the same cursor with another query
                await connector.search_sales(
                    location_ids=["LVM-MAIN"], updated_since=datetime.now(UTC), cursor=page.cursor, limit=2
                )
            assert caught.value.provider_code == "INVALID_CURSOR"
            with pytest.raises(InvalidRequest):
                await connector.search_sales(location_ids=[f"L{n}" for n in range(11)], updated_since=None)
            with pytest.raises(InvalidRequest) as too_big:
                await connector.search_sales(location_ids=["LVM-MAIN"], updated_since=None, limit=1001)
            assert too_big.value.provider_code == "INVALID_VALUE"
            change = StockChange(dish, "LVM-MAIN", Decimal(1), datetime.now(UTC))
            await connector.change_stock([change], idempotency_key="same")
            other = StockChange(dish, "LVM-MAIN", Decimal(2), datetime.now(UTC))
            with pytest.raises(InvalidRequest) as reused:
                await connector.change_stock([other], idempotency_key="same")
            assert reused.value.provider_code == "IDEMPOTENCY_KEY_REUSED"
            assert simulator.inventory_changes_applied == 1
        finally:
            await connector.aclose()


async def test_simulator_delivers_signed_order_events() -> None:
    from cauri.kit.testing import CallbackSink

    sink = CallbackSink()
    simulator = SquareSimulator(access_token=TOKEN)
    async with serve_app(sink) as receiver:
        url = f"{receiver}/restaurant/webhooks/square"
        simulator.subscribe(url)
        dish = simulator.add_item("Crème brûlée", 800)
        order = simulator.add_order([(dish, 1)])
        received = await sink.wait_for(1, within=5.0)
        connector = SquareConnector(
            auth=BearerToken(SecretStr(TOKEN)), signature_keys=[SecretStr(simulator.signature_key)]
        )
        event = connector.parse_webhook(headers=received[0].headers, body=received[0].body, url=url)
        assert (event.type, event.object_ids) == ("order.created", (order,))
        await simulator.aclose()
        await asyncio.sleep(0)
