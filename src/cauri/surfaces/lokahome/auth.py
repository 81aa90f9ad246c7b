"""LokaHome's ``/api/v1/auth`` and ``/api/v1/users/me``: the seed's ``user_type`` (tenant, landlord, provider)
becomes the person's role in the operator organisation."""

from __future__ import annotations

from typing import Literal

from cauri.identity.schemas import PhoneInput
from cauri.surfaces.account_routes import SeedRegister, account_routers


class LokaHomeRegister(SeedRegister):
    phone: PhoneInput  # required by the seed
    user_type: Literal["tenant", "landlord", "provider"]


def _role(body: SeedRegister) -> str:
    assert isinstance(body, LokaHomeRegister)
    return body.user_type


public_router, router = account_routers(LokaHomeRegister, _role)
