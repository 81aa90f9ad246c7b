"""How a seed's surface is found, bound to its operator organisation and mounted.

A surface is a package ``cauri.surfaces.<name>`` whose ``__init__`` defines ``SURFACE``; every module of that
package that has a ``router`` (behind a login) or a ``public_router`` (reviewed in
``tests/core/test_security_default.py``) is mounted under the surface's prefix, and at the root too when
``CAURI_ROOT_SURFACE`` names it. A business module adds its seed routes by adding a module to the package
(``cauri/surfaces/kobiri/tontines.py``): nothing shared is edited.

Every route of a surface first runs :func:`bind_operator`: the surface answers for ONE configured
organisation, so its clients send no ``X-Organization-ID``, and the caller's credential is resolved for that
organisation (a user who is not a member of it is refused, like anywhere in Cauri).
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.routing import BaseRoute

from cauri.core.config import Settings
from cauri.core.errors import ServiceUnavailable
from cauri.core.idempotency import idempotency_guard
from cauri.core.principal import require_principal
from cauri.identity.organizations import find_organization
from cauri.identity.resolver import resolve_principal

SURFACES: tuple[str, ...] = ("gateway", "kobiri", "lokahome")


@dataclass(frozen=True)
class Surface:
    name: str  # also its URL prefix and its OpenAPI tag
    title: str  # the product, for error messages

    @property
    def prefix(self) -> str:
        return f"/{self.name}"

    def configured_organization(self, settings: Settings) -> str | None:
        value: str | None = getattr(settings, f"{self.name}_organization")
        return value

    @property
    def setting_name(self) -> str:
        return f"CAURI_{self.name.upper()}_ORGANIZATION"


def _not_configured(surface: Surface) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"L'API {surface.title} n'est pas activée sur ce serveur ({surface.setting_name} n'est pas défini).",
        f"The {surface.title} API is not enabled on this server ({surface.setting_name} is not set).",
        code="surface_not_configured",
    )


def _operator_missing(surface: Surface) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"L'organisation qui exploite l'API {surface.title} ({surface.setting_name}) n'existe pas.",
        f"The organisation operating the {surface.title} API ({surface.setting_name}) does not exist.",
        code="surface_organization_missing",
    )


def operator_id(request: Request) -> uuid.UUID:
    """The operator organisation of the surface serving ``request`` (set by :func:`bind_operator`)."""
    organization_id: uuid.UUID = request.state.surface_organization_id
    return organization_id


def bind_operator(surface: Surface) -> Callable[[Request], Awaitable[None]]:
    async def bind(request: Request) -> None:
        settings: Settings = request.app.state.settings
        configured = surface.configured_organization(settings)
        if configured is None:
            raise _not_configured(surface)
        # A short session of its own, like the principal resolver: on SQLite the request's own unit of work
        # would hold the write lock before the idempotency guard opens its session.
        async with request.app.state.sessionmaker() as session:
            organization = await find_organization(session, configured)
            organization_id = organization.id if organization is not None else None
            await session.rollback()
        if organization_id is None:
            raise _operator_missing(surface)
        request.state.surface_organization_id = organization_id
        # Resolved here, for the operator, before require_principal reads it from request.state.
        request.state.principal = await resolve_principal(request, organization_id=organization_id)

    return bind


def _parts(package: ModuleType) -> list[ModuleType]:
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


def _include(app: FastAPI, surface: Surface, parts: list[ModuleType], prefix: str, *, in_schema: bool) -> None:
    bind = Depends(bind_operator(surface))
    for part in parts:
        guarded: APIRouter | None = getattr(part, "router", None)
        public: APIRouter | None = getattr(part, "public_router", None)
        if guarded is not None:
            app.include_router(
                guarded,
                prefix=prefix,
                tags=[surface.name],
                dependencies=[bind, Depends(require_principal), Depends(idempotency_guard)],
                include_in_schema=in_schema,
            )
        if public is not None:
            app.include_router(
                public,
                prefix=prefix,
                tags=[surface.name],
                dependencies=[bind, Depends(idempotency_guard)],
                include_in_schema=in_schema,
            )


def install(app: FastAPI) -> None:
    """Mount every surface under its prefix, and the configured one at the root as well."""
    settings: Settings = app.state.settings
    for name in SURFACES:
        package = importlib.import_module(f"cauri.surfaces.{name}")
        surface: Surface = package.SURFACE
        parts = _parts(package)
        _include(app, surface, parts, surface.prefix, in_schema=True)
        if settings.root_surface == name:
            before: list[BaseRoute] = list(app.router.routes)
            _include(app, surface, parts, "", in_schema=False)
            added = [route for route in app.router.routes if route not in before]
            # First in line: for a deployment of this product only, its routes win over a native route with the
            # same method and path (Kobiri's /api/v1/auth/login answers Kobiri's way).
            app.router.routes[:] = added + before
