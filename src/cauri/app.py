"""create_app(): middleware, error handlers, lifespan resources and every module's router.

Security by default: a module's ``router`` is mounted behind :func:`require_principal`; only routes a module
puts on its ``public_router`` are reachable without a login (``tests/core/test_security_default.py`` walks
every route to prove it). Every API route also gets the idempotency guard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text
from starlette.middleware.trustedhost import TrustedHostMiddleware

from cauri import __version__
from cauri.core.cache import make_cache
from cauri.core.config import Settings, get_settings
from cauri.core.db import make_engine, make_read_sessionmaker, make_sessionmaker
from cauri.core.dispatch import install_prefix_dispatch
from cauri.core.errors import install_error_handlers
from cauri.core.heap import freeze_startup_heap, unfreeze_heap
from cauri.core.idempotency import idempotency_guard
from cauri.core.jobs import runtime as job_runtime
from cauri.core.limits import install_limits, uninstall_limits
from cauri.core.logging import configure_logging
from cauri.core.observability import RequestContextMiddleware, metrics_endpoint
from cauri.core.openapi import install_docs, install_openapi
from cauri.core.principal import require_principal
from cauri.core.pubsub import make_pubsub
from cauri.core.routing import api_router
from cauri.core.storage import make_storage
from cauri.modules import import_all, import_optional
from cauri.surfaces import install as install_surfaces
from cauri.surfaces.registry import SURFACES

API_PREFIX = "/api/v1"
OPENAPI_URL = "/openapi.json"
TOKEN_URL = f"{API_PREFIX}/auth/token"


def custom_operation_id(route: APIRoute) -> str:
    """``identity-login``: tag and function name, so generated clients get clean method names."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name}".replace("_", "-")


def _lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_sessionmaker = make_read_sessionmaker(engine)
        # Shared pieces every module may use: a cache and pub/sub (Redis across processes when configured).
        app.state.pubsub = make_pubsub(settings)
        app.state.cache = make_cache(settings)
        app.state.storage = make_storage(settings)
        # Connectors' rate limits and circuit breakers: shared with every process through Redis when configured.
        replaced_limits = install_limits(settings)
        await app.state.pubsub.start()
        if app.state.pubsub.crosses_processes:
            app.state.readiness_probes["redis"] = app.state.pubsub.ping
        for hook in app.state.startup_hooks:
            await hook(app)
        try:
            yield
        finally:
            for hook in reversed(app.state.shutdown_hooks):
                await hook(app)
            await app.state.pubsub.close()
            await app.state.cache.close()
            await uninstall_limits(replaced_limits)
            await engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    app = FastAPI(
        title="Cauri",
        version=__version__,
        description="Collecter et payer par mobile money. Collect and pay out by mobile money.",
        lifespan=_lifespan(settings),
        generate_unique_id_function=custom_operation_id,
        docs_url=None,  # served by install_docs, from local assets
        redoc_url=None,
        openapi_url=OPENAPI_URL,
    )
    app.state.settings = settings
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.readiness_probes = {}
    install_error_handlers(app)
    job_runtime.install(app)

    for module in import_all("router"):
        install = getattr(module, "install", None)
        if install is not None:
            install(app)
        guarded = [Depends(require_principal), Depends(idempotency_guard)]
        app.include_router(module.router, prefix=API_PREFIX, dependencies=guarded)
        public = getattr(module, "public_router", None)
        if public is not None:
            app.include_router(public, prefix=API_PREFIX, dependencies=[Depends(idempotency_guard)])

    install_surfaces(app)  # the seeds' own APIs: /gateway, /kobiri, /lokahome (docs/compatibility.md)
    app.include_router(_operations_router())
    # The native API and the seeds' surfaces (under their prefixes, or at the root: every seed's paths start
    # with /api/) document their errors; pages and probes do not.
    install_openapi(app, api_prefixes=("/api/", *(f"/{name}/" for name in SURFACES)), token_url=TOKEN_URL)
    install_docs(app, openapi_url=OPENAPI_URL)
    _install_embedded_sandbox(app, settings)
    _install_web(app)
    install_prefix_dispatch(app)  # last: every route is known (docs/performance.md, "route lookup")
    app.state.startup_hooks.append(freeze_startup_heap)  # the last startup hook (core/heap.py)
    app.state.shutdown_hooks.insert(0, unfreeze_heap)  # shutdown hooks run in reverse: the last one

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    if settings.allowed_hosts != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(RequestContextMiddleware)
    return app


def _install_embedded_sandbox(app: FastAPI, settings: Settings) -> None:
    """The embedded default: the sandbox provider's simulator answers at /sandbox in this very process; or, under
    ``cauri serve --workers N``, /sandbox forwards to the one sandbox process shared by the workers."""
    if not settings.embeds_sandbox:
        return
    if settings.sandbox_shared_url:
        from cauri.connectors.mobile_money.sandbox.shared import SandboxForwarder

        forwarder = SandboxForwarder(settings.sandbox_shared_url)

        async def close_forwarder(_: FastAPI) -> None:
            await forwarder.aclose()

        app.state.shutdown_hooks.append(close_forwarder)
        app.mount("/sandbox", forwarder)
        return
    from cauri.connectors.mobile_money.sandbox.simulator import SandboxSimulator

    simulator = SandboxSimulator(
        api_key=settings.sandbox_api_key.get_secret_value(),
        webhook_secret=settings.sandbox_webhook_secret.get_secret_value(),
    )
    app.state.sandbox_simulator = simulator
    app.mount("/sandbox", simulator.app)


def _install_web(app: FastAPI) -> None:
    """The console, when the web module is present."""
    web = import_optional("web", "pages")
    if web is not None:
        web.install(app)


def _operations_router() -> Any:
    router = api_router(tags=["operations"])

    @router.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        summary="Readiness: database and broker reachable",
        responses={503: {"description": "A dependency is down (see `checks`)", "content": {"application/json": {}}}},
    )
    async def ready(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"error: {type(exc).__name__}"
        for name, probe in getattr(request.app.state, "readiness_probes", {}).items():
            try:
                await probe()
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"error: {type(exc).__name__}"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, 200 if healthy else 503)

    router.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return router
