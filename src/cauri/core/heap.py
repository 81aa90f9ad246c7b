"""The startup heap, frozen: full garbage collections stop pausing every request in flight.

After startup the process holds ~250,000 long-lived objects (FastAPI's routes and models, SQLAlchemy's mappers,
pydantic's validators). Each full (generation 2) collection traversed them all: ~200 ms during which no request
progresses, the p99 of a busy process (docs/performance.md). :func:`gc.freeze` moves every object alive at that
point to a permanent generation that collections skip; objects created by requests are collected as before.
At shutdown the heap is unfrozen, so a process that builds several apps (the tests) can still free the old ones.
"""

from __future__ import annotations

import gc
from typing import Any


async def freeze_startup_heap(_app: Any) -> None:
    """A startup hook, run last: collect the garbage of startup, then freeze what survives."""
    gc.collect()
    gc.freeze()


async def unfreeze_heap(_app: Any) -> None:
    """A shutdown hook: what was frozen may be collected again (the app is going away)."""
    gc.unfreeze()
