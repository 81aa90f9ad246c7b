"""Request context (request id, language), access logs and Prometheus metrics.

A pure ASGI middleware, so streaming responses (SSE, exports) are measured without being buffered.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cauri.core.i18n import current_language, negotiate

log = structlog.get_logger("cauri.http")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HTTP_LATENCY = Histogram(
    "cauri_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS_TOTAL = Counter("cauri_jobs_total", "Background jobs by kind and outcome", ["kind", "outcome"])
JOB_DURATION = Histogram("cauri_job_duration_seconds", "Background job duration by kind", ["kind"])


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get(REQUEST_ID_HEADER.lower(), "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        language = negotiate(headers.get("accept-language"))
        language_token = current_language.set(language)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers", []))
                raw.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                if not any(k.lower() == b"content-language" for k, _ in raw):
                    raw.append((b"content-language", language.encode()))
                message["headers"] = raw
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("cauri.route") or _fallback_route(scope)
            status = status_holder["status"]
            HTTP_LATENCY.labels(scope["method"], route, str(status)).observe(elapsed)
            if route not in ("/metrics", "/health"):
                log.info(
                    "http_request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                    client=(scope.get("client") or ("?",))[0],
                )
            structlog.contextvars.unbind_contextvars("request_id")
            current_language.reset(language_token)


def _fallback_route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
