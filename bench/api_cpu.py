"""CPU per request of Cauri's hot routes, measured in process: steadier than requests/s on a shared machine.

    .venv/bin/python bench/api_cpu.py pg          # PostgreSQL, callers cached through Redis (as bench/api.py)
    .venv/bin/python bench/api_cpu.py sqlite --requests 1000 --profile /tmp/cauri-cpu

The app is built and started in this process; each request is a raw ASGI call (no HTTP parser, no socket), so the
figure is Cauri's own CPU: middleware, routing, dependencies, queries, serialisation. ``time.process_time`` counts
every thread of the process (aiosqlite's and FastAPI's worker threads included). ``--profile DIR`` writes one
cProfile file per route. A user registers, the wallet is funded and 60 payouts are created first; with Redis
configured their provider submissions wait in a queue nobody consumes (the figure is the reads alone).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from api import (
    DEFAULT_REDIS_URL,
    PASSWORD,
    cauri_env,
    delete_namespace,
    fund,
    payout_body,
    postgres_database,
)
from cauri.core.migrate import upgrade
from cauri.kit.testing import free_port, serve_app
from support import postgres_admin_url

SEEDED_PAYOUTS = 60


async def asgi_call(app: FastAPI, path: str, query: str, headers: dict[str, str]) -> int:
    """One GET through the whole ASGI app; its status."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def seeded_caller(app: FastAPI, database_url: str) -> dict[str, str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bench") as http:
        registered = await http.post(
            "/api/v1/auth/register",
            json={"email": f"cpu-{uuid.uuid4().hex[:10]}@example.org", "password": PASSWORD, "full_name": "Bench",
                  "organization_name": "Bench SA"},
        )  # fmt: skip
        registered.raise_for_status()
        body = registered.json()
        headers = {
            "Authorization": f"Bearer {body['tokens']['access_token']}",
            "X-Organization-ID": body["organization"]["id"],
        }
        await fund(database_url, uuid.UUID(body["organization"]["id"]), 10**12)
        for index in range(SEEDED_PAYOUTS):
            created = await http.post(
                "/api/v1/payouts",
                json=payout_body(f"CPU-{index}-{uuid.uuid4().hex[:6]}"),
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            created.raise_for_status()
    return headers


async def settled(app: FastAPI, headers: dict[str, str], within: float = 60.0) -> None:
    """Until no seeded payout is open: the in-process jobs are quiet before the measure starts."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bench") as http:
        while time.monotonic() < deadline:
            listed = (await http.get("/api/v1/payouts", params={"limit": 100}, headers=headers)).json()
            items = listed["items"] if isinstance(listed, dict) else listed
            if all(item["status"] not in ("created", "pending") for item in items):
                return
            await asyncio.sleep(0.2)
    raise SystemExit("the seeded payouts did not settle: is the embedded sandbox reachable?")


async def measure(args: argparse.Namespace, database_url: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    from cauri.app import create_app  # after the environment: the settings are read from it

    app = create_app()
    # Served on its listen port, not only started: on the embedded default the seeded payouts are submitted by
    # in-process jobs to the embedded sandbox (this server); unanswered, they would retry all through the measure.
    port = int(env.get("CAURI_LISTEN_PORT", "0"))
    serving = serve_app(app, port=port) if port else LifespanManager(app, startup_timeout=60)
    async with serving:
        headers = await seeded_caller(app, database_url)
        if port:
            await settled(app, headers)
        routes = {"health": ("/health", "", {}), "me": ("/api/v1/auth/me", "", headers),
                  "list": ("/api/v1/payouts", "limit=50", headers)}  # fmt: skip
        for name, (path, query, route_headers) in routes.items():
            for _ in range(50):  # warm: statement caches, the caller cache, the pool
                assert await asgi_call(app, path, query, route_headers) == 200
            profiler = cProfile.Profile() if args.profile else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            for _ in range(args.requests):
                await asgi_call(app, path, query, route_headers)
            if profiler:
                profiler.disable()
                profiler.dump_stats(Path(args.profile) / f"{args.backend}-{name}.prof")
            cpu_ms = (time.process_time() - started) / args.requests * 1000
            print(f"{args.backend:<7} {name:<7} {cpu_ms:.3f} ms CPU/request", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=("pg", "sqlite"))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", help="a directory for one cProfile file per route")
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cauri-bench-cpu-") as scratch:
        work = Path(scratch)
        if args.backend == "sqlite":
            database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
            upgrade(database_url)
            port = free_port()
            env = cauri_env(database_url, work / "files", CAURI_LISTEN_PORT=str(port))
            asyncio.run(measure(args, database_url, env))
            return
        redis_url = os.environ.get("CAURI_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
        namespace = f"cauri-bench-cpu-{uuid.uuid4().hex[:8]}"
        queue = {"CAURI_BROKER_URL": redis_url, "CAURI_BROKER_QUEUE": f"{namespace}-jobs"}
        try:
            with postgres_database(postgres_admin_url()) as database_url:
                env = cauri_env(database_url, work / "files", CAURI_REDIS_URL=redis_url,
                                CAURI_REDIS_NAMESPACE=namespace, **queue)  # fmt: skip
                asyncio.run(measure(args, database_url, env))
        finally:
            asyncio.run(delete_namespace(redis_url, namespace))


if __name__ == "__main__":
    main()
