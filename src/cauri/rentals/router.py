"""HTTP routes of the rentals marketplace under ``/api/v1/rentals`` (docs/rentals.md), assembled from one file
per resource in :mod:`cauri.rentals.routes`.

Published listings, their photos and calendars are public (``public_router``): an anonymous caller names the
marketplace with ``X-Organization-ID``; a logged-in member's organisation is theirs. Everything else needs a login.
Routes parse, call a service and shape the answer; the rules live in the services.
"""

from __future__ import annotations

from fastapi import FastAPI

from cauri.core.routing import api_router
from cauri.rentals.routes import (
    admin,
    bookings,
    calendars,
    favorites,
    leases,
    live,
    messages,
    payments,
    people,
    properties,
    reviews,
    services,
)

router = api_router(prefix="/rentals", tags=["rentals"])
public_router = api_router(prefix="/rentals", tags=["rentals"])

for _part in (properties, favorites, bookings, payments, reviews, messages, calendars, leases, services, people, admin):
    router.include_router(_part.router)
for _public in (
    properties.public_router,
    reviews.public_router,
    calendars.public_router,
    services.public_router,
    people.public_router,
):
    public_router.include_router(_public)


def install(app: FastAPI) -> None:
    """The ``/ws/messages`` WebSockets (a socket authenticates itself: no HTTP dependencies)."""
    live.install(app, api_prefix="/api/v1")
