"""Prefix dispatch (core.dispatch): every route is still reached, the rest is refused without entering a router."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from cauri.core.dispatch import path_head, request_heads
from cauri.core.openapi import api_routes


def test_heads_of_routes_and_requests() -> None:
    assert path_head("/api/v1/payouts/{payout_id}/refresh") == ("api", "v1", "payouts")
    assert path_head("/paiement/{brand}/{page}") == ("paiement",)
    assert path_head("/{path:path}") == ()
    assert path_head("/") == ()
    # A trailing slash does not change a head: the redirect between /x and /x/ keeps working.
    assert request_heads("/api/v1/payouts/") == request_heads("/api/v1/payouts")
    assert request_heads("/api/v1/payouts/abc") == {(), ("api",), ("api", "v1"), ("api", "v1", "payouts")}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


async def test_every_api_route_is_still_matched(app: FastAPI, client: httpx.AsyncClient) -> None:
    """A method no route has: 405 when the path matched a route (the guard let it through), 404 otherwise."""
    routes = api_routes(app)
    assert len(routes) > 50
    for route in routes:
        answer = await client.request("TRACE", _concrete(route.path))
        assert answer.status_code == 405, (route.path, answer.status_code)
    assert (await client.request("TRACE", "/api/v1/nothing-here")).status_code == 404


async def test_the_routers_are_guarded_and_refuse_foreign_paths(app: FastAPI, client: httpx.AsyncClient) -> None:
    guarded = [route for route in app.router.routes if hasattr(route.matches, "cauri_unguarded")]
    assert len(guarded) >= 10
    payouts = next(r for r in guarded if any(c.path == "/api/v1/payouts" for c in iter_route_contexts([r])))
    scope = {"type": "http", "path": "/health", "root_path": "", "method": "GET", "headers": []}
    assert payouts.matches(scope)[0] is Match.NONE
    scope = {"type": "http", "path": "/api/v1/payouts", "root_path": "", "method": "GET", "headers": []}
    assert payouts.matches(scope)[0] is Match.FULL
    # Routes of the last routers, and the trailing-slash redirect, still answer through the app.
    assert (await client.get("/health")).json() == {"status": "ok"}
    redirected = await client.get("/api/v1/payouts/")
    assert redirected.status_code == 307
    assert redirected.headers["location"].endswith("/api/v1/payouts")
    assert (await client.get("/console/login")).status_code == 200
