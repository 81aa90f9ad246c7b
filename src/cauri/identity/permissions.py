"""Roles, permissions and the dependencies that enforce them.

Usage in a route::

    principal: Annotated[Principal, Depends(require(Perm.BULK_APPROVE))]

A role is held in one organisation (a membership, or an API key's role); platform admins hold every permission.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from functools import cache

from cauri.core.errors import Forbidden
from cauri.core.principal import CurrentPrincipal, Principal


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    GESTIONNAIRE = "gestionnaire"  # runs the money operations
    SUPERVISEUR = "superviseur"  # reads everything, changes nothing
    MEMBER = "member"


class Perm(StrEnum):
    ORG_READ = "org_read"
    ORG_MANAGE = "org_manage"
    MEMBERS_MANAGE = "members_manage"
    API_KEYS_MANAGE = "api_keys_manage"
    AUDIT_READ = "audit_read"
    LEDGER_READ = "ledger_read"
    PAYMENTS_READ = "payments_read"
    PAYMENTS_CREATE = "payments_create"
    CONNECTORS_MANAGE = "connectors_manage"
    WEBHOOKS_MANAGE = "webhooks_manage"
    BULK_READ = "bulk_read"
    BULK_CREATE = "bulk_create"
    BULK_APPROVE = "bulk_approve"
    PLATFORM_ADMIN = "platform_admin"
    TONTINES_USE = "tontines_use"  # create and join tontines; what they do inside one is the tontine's own role
    TONTINES_ADMIN = "tontines_admin"  # the operator sees every tontine of the organisation


ORGANIZATION_PERMS: frozenset[Perm] = frozenset(Perm) - {Perm.PLATFORM_ADMIN}
READ_PERMS: frozenset[Perm] = frozenset(p for p in Perm if p.value.endswith("_read"))

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: ORGANIZATION_PERMS,
    Role.ADMIN: ORGANIZATION_PERMS,
    Role.GESTIONNAIRE: frozenset(
        {
            Perm.ORG_READ,
            Perm.LEDGER_READ,
            Perm.PAYMENTS_READ,
            Perm.PAYMENTS_CREATE,
            Perm.BULK_READ,
            Perm.BULK_CREATE,
            Perm.BULK_APPROVE,
            Perm.TONTINES_USE,
        }
    ),
    Role.SUPERVISEUR: READ_PERMS,
    Role.MEMBER: frozenset({Perm.ORG_READ, Perm.TONTINES_USE}),
}


def permissions_of(principal: Principal) -> frozenset[Perm]:
    """Every permission ``principal`` holds in the organisation it acts for."""
    if principal.is_platform_admin:
        return frozenset(Perm)
    if principal.organization_id is None:
        return frozenset()
    granted: set[Perm] = set()
    for role in principal.roles:
        if role in Role.__members__.values():
            granted |= ROLE_PERMISSIONS[Role(role)]
    return frozenset(granted)


def has_permission(principal: Principal, perm: Perm) -> bool:
    return perm in permissions_of(principal)


def _permission_denied(perm: Perm) -> Forbidden:
    return Forbidden(
        "Votre rôle ne permet pas cette action.",
        "Your role does not allow this action.",
        code="permission_denied",
        extra={"permission": perm.value},
    )


@cache
def require(perm: Perm) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency answering the caller when they hold ``perm``, a 403 otherwise (401 without a login)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not has_permission(principal, perm):
            raise _permission_denied(perm)
        return principal

    dependency.__name__ = f"require_{perm.value}"
    return dependency


def require_org(principal: Principal) -> uuid.UUID:
    """The organisation the caller acts for, or a 403 explaining how to choose one."""
    if principal.organization_id is None:
        raise Forbidden(
            "Aucune organisation sélectionnée : rejoignez ou créez une organisation, "
            "ou indiquez-la dans l'en-tête X-Organization-ID.",
            "No organisation selected: join or create one, or name it in the X-Organization-ID header.",
            code="organization_required",
        )
    return principal.organization_id
