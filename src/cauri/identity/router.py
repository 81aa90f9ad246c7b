"""HTTP routes of the identity module, and what it installs in the application.

``router`` (mounted behind a login) and ``public_router`` (sign up, log in, refresh, forgotten password)
gather the routes of ``auth_routes``, ``code_routes``, ``organization_routes`` and ``access_routes``.
"""

from __future__ import annotations

from fastapi import FastAPI

from cauri.core.routing import api_router
from cauri.identity import access_routes, auth_routes, caller_cache, code_routes, organization_routes
from cauri.identity.permissions import Perm, has_permission
from cauri.identity.resolver import resolve_principal
from cauri.identity.throttle import install_throttle

router = api_router()
router.include_router(auth_routes.router)
router.include_router(code_routes.router)
router.include_router(organization_routes.router)
router.include_router(organization_routes.admin_router)
router.include_router(access_routes.api_keys_router)
router.include_router(access_routes.audit_router)

public_router = api_router()
public_router.include_router(auth_routes.public_router)
public_router.include_router(code_routes.public_router)


async def _start_throttle(app: FastAPI) -> None:
    # Created inside the running event loop: the Redis client binds to it.
    install_throttle(app)


def install(app: FastAPI) -> None:
    app.state.principal_resolver = resolve_principal
    # For the layers below identity (notifications' delivery tracking and audit): permissions by name.
    app.state.permission_check = lambda principal, name: has_permission(principal, Perm(name))
    app.state.startup_hooks.append(_start_throttle)
    app.state.startup_hooks.append(caller_cache.start)
