"""A small misbehaving provider, served over real HTTP, to prove what the shared HTTP layer does."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when the double received it


@dataclass
class ProviderDouble:
    hits: Counter[str] = field(default_factory=Counter)
    seen: list[Seen] = field(default_factory=list)
    healthy: bool = False

    def __post_init__(self) -> None:
        methods = ["GET", "POST"]
        self.app = Starlette(
            routes=[
                Route("/fail/{times:int}/{name}", self._fail, methods=methods),
                Route("/status/{code:int}", self._status, methods=methods),
                Route("/rate/{seconds:int}/{name}", self._rate, methods=methods),
                Route("/slow/{seconds:float}/{name}", self._slow, methods=methods),
                Route("/toggle", self._toggle, methods=methods),
                Route("/echo", self._echo, methods=methods),
            ]
        )

    async def _record(self, request: Request, name: str) -> int:
        self.seen.append(Seen(request.method, request.url.path, dict(request.headers), await request.body()))
        self.hits[name] += 1
        return self.hits[name]

    async def _fail(self, request: Request) -> Response:
        """503 for the first ``times`` hits, then 200."""
        hit = await self._record(request, request.path_params["name"])
        if hit <= request.path_params["times"]:
            return JSONResponse({"error": {"code": "DOWN"}}, status_code=503)
        return JSONResponse({"ok": True, "attempt": hit})

    async def _status(self, request: Request) -> Response:
        code = request.path_params["code"]
        await self._record(request, f"status-{code}")
        return JSONResponse({"error": {"code": f"E{code}"}}, status_code=code, headers={"X-Request-ID": "req-123"})

    async def _rate(self, request: Request) -> Response:
        hit = await self._record(request, request.path_params["name"])
        if hit == 1:
            return JSONResponse(
                {"error": "slow down"}, status_code=429, headers={"Retry-After": str(request.path_params["seconds"])}
            )
        return JSONResponse({"ok": True, "attempt": hit})

    async def _slow(self, request: Request) -> Response:
        await self._record(request, request.path_params["name"])
        await asyncio.sleep(request.path_params["seconds"])
        return JSONResponse({"ok": True})

    async def _toggle(self, request: Request) -> Response:
        await self._record(request, "toggle")
        return JSONResponse({"ok": self.healthy}, status_code=200 if self.healthy else 500)

    async def _echo(self, request: Request) -> Response:
        await self._record(request, "echo")
        return JSONResponse({"ok": True})
