"""Security by default: every route needs a login unless it is on the short, reviewed list below."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from cauri.core.openapi import api_routes as openapi_api_routes
from cauri.core.principal import require_principal

# Reviewed: each of these must be reachable without a login, and says why.
PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/health"): "load balancer liveness",
    ("GET", "/ready"): "load balancer readiness",
    ("GET", "/metrics"): "Prometheus scraping (docs/operations.md), no business data",
    ("POST", "/api/v1/auth/register"): "sign up",
    ("POST", "/api/v1/auth/login"): "log in",
    ("POST", "/api/v1/auth/token"): "log in, OAuth 2 password form (Swagger's Authorize button)",
    ("GET", "/docs"): "API documentation (Swagger UI)",
    ("GET", "/redoc"): "API documentation (ReDoc)",
    ("POST", "/api/v1/auth/refresh"): "exchange a refresh token",
    ("POST", "/api/v1/auth/password/forgot"): "request a reset code",
    ("POST", "/api/v1/auth/password/reset"): "reset with a code",
    ("POST", "/api/v1/webhooks/{provider}"): "provider callbacks, authenticated by signature or status query",
    ("PUT", "/api/v1/webhooks/{provider}"): "MTN sends callbacks with PUT",
    ("GET", "/api/v1/restaurant/connections/{provider}/callback"): "OAuth return; the single-use state binds it",
    ("POST", "/api/v1/restaurant/webhooks/{provider}"): "POS webhooks, signature verified over the raw body",
    ("POST", "/api/v1/restaurant/webhooks/bookings/{connection_id}"): (
        "booking channels' notifications: TheFork's URL token or OpenTable's signature, checked before parsing"
    ),
    (
        "POST",
        "/api/v1/notifications/sms/{provider}/delivery-reports",
    ): "SMS delivery reports, verified by signature or URL token",
    ("POST", "/api/v1/notifications/sms/{provider}/inbound"): "inbound SMS (STOP), verified by signature or URL token",
    ("GET", "/notifications/unsubscribe"): "unsubscribe link: a signed token turns one kind off for one address",
    ("POST", "/notifications/unsubscribe"): "RFC 8058 one-click unsubscribe, the same signed token",
    ("POST", "/gateway/api/auth/login"): "pension gateway: log in",
    ("POST", "/gateway/api/auth/refresh"): "pension gateway: new access token",
    **{
        (method, f"/{surface}/api/v1/auth/{path}"): f"{surface}: {why}"
        for surface in ("kobiri", "lokahome")
        for method, path, why in (
            ("POST", "register", "sign up"),
            ("POST", "login", "log in"),
            ("POST", "refresh", "exchange a refresh token"),
            ("POST", "forgot-password", "request a reset code"),
            ("POST", "reset-password", "reset with a code"),
        )
    },
    ("GET", "/"): "redirects to the console",
    ("GET", "/api/v1/rentals/properties"): "rentals: search published listings",
    ("GET", "/api/v1/rentals/properties/nearby"): "rentals: published listings around a point",
    ("GET", "/api/v1/rentals/properties/{property_id}"): "rentals: a published listing",
    ("GET", "/api/v1/rentals/properties/{property_id}/availability"): "rentals: a published listing's calendar",
    ("GET", "/api/v1/rentals/images/{image_id}/{size}"): "rentals: a published listing's photo",
    ("GET", "/api/v1/rentals/properties/{property_id}/reviews"): "rentals: a published listing's revealed reviews",
    ("GET", "/api/v1/rentals/calendars/{token}.ics"): "rentals: a listing's iCal feed, its unguessable token the key",
    ("GET", "/api/v1/rentals/geocode"): "rentals: the offline gazetteer's place names (public data, no personal data)",
    ("GET", "/api/v1/rentals/services"): "rentals: the services catalogue",
    ("GET", "/api/v1/rentals/providers"): "rentals: search service providers' public profiles",
    ("GET", "/api/v1/rentals/providers/{provider_id}"): "rentals: a service provider's public profile",
    ("GET", "/api/v1/rentals/providers/{provider_id}/reviews"): "rentals: a provider's revealed reviews",
    ("GET", "/lokahome/api/v1/services"): "lokahome: the services catalogue",
    ("GET", "/lokahome/api/v1/service-providers"): "lokahome: service providers' public profiles",
    ("GET", "/lokahome/api/v1/service-providers/{provider_id}"): "lokahome: a service provider's public profile",
    ("GET", "/lokahome/api/v1/reviews/provider/{provider_id}"): "lokahome: a provider's revealed reviews",
    ("GET", "/lokahome/api/v1/properties"): "lokahome: published listings",
    ("GET", "/lokahome/api/v1/properties/search"): "lokahome: search published listings",
    ("GET", "/lokahome/api/v1/properties/nearby"): "lokahome: published listings around a point",
    ("GET", "/lokahome/api/v1/properties/{property_id}"): "lokahome: a published listing",
    ("GET", "/lokahome/api/v1/properties/{property_id}/availability"): "lokahome: a published listing's calendar",
    ("GET", "/paiement/{brand}/{page}"): "the payer's return page from Wave or Orange WebPay (marks nothing paid)",
    ("POST", "/console/language"): "the console's language switch, shown on the login page too (CSRF-checked)",
    ("GET", "/console/rentals"): "the marketplace's public search (published listings only)",
    ("GET", "/console/rentals/listings/{property_id}"): "a published listing's page (photos, availability)",
    ("GET", "/console/rentals/images/{image_id}/{size}"): "a published listing's photo",
}
PUBLIC_PREFIXES = ("/console/static", "/console/login", "/static")


def needs_login(dependant: Dependant) -> bool:
    return any(d.call is require_principal or needs_login(d) for d in dependant.dependencies)


def api_routes(app: FastAPI) -> list[APIRoute]:
    # FastAPI includes routers lazily: app.routes alone does not list the modules' routes.
    return openapi_api_routes(app)


def test_every_public_route_is_reviewed(app: FastAPI) -> None:
    unexpected = [
        (method, route.path)
        for route in api_routes(app)
        for method in route.methods
        if not needs_login(route.dependant)
        and (method, route.path) not in PUBLIC_ROUTES
        and not route.path.startswith(PUBLIC_PREFIXES)
    ]
    assert unexpected == [], f"routes reachable without login, not in PUBLIC_ROUTES: {unexpected}"


async def test_guarded_routes_answer_401_without_credentials(app: FastAPI, client: httpx.AsyncClient) -> None:
    checked = 0
    for route in api_routes(app):
        if not needs_login(route.dependant):
            continue
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)
        for method in route.methods - {"HEAD", "OPTIONS"}:
            response = await client.request(method, path)
            assert response.headers["content-type"] == "application/problem+json"
            # A seed's surface without its operator setting refuses everything, login or not (docs/compatibility.md;
            # tests/compat checks its routes for 401 once configured).
            if response.json()["code"] == "surface_not_configured":
                continue
            assert response.status_code == 401, (method, route.path, response.status_code)
            checked += 1
    guarded_exist = any(needs_login(r.dependant) for r in api_routes(app))
    assert checked > 0 or not guarded_exist
