"""What every tontine route file needs: the caller (permission ``tontines_use``) and the tontine as they see it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from cauri.core.principal import Principal
from cauri.core.routing import SessionDep
from cauri.identity.permissions import Perm, require, require_org
from cauri.tontines import service

User = Annotated[Principal, Depends(require(Perm.TONTINES_USE))]


async def access_of(session: SessionDep, principal: Principal, tontine_id: uuid.UUID) -> service.Access:
    return await service.access(
        session, principal=principal, organization_id=require_org(principal), tontine_id=tontine_id
    )
