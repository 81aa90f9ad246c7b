"""Console tests: a browser-like HTTP client (cookies kept, ``Accept: text/html``) from an address of its own,
so that login throttling in one test never spills into another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.web.support import new_browser


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with new_browser(app) as http:
        yield http
