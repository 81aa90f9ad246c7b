"""The Square simulator a benchmark syncs from, in a process of its own (its memory is not the sync's):
``python bench/restaurant_square.py PORT ORDERS ITEMS LATENCY``. ``POST /_bench/change?count=N`` updates N orders
(a new version, a new ``updated_at``); ``GET /_bench/ready`` answers once seeded."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.restaurant.pos.square.simulator import SquareSimSettings, SquareSimulator
from cauri.core.logging import configure_logging

TOKEN = "EAAA-bench-token"


def build(orders: int, items: int, latency: float) -> SquareSimulator:
    simulator = SquareSimulator(SquareSimSettings(latency_seconds=latency), access_token=TOKEN)
    start = datetime.now(UTC) - timedelta(days=30)
    dishes = [
        simulator.add_item(f"Plat {n:05d}", 900 + n % 2000, sku=f"LVM-{n:05d}", updated_at=start) for n in range(items)
    ]
    rng = random.Random(14)
    for n in range(orders):
        lines = [(dishes[rng.randrange(items)], 1 + rng.randrange(3)) for _ in range(1 + n % 3)]
        simulator.add_order(lines, at=start + timedelta(seconds=n * 10), with_payment=False)
    return simulator


def main() -> None:
    configure_logging("WARNING")
    port, orders, items, latency = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    simulator = build(orders, items, latency)
    ids = list(simulator.orders)
    rng = random.Random(41)

    async def change(request: Request) -> Response:
        count = int(request.query_params.get("count", "0"))
        for order_id in rng.sample(ids, count):
            simulator.update_order(order_id)
        return JSONResponse({"changed": count})

    async def ready(_request: Request) -> Response:
        return JSONResponse({"orders": len(simulator.orders), "items": len(simulator.items)})

    simulator.app.router.routes.append(Route("/_bench/change", change, methods=["POST"]))
    simulator.app.router.routes.append(Route("/_bench/ready", ready, methods=["GET"]))
    uvicorn.run(simulator.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
