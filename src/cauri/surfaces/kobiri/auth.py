"""Kobiri's ``/api/v1/auth`` and ``/api/v1/users/me``: everyone who signs up is a member of the operator (the
tontine roles — président, trésorier — are per tontine, given by the tontines module)."""

from cauri.identity.permissions import Role
from cauri.surfaces.account_routes import SeedRegister, account_routers

public_router, router = account_routers(SeedRegister, lambda _body: Role.MEMBER.value)
