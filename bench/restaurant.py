"""Restaurant sync benchmark (issue 14): Square's simulator with 50 ms of latency and Square's page sizes, an initial
sync of 200,000 orders and a 10,000-item catalogue, then an incremental sync after 1 % of the orders changed.

    make bench-restaurant        # or: .venv/bin/python bench/restaurant.py --orders 200000 --items 10000

Yardstick from the same run: sequential cursor paging cannot beat pages × latency per object kind; kinds run in
parallel, so the bound is the longest kind's (the simulator's own request counts give the pages). The sync writes
into a fresh SQLite database (``--database`` for another URL). The last line printed is one JSON object:
``initial_sync_s``, ``initial_bound_s``, ``incremental_sync_s``, ``incremental_writes`` (must equal the changes),
``peak_rss_mb`` (this process: the sync; the simulator runs in its own). Targets: initial ≤ 1.25 × bound, RSS ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from cauri.connectors.restaurant.pos.square.connector import SquareConnector
from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.logging import configure_logging
from cauri.core.migrate import upgrade
from cauri.kit.auth import BearerToken
from cauri.kit.testing import free_port
from cauri.restaurant import sync
from cauri.restaurant.connections import Tokens, encryptor_for
from cauri.restaurant.models import RestaurantConnection

HERE = Path(__file__).resolve().parent
TOKEN = "EAAA-bench-token"


async def wait_ready(url: str, process: subprocess.Popen[bytes], within: float) -> dict[str, int]:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError("the simulator stopped")
            try:
                answer = await http.get(f"{url}/_bench/ready", timeout=2)
                if answer.status_code == 200:
                    ready: dict[str, int] = answer.json()
                    return ready
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start in time")
            await asyncio.sleep(0.2)


async def requests_of(url: str) -> dict[str, int]:
    async with httpx.AsyncClient() as http:
        state = (await http.get(f"{url}/_sim/state")).json()
    counts: dict[str, int] = state["requests"]
    return counts


async def run(args: argparse.Namespace) -> dict[str, float | int]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(HERE / "restaurant_square.py"), str(port), str(args.orders), str(args.items)]
    command.append(str(args.latency))
    simulator = subprocess.Popen(command, env=dict(os.environ))  # noqa: ASYNC220 - started once, before the clock
    try:
        await wait_ready(url, simulator, within=600)
        database = args.database or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='cauri-bench-')}/restaurant.db"
        await asyncio.to_thread(upgrade, database)
        settings = Settings(database_url=database, restaurant_square_url=url)
        engine = make_engine(database)
        sessionmaker = make_sessionmaker(engine)
        connection_id = uuid.uuid4()
        async with unit_of_work(sessionmaker) as session:
            session.add(
                RestaurantConnection(
                    id=connection_id,
                    organization_id=uuid.uuid4(),
                    provider="square",
                    kind="pos",
                    token_ciphertext=Tokens(SecretStr(TOKEN), None).seal(encryptor_for(settings)),
                    refreshable=False,
                    settings={"location_ids": ["LVM-MAIN"]},
                )
            )
        connector = SquareConnector(auth=BearerToken(SecretStr(TOKEN)), base_url=url)  # Square's page sizes

        async def both() -> list[sync.SyncReport]:
            return list(
                await asyncio.gather(
                    *(
                        sync.run_sync(
                            sessionmaker, settings, connection_id=connection_id, kind=kind, connector=connector
                        )
                        for kind in ("sales", "catalog")
                    )
                )
            )

        started = time.perf_counter()
        initial = await both()
        initial_s = time.perf_counter() - started
        counts = await requests_of(url)
        pages = {"sales": counts.get("/v2/orders/search", 0), "catalog": counts.get("/v2/catalog/search", 0)}
        bound = max(pages.values()) * args.latency
        for report in initial:
            print(f"initial {report.kind}: {report.pages} pages, {report.written} written, {report.status}", flush=True)

        changes = args.orders // 100
        async with httpx.AsyncClient(timeout=60) as http:
            await http.post(f"{url}/_bench/change", params={"count": changes})
        started = time.perf_counter()
        incremental = await sync.run_sync(
            sessionmaker, settings, connection_id=connection_id, kind="sales", connector=connector
        )
        incremental_s = time.perf_counter() - started
        print(f"incremental sales: {incremental.pages} pages, {incremental.written} written of {changes} changed")
        await connector.aclose()
        await engine.dispose()
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "initial_sync_s": round(initial_s, 2),
        "initial_bound_s": round(bound, 2),
        "initial_pages": pages["sales"] + pages["catalog"],
        "incremental_sync_s": round(incremental_s, 2),
        "incremental_changes": changes,
        "incremental_writes": incremental.written,
        "peak_rss_mb": round(peak, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--database", default=None, help="a database URL (default: a fresh SQLite file)")
    configure_logging("WARNING")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
