"""Who in an organisation may read its notification records (delivery tracking, the audit of manual sends).

Permissions belong to identity, which sits above notifications: identity installs its check on
``app.state.permission_check`` (a function ``(principal, permission name) -> bool``), as it installs the principal
resolver. Without it, nobody but a platform admin gets in (closed by default).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache

from fastapi import Request

from cauri.core.errors import Forbidden
from cauri.core.principal import CurrentPrincipal, Principal

AUDIT_READ = "audit_read"  # owner, admin, superviseur (identity.permissions.ROLE_PERMISSIONS)

PermissionCheck = Callable[[Principal, str], bool]


def may(request: Request, principal: Principal, permission: str) -> bool:
    if principal.is_platform_admin:
        return True
    check: PermissionCheck | None = getattr(request.app.state, "permission_check", None)
    return principal.organization_id is not None and check is not None and check(principal, permission)


@cache
def require_permission(permission: str) -> Callable[[Request, Principal], Awaitable[Principal]]:
    """A dependency answering the caller when they hold ``permission`` in their organisation, else a 403."""

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        if not may(request, principal, permission):
            raise Forbidden(
                "Votre rôle ne permet pas cette action.",
                "Your role does not allow this action.",
                code="permission_denied",
                extra={"permission": permission},
            )
        return principal

    dependency.__name__ = f"require_{permission}"
    return dependency
