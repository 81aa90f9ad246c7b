"""Run ASGI apps (provider simulators, callback receivers) on 127.0.0.1 over real HTTP.

Used by the contract suite, the tests and anyone developing against a simulator from Python:

    async with serve_app(simulator.app) as base_url:
        ...  # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class _QuietServer(uvicorn.Server):
    """A server inside a running program: it must not take over the process's signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, shutdown_timeout: int = 1, keep_alive: int = 1
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0: a free port) in this event loop; yields the base URL. An idle connection
    is closed after ``keep_alive`` seconds: a client that reuses it at that moment gets a broken connection, as
    from any real server, so a test that counts errors keeps connections longer than its pauses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=shutdown_timeout,
        timeout_keep_alive=keep_alive,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the startup error
                raise RuntimeError("simulator server stopped during startup")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=shutdown_timeout + 5)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
        sock.close()


@dataclass(frozen=True)
class ReceivedCallback:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float


@dataclass
class CallbackSink:
    """An ASGI app that records every request it receives (a stand-in for Cauri's webhook endpoint)."""

    status_code: int = 200
    received: list[ReceivedCallback] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        request = Request(scope, receive)
        body = await request.body()
        loop = asyncio.get_running_loop()
        self.received.append(
            ReceivedCallback(request.method, request.url.path, dict(request.headers), body, loop.time())
        )
        self._arrived.set()
        await Response(status_code=self.status_code)(scope, receive, send)

    def for_path(self, fragment: str) -> list[ReceivedCallback]:
        return [c for c in self.received if fragment in c.path]

    async def wait_for(self, count: int, *, path: str = "", within: float = 5.0) -> list[ReceivedCallback]:
        """Wait until ``count`` callbacks whose path contains ``path`` arrived; returns them (maybe fewer)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.for_path(path)) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=remaining)
        return self.for_path(path)


@contextlib.contextmanager
def serve_app_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a thread with its own event loop: for blocking code (the sync facade, scripts)."""
    started = threading.Event()
    url: list[str] = []
    stop: list[asyncio.Event] = []
    loop_holder: list[asyncio.AbstractEventLoop] = []
    failure: list[BaseException] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        loop_holder.append(asyncio.get_running_loop())
        async with serve_app(app, host=host, port=port) as base_url:
            url.append(base_url)
            started.set()
            await stop[0].wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=run, name="cauri-simulator", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if failure or not url:
        raise RuntimeError("the server did not start") from (failure[0] if failure else None)
    try:
        yield url[0]
    finally:
        loop_holder[0].call_soon_threadsafe(stop[0].set)
        thread.join(timeout=30)


async def wait_until_serving(
    url: str, process: subprocess.Popen[bytes], *, headers: dict[str, str] | None = None, within: float = 30.0
) -> httpx.Response:
    """GET ``url`` until the server ``process`` started (``cauri simulate …``) answers; its first answer. Fails at
    once, with the process's error output, if the process exits first."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while True:
            try:
                return await http.get(url, headers=headers)
            except httpx.ConnectError:
                if process.poll() is not None:
                    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    raise AssertionError(f"{process.args!r} exited: {error}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"{process.args!r} did not serve {url} within {within} s") from None
                await asyncio.sleep(0.1)
