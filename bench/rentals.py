"""Rentals search and the booking race, on PostgreSQL and SQLite.

    make bench-rentals                     # or: .venv/bin/python bench/rentals.py --listings 100000

Per backend, on a fresh database: ``--listings`` published listings around Cotonou, Lomé, Abidjan and Dakar are
inserted; the app is served by uvicorn on 127.0.0.1 and called over HTTP (httpx, one request at a time):

* ``nearby``: ``GET /api/v1/rentals/properties/nearby`` around a random point of a city, radius 5 km, with
  filters (``max_price``, ``bedrooms``), 50 listings a page — against the bare SQL query returning the same
  candidate rows (bounding box and the same filters), run through the same engine in the same run;
* ``text``: ``GET /api/v1/rentals/properties?q=<word>`` (French full text on PostgreSQL, FTS5 on SQLite), 20 a
  page — against the bare full-text query of the same rows;
* the booking race: 100 concurrent ``POST /api/v1/rentals/bookings`` for overlapping nights of one listing;
  ``booking_race_holders`` counts the bookings holding them afterwards (must be 1).

Target (issue 13): each API p95 ≤ 3 × its bare query's p95 + 10 ms. The last line printed is one JSON object with,
per backend (suffix ``_pg`` and ``_sqlite``): ``nearby_p50_ms``, ``nearby_p95_ms``, ``nearby_bare_p95_ms``,
``text_p95_ms``, ``text_bare_p95_ms``, ``booking_race_holders``. PostgreSQL: ``CAURI_BENCH_POSTGRES_URL``
(default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``); the benchmark creates and drops its own
database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from cauri.app import create_app
from cauri.core.config import Environment, Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.migrate import upgrade
from cauri.identity.models import Membership
from cauri.identity.permissions import Role
from cauri.identity.seeding import DEMO_PASSWORD, DemoOrganization, DemoUser, ensure_organization, ensure_user
from cauri.kit.testing import free_port, serve_app
from cauri.rentals.models import HOLDING_STATUSES, Booking, Property
from cauri.rentals.search import RADIUS_DEFAULT_KM, bounding_box, text_condition

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CITIES = {
    "Cotonou": (6.3654, 2.4183),
    "Lomé": (6.1319, 1.2228),
    "Abidjan": (5.3600, -4.0083),
    "Dakar": (14.7167, -17.4677),
}
WORDS = ("piscine", "jardin", "climatisé", "terrasse", "meublé", "plage", "calme", "parking", "balcon", "lumineux")
KINDS = ("apartment", "house", "studio", "villa", "room")
SLUG = "lokahome-bench"
RACE = 100


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    for warm in range(20):  # warm-up: connections, caches, the start-up's periodic jobs
        await call(-1 - warm)
    samples = []
    for n in range(calls):
        started = time.perf_counter()
        await call(n)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def seed(url: str, settings: Settings, listings: int) -> tuple[uuid.UUID, dict[str, str]]:
    """The marketplace, a landlord, tenants and ``listings`` published listings; answers the org and logins."""
    rng = random.Random(13)
    engine = make_engine(url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            owner = DemoUser("owner@bench.cauri.africa", "Bench Owner", Role.OWNER)
            org = await ensure_organization(
                session, settings, DemoOrganization(SLUG, "LokaHome bench", "BJ", False, (owner,))
            )
            people = {}
            for role in ("landlord", "tenant"):
                user = await ensure_user(session, DemoUser(f"{role}@bench.cauri.africa", role.title(), None))
                session.add(Membership(organization_id=org.id, user_id=user.id, role=role))
                people[role] = user
            await session.flush()
            landlord_id, org_id = people["landlord"].id, org.id
        now = utcnow()
        batch: list[dict[str, Any]] = []
        for n in range(listings):
            city, (lat, lon) = rng.choice(list(CITIES.items()))
            words = rng.sample(WORDS, 3)
            batch.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": org_id,
                    "owner_id": landlord_id,
                    "title": f"{rng.choice(('Appartement', 'Maison', 'Studio', 'Villa'))} {words[0]} n°{n}",
                    "description": f"Logement {words[1]} et {words[2]}, quartier calme de {city}.",
                    "property_type": rng.choice(KINDS),
                    "rental_type": "short_term",
                    "price": rng.randrange(5_000, 300_000, 500),
                    "currency": "XOF",
                    "address": f"Rue {n}, {city}",
                    "city": city,
                    "neighborhood": None,
                    "latitude": lat + rng.uniform(-0.25, 0.25),
                    "longitude": lon + rng.uniform(-0.25, 0.25),
                    "bedrooms": rng.randint(0, 5),
                    "bathrooms": rng.randint(1, 3),
                    "surface_area": None,
                    "is_furnished": rng.random() < 0.5,
                    "amenities": rng.sample(["wifi", "ac", "parking", "eau"], 2),
                    "rules": None,
                    "status": "published",
                    "available_from": None,
                    "available_to": None,
                    "minimum_stay": None,
                    "deposit_amount": 0,
                    "is_featured": False,
                    "views_count": 0,
                    "commission_bps": 1000,
                    "created_at": now - timedelta(seconds=n),
                    "updated_at": now,
                }
            )
            if len(batch) == 5_000 or n == listings - 1:
                async with unit_of_work(make_sessionmaker(engine)) as session:
                    await session.execute(insert(Property), batch)
                batch = []
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE rental_properties"))
    finally:
        await engine.dispose()
    return org_id, {"landlord": "landlord@bench.cauri.africa", "tenant": "tenant@bench.cauri.africa"}


async def measure(backend: str, url: str, listings: int, calls: int, directory: Path) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    port = free_port()
    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        files_dir=directory / "files",
        log_level="WARNING",
        public_base_url=f"http://127.0.0.1:{port}",
        lokahome_organization=SLUG,
    )
    started = time.perf_counter()
    org_id, logins = await seed(url, settings, listings)
    seeded_s = time.perf_counter() - started
    rng = random.Random(7)
    points = [
        (lat + rng.uniform(-0.2, 0.2), lon + rng.uniform(-0.2, 0.2)) for lat, lon in CITIES.values() for _ in range(64)
    ]
    rng.shuffle(points)
    app = create_app(settings)
    result: dict[str, Any] = {"seconds_to_seed": round(seeded_s, 1)}
    async with (
        serve_app(app, port=port, shutdown_timeout=2) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as http,
    ):
        public = {"X-Organization-ID": str(org_id)}
        engine = app.state.engine  # made at start-up

        def filters(n: int) -> dict[str, Any]:
            lat, lon = points[n % len(points)]
            return {"latitude": lat, "longitude": lon, "radius": RADIUS_DEFAULT_KM, "max_price": 200_000, "bedrooms": 1}

        async def api_nearby(n: int) -> None:
            answer = await http.get(
                "/api/v1/rentals/properties/nearby", params={**filters(n), "limit": 50}, headers=public
            )
            assert answer.status_code == 200, answer.text

        async def bare_nearby(n: int) -> None:
            f = filters(n)
            statement = select(Property).where(
                Property.organization_id == org_id,
                Property.status == "published",
                Property.price <= f["max_price"],
                Property.bedrooms >= f["bedrooms"],
                bounding_box(f["latitude"], f["longitude"], f["radius"]),
            )
            async with engine.connect() as connection:
                (await connection.execute(statement)).all()

        async def api_text(n: int) -> None:
            answer = await http.get(
                "/api/v1/rentals/properties", params={"q": WORDS[n % len(WORDS)], "limit": 20}, headers=public
            )
            assert answer.status_code == 200, answer.text

        async def bare_text(n: int) -> None:
            statement = (
                select(Property)
                .where(
                    Property.organization_id == org_id,
                    Property.status == "published",
                    text_condition(backend_dialect, WORDS[n % len(WORDS)]),
                )
                .order_by(Property.created_at.desc(), Property.id.desc())
                .limit(21)
            )
            async with engine.connect() as connection:
                (await connection.execute(statement)).all()

        async def health(_: int) -> None:
            await http.get("/health")

        backend_dialect = engine.dialect.name
        yardstick = await timed(calls, health)  # the HTTP round trip alone, on this machine now
        nearby = await timed(calls, api_nearby)
        nearby_bare = await timed(calls, bare_nearby)
        texts = await timed(calls, api_text)
        texts_bare = await timed(calls, bare_text)

        # The race: 100 concurrent requests for overlapping nights of one listing.
        login = await http.post("/api/v1/auth/login", json={"email": logins["tenant"], "password": DEMO_PASSWORD})
        tenant = {"Authorization": f"Bearer {login.json()['access_token']}", **public}
        async with engine.connect() as connection:
            target = (await connection.execute(select(Property.id).limit(1))).scalar_one()
        first = date.today() + timedelta(days=30)

        async def ask(n: int) -> int:
            start = first + timedelta(days=n % 5)
            body = {
                "property_id": str(target),
                "start_date": start.isoformat(),
                "end_date": (start + timedelta(days=5)).isoformat(),
            }
            return (await http.post("/api/v1/rentals/bookings", json=body, headers=tenant)).status_code

        codes = await asyncio.gather(*(ask(n) for n in range(RACE)))
        async with engine.connect() as connection:
            holders = (
                await connection.execute(
                    select(func.count())
                    .select_from(Booking)
                    .where(Booking.property_id == target, Booking.status.in_(HOLDING_STATUSES))
                )
            ).scalar_one()
    result.update(
        {
            "health_p95_ms": round(percentile(yardstick, 0.95), 2),
            "nearby_p50_ms": round(statistics.median(nearby), 2),
            "nearby_p95_ms": round(percentile(nearby, 0.95), 2),
            "nearby_bare_p95_ms": round(percentile(nearby_bare, 0.95), 2),
            "text_p95_ms": round(percentile(texts, 0.95), 2),
            "text_bare_p95_ms": round(percentile(texts_bare, 0.95), 2),
            "booking_race_holders": holders,
            "booking_race_created": codes.count(201),
            "booking_race_refused": codes.count(409),
        }
    )
    result["nearby_within_target"] = result["nearby_p95_ms"] <= 3 * result["nearby_bare_p95_ms"] + 10
    result["text_within_target"] = result["text_p95_ms"] <= 3 * result["text_bare_p95_ms"] + 10
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200, help="measured requests per query")
    parser.add_argument("--backends", default="pg,sqlite")
    args = parser.parse_args()
    report: dict[str, Any] = {"listings": args.listings, "calls": args.calls}
    with tempfile.TemporaryDirectory(prefix="cauri-bench-rentals-") as tmp:
        directory = Path(tmp)
        if "sqlite" in args.backends:
            figures = await measure(
                "sqlite", f"sqlite+aiosqlite:///{directory / 'rentals.db'}", args.listings, args.calls, directory
            )
            print("sqlite", json.dumps(figures), flush=True)
            report.update({f"{k}_sqlite": v for k, v in figures.items()})
        if "pg" in args.backends:
            admin = os.environ.get("CAURI_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            name = f"cauri_bench_{uuid.uuid4().hex[:8]}"
            dsn = make_url(admin).set(drivername="postgresql").render_as_string(hide_password=False)
            connection = await asyncpg.connect(dsn)
            await connection.execute(f'CREATE DATABASE "{name}"')
            try:
                url = make_url(admin).set(database=name).render_as_string(hide_password=False)
                figures = await measure("postgresql", url, args.listings, args.calls, directory)
                print("pg", json.dumps(figures), flush=True)
                report.update({f"{k}_pg": v for k, v in figures.items()})
            finally:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await connection.close()
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
