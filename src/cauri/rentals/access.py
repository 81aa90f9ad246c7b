"""Who is who on the marketplace: roles of the operator organisation's members (the seed's ``user_type``).

A tenant sees their own bookings, a landlord their properties' bookings, a provider their requests and quotes; the
operator's owners and admins (and platform admins) see everything. Enforced here, in the services, like
cross-organisation access: a row the caller may not see answers 404, an action their role may not take 403.
"""

from __future__ import annotations

import uuid
from typing import Final

from cauri.core.principal import Principal
from cauri.identity.permissions import require_org
from cauri.rentals.errors import NotAllowed

TENANT: Final = "tenant"
LANDLORD: Final = "landlord"
PROVIDER: Final = "provider"
ADMIN_ROLES: Final = frozenset({"owner", "admin"})
USER_TYPES: Final = (TENANT, LANDLORD, PROVIDER, "admin")


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and (principal.is_platform_admin or bool(principal.roles & ADMIN_ROLES))


def marketplace_of(principal: Principal) -> uuid.UUID:
    return require_org(principal)


def person_of(principal: Principal) -> uuid.UUID:
    """The person acting (an API key acts for its creator)."""
    if principal.person_id is None:
        raise NotAllowed()
    return principal.person_id


def require_landlord(principal: Principal) -> uuid.UUID:
    """A landlord (or an admin) lists properties; answers the acting person."""
    if LANDLORD not in principal.roles and not is_admin(principal):
        raise NotAllowed(
            "Seul un propriétaire peut publier et gérer des logements.",
            "Only a landlord can list and manage properties.",
        )
    return person_of(principal)


def require_tenant(principal: Principal) -> uuid.UUID:
    if TENANT not in principal.roles and not is_admin(principal):
        raise NotAllowed(
            "Seul un locataire peut demander une réservation.",
            "Only a tenant can request a booking.",
        )
    return person_of(principal)


def user_type(roles: frozenset[str]) -> str:
    for role in (LANDLORD, PROVIDER, TENANT):
        if role in roles:
            return role
    return "admin" if roles & ADMIN_ROLES else TENANT
