"""Who may do what with payments: typed FastAPI dependencies, one per permission, for the API and the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cauri.core.principal import Principal
from cauri.identity.permissions import Perm, require

PaymentCreator = Annotated[Principal, Depends(require(Perm.PAYMENTS_CREATE))]
PaymentReader = Annotated[Principal, Depends(require(Perm.PAYMENTS_READ))]
WebhookManager = Annotated[Principal, Depends(require(Perm.WEBHOOKS_MANAGE))]
