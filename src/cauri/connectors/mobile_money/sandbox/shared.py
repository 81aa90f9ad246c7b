"""One sandbox for several API processes: a simulator child process, and the /sandbox mount forwarding to it.

The sandbox simulator keeps its books (payments, balances, tokens) in memory. Embedded in one API process that is
exact; with ``cauri serve --workers N`` each worker would hold books of its own, and a payout created through one
worker would be unknown to the worker polling its status. So ``cauri serve`` starts ONE ``cauri simulate sandbox``
on a free loopback port (:func:`start_shared_sandbox`), hands its address to every worker
(``CAURI_SANDBOX_SHARED_URL``): the connector calls it directly, and each worker's ``/sandbox`` forwards to it
(:class:`SandboxForwarder`), so the public address keeps answering with the same books.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, fields

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from cauri.kit.simulation import SimulatorSettings

LOOPBACK = "127.0.0.1"
# Hop-by-hop headers, and those the forwarding recomputes: never copied from one side to the other.
_NOT_FORWARDED = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade"})
_NOT_RETURNED = _NOT_FORWARDED | {"content-encoding"}
# The `cauri simulate` flag of each timing the embedded sandbox uses: the shared one behaves exactly alike.
_TIMING_FLAGS = {
    "latency_seconds": "--latency",
    "settle_seconds": "--settle",
    "slow_seconds": "--slow",
    "hang_seconds": "--hang",
    "expiry_seconds": "--expiry",
    "late_callback_seconds": "--late-callback",
}


class SandboxForwarder:
    """An ASGI app answering every request with the shared sandbox's answer to the same request."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a mount gets no lifespan; the sandbox has no websocket
            return
        request = Request(scope, receive)
        response = await self._forward(request)
        await response(scope, receive, send)

    async def _forward(self, request: Request) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        try:
            answer = await self._http().request(
                request.method,
                _target(self.base_url, request.scope),
                headers=headers,
                content=await request.body(),
            )
        except httpx.TransportError as exc:
            # The sandbox's own error shape: callers of /sandbox speak its wire format, not ours.
            message = f"the shared sandbox process at {self.base_url} does not answer ({type(exc).__name__})"
            return JSONResponse({"error": {"code": "SANDBOX_UNAVAILABLE", "message": message}}, status_code=502)
        returned = {k: v for k, v in answer.headers.items() if k.lower() not in _NOT_RETURNED}
        return Response(answer.content, status_code=answer.status_code, headers=returned)

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, inside the worker's event loop. No read timeout: the sandbox's "hangs" outcome
        # must reach the caller as it would in-process; the caller's own timeout is the one that counts.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _target(base_url: str, scope: Scope) -> str:
    """The shared sandbox's URL for this request: its path inside the mount (Starlette keeps the full path and puts
    the prefix in root_path) and its query string, byte for byte."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    below = path[len(root) :] if root and path.startswith(root) else path
    query: bytes = scope.get("query_string", b"")
    return f"{base_url}{below}?{query.decode('latin-1')}" if query else f"{base_url}{below}"


@dataclass
class SharedSandbox:
    """The sandbox simulator process ``cauri serve`` started for its workers."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self, within: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def simulate_command(port: int, timings: SimulatorSettings) -> list[str]:
    """``cauri simulate sandbox`` on ``port`` with ``timings``; its credentials come from the same CAURI_SANDBOX_*
    settings the workers read (inherited environment), so the workers' connector is accepted."""
    command = [sys.executable, "-m", "cauri.cli", "simulate", "sandbox", "--host", LOOPBACK, "--port", str(port)]
    for timing in fields(timings):
        flag = _TIMING_FLAGS.get(timing.name)
        if flag is not None:
            command += [flag, str(getattr(timings, timing.name))]
    return command


def start_shared_sandbox(within: float = 30.0, attempts: int = 3) -> SharedSandbox:
    """Start the sandbox simulator on a free loopback port and return once it answers. The port is free when
    chosen but may be taken before the child binds it: then another is tried."""
    for _ in range(attempts - 1):
        try:
            return _start_on_free_port(within)
        except RuntimeError:
            continue
    return _start_on_free_port(within)


def _start_on_free_port(within: float) -> SharedSandbox:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        simulate_command(port, SimulatorSettings()),
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - no threads yet
    )
    shared = SharedSandbox(process=process, url=f"http://{LOOPBACK}:{port}")
    deadline = time.monotonic() + within
    while not _answers(LOOPBACK, port):
        if process.poll() is not None or time.monotonic() > deadline:
            shared.stop()
            raise RuntimeError(f"the shared sandbox process did not start on {shared.url}")
        time.sleep(0.05)
    return shared


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: be terminated if ``cauri serve`` dies without stopping us (SIGKILL, crash)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
