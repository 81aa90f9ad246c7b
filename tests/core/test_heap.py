"""The startup heap is frozen once the app has started (core.heap): full collections skip it."""

from __future__ import annotations

import gc

import httpx
from fastapi import FastAPI


async def test_started_app_has_frozen_its_startup_objects(app: FastAPI, client: httpx.AsyncClient) -> None:
    # The app's own long-lived objects are in the permanent generation: many thousands of them.
    assert gc.get_freeze_count() > 50_000
    assert (await client.get("/health")).status_code == 200
