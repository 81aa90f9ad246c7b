"""The startup heap is frozen once the app has started and unfrozen when it stops (core.heap)."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from cauri.core.heap import freeze_startup_heap, unfreeze_heap


async def test_the_app_freezes_its_heap_last_at_startup_and_unfreezes_it_last_at_shutdown(app: FastAPI) -> None:
    assert app.state.startup_hooks[-1] is freeze_startup_heap
    assert app.state.shutdown_hooks[0] is unfreeze_heap  # shutdown hooks run in reverse order


async def test_freezing_and_unfreezing(app: FastAPI) -> None:
    # Not "frozen since startup": another app of this test process stopping unfreezes the whole heap.
    await unfreeze_heap(app)
    assert gc.get_freeze_count() == 0
    await freeze_startup_heap(app)
    assert gc.get_freeze_count() > 50_000
