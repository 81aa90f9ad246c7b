"""Who may do what with bulk disbursements: typed FastAPI dependencies, one per permission, used by the API
(:mod:`.router`) and the console alike, so both always ask for the same right.

GESTIONNAIRE (``bulk_create``, ``bulk_approve``) uploads, submits, approves, cancels, retries; SUPERVISEUR
(``bulk_read``) reads.
"""

from __future__ import annotations

import uuid
from typing import Annotated, TypedDict

from fastapi import Depends

from cauri.core.config import Settings
from cauri.core.principal import Principal
from cauri.identity.permissions import Perm, require, require_org

BulkCreator = Annotated[Principal, Depends(require(Perm.BULK_CREATE))]
BulkApprover = Annotated[Principal, Depends(require(Perm.BULK_APPROVE))]
BulkReader = Annotated[Principal, Depends(require(Perm.BULK_READ))]


class Actor(TypedDict):
    """Who acts, as every operator action of the service takes it (discard, payee check):
    ``service.discard(session, batch_id=…, **actor(principal, ip))``."""

    organization_id: uuid.UUID
    principal: Principal
    ip: str | None


def actor(principal: Principal, ip: str | None) -> Actor:
    return {"organization_id": require_org(principal), "principal": principal, "ip": ip}


class Operation(Actor):
    """Who acts, and the settings, as the actions that move money take them (submit, approve, cancel, retry)."""

    settings: Settings


def operation(principal: Principal, ip: str | None, settings: Settings) -> Operation:
    return {**actor(principal, ip), "settings": settings}
